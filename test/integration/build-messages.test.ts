// What `sif build` prints on stderr, as the unprivileged user: warnings a person reads
// (`sif: warning: ...`) by default, pino's JSON lines only with --log-format json; on a
// terminal, progress for the whole build.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { testImages } from '../support/registry.js';
import { requireHost, runAsUser, SIF_BIN, userTempDir } from '../support/unprivileged.js';
import { buildAsUser } from './build-support.js';

let out: string;
let source: string;
beforeAll(() => {
  requireHost();
  out = userTempDir('sif-build-messages-');
  // An arm64 image built on an amd64 host without --arch: the platform warning of build-image.ts.
  source = `oci:${testImages().oci}:small-arm64`;
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const WARNING = /is for linux\/arm64, not linux\/amd64; it may not run here/;

describe('sif build messages', () => {
  it('prints a warning as `sif: warning: ...` with the default log format', async () => {
    const r = await buildAsUser([join(out, 'pretty.sif'), source]);
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('sif: warning: ')).join('\n')).toMatch(WARNING);
    expect(lines.at(-1)).toMatch(/^sif: wrote .*pretty\.sif \(\d+\.\d MiB, arm64\)$/);
    // No JSON anywhere: every line is sif's own words.
    for (const l of lines) expect(l).toMatch(/^sif: /);
  }, 120_000);

  it('prints the same warning as a JSON line with --log-format json, and nothing else', async () => {
    const r = await buildAsUser(['--log-format', 'json', join(out, 'json.sif'), source]);
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.find((l) => l.level === 40)?.msg).toMatch(WARNING);
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: expect.stringMatching(/^wrote .*json\.sif/) });
  }, 120_000);

  it("passes on what tar says of a directory source (a socket it skips) as one warning", async () => {
    const tree = join(out, 'tree');
    const mk = await runAsUser('python3', ['-c', 'import os, socket, sys; os.makedirs(sys.argv[1]); socket.socket(socket.AF_UNIX).bind(sys.argv[1] + "/sock")', tree]);
    expect(mk.exitCode).toBe(0);
    const r = await buildAsUser([join(out, 'tree.sif'), tree]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('socket'))).toEqual([`sif: warning: ${tree}: sock: socket ignored`]);
  }, 120_000);

  it('prints nothing but errors with --quiet', async () => {
    const r = await buildAsUser(['--quiet', join(out, 'quiet.sif'), source]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
  }, 120_000);
});

// Runs the command on a pseudo-terminal (stdin, stdout and stderr) and copies what it writes.
const ON_PTY = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

describe('sif build on a terminal', () => {
  it('shows progress for the merge and compression, the squashfs being finished and the SIF being written', async () => {
    const r = await runAsUser('python3', ['-c', ON_PTY, SIF_BIN, 'build', join(out, 'tty.sif'), source], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split(/[\r\n]+/).map((l) => l.replace(/\x1b\[\d*[AJK]/g, '')).filter(Boolean);
    // A small image's merge is over before a redraw: its line shows at least as it starts.
    expect(lines.some((l) => /^merge and compress \[[#.]+\] \S+ \S+\/\S+ \S+ (\d+ layers|layer \d+\/\d+)$/.test(l))).toBe(true);
    expect(lines).toContain('finish squashfs (compressing the last blocks)');
    expect(lines.some((l) => /^write SIF \[#{30}\] (\S+ \S+)\/\1$/.test(l))).toBe(true);
    // The warning is a line of its own, before the progress; the result comes last.
    expect(lines.find((l) => l.includes('warning'))).toMatch(/^sif: warning: .*it may not run here$/);
    expect(lines.at(-1)).toMatch(/^sif: wrote .*tty\.sif/);
  }, 120_000);
});
