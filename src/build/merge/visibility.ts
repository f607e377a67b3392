/**
 * What the layers above have decided about each path, for a merge that goes from
 * the top layer down (pure: no I/O).
 *
 * Per path: defined as a directory (implied by entries below it, or with its
 * attributes given), as a non-directory, or whited out; and whether the layers
 * below lose their contents of it (an opaque directory). An entry of a lower layer
 * is visible when no layer above defined its path (a directory above may still
 * take the attributes of the highest explicit entry for it), and no ancestor is a
 * non-directory, whited out or opaque above.
 *
 * Whiteouts and opaque markers of a layer hide only the layers below it (OCI
 * image-spec layer.md), so they are collected during a layer and applied by
 * endLayer(). The semantics follow `umoci unpack`, which applies layers bottom-up.
 *
 * A path given twice in one layer: the later entry replaces the earlier (as tar
 * extraction does), so forget() undoes what the earlier one defined.
 */
import { parentKey } from './entry-path.js';

/** State of a path: layer index (0 = top) * 8 + kind. */
const enum Kind {
  /** A directory made by entries below it; attributes may still come from a lower layer. */
  DirImplied = 1,
  /** A directory whose attributes are settled (given by an entry, or a fresh one after a whiteout). */
  DirExplicit = 2,
  NonDir = 3,
  Whiteout = 4,
}

export type Verdict =
  /** Nothing above: emit it. */
  | 'visible'
  /** A directory that exists already without attributes from an entry: this entry gives them. */
  | 'attrs'
  /** A directory given twice in this layer: the later entry's attributes win. */
  | 'dup-dir'
  /** Hidden by an upper layer. */
  | 'hidden'
  /** The path appeared already in this layer (not both directories): the caller replaces it (forget()). */
  | 'duplicate'
  /** A parent is a non-directory of this same layer: the archive is inconsistent. */
  | 'under-nondir';

type DirVerdict = 'ok' | 'hidden' | 'under-nondir';

export class Visibility {
  private readonly state = new Map<string, number>();
  /** Directories whose contents in the layers below are hidden. */
  private readonly opaque = new Set<string>();
  private layer = 0;
  /** Verdicts for the directories holding this layer's entries (the state they read changes only in endLayer). */
  private dirCache = new Map<string, DirVerdict>();
  private whiteouts: string[] = [];
  private opaques: string[] = [];
  /** States of upper layers that this layer's define() overwrote (a directory's attributes), for forget(). */
  private upper = new Map<string, number>();

  /** Starts layer `index` (0 = the top one; each call goes one layer down). */
  beginLayer(index: number): void {
    this.layer = index;
    this.dirCache.clear();
    this.whiteouts = [];
    this.opaques = [];
    this.upper.clear();
  }

  /**
   * What to do with an entry of the current layer at `key`. For 'visible', 'attrs'
   * and 'dup-dir' the caller emits the entry and calls define().
   */
  classify(key: string, isDir: boolean): Verdict {
    if (key !== '') {
      const pv = this.dirVerdict(parentKey(key));
      if (pv !== 'ok') return pv;
    }
    const s = this.state.get(key);
    if (s === undefined) return 'visible';
    const kind = s & 7;
    const here = s >>> 3 === this.layer;
    const dirAbove = kind === Kind.DirImplied || kind === Kind.DirExplicit;
    if (here) {
      if (isDir && kind === Kind.DirImplied) return 'attrs'; // its children came first
      if (isDir && kind === Kind.DirExplicit) return 'dup-dir';
      return 'duplicate';
    }
    if (isDir && kind === Kind.DirImplied) return 'attrs';
    // A non-directory under a directory of an upper layer: in bottom-up order the
    // upper directory replaced it, so it also cuts off what lies below it here.
    if (dirAbove && !isDir) this.whiteouts.push(key);
    return 'hidden';
  }

  /** Records an emitted entry of the current layer (and its implied parents). */
  define(key: string, isDir: boolean): void {
    const s = this.state.get(key);
    if (s !== undefined && s >>> 3 !== this.layer) this.upper.set(key, s);
    this.state.set(key, this.layer * 8 + (isDir ? Kind.DirExplicit : Kind.NonDir));
    if (!isDir) this.dirCache.delete(key);
    for (let p = key; p !== ''; ) {
      p = parentKey(p);
      if (p === '' || this.state.has(p)) break;
      this.state.set(p, this.layer * 8 + Kind.DirImplied);
    }
  }

  /**
   * Undoes what the current layer defined at `key` and, for a directory, below it, so
   * that a later entry of the layer can replace it: upper layers' states come back.
   * Returns the paths of this layer's entries to remove from the image, each with all
   * below it (parents first; a directory that holds upper layers' entries stays, and
   * only this layer's entries inside it are listed).
   */
  forget(key: string): string[] {
    const s = this.state.get(key);
    if (s === undefined || s >>> 3 !== this.layer) return [];
    const keys = [key];
    if ((s & 7) !== Kind.NonDir) {
      const below = `${key}/`;
      for (const [k, v] of this.state) if (v >>> 3 === this.layer && k.startsWith(below)) keys.push(k);
      keys.sort((a, b) => a.length - b.length);
    }
    const removed = new Set<string>();
    const roots: string[] = [];
    for (const k of keys) {
      const up = this.upper.get(k);
      if (up !== undefined) {
        this.state.set(k, up);
        this.upper.delete(k);
        continue;
      }
      this.state.delete(k);
      if (!removed.has(parentKey(k))) roots.push(k);
      removed.add(k);
    }
    this.dirCache.clear();
    return roots;
  }

  /** True when `key` is a non-directory emitted by the current layer. */
  definedHere(key: string): 'nondir' | 'dir' | undefined {
    const s = this.state.get(key);
    if (s === undefined || s >>> 3 !== this.layer) return undefined;
    return (s & 7) === Kind.NonDir ? 'nondir' : (s & 7) === Kind.Whiteout ? undefined : 'dir';
  }

  /** A '.wh.NAME' entry of the current layer. */
  whiteout(key: string): void {
    this.whiteouts.push(key);
  }

  /** A '.wh..wh..opq' entry of the current layer, for the directory `dir`. */
  opaqueDir(dir: string): void {
    this.opaques.push(dir);
  }

  /** This layer's whiteouts and opaque markers, as collected (for the hard-link bookkeeping). */
  layerRemovals(): { whiteouts: readonly string[]; opaques: readonly string[] } {
    return { whiteouts: this.whiteouts, opaques: this.opaques };
  }

  /** Applies the current layer's whiteouts and opaque markers to the layers below. */
  endLayer(): void {
    const L = this.layer;
    this.dirCache.clear();
    for (const w of this.whiteouts) {
      if (w === '' || this.dirVerdict(parentKey(w)) !== 'ok') continue; // already hidden from below
      const s = this.state.get(w);
      if (s === undefined) {
        this.state.set(w, L * 8 + Kind.Whiteout);
        continue;
      }
      const kind = s & 7;
      if (kind !== Kind.DirImplied && kind !== Kind.DirExplicit) continue;
      // A directory above, removed here: nothing of it below survives. When an upper
      // layer made it, it was made afresh, so lower attributes do not apply either;
      // when this layer has entries in it, a lower directory's attributes stay (umoci).
      this.opaque.add(w);
      if (s >>> 3 !== L) this.state.set(w, (s & ~7) | Kind.DirExplicit);
    }
    for (const d of this.opaques) {
      if (d !== '' && this.dirVerdict(parentKey(d)) !== 'ok') continue;
      const s = this.state.get(d);
      if (s === undefined || (s & 7) === Kind.DirImplied || (s & 7) === Kind.DirExplicit) this.opaque.add(d);
    }
    this.dirCache.clear();
    this.whiteouts = [];
    this.opaques = [];
  }

  /** Whether entries of the current layer inside `dir` can be visible. */
  private dirVerdict(dir: string): DirVerdict {
    const cached = this.dirCache.get(dir);
    if (cached !== undefined) return cached;
    let v: DirVerdict = dir === '' ? 'ok' : this.dirVerdict(parentKey(dir));
    if (v === 'ok') {
      if (this.opaque.has(dir)) v = 'hidden';
      else if (dir !== '') {
        const s = this.state.get(dir);
        if (s !== undefined) {
          const kind = s & 7;
          if (s >>> 3 !== this.layer) {
            if (kind === Kind.NonDir || kind === Kind.Whiteout) v = 'hidden';
          } else if (kind === Kind.NonDir) v = 'under-nondir';
        }
      }
    }
    this.dirCache.set(dir, v);
    return v;
  }
}
