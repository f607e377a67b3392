// Compares two directory trees (e.g. `umoci unpack` against sif's image unpacked
// by unsquashfs) through tree-manifest.py; run as root so every file is readable.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'tree-manifest.py');

export type TreeManifest = Record<string, Record<string, unknown>>;

export function treeManifest(dir: string, skip: string[] = []): TreeManifest {
  return JSON.parse(execFileSync('python3', [script, dir, ...skip], { maxBuffer: 1 << 30, encoding: 'utf8' })) as TreeManifest;
}

/** Human-readable differences, empty when the trees are the same. */
export function treeDifferences(want: TreeManifest, got: TreeManifest): string[] {
  const out: string[] = [];
  for (const [path, w] of Object.entries(want)) {
    const g = got[path];
    if (!g) out.push(`missing: ${path} ${JSON.stringify(w)}`);
    else if (JSON.stringify(w) !== JSON.stringify(g)) out.push(`differs: ${path}\n  want ${JSON.stringify(w)}\n  got  ${JSON.stringify(g)}`);
  }
  for (const path of Object.keys(got)) if (!want[path]) out.push(`extra: ${path} ${JSON.stringify(got[path])}`);
  return out;
}
