import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  envScript, inspectMetadata, labelsJson, mountPointEntries, runscript, singularityDEntries,
} from '../../../src/build/singularity-d.js';

const dir = mkdtempSync(join(tmpdir(), 'sif-singularity-d-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a generated script with /bin/sh, as the container would; returns stdout. */
function sh(script: string, args: string[] = [], env: Record<string, string> = {}): string {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, script);
  return execFileSync('/bin/sh', [file, ...args], { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8' });
}

const printArgs = ['/bin/sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'argv0'];

describe('runscript: Docker ENTRYPOINT and CMD rules', () => {
  it('runs ENTRYPOINT with CMD as default arguments', () => {
    expect(sh(runscript(printArgs, ['one', 'two words']))).toBe('[one][two words]');
  });
  it('replaces CMD with the arguments given to run', () => {
    expect(sh(runscript(printArgs, ['one']), ['x', 'y z'])).toBe('[x][y z]');
  });
  it('runs CMD alone, or the arguments instead of it', () => {
    expect(sh(runscript([], ['/bin/echo', 'cmd-only']))).toBe('cmd-only\n');
    expect(sh(runscript([], ['/bin/echo', 'cmd-only']), ['/bin/echo', 'args'])).toBe('args\n');
  });
  it('passes words as they are: no expansion, quotes kept', () => {
    expect(sh(runscript(printArgs, ['$HOME', "it's", '`id`', '"q"']), [], { HOME: '/h' })).toBe('[$HOME][it\'s][`id`]["q"]');
  });
  it('says clearly when there is nothing to run', () => {
    expect(() => execFileSync('/bin/sh', ['-c', runscript([], [])], { stdio: 'pipe' })).toThrow(/no ENTRYPOINT or CMD/);
  });
});

describe('envScript', () => {
  it('exports each NAME=value exactly, with = and quotes in values', () => {
    const script = envScript(['A=1', 'B=x=y', "C=it's $HOME", 'EMPTY=', 'not valid', '1BAD=x']);
    const out = sh(`${script}\nprintf '%s|' "$A" "$B" "$C" "\${EMPTY-unset}" "\${BAD-unset}"`, [], { HOME: '/h' });
    expect(out).toBe("1|x=y|it's $HOME||unset|");
  });
});

describe('the /.singularity.d tree', () => {
  const config = { config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'], Labels: { a: 'b' } } };
  const entries = singularityDEntries({ config, deffile: 'BootStrap: docker\nFrom: x\n', labels: { b: '2', a: '1' } });

  it('holds what Apptainer reads: env scripts, runscript, labels, definition', () => {
    const paths = entries.map((e) => e.path);
    for (const p of ['/.singularity.d/env/10-docker2singularity.sh', '/.singularity.d/env/99-base.sh', '/.singularity.d/runscript',
      '/.singularity.d/labels.json', '/.singularity.d/Singularity', '/.singularity.d/libs', '/singularity'])
      expect(paths).toContain(p);
    expect(new Set(paths).size).toBe(paths.length);
  });

  it('writes labels sorted and tab-indented, as Apptainer does', () => {
    expect(labelsJson({ b: '2', a: '1' })).toBe('{\n\t"a": "1",\n\t"b": "2"\n}');
  });

  it('appends /.singularity.d/libs to LD_LIBRARY_PATH, after the image\'s own', () => {
    const base = entries.find((e) => e.path.endsWith('99-base.sh'))!.data!;
    expect(sh(`${base}\necho "$LD_LIBRARY_PATH"`)).toBe('/.singularity.d/libs\n');
    expect(sh(`${base}\necho "$LD_LIBRARY_PATH"`, [], { LD_LIBRARY_PATH: '/opt/lib' })).toBe('/opt/lib:/.singularity.d/libs\n');
  });

  it('records the env script, runscript and definition in inspect metadata', () => {
    const meta = inspectMetadata(entries, { a: '1' }, 'BootStrap: docker\nFrom: x\n');
    expect(meta.data.attributes.environment['/.singularity.d/env/10-docker2singularity.sh']).toContain("export PATH='/usr/bin:/bin'");
    expect(meta.data.attributes.runscript).toContain("set -- 'sh'");
    expect(meta.type).toBe('container');
    // Apptainer stores each text without its trailing newlines.
    expect(meta.data.attributes.deffile).toBe('BootStrap: docker\nFrom: x');
    expect(meta.data.attributes.runscript.endsWith('\n')).toBe(false);
    expect(meta.data.attributes.startscript).toBe('#!/bin/sh');
  });

  it('offers mount points for every default bind, /tmp sticky', () => {
    const m = mountPointEntries();
    expect(m.map((e) => e.path)).toEqual(expect.arrayContaining(['/proc', '/sys', '/dev', '/tmp', '/var/tmp', '/home', '/etc/hosts', '/etc/resolv.conf']));
    expect(m.find((e) => e.path === '/tmp')!.mode).toBe(0o1777);
  });
});
