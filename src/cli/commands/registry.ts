import type { Argv, CommandModule } from 'yargs';
import {
  dockerConfigPath, listCredentials, removeCredentials, saveCredentials,
} from '../../build/registry/credentials.js';
import { normaliseRegistryName } from '../../build/registry/docker-reference.js';
import { RegistryClient } from '../../build/registry/registry-client.js';
import { logger } from '../logger.js';
import { caCertsFrom, credentialsFrom, withRegistryOptions } from './registry-options.js';

const registryArg = (y: Argv): Argv => y.positional('registry', { type: 'string', describe: 'registry host[:port], e.g. docker.io or ghcr.io' });

const login: CommandModule = {
  command: 'login <registry>',
  describe: "check a user's credentials with a registry and save them for pulls",
  builder: (y: Argv) => withRegistryOptions(registryArg(y), ['username', 'password-stdin', 'ca-cert', 'insecure']),
  handler: async (a) => {
    const registry = normaliseRegistryName(String(a.registry));
    const cred = (await credentialsFrom(a, true))!;
    const caFiles = caCertsFrom(a);
    const client = new RegistryClient(registry, { credential: cred, ...(caFiles.length ? { caFiles } : {}), ...(a.insecure ? { insecure: true } : {}) });
    let checked: boolean;
    try {
      checked = await client.checkLogin();
    } finally {
      client.close();
    }
    if (!checked) logger().warn(`registry ${registry} does not ask for credentials; saving them anyway`);
    const path = await saveCredentials(registry, cred);
    process.stdout.write(`logged in to ${registry} as ${cred.username} (saved in ${path})\n`);
  },
};

const logout: CommandModule = {
  command: 'logout <registry>',
  describe: 'forget the saved login for a registry',
  builder: registryArg,
  handler: async (a) => {
    const registry = normaliseRegistryName(String(a.registry));
    if (await removeCredentials(registry)) {
      process.stdout.write(`logged out of ${registry}\n`);
      return;
    }
    const docker = (await listCredentials()).find((l) => l.registry === registry && l.source === dockerConfigPath());
    process.stdout.write(docker
      ? `sif has no login for ${registry}; the one in ${docker.source} is Docker's (use docker logout)\n`
      : `no login for ${registry}\n`);
  },
};

const list: CommandModule = {
  command: 'list',
  describe: 'list the registries with a saved login (sif and Docker ones)',
  builder: (y: Argv) => y.option('json', { type: 'boolean', describe: 'print JSON' }),
  handler: async (a) => {
    const logins = await listCredentials();
    if (a.json) {
      process.stdout.write(`${JSON.stringify(logins, null, 2)}\n`);
      return;
    }
    if (!logins.length) {
      process.stdout.write('no saved logins\n');
      return;
    }
    const rows = [['REGISTRY', 'USER', 'SAVED IN'], ...logins.map((l) => [l.registry, l.username ?? '(token)', l.source])];
    const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stdout.write(rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}`).join('\n') + '\n');
  },
};

export const registryCommand: CommandModule = {
  command: 'registry',
  describe: 'manage registry logins',
  builder: (y) => y.command(login).command(logout).command(list).demandCommand(1, 'give a subcommand: login, logout or list'),
  handler: () => undefined,
};
