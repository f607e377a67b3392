import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SifError } from '../../../../src/errors.js';
import { DF_1_NODEFLIB, DF_1_PIE, DT_STRTAB, machineName } from '../../../../src/host/elf/elf-constants.js';
import { readElfBuffer, readElfFile } from '../../../../src/host/elf/read-elf.js';
import { fixture, fixturePath, header, setDynamicValue, toBigEndian } from './elf-fixtures.js';

describe('readElfFile on the fixtures', () => {
  it('reads a library: soname, needs, the versions it defines and needs per library', () => {
    expect(readElfFile(fixturePath('libbase.so.1'))).toEqual({
      elfClass: 64,
      byteOrder: 'little',
      machine: 62,
      machineName: 'x86-64',
      type: 'shared',
      soname: 'libbase.so.1',
      needed: ['libc.so.6'],
      flags1: 0,
      versionsDefined: ['BASE_1.0'],
      versionsNeeded: [{ file: 'libc.so.6', versions: ['GLIBC_2.14', 'GLIBC_2.34'], weak: [] }],
    });
  });

  it('reads the versions a C library defines, without its base name', () => {
    const libc = readElfFile(fixturePath('libc.so.6'));
    expect(libc.soname).toBe('libc.so.6');
    expect(libc.versionsDefined).toEqual(['GLIBC_2.2.5', 'GLIBC_2.14', 'GLIBC_2.34']);
  });

  it('reads DT_RUNPATH, DT_RPATH and DF_1_NODEFLIB unexpanded', () => {
    const mid = readElfFile(fixturePath('libmid.so.2'));
    expect(mid.runpath).toBe('$ORIGIN/../base');
    expect(mid.rpath).toBeUndefined();
    expect(mid.versionsNeeded).toEqual([{ file: 'libbase.so.1', versions: ['BASE_1.0'], weak: [] }]);
    const top = readElfFile(fixturePath('libtop.so'));
    expect(top.rpath).toBe('/opt/top/lib:$ORIGIN/$LIB');
    expect(top.runpath).toBeUndefined();
    expect(top.flags1 & DF_1_NODEFLIB).toBe(DF_1_NODEFLIB);
  });

  it('reads a program: PT_INTERP, needs, a PIE flag', () => {
    const app = readElfFile(fixturePath('app'));
    expect(app.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(app.needed).toEqual(['libtop.so']);
    expect(app.soname).toBeUndefined();
    expect(app.flags1 & DF_1_PIE).toBe(DF_1_PIE);
  });

  it('reads a 32-bit i386 object', () => {
    const i386 = readElfFile(fixturePath('libbase-i386.so.1'));
    expect(i386).toMatchObject({ elfClass: 32, machine: 3, machineName: 'i386', soname: 'libbase.so.1', needed: [] });
  });

  it('reads big-endian objects (the same objects, byte-swapped)', () => {
    for (const name of ['libbase.so.1', 'libc.so.6', 'libmid.so.2', 'app']) {
      expect(readElfBuffer(toBigEndian(fixture(name)), name)).toEqual({ ...readElfFile(fixturePath(name)), byteOrder: 'big' });
    }
  });

  it('gives the same facts from a file and from a buffer', () => {
    for (const name of ['libbase.so.1', 'libmid.so.2', 'app', 'libbase-i386.so.1']) {
      expect(readElfBuffer(fixture(name), name)).toEqual(readElfFile(fixturePath(name)));
    }
  });
});

describe('the two routes to the dynamic section', () => {
  const withoutInterp = (name: string) => {
    const { interpreter, ...rest } = readElfFile(fixturePath(name));
    void interpreter;
    return rest;
  };

  it('needs no section headers (stripped of them, the loader route still works)', () => {
    for (const name of ['libbase.so.1', 'libmid.so.2', 'app']) {
      const buf = fixture(name);
      buf.writeBigUInt64LE(0n, header.SHOFF);
      buf.writeUInt16LE(0, header.SHNUM);
      expect(readElfBuffer(buf, name)).toEqual(readElfFile(fixturePath(name)));
    }
  });

  it('falls back to section headers when DT_STRTAB maps to no PT_LOAD', () => {
    const buf = setDynamicValue(fixture('libbase.so.1'), DT_STRTAB, 0x7000000);
    expect(readElfBuffer(buf, 'libbase.so.1')).toEqual(readElfFile(fixturePath('libbase.so.1')));
  });

  it('falls back to section headers when there are no program headers', () => {
    for (const name of ['libbase.so.1', 'libmid.so.2', 'app']) {
      const buf = fixture(name);
      buf.writeUInt16LE(0, header.PHNUM);
      const info = readElfBuffer(buf, name);
      expect(info.interpreter).toBeUndefined();
      expect(info).toEqual(withoutInterp(name));
    }
  });
});

describe('readElfFile errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sif-elf-'));
    mkdirSync(join(dir, 'a-directory'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a missing file', () => {
    const path = join(dir, 'libnothere.so');
    expect(() => readElfFile(path)).toThrow(expect.objectContaining({ code: 'SIF_E_ELF_UNREADABLE', message: expect.stringContaining(path) }));
  });

  it('refuses what is not a regular file', () => {
    const path = join(dir, 'a-directory');
    expect(() => readElfFile(path)).toThrow(SifError);
    expect(() => readElfFile(path)).toThrow(`${path}: not a usable ELF object: not a regular file`);
  });
});

describe('machineName', () => {
  it('names the machines sif supports, with byte order and class where they matter', () => {
    expect(machineName(62, 64, 'little')).toBe('x86-64');
    expect(machineName(3, 32, 'little')).toBe('i386');
    expect(machineName(183, 64, 'little')).toBe('aarch64');
    expect(machineName(21, 64, 'little')).toBe('ppc64le');
    expect(machineName(21, 64, 'big')).toBe('ppc64');
    expect(machineName(243, 64, 'little')).toBe('riscv64');
    expect(machineName(9999, 64, 'little')).toBe('machine 9999');
  });
});
