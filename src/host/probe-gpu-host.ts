import { accessSync, closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import type { DeviceNode, GpuHostFacts } from './gpu-host-facts.js';
import { parseLdSoCache } from './elf/ld-so-cache.js';
import { siteConfigPath } from './site-config.js';

/** Test seam: a directory standing in for / where the driver's files are looked for. */
export const TEST_ROOT_VARIABLE = 'SIF_TEST_NVIDIA_ROOT';

/** How long `nvidia-smi -L` may take: it answers in well under a second on a healthy node. */
const SMI_TIMEOUT_MS = 10_000;
const CACHE_FLAGS: Record<string, number> = { x64: 0x0303, arm64: 0x0a03 };
const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183 };

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function once<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) (value = f()), (done = true);
    return value;
  };
}

/**
 * The real host, read only when the planner asks. SIF_TEST_NVIDIA_ROOT (tests only: the
 * fake driver of scripts/fake-nvidia.sh) puts a directory in place of / for the driver's
 * version file, ld.so.cache, site file, /dev and /usr/bin; it is read nowhere else.
 * wantLibrary picks the cache entries worth keeping (all, by default).
 */
export function probeGpuHost(env: Record<string, string>, wantLibrary: (soname: string) => boolean = () => true): GpuHostFacts {
  const root = env[TEST_ROOT_VARIABLE] ?? '';
  const cache = once(() => {
    const path = `${root}/etc/ld.so.cache`;
    try {
      // Entries for glibc-hwcaps subdirectories are left out: the base library is the one every machine loads.
      return parseLdSoCache(readFileSync(path), path, wantLibrary)
        .filter((e) => e.hwcap === 0n)
        .map((e) => ({ ...e, path: root + e.path }));
    } catch {
      return []; // unreadable or not a cache: the planner then finds no libcuda and says so
    }
  });
  const devices = once((): DeviceNode[] => {
    const out: DeviceNode[] = [];
    const dev = `${root}/dev`;
    let names: string[] = [];
    try {
      names = readdirSync(dev);
    } catch {
      return out;
    }
    for (const name of names.filter((n) => n.startsWith('nvidia')).sort()) {
      const path = `${dev}/${name}`;
      try {
        const st = lstatSync(path);
        if (st.isCharacterDevice()) out.push({ name, path });
        else if (st.isDirectory() && name === 'nvidia-caps') {
          for (const cap of readdirSync(path).sort()) if (lstatSync(`${path}/${cap}`).isCharacterDevice()) out.push({ name: `${name}/${cap}`, path: `${path}/${cap}` });
        }
      } catch {
        // gone since the listing: not there
      }
    }
    return out;
  });
  return {
    driverVersionText: once(() => readText(`${root}/proc/driver/nvidia/version`)),
    ldCache: cache,
    cacheFlags: () => CACHE_FLAGS[process.arch] ?? 0,
    siteConfig: once(() => readText(siteConfigPath(env, root))),
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return undefined;
      }
    },
    realPath: (path) => {
      try {
        return realpathSync.native(path);
      } catch {
        return undefined;
      }
    },
    elfKind: (path) => {
      const head = Buffer.alloc(20);
      let fd: number | undefined;
      try {
        fd = openSync(path, 'r');
        if (readSync(fd, head, 0, 20, 0) < 20) return undefined;
      } catch {
        return undefined;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      if (head.toString('latin1', 0, 4) !== '\x7fELF' || (head[4] !== 1 && head[4] !== 2)) return undefined;
      return { elfClass: head[4] === 1 ? 32 : 64, machine: head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18) };
    },
    elfMachine: () => ELF_MACHINE[process.arch] ?? 0,
    isExecutable: (path) => {
      // Most names are missing from most directories: a stat that does not throw for
      // those (a thrown ENOENT costs ~15 us, measured), then the access check.
      if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return false;
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    },
    deviceNodes: devices,
    gpuInformation: once(() => {
      const dir = `${root}/proc/driver/nvidia/gpus`;
      let buses: string[];
      try {
        buses = readdirSync(dir).sort();
      } catch {
        return undefined;
      }
      const out = buses.flatMap((busId) => {
        const text = readText(`${dir}/${busId}/information`);
        return text === undefined ? [] : [{ busId, text }];
      });
      return out.length ? out : undefined;
    }),
    migMinors: once(() => readText(`${root}/proc/driver/nvidia-caps/mig-minors`)),
    nvidiaSmiList: (program) => {
      try {
        // nvidia-smi can hang on a GPU in a bad state: a bound on the wait, and no stdin.
        // Loaded only here: node:child_process costs ~6 ms of every --nv start (measured).
        const { execFileSync } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
        return execFileSync(program, ['-L'], { encoding: 'utf8', timeout: SMI_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return undefined;
      }
    },
    binaryDirs: () => (root ? [`${root}/usr/bin`] : [...new Set([...(env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), '/usr/bin', '/usr/sbin'])]),
    driverFile: (path) => {
      // Hosts have few of the eleven: a missing one is told without a thrown ENOENT.
      const text = statSync(root + path, { throwIfNoEntry: false }) ? readText(root + path) : undefined;
      // ICD and vendor files are a few hundred bytes: anything large is not one.
      return text !== undefined && text.length <= 65536 ? text : undefined;
    },
    mpsPipeDir: () => {
      const path = env.CUDA_MPS_PIPE_DIRECTORY || '/tmp/nvidia-mps';
      if (!path.startsWith('/')) return undefined;
      try {
        return statSync(root + path).isDirectory() ? { path, src: root + path } : undefined;
      } catch {
        return undefined;
      }
    },
    persistencedSocket: () => {
      const path = `${root}/var/run/nvidia-persistenced/socket`;
      try {
        return lstatSync(path).isSocket() ? path : undefined;
      } catch {
        return undefined;
      }
    },
    env,
  };
}
