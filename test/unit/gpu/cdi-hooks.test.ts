import { hookEffect } from '../../../src/gpu/cdi-hooks.js';

const hook = (path: string, ...args: string[]) => ({ hookName: 'createContainer', path, args, env: [] });

describe('hookEffect', () => {
  it("reads NVIDIA's hooks in both forms: nvidia-cdi-hook SUB and nvidia-ctk hook SUB, --flag V and --flag=V", () => {
    expect(hookEffect(hook('/usr/bin/nvidia-cdi-hook', 'nvidia-cdi-hook', 'update-ldcache', '--folder', '/usr/lib64', '--folder=/usr/lib64/extra'))).toEqual({
      kind: 'library-folders', folders: ['/usr/lib64', '/usr/lib64/extra'],
    });
    expect(hookEffect(hook('/usr/bin/nvidia-ctk', 'nvidia-ctk', 'hook', 'create-symlinks', '--link', 'libcuda.so.1::/usr/lib64/libcuda.so'))).toEqual({
      kind: 'links', links: [{ target: 'libcuda.so.1', link: '/usr/lib64/libcuda.so' }],
    });
    expect(hookEffect(hook('/usr/bin/nvidia-cdi-hook', 'nvidia-cdi-hook', '--debug', 'create-soname-symlinks', '--folder', '/usr/lib64'))).toEqual({
      kind: 'library-folders', folders: ['/usr/lib64'],
    });
  });

  it('skips the rest, saying why', () => {
    expect(hookEffect(hook('/usr/bin/nvidia-cdi-hook', 'nvidia-cdi-hook', 'chmod', '--mode', '755', '--path', '/dev/dri'))).toEqual({ kind: 'skip', why: "'chmod' needs root in the container" });
    expect(hookEffect(hook('/opt/vendor/bin/setup', 'setup'))).toEqual({ kind: 'skip', why: 'not a hook sif knows' });
    expect(hookEffect(hook('/usr/bin/nvidia-cdi-hook', 'nvidia-cdi-hook', 'update-ldcache'))).toEqual({ kind: 'skip', why: 'it names no library folder' });
    expect(hookEffect(hook('/usr/bin/nvidia-cdi-hook', 'nvidia-cdi-hook', 'create-symlinks', '--link', 'no-separator'))).toEqual({ kind: 'skip', why: 'it names no link' });
  });
});
