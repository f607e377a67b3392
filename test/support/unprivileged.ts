// Helpers for integration tests. Jest runs as root (scripts/test.sh); everything under
// test goes through these helpers to run as the unprivileged TEST_USER instead, because
// running the runtime as root would hide every rootless bug.
import { chmodSync, chownSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Options, type ResultPromise } from 'execa';

export const TEST_USER = 'sif-test';
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SIF_BIN = join(REPO_ROOT, 'bin', 'sif');
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

const SETUP_HINT = 'run scripts/setup-host.sh as root';

/** Directory of the prebuilt test images (python.sqfs, ...) made by scripts/test.sh. */
export function testImagesDir(): string {
  return process.env['SIF_TEST_IMAGES'] ?? join(REPO_ROOT, '.cache', 'test-images');
}

export interface UserId {
  uid: number;
  gid: number;
  home: string;
}

let cachedUser: UserId | undefined;

/** uid, gid (and home) of TEST_USER, from /etc/passwd where setup-host.sh put it. */
export function userId(): UserId {
  if (cachedUser) return cachedUser;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid, , home] = line.split(':');
    if (name === TEST_USER && uid !== undefined && gid !== undefined) {
      cachedUser = { uid: Number(uid), gid: Number(gid), home: home ?? `/home/${TEST_USER}` };
      return cachedUser;
    }
  }
  throw new Error(`test user ${TEST_USER} does not exist: ${SETUP_HINT}`);
}

/** A clean login-like environment for TEST_USER; `extra` is added on top. */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: userId().home,
    USER: TEST_USER,
    LOGNAME: TEST_USER,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...extra,
  };
}

export interface RunOptions {
  /** Working directory; TEST_USER must be able to enter it. Default: its home. */
  cwd?: string;
  /** Added to userEnv(); nothing from the test process's environment leaks through. */
  env?: Record<string, string>;
  /** Written to stdin; without it stdin is /dev/null. */
  input?: string;
  /** Kill with SIGTERM (then SIGKILL) after this long. */
  timeoutMs?: number;
  /** Start in a new process group (to signal the whole group). */
  detached?: boolean;
}

export interface RunResult {
  /** null when killed by a signal or when it could not be started. */
  exitCode: number | null;
  signal: string | null;
  /** Output exactly as written: a final newline is kept. */
  stdout: string;
  stderr: string;
}

// stdinWhenNoInput: 'ignore' (/dev/null) so nothing waits on jest's own stdin; 'pipe'
// for spawned children a test may want to write to.
function userOptions(opts: RunOptions, stdinWhenNoInput: 'ignore' | 'pipe'): Options {
  return {
    cwd: opts.cwd ?? userId().home,
    env: userEnv(opts.env),
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    detached: opts.detached ?? false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: stdinWhenNoInput }),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  };
}

// setpriv changes credentials and execs the command in the same process (runuser would
// fork and stay as a root parent): the test talks to the command itself, so signals sent
// to the subprocess reach it and its exit status or death by signal comes back as is.
function userArgv(cmd: string, args: readonly string[]): string[] {
  return [`--reuid=${TEST_USER}`, `--regid=${TEST_USER}`, '--init-groups', '--', cmd, ...args];
}

/** Runs cmd as TEST_USER and waits; never throws on a non-zero exit or a signal. */
export async function runAsUser(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await execa('setpriv', userArgv(cmd, args), userOptions(opts, 'ignore'));
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  let stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const exitCode = result.exitCode ?? null;
  const signal = result.signal ?? null;
  if (exitCode === null && signal === null && typeof result.message === 'string') {
    // It never ran (setpriv missing, bad cwd, ...): say why instead of failing silently.
    stderr += (stderr ? '\n' : '') + result.message;
  }
  return { exitCode, signal, stdout, stderr };
}

/**
 * Starts a command as TEST_USER and returns the execa subprocess at once, for tests that
 * send signals or write to its stdin (a pipe unless `input` is given). Awaiting it never
 * rejects. With an array first, runs bin/sif with those arguments.
 */
export function spawnAsUser(sifArgs: readonly string[], opts?: RunOptions): ResultPromise;
export function spawnAsUser(cmd: string, args: readonly string[], opts?: RunOptions): ResultPromise;
export function spawnAsUser(
  cmdOrSifArgs: string | readonly string[],
  argsOrOpts?: readonly string[] | RunOptions,
  maybeOpts?: RunOptions,
): ResultPromise {
  const [cmd, args, opts] =
    typeof cmdOrSifArgs === 'string'
      ? [cmdOrSifArgs, (argsOrOpts as readonly string[] | undefined) ?? [], maybeOpts ?? {}]
      : [SIF_BIN, cmdOrSifArgs, (argsOrOpts as RunOptions | undefined) ?? {}];
  return execa('setpriv', userArgv(cmd, args), userOptions(opts, 'pipe'));
}

/** Runs bin/sif as TEST_USER. */
export function sifAsUser(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runAsUser(SIF_BIN, args, opts);
}

/** A fresh 0700 directory under /tmp owned by TEST_USER. */
export function userTempDir(prefix: string): string {
  const { uid, gid } = userId();
  const dir = mkdtempSync(join('/tmp', prefix));
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return dir;
}

/** Throws a clear error when the host is not prepared for integration tests. */
export function requireHost(): void {
  const problems: string[] = [];
  try {
    userId();
  } catch {
    problems.push(`user ${TEST_USER} is missing`);
  }
  try {
    const st = statSync('/dev/fuse');
    if (!st.isCharacterDevice()) problems.push('/dev/fuse is not a character device');
    else if ((st.mode & 0o666) !== 0o666) problems.push(`/dev/fuse is mode ${(st.mode & 0o777).toString(8)}, not 666`);
  } catch {
    problems.push('/dev/fuse is missing');
  }
  if (problems.length > 0) {
    throw new Error(`host not set up for integration tests (${problems.join('; ')}): ${SETUP_HINT}`);
  }
}
