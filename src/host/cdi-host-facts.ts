/**
 * What --device needs to know about the host, asked for lazily so that the CDI planner
 * (src/gpu/plan-cdi.ts) stays pure and tests give it a fake host.
 */
export interface CdiHostFacts {
  /** The CDI spec directories, lowest priority first (/etc/cdi, then /var/run/cdi). */
  specDirs(): string[];
  /** Names in a directory; undefined when it cannot be read. */
  listDir(dir: string): string[] | undefined;
  /** A spec file's text; undefined when it cannot be read (or is too large to be one). */
  readSpec(path: string): string | undefined;
  /** What is at a host path (links followed): a character or block device, file, directory; undefined when nothing. */
  fileKind(path: string): 'c' | 'b' | 'file' | 'dir' | 'other' | undefined;
  /** A shared library's DT_SONAME; undefined when it has none or is not ELF. */
  soname(path: string): string | undefined;
}
