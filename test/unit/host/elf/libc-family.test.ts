import { isLibcFamily } from '../../../../src/host/elf/libc-family.js';

describe('isLibcFamily', () => {
  it.each([
    'libc.so.6',
    'libm.so.6',
    'libpthread.so.0',
    'libdl.so.2',
    'librt.so.1',
    'libresolv.so.2',
    'libutil.so.1',
    'libmvec.so.1',
    'ld-linux-x86-64.so.2',
    'ld-linux-aarch64.so.1',
    'ld-linux.so.2',
    'ld64.so.2',
    '/lib/x86_64-linux-gnu/libc.so.6',
    '/lib64/ld-linux-x86-64.so.2',
  ])('%s is from the image, always', (name) => expect(isLibcFamily(name)).toBe(true));

  it.each(['libmpi.so.40', 'libcuda.so.1', 'libcrypt.so.1', 'libmd.so.0', 'libcap.so.2', 'librte.so.1', 'libc.so.6.bak', 'ld.so', 'libstdc++.so.6', 'libgcc_s.so.1'])(
    '%s may come from the host',
    (name) => expect(isLibcFamily(name)).toBe(false),
  );
});
