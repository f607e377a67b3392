import { encodePlan, PLAN_VERSION } from '../../../src/exec/plan-encoding.js';

/** Reads netstrings back, as the starter does. */
function decode(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const colon = buf.indexOf(':', i);
    const len = Number(buf.subarray(i, colon).toString());
    out.push(buf.subarray(colon + 1, colon + 1 + len).toString());
    expect(buf[colon + 1 + len]).toBe(','.charCodeAt(0));
    i = colon + len + 2;
  }
  return out;
}

describe('encodePlan', () => {
  it('writes the version, image, flags, ops in order, cwd, argv, env, shim and end', () => {
    const fields = decode(
      encodePlan({
        image: '/i.sif',
        offset: 4096,
        newPid: true,
        writable: false,
        ops: [
          { op: 'bind', src: '/a', dst: '/b', readonly: true, optional: true },
          { op: 'tmpfs', dst: '/tmp', mode: 0o1777 },
          { op: 'file', dst: '/etc/x', mode: 0o644, data: 'héllo\n' },
          { op: 'symlink', target: 'pts/ptmx', dst: '/dev/ptmx' },
        ],
        cwd: '/w',
        argv: ['python3', '-c', 'print(1)'],
        env: { A: 'x=y' },
        shim: { test: '/t', shell: '/bin/sh', script: 's' },
      }),
    );
    expect(fields).toEqual([
      PLAN_VERSION, 'image', '/i.sif', '4096', 'flag', 'pid',
      'bind', '/a', '/b', 'ro,optional', 'tmpfs', '/tmp', '1777', 'file', '/etc/x', '644', 'héllo\n',
      'symlink', 'pts/ptmx', '/dev/ptmx', 'cwd', '/w', 'arg', 'python3', 'arg', '-c', 'arg', 'print(1)',
      'env', 'A=x=y', 'shim', '/t', '/bin/sh', 's', 'end',
    ]);
  });

  it('writes the share record after the flags', () => {
    const fields = decode(
      encodePlan({
        image: '/i', offset: 0, newPid: false, writable: true, ops: [], cwd: '/', argv: ['true'], env: {},
        share: { dir: '/tmp/sif-1000', key: 'abc123', dev: '2049', ino: '12', lingerMs: 10000 },
      }),
    );
    expect(fields.slice(0, 10)).toEqual([PLAN_VERSION, 'image', '/i', '0', 'flag', 'writable', 'share', '/tmp/sif-1000', 'abc123', '2049']);
    expect(fields.slice(10, 12)).toEqual(['12', '10000']);
  });

  it('writes --store-ahead as a flag, and nothing without it', () => {
    const base = { image: '/i', offset: 0, newPid: false, writable: false, ops: [], cwd: '/', argv: ['true'], env: {} };
    expect(decode(encodePlan({ ...base, storeAhead: true })).slice(0, 6)).toEqual([PLAN_VERSION, 'image', '/i', '0', 'flag', 'store-ahead']);
    expect(decode(encodePlan(base))).not.toContain('store-ahead');
  });

  it('writes --no-read-ahead as a flag, and nothing without it', () => {
    const base = { image: '/i', offset: 0, newPid: false, writable: false, ops: [], cwd: '/', argv: ['true'], env: {} };
    expect(decode(encodePlan({ ...base, noReadAhead: true })).slice(0, 6)).toEqual([PLAN_VERSION, 'image', '/i', '0', 'flag', 'no-read-ahead']);
    expect(decode(encodePlan(base))).not.toContain('no-read-ahead');
  });

  it('counts bytes, not characters', () => {
    const buf = encodePlan({ image: '/i', offset: 0, newPid: false, writable: true, ops: [], cwd: '/', argv: ['é'], env: {} });
    expect(buf.toString()).toContain('2:é,');
    expect(buf.toString()).toContain('4:flag,8:writable,');
  });
});
