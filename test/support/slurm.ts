// Where the MPI tests find the one-node SLURM cluster that scripts/test-slurm.sh starts
// (scripts/test.sh runs it as root, before jest), and the MPI images that
// scripts/mpi-images.sh builds. Nothing here starts anything.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runAsUser, testImagesDir, type RunResult } from './unprivileged.js';

const SLURM_HINT = 'run `bash scripts/test-slurm.sh start` as root (scripts/test.sh does)';
const IMAGES_HINT = 'run `bash scripts/mpi-images.sh` as root (scripts/test.sh does)';

/** .cache/test-slurm/env.json, as scripts/test-slurm.sh writes it. */
export interface TestSlurm {
  dir: string;
  /** What clients need in SLURM_CONF: nothing of the test cluster is in /etc. */
  slurmConf: string;
  mungeSocket: string;
  /** The node's name (this host's short hostname) and its CPUs. */
  node: string;
  cpus: number;
  /** slurmd's spool: PMIx servers keep their directories here (pmix.<job>.<step>). */
  spool: string;
}

export function testSlurmDir(): string {
  return process.env['SIF_TEST_SLURM'] ?? join(REPO_ROOT, '.cache', 'test-slurm');
}

let cluster: Promise<TestSlurm> | undefined;

/** The running test cluster, after checking that the test user can reach it. */
export function testSlurm(): Promise<TestSlurm> {
  cluster ??= loadSlurm();
  return cluster;
}

async function loadSlurm(): Promise<TestSlurm> {
  const file = join(testSlurmDir(), 'env.json');
  if (!existsSync(file)) throw new Error(`test SLURM cluster not set up (${file} is missing): ${SLURM_HINT}`);
  const env = JSON.parse(readFileSync(file, 'utf8')) as TestSlurm;
  const r = await runAsUser('sinfo', ['-h', '-N', '-o', '%T'], { env: { SLURM_CONF: env.slurmConf }, timeoutMs: 10_000 });
  const state = r.stdout.trim();
  if (r.exitCode !== 0 || !/^(idle|mixed|allocated|completing)$/.test(state)) {
    throw new Error(`test SLURM cluster not ready (node state '${state}', ${r.stderr.trim() || `exit ${r.exitCode}`}): ${SLURM_HINT}`);
  }
  return env;
}

/** Runs srun ARGS as the test user against the test cluster. */
export async function srunAsUser(args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const env = await testSlurm();
  // A time limit so that a hung step ends on its own, and one failing rank ends the step.
  return runAsUser('srun', ['--time=5', '--kill-on-bad-exit=1', ...args], {
    env: { SLURM_CONF: env.slurmConf, ...opts.env },
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}

/** The MPI test images; each has /opt/mpi/{hello,pingpong}, the bookworm ones dlhello too (see scripts/mpi-images.sh). */
export type MpiImageName =
  | 'mpi-openmpi' // bookworm with Debian's Open MPI (hybrid)
  | 'mpi-bare' // built against Open MPI, no MPI library (--mpi only)
  | 'mpi-mpich-app' // built against Debian's MPICH, no MPI library
  | 'mpi-oldglibc'; // bullseye (glibc 2.31) with its own Open MPI

/** An MPI test image by name. */
export function mpiImage(name: MpiImageName): string {
  const path = join(testImagesDir(), `${name}.sqfs`);
  if (!existsSync(path)) throw new Error(`${path} is missing: ${IMAGES_HINT}`);
  return path;
}
