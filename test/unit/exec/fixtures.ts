import type { HostFacts } from '../../../src/host/host-facts.js';

/** A login node as the planners see it. */
export const host: HostFacts = {
  uid: 4242,
  gid: 4300,
  user: 'alice',
  group: 'physics',
  home: '/home/alice',
  shell: '/bin/bash',
  gecos: 'Alice A',
  cwd: '/scratch/alice/run1',
  env: { PATH: '/opt/bin:/usr/bin', HOME: '/home/alice', TERM: 'xterm', LD_LIBRARY_PATH: '/opt/lib', SLURM_JOB_ID: '77', SIF_BIND: '/x', SIFENV_FOO: 'bar', http_proxy: 'http://proxy:3128' },
};
