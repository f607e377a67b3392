/**
 * The driver's version from /proc/driver/nvidia/version, whose first line is
 * "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  <date>" (or "... Open
 * Kernel Module for x86_64  580.82.07  Release Build ..."): the first X.Y or X.Y.Z word.
 */
export function parseDriverVersion(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('NVRM version:'));
  return line?.match(/\s(\d+\.\d+(?:\.\d+)?)(?=\s|$)/)?.[1];
}
