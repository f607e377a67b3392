import type { Argv, CommandModule } from 'yargs';
import { BlobCache, type CacheListing } from '../../build/cache/blob-cache.js';
import { SifError } from '../../errors.js';
import { formatBytes } from '../progress.js';
import { prompt } from './registry-options.js';

function when(d: Date | string): string {
  const t = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(t.getTime()) ? String(d) : t.toISOString().slice(0, 16).replace('T', ' ');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

export function renderListing(l: CacheListing): string {
  const lines = [`cache: ${l.root}`];
  if (l.tags.length) {
    lines.push('', ...table([['TAG', 'DIGEST', 'RESOLVED'], ...l.tags.map((t) => [t.reference, t.digest.slice(0, 19), when(t.resolvedAt)])]));
  }
  if (l.blobs.length) {
    lines.push('', ...table([['BLOB', 'SIZE', 'LAST USED'], ...l.blobs.map((b) => [b.digest.slice(0, 19), formatBytes(b.size), when(b.lastUsed)])]));
  }
  lines.push('', `${l.blobs.length} blob${l.blobs.length === 1 ? '' : 's'}, ${formatBytes(l.totalBytes)}`);
  if (l.partial.count) lines.push(`${l.partial.count} download${l.partial.count === 1 ? '' : 's'} in progress or interrupted (${formatBytes(l.partial.bytes)})`);
  return `${lines.join('\n')}\n`;
}

const list: CommandModule = {
  command: 'list',
  describe: 'list cached blobs and tags, with sizes and totals',
  builder: (y: Argv) => y.option('json', { type: 'boolean', describe: 'print JSON' }),
  handler: async (a) => {
    const listing = await new BlobCache().list();
    process.stdout.write(a.json ? `${JSON.stringify(listing, null, 2)}\n` : renderListing(listing));
  },
};

const clean: CommandModule = {
  command: 'clean',
  describe: 'remove everything in the cache (running builds keep what they are writing)',
  builder: (y: Argv) =>
    y.option('force', { alias: 'f', type: 'boolean', describe: 'do not ask' })
      .option('dry-run', { type: 'boolean', describe: 'say what would be removed, remove nothing' }),
  handler: async (a) => {
    const cache = new BlobCache();
    if (!a.force && !a['dry-run']) {
      const l = await cache.list();
      if (!l.blobs.length && !l.tags.length && !l.partial.count) {
        process.stdout.write(`the cache at ${cache.root} is empty\n`);
        return;
      }
      if (!process.stdin.isTTY)
        throw new SifError('SIF_E_USAGE', `sif cache clean removes all of ${cache.root} (${formatBytes(l.totalBytes)})`, { hint: 'add --force to do it without asking' });
      const answer = await prompt(`Remove all of ${cache.root} (${l.blobs.length} blobs, ${formatBytes(l.totalBytes)})? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const r = await cache.clean({ dryRun: a['dry-run'] === true });
    const verb = a['dry-run'] ? 'would remove' : 'removed';
    let msg = `${verb} ${r.removedBlobs} blob${r.removedBlobs === 1 ? '' : 's'} and ${r.removedTags} tag${r.removedTags === 1 ? '' : 's'} (${formatBytes(r.removedBytes)})`;
    if (r.busy) msg += `; kept ${r.busy} entr${r.busy === 1 ? 'y' : 'ies'} that running builds are writing`;
    process.stdout.write(`${msg}\n`);
  },
};

export const cacheCommand: CommandModule = {
  command: 'cache',
  describe: 'list or clean the blob cache ($SIF_CACHEDIR, else $XDG_CACHE_HOME/sif or ~/.cache/sif)',
  builder: (y) => y.command(list).command(clean).demandCommand(1, 'give a subcommand: list or clean'),
  handler: () => undefined,
};
