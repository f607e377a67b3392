// The upper-layer state of the top-down merge, on its own: each scenario lists the
// layers top first, as the merge meets them, and checks what each entry gets.
import { describe, expect, it } from '@jest/globals';
import { Visibility, type Verdict } from '../../../../src/build/merge/visibility.js';

type Op = [string, 'dir' | 'file'] | ['wh', string] | ['opq', string];

/** Runs the layers (top first); returns the verdicts "layer:path" -> verdict, emitting what is visible. */
function merge(layers: Op[][]): Record<string, Verdict> {
  const v = new Visibility();
  const out: Record<string, Verdict> = {};
  layers.forEach((ops, i) => {
    v.beginLayer(i);
    for (const op of ops) {
      if (op[0] === 'wh') v.whiteout(op[1]);
      else if (op[0] === 'opq') v.opaqueDir(op[1]);
      else {
        const [path, type] = op as [string, 'dir' | 'file'];
        const verdict = v.classify(path, type === 'dir');
        out[`${i}:${path}`] = verdict;
        if (verdict === 'visible' || verdict === 'attrs') v.define(path, type === 'dir');
      }
    }
    v.endLayer();
  });
  return out;
}

describe('Visibility', () => {
  it('an upper file hides the lower one; lower files elsewhere stay', () => {
    expect(merge([[['etc/motd', 'file']], [['etc', 'dir'], ['etc/motd', 'file'], ['etc/passwd', 'file']]])).toEqual({
      '0:etc/motd': 'visible',
      '1:etc': 'attrs', // implied by the upper etc/motd: the lower entry gives its attributes
      '1:etc/motd': 'hidden',
      '1:etc/passwd': 'visible',
    });
  });

  it('the highest explicit directory entry gives the attributes', () => {
    expect(merge([[['d', 'dir'], ['d/a', 'file']], [['d', 'dir']], [['d', 'dir']]])).toMatchObject({
      '0:d': 'visible', '1:d': 'hidden', '2:d': 'hidden',
    });
  });

  it('a whiteout hides the lower path and everything below it, not its own layer', () => {
    expect(merge([
      [['wh', 'a'], ['b', 'file'], ['wh', 'b']],
      [['a', 'dir'], ['a/x', 'file'], ['b', 'file'], ['c', 'file']],
    ])).toEqual({ '0:b': 'visible', '1:a': 'hidden', '1:a/x': 'hidden', '1:b': 'hidden', '1:c': 'visible' });
  });

  it('an opaque directory keeps its own layer and the directory, hides lower contents', () => {
    expect(merge([
      [['d/new', 'file'], ['opq', 'd'], ['d', 'dir']],
      [['d', 'dir'], ['d/old', 'file'], ['d/sub', 'dir'], ['d/sub/x', 'file'], ['e', 'file']],
    ])).toEqual({ '0:d/new': 'visible', '0:d': 'attrs', '1:d': 'hidden', '1:d/old': 'hidden', '1:d/sub': 'hidden', '1:d/sub/x': 'hidden', '1:e': 'visible' });
  });

  it('an opaque marker for a directory with no entry in its layer: the lower directory keeps its attributes', () => {
    expect(merge([[['opq', 'd']], [['d', 'dir'], ['d/x', 'file']]])).toEqual({ '1:d': 'visible', '1:d/x': 'hidden' });
  });

  it('a whiteout of a directory that an upper layer re-creates: fresh directory, no lower attributes or contents', () => {
    expect(merge([[['d/new', 'file']], [['wh', 'd']], [['d', 'dir'], ['d/old', 'file']]])).toEqual({
      '0:d/new': 'visible', '2:d': 'hidden', '2:d/old': 'hidden',
    });
  });

  it('whiteout and new contents in one layer: like an opaque directory, lower attributes kept (umoci)', () => {
    expect(merge([[['wh', 'd'], ['d/new', 'file']], [['d', 'dir'], ['d/old', 'file']]])).toEqual({
      '0:d/new': 'visible', '1:d': 'attrs', '1:d/old': 'hidden',
    });
  });

  it('dir -> file -> dir: the file cuts off the lowest directory contents', () => {
    expect(merge([
      [['d', 'dir'], ['d/z', 'file']],
      [['d', 'file']],
      [['d', 'dir'], ['d/x', 'file']],
    ])).toEqual({ '0:d': 'visible', '0:d/z': 'visible', '1:d': 'hidden', '2:d': 'hidden', '2:d/x': 'hidden' });
  });

  it('an implied directory above a lower file: the file is hidden and cuts off the rest', () => {
    expect(merge([[['d/z', 'file']], [['d', 'file']], [['d', 'dir'], ['d/x', 'file']]])).toEqual({
      '0:d/z': 'visible', '1:d': 'hidden', '2:d': 'hidden', '2:d/x': 'hidden',
    });
  });

  it('file -> dir: the lower file and its would-be children are hidden', () => {
    expect(merge([[['f', 'dir'], ['f/a', 'file']], [['f', 'file']]])).toEqual({ '0:f': 'visible', '0:f/a': 'visible', '1:f': 'hidden' });
  });

  it('duplicates in one layer: two directories take the later one, others keep the first', () => {
    expect(merge([[['d', 'dir'], ['d', 'dir'], ['f', 'file'], ['f', 'file'], ['g', 'dir'], ['g', 'file'], ['h', 'file'], ['h', 'dir']]])).toEqual({
      '0:d': 'dup-dir', '0:f': 'duplicate', '0:g': 'duplicate', '0:h': 'duplicate',
    });
  });

  it("forget() undoes a layer's definitions for a replacing entry: its own paths go, upper states come back", () => {
    const v = new Visibility();
    v.beginLayer(0);
    v.define('d/up', false); // the upper layer implies d
    v.endLayer();
    v.beginLayer(1);
    expect(v.classify('d', true)).toBe('attrs');
    v.define('d', true);
    v.define('d/own/x', false);
    v.define('d/own2', false);
    v.define('f', false);
    expect(v.classify('f', false)).toBe('duplicate');
    expect(v.forget('f')).toEqual(['f']);
    expect(v.classify('f', true)).toBe('visible');
    expect(v.classify('d', false)).toBe('duplicate');
    // d holds the upper layer's entries: it stays in the image, only this layer's entries below it go
    expect(v.forget('d').sort()).toEqual(['d/own', 'd/own2']);
    expect(v.classify('d', false)).toBe('hidden'); // under the upper directory, as before this layer's entry
    expect(v.classify('d/own/x', false)).toBe('visible');
    expect(v.forget('nothing')).toEqual([]);
  });

  it('children before their directory entry in one layer', () => {
    expect(merge([[['a/b/c', 'file'], ['a/b', 'dir'], ['a', 'dir']]])).toEqual({ '0:a/b/c': 'visible', '0:a/b': 'attrs', '0:a': 'attrs' });
  });

  it('an entry below a file of its own layer is inconsistent', () => {
    expect(merge([[['f', 'file'], ['f/x', 'file']]])).toEqual({ '0:f': 'visible', '0:f/x': 'under-nondir' });
  });

  it('an opaque root hides every lower layer', () => {
    expect(merge([[['opq', ''], ['a', 'file']], [['b', 'file'], ['', 'dir']]])).toEqual({ '0:a': 'visible', '1:b': 'hidden', '1:': 'visible' });
  });

  it('the root directory entry: the highest one wins', () => {
    expect(merge([[['', 'dir'], ['a', 'file']], [['', 'dir']]])).toEqual({ '0:': 'visible', '0:a': 'visible', '1:': 'hidden' });
  });

  it('whiteouts under a removed directory change nothing', () => {
    expect(merge([[['wh', 'a']], [['wh', 'a/b'], ['a/c', 'file']], [['a', 'dir'], ['a/b', 'file']]])).toEqual({
      '1:a/c': 'hidden', '2:a': 'hidden', '2:a/b': 'hidden',
    });
  });
});
