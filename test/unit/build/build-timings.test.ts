// The build's timing report: the merge thread's wall time split into its waits and its
// own work, downloads as one span, and nothing counted while it is off.
import { describe, expect, it } from '@jest/globals';
import { BuildTimings } from '../../../src/build/build-timings.js';

describe('BuildTimings', () => {
  it("splits the merge's wall time into waits and its own work; downloads span first request to last byte", () => {
    const t = new BuildTimings();
    const now = performance.now();
    t.add('merge', now - 1000);
    t.add('blobs', now - 100);
    t.add('inflate', now - 300);
    t.add('compress', now - 200);
    t.add('digest', now - 50);
    t.download(now - 2000);
    t.download(now - 500);
    const s = t.totals();
    expect(s.merge).toBeGreaterThan(390);
    expect(s.merge).toBeLessThan(420);
    expect(s.download).toBeGreaterThanOrEqual(2000);
    expect(s.download).toBeLessThan(2020);
    expect(s.digest).toBeGreaterThanOrEqual(50);
    expect(t.report()).toMatch(/^source 0\.00, download 2\.0\d, blobs 0\.1\d, inflate 0\.3\d, compress 0\.2\d, merge 0\.[34]\d, digest 0\.0\d, finish 0\.00$/);
  });

  it('reports no download when every blob was cached', () => {
    expect(new BuildTimings().totals()).toEqual({ source: 0, download: 0, blobs: 0, inflate: 0, compress: 0, merge: 0, digest: 0, finish: 0 });
  });
});
