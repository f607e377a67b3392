/**
 * Hard links (tar type '1') in a top-down merge. A link names an inode: the entry
 * its target path had at that point of the archive, that is an earlier entry of
 * the same layer or, failing that, whatever the layers below show at that path.
 *
 * - Target emitted in this layer: the link is a hard link to it in the image.
 * - Target hidden by an upper layer (whited out, replaced) but the link visible:
 *   the inode must still be stored, under the link's own name. Its data is gone by
 *   the time the link is read, so such entries are collected (`needs`) and taken
 *   from a second read of the layer when it ends (rare).
 * - Target in a lower layer: the link's name is reserved now, and the group of
 *   names waits until a lower layer reaches the target path; whiteouts, opaque
 *   directories and non-directories met on the way (in layers between) mean the
 *   target does not exist, an error as in umoci and Docker.
 *
 * - A later entry of the layer at a path replaces the earlier one (the last entry
 *   wins): links made before keep the earlier inode, as in tar extraction; upper
 *   layers' names that took the earlier one go back to waiting (untake()).
 *
 * Pure bookkeeping: the caller does the emitting.
 */
import { ancestors, showKey } from './entry-path.js';

export type InodeRef =
  /** The inode is in the image (in call order) under `key`. */
  | { kind: 'path'; key: string }
  /** A hidden entry of the current layer, not emitted: to be taken from a second read. */
  | { kind: 'hidden'; index: number }
  /** The inode the layers below show at `key`; `group` once a visible name needs it. */
  | { kind: 'lower'; key: string; group?: LinkGroup };

export interface LinkGroup {
  target: string;
  layer: string;
  /** Visible names that share the inode, in the order met. */
  names: string[];
}

/** A link that cannot be resolved; the message is complete. */
export class LinkError extends Error {}

export class HardLinks {
  private refs = new Map<string, InodeRef>();
  /** Hidden entries of the current layer (by index) that visible names need. */
  needs = new Map<number, string[]>();
  private layerName = '';
  private fresh: LinkGroup[] = [];
  private readonly waiting = new Map<string, LinkGroup[]>();
  /** Proper ancestors of the waiting targets, with counts. */
  private readonly waitingAncestors = new Map<string, number>();
  /** Non-directories of the current layer at waiting ancestors: the targets below them are gone. */
  private cut: string[] = [];
  /** Groups of upper layers that entries of this layer took, by path (for untake()). */
  private taken = new Map<string, LinkGroup[]>();

  beginLayer(name: string): void {
    this.layerName = name;
    this.refs = new Map();
    this.needs = new Map();
    this.fresh = [];
    this.cut = [];
    this.taken = new Map();
  }

  /**
   * The inode a link entry of this layer names. `here` tells whether the target was
   * emitted by this layer as a non-directory or a directory (undefined: neither).
   */
  resolve(link: string, target: string, here: 'nondir' | 'dir' | undefined): InodeRef {
    const r = this.refs.get(target);
    if (r) return r;
    if (here === 'nondir') return { kind: 'path', key: target };
    if (here === 'dir') throw new LinkError(`layer ${this.layerName}: hard link ${showKey(link)} points to the directory ${showKey(target)}`);
    return { kind: 'lower', key: target };
  }

  /** Records the inode of a link entry (visible or not), for later links to it. */
  setRef(key: string, ref: InodeRef): void {
    this.refs.set(key, ref);
  }

  /** A hidden non-directory, non-link entry of this layer, which later links may name. */
  hiddenEntry(key: string, index: number): void {
    this.refs.set(key, { kind: 'hidden', index });
  }

  /** Adds the visible `name` to the inode: returns the path to hard-link it to now, if there is one yet. */
  join(ref: InodeRef, name: string): string | undefined {
    switch (ref.kind) {
      case 'path':
        return ref.key;
      case 'hidden': {
        const names = this.needs.get(ref.index);
        if (names) names.push(name);
        else this.needs.set(ref.index, [name]);
        return undefined;
      }
      case 'lower':
        if (!ref.group) {
          ref.group = { target: ref.key, layer: this.layerName, names: [] };
          this.fresh.push(ref.group);
        }
        ref.group.names.push(name);
        return undefined;
    }
  }

  /** True while links of upper layers wait for a lower inode. */
  get idle(): boolean {
    return this.waiting.size === 0;
  }

  /** Names of upper layers waiting for the inode at `key`, which this layer has; they are resolved. */
  takeWaiting(key: string): string[] | undefined {
    const groups = this.waiting.get(key);
    if (!groups) return undefined;
    this.waiting.delete(key);
    for (const _ of groups) this.forgetAncestors(key);
    this.taken.set(key, groups);
    return groups.flatMap((g) => g.names);
  }

  /** Whether an entry of this layer at `key` took upper layers' names. */
  took(key: string): boolean {
    return this.taken.has(key);
  }

  /**
   * The entry at `key` that took upper layers' names is replaced: they wait again
   * (for the entry that replaces it) and are dropped from this layer's pending
   * links. Returns those names, which the caller removes from the image.
   */
  untake(key: string): string[] {
    const groups = this.taken.get(key);
    if (!groups) return [];
    this.taken.delete(key);
    const list = this.waiting.get(key);
    if (list) list.push(...groups);
    else this.waiting.set(key, [...groups]);
    for (const g of groups) for (const a of ancestors(g.target)) this.waitingAncestors.set(a, (this.waitingAncestors.get(a) ?? 0) + 1);
    const names = new Set(groups.flatMap((g) => g.names));
    this.dropPending((n) => names.has(n));
    return [...names];
  }

  /**
   * Forgets this layer's entries at `key` (and with `subtree` below it), which a later
   * entry replaces: the inodes they named, and their names where they were still to
   * be written (from a second read, or once a lower layer has the target).
   */
  replaced(key: string, subtree: boolean): void {
    this.refs.delete(key);
    const below = `${key}/`;
    if (subtree) for (const k of this.refs.keys()) if (k.startsWith(below)) this.refs.delete(k);
    this.dropPending((n) => n === key || (subtree && n.startsWith(below)));
  }

  private dropPending(drop: (name: string) => boolean): void {
    for (const [index, list] of this.needs) {
      const kept = list.filter((n) => !drop(n));
      if (kept.length > 0) this.needs.set(index, kept);
      else this.needs.delete(index);
    }
    // (A group left with no names stays: a later link of this layer may still join it.)
    for (const g of this.fresh) g.names = g.names.filter((n) => !drop(n));
  }

  /** Paths of this layer where entries took upper layers' names: `key`, and with `subtree` those below it. */
  takenAt(key: string, subtree: boolean): string[] {
    if (!subtree) return this.taken.has(key) ? [key] : [];
    const below = `${key}/`;
    return [...this.taken.keys()].filter((k) => k === key || k.startsWith(below));
  }

  /** The first waiting group for `key`, for messages (a directory there is an error). */
  waitingFor(key: string): LinkGroup | undefined {
    return this.waiting.get(key)?.[0];
  }

  /** A non-directory entry of this layer (visible or not). */
  nonDir(key: string): void {
    if (this.waitingAncestors.has(key)) this.cut.push(key);
  }

  /**
   * Ends the layer: upper links whose target this layer removed (whiteout, opaque
   * directory, non-directory in its path) are errors; this layer's own waiting
   * groups start looking in the layers below.
   */
  endLayer(whiteouts: readonly string[], opaques: readonly string[]): void {
    if (this.waiting.size > 0 && (whiteouts.length > 0 || opaques.length > 0 || this.cut.length > 0)) {
      const gone = new Set([...whiteouts, ...this.cut]);
      const emptied = new Set(opaques);
      for (const [target, groups] of this.waiting) {
        const up = ancestors(target);
        if (gone.has(target) || up.some((a) => gone.has(a) || emptied.has(a))) throw dangling(groups[0] as LinkGroup, `layer ${this.layerName} removes it`);
      }
    }
    for (const g of this.fresh) {
      if (g.names.length === 0) continue; // its names were replaced
      const list = this.waiting.get(g.target);
      if (list) list.push(g);
      else this.waiting.set(g.target, [g]);
      for (const a of ancestors(g.target)) this.waitingAncestors.set(a, (this.waitingAncestors.get(a) ?? 0) + 1);
    }
    this.fresh = [];
    this.cut = [];
  }

  /** After the bottom layer: any link still waiting has no target. */
  finish(): void {
    for (const groups of this.waiting.values()) throw dangling(groups[0] as LinkGroup, 'no layer below it has it');
  }

  private forgetAncestors(key: string): void {
    for (const a of ancestors(key)) {
      const n = (this.waitingAncestors.get(a) ?? 1) - 1;
      if (n > 0) this.waitingAncestors.set(a, n);
      else this.waitingAncestors.delete(a);
    }
  }
}

function dangling(g: LinkGroup, why: string): LinkError {
  return new LinkError(`layer ${g.layer}: hard link ${showKey(g.names[0] ?? '')} points to ${showKey(g.target)}, but ${why}`);
}
