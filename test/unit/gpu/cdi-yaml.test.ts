import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYamlSubset, YamlSubsetError } from '../../../src/gpu/cdi-yaml.js';

const CDI_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/cdi');

describe('parseYamlSubset', () => {
  it('reads a spec as nvidia-ctk writes it: sequences at their key\'s indentation, "- key:" items, quoted names', () => {
    const doc = parseYamlSubset(readFileSync(join(CDI_FIXTURES, 'nvidia-cdi.yaml'), 'utf8')) as Record<string, any>;
    expect(doc.cdiVersion).toBe('0.5.0');
    expect(doc.kind).toBe('nvidia.com/gpu');
    expect(doc.containerEdits.deviceNodes).toEqual([{ path: '/dev/nvidia-modeset' }, { path: '/dev/nvidia-uvm' }, { path: '/dev/nvidia-uvm-tools' }, { path: '/dev/nvidiactl' }]);
    expect(doc.containerEdits.hooks[0]).toEqual({
      args: ['nvidia-cdi-hook', 'create-symlinks', '--link', 'libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so', '--link', '../libnvidia-allocator.so.1::/usr/lib/x86_64-linux-gnu/gbm/nvidia-drm_gbm.so'],
      env: ['NVIDIA_CTK_DEBUG=false'],
      hookName: 'createContainer',
      path: '/usr/bin/nvidia-cdi-hook',
    });
    expect(doc.devices.map((d: { name: string }) => d.name)).toEqual(['0', '1', 'GPU-3a2c5f1e-7b4d-4c21-9e0f-5d6a8b9c0d1e', 'GPU-8f7e6d5c-4b3a-4921-8e7d-6c5b4a392817', 'all']);
    expect(doc.devices[4].containerEdits.deviceNodes).toEqual([{ path: '/dev/nvidia0' }, { path: '/dev/nvidia1' }]);
  });

  it('types plain scalars as YAML does, and keeps quoted ones strings', () => {
    expect(parseYamlSubset('a: 195\nb: "195"\nc: true\nd: ~\ne: 0.5.0\nf: \'it\'\'s\'\ng: "tab\\there"\nh: 1.5\n')).toEqual({
      a: 195, b: '195', c: true, d: null, e: '0.5.0', f: "it's", g: 'tab\there', h: 1.5,
    });
  });

  it('reads nested sequences and mappings, empty collections, comments and flow sequences', () => {
    const text = ['# a comment', 'top:', '  list:', '    - one', '    - - nested', '      - deeper', '  empty: []', '  none: {}', '  flow: [ro, "nosuid", 3]', 'last: x # trailing', 'hash: a#b'].join('\n');
    expect(parseYamlSubset(text)).toEqual({ top: { list: ['one', ['nested', 'deeper']], empty: [], none: {}, flow: ['ro', 'nosuid', 3] }, last: 'x', hash: 'a#b' });
  });

  it('joins a long scalar continued on more indented lines, as Go wraps it', () => {
    expect(parseYamlSubset('key: a long\n  value here\nother: "quoted\n  across lines"\nlist:\n- item that\n  wraps\n')).toEqual({
      key: 'a long value here', other: 'quoted across lines', list: ['item that wraps'],
    });
  });

  it('reads a sequence item that is a mapping, with a nested mapping inside', () => {
    expect(parseYamlSubset('devices:\n- name: "0"\n  containerEdits:\n    env:\n    - A=1\n- name: b\n')).toEqual({
      devices: [{ name: '0', containerEdits: { env: ['A=1'] } }, { name: 'b' }],
    });
  });

  it.each([
    ['a: |\n  text\n', /line 1: '\|'/],
    ['a: &x 1\nb: *x\n', /line 1: '&'/],
    ['a: !!str 1\n', /line 1: '!'/],
    ['a: {b: 1}\n', /line 1: flow mappings/],
    ['a: 1\n---\nb: 2\n', /line 2: more than one document/],
    ['a: 1\na: 2\n', /line 2: the key 'a' is repeated/],
    ['a:\n  b: 1\n c: 2\n', /line 3: unexpected indentation/],
    ['a: "open\n', /line 1: a quoted string is not closed/],
  ])('refuses what it does not read, naming the line: %j', (text, message) => {
    expect(() => parseYamlSubset(text)).toThrow(YamlSubsetError);
    expect(() => parseYamlSubset(text)).toThrow(message);
  });
});
