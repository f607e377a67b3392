import { parseSiteConfig, siteConfigPath } from '../../../src/host/site-config.js';

describe('parseSiteConfig', () => {
  it('reads the keys of --nv and --mpi, repeatable ones in order', () => {
    const text = [
      '# site file',
      'nvidia lib dir = /usr/local/nvidia/lib64',
      'nvidia  bin dir=/usr/local/nvidia/bin',
      'mpi library = /opt/cray/lib/libmpi.so.12   # Cray MPICH',
      'mpi bind = /opt/cray/pe',
      'mpi bind = /var/spool/slurmd',
      'mpi env = FI_PROVIDER=cxi',
      'mpi env = MPICH_OFI_NIC_POLICY=NUMA',
      'bind path = /scratch',
    ].join('\n');
    expect(parseSiteConfig(text, '/tmp/site.conf')).toEqual({
      nvidiaLibDirs: ['/usr/local/nvidia/lib64'],
      nvidiaBinDirs: ['/usr/local/nvidia/bin'],
      mpiLibrary: '/opt/cray/lib/libmpi.so.12',
      mpiBinds: ['/opt/cray/pe', '/var/spool/slurmd'],
      mpiEnv: { FI_PROVIDER: 'cxi', MPICH_OFI_NIC_POLICY: 'NUMA' },
      problems: [],
      unknown: ["site.conf line 9: 'bind path'"],
    });
  });

  it('reports lines it cannot use, naming the file and line', () => {
    const c = parseSiteConfig('mpi bind = relative\nmpi env = 1X=2\njust words\nmpi library =\n');
    expect(c.problems).toEqual([
      "sif.conf line 1: 'relative' is not an absolute path",
      "sif.conf line 2: 'mpi env' expects KEY=VALUE, got '1X=2'",
      "sif.conf line 3: expected 'key = value', got 'just words'",
      "sif.conf line 4: expected 'key = value', got 'mpi library ='",
    ]);
    expect(c.mpiBinds).toEqual([]);
  });

  it('is /etc/sif/sif.conf unless SIF_SITE_CONFIG names another', () => {
    expect(siteConfigPath({})).toBe('/etc/sif/sif.conf');
    expect(siteConfigPath({}, '/fake')).toBe('/fake/etc/sif/sif.conf');
    expect(siteConfigPath({ SIF_SITE_CONFIG: '/home/a/sif.conf' }, '/fake')).toBe('/home/a/sif.conf');
  });
});
