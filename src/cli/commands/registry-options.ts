/**
 * Registry options shared by `sif build`, `sif pull` and `sif registry login`, each
 * also read from SIF_<NAME> (SIF_ARCH, SIF_CA_CERT, SIF_INSECURE, SIF_USERNAME); a
 * password comes from --password-stdin, SIF_PASSWORD (batch jobs) or a prompt on a
 * terminal, never from a command-line argument (it would show in `ps`).
 */
import type { Argv } from 'yargs';
import { SifError } from '../../errors.js';
import type { RegistryImageOptions } from '../../build/registry/registry-source.js';
import { envDefault, envName } from '../action-options.js';

export const REGISTRY_FLAGS = {
  arch: { type: 'string', describe: "platform to take from a multi-arch image: amd64, arm64, arm/v7, ... (default: this machine's)" },
  'ca-cert': { type: 'string', describe: 'also trust the CA certificates in this PEM file (repeatable); SSL_CERT_FILE is read too' },
  insecure: { type: 'boolean', describe: 'skip TLS verification, and use plain HTTP if the registry has no TLS (trusted networks only)' },
  username: { type: 'string', describe: 'registry user (instead of a stored login); the password from --password-stdin, SIF_PASSWORD or a prompt' },
  'password-stdin': { type: 'boolean', describe: 'read the registry password from stdin' },
  offline: { type: 'boolean', describe: 'use only the cache, no registry request (a tag means what it meant at the last pull)' },
} as const;

export type RegistryFlag = keyof typeof REGISTRY_FLAGS;

/** Adds `flags` (all by default) with their SIF_<NAME> defaults. */
export function withRegistryOptions<T>(y: Argv<T>, flags: readonly RegistryFlag[] = Object.keys(REGISTRY_FLAGS) as RegistryFlag[]): Argv<T> {
  for (const name of flags) {
    const f = REGISTRY_FLAGS[name];
    // A password on stdin must be asked for on the command line.
    const def = name === 'password-stdin' ? undefined : envDefault(name, f.type);
    y.option(name, { ...f, ...(def !== undefined ? { default: def, defaultDescription: `$${envName(name)}` } : {}) });
  }
  return y;
}

/** All of stdin, without the final line break. */
export async function readStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal; `secret` turns echo off. Ctrl-C or Ctrl-D cancels. */
export function prompt(question: string, secret = false): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new SifError('SIF_E_USAGE', `${question.replace(/:\s*$/, '')}: no terminal to ask on`));
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new SifError('SIF_E_BUILD_INTERRUPTED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') {
          if (text) {
            text = text.slice(0, -1);
            if (!secret) process.stderr.write('\b \b');
          }
        } else {
          text += ch;
          if (!secret) process.stderr.write(ch);
        }
      }
    };
    stdin.on('data', onData);
  });
}

/** User and password from --username, --password-stdin, SIF_PASSWORD or prompts; undefined when no user is named. */
export async function credentialsFrom(a: Record<string, unknown>, askUser = false): Promise<{ username: string; password: string } | undefined> {
  let username = typeof a.username === 'string' && a.username !== '' ? a.username : undefined;
  if (a['password-stdin'] && username === undefined && !askUser)
    throw new SifError('SIF_E_USAGE', '--password-stdin needs --username');
  if (username === undefined && askUser) username = await prompt('Username: ');
  if (username === undefined) return undefined;
  if (!username) throw new SifError('SIF_E_USAGE', 'the user name is empty');
  let password: string;
  if (a['password-stdin']) password = await readStdin();
  else if (process.env['SIF_PASSWORD']) password = process.env['SIF_PASSWORD'];
  else if (process.stdin.isTTY) password = await prompt(`Password for ${username}: `, true);
  else throw new SifError('SIF_E_USAGE', `no password for ${username}`, { hint: 'pipe it in with --password-stdin, or set SIF_PASSWORD' });
  if (!password) throw new SifError('SIF_E_USAGE', 'the password is empty');
  return { username, password };
}

/** The --ca-cert files given (repeatable, or from SIF_CA_CERT). */
export function caCertsFrom(a: Record<string, unknown>): string[] {
  return [a['ca-cert'] ?? []].flat().filter((s): s is string => typeof s === 'string' && s !== '');
}

/** The registry part of a build's options, from arguments parsed with withRegistryOptions (reads the password, see credentialsFrom). */
export async function registryOptionsFrom(a: Record<string, unknown>): Promise<Pick<RegistryImageOptions, 'caCerts' | 'insecure' | 'credentials' | 'offline'>> {
  const caCerts = caCertsFrom(a);
  const credentials = await credentialsFrom(a);
  return {
    ...(caCerts.length ? { caCerts } : {}),
    ...(a.insecure === true ? { insecure: true } : {}),
    ...(credentials ? { credentials } : {}),
    ...(a.offline === true ? { offline: true } : {}),
  };
}
