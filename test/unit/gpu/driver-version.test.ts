import { parseDriverVersion } from '../../../src/gpu/driver-version.js';

describe('parseDriverVersion', () => {
  it('reads the proprietary and the open kernel module lines', () => {
    expect(parseDriverVersion('NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0\n')).toBe('550.54.14');
    expect(parseDriverVersion('NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.82.07  Release Build  (dvs-builder@U16-I3-B03-4-3)  Wed Aug 27 2025\n')).toBe('580.82.07');
    expect(parseDriverVersion('NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.104  Sat Aug 19 2023\n')).toBe('535.104');
  });

  it('finds nothing in other text (the GCC line does not count)', () => {
    expect(parseDriverVersion('GCC version:  gcc version 12.2.0\n')).toBeUndefined();
    expect(parseDriverVersion('')).toBeUndefined();
  });
});
