/**
 * Choosing one image from a manifest list / OCI index for a platform, with the
 * variant rules containerd uses: arm64 is v8 whether or not the entry says so, a
 * 32-bit arm CPU runs its own variant or older ones (v7 runs v6 and v5), amd64/vN
 * runs vN down to v1. Pure.
 */
import { SifError } from '../../errors.js';
import { goArchFromNodeArch } from '../../image/open-image.js';
import type { Descriptor, OciConfigFile, Platform } from '../image-source.js';

/** Names people type for architectures (uname -m, Debian) → OCI names. */
const ARCH_ALIASES: Record<string, Platform> = {
  x86_64: { os: 'linux', architecture: 'amd64' },
  x64: { os: 'linux', architecture: 'amd64' },
  'x86-64': { os: 'linux', architecture: 'amd64' },
  aarch64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  armhf: { os: 'linux', architecture: 'arm', variant: 'v7' },
  armel: { os: 'linux', architecture: 'arm', variant: 'v6' },
  i386: { os: 'linux', architecture: '386' },
  i686: { os: 'linux', architecture: '386' },
  ppc64el: { os: 'linux', architecture: 'ppc64le' },
};

/** This host's platform: Go's name for Node's arch (as checkArch uses), with arm's default variants. */
export function hostPlatform(arch: string = process.arch): Platform {
  const architecture = goArchFromNodeArch(arch);
  if (!architecture) throw new SifError('SIF_E_BUILD_PLATFORM', `unknown host architecture ${arch}`, { hint: 'name the platform with --arch' });
  const variant = architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined;
  return { os: 'linux', architecture, ...(variant ? { variant } : {}) };
}

/** `amd64`, `arm64/v8`, `linux/arm/v7`, `aarch64`, ... → a platform (os linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts[0] === 'linux') parts.shift();
  const [arch, variant, extra] = parts;
  if (!arch || extra !== undefined || !/^[a-z0-9_-]+$/.test(arch) || (variant !== undefined && !/^v?[0-9a-z]+$/.test(variant)))
    throw new SifError('SIF_E_BUILD_PLATFORM', `invalid platform ${JSON.stringify(text)}`, {
      hint: 'write ARCH[/VARIANT], e.g. amd64, arm64 or arm/v7',
    });
  const alias = ARCH_ALIASES[arch];
  const architecture = alias?.architecture ?? arch;
  const v = variant ?? alias?.variant ?? (architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined);
  return { os: 'linux', architecture, ...(v !== undefined ? { variant: v } : {}) };
}

export function formatPlatform(p: Partial<Platform>): string {
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
}

function normVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === 'arm64') return variant === undefined || variant === '' || variant === '8' ? 'v8' : variant;
  if (arch === 'amd64') return variant === undefined || variant === '' ? 'v1' : variant;
  if (arch === 'arm' && variant && /^\d+$/.test(variant)) return `v${variant}`;
  return variant === '' ? undefined : variant;
}

/** Variants a `want` CPU runs, best first (its own, then older ones). */
function acceptedVariants(want: Platform): (string | undefined)[] {
  const v = normVariant(want.architecture, want.variant);
  const order = want.architecture === 'arm' ? ['v8', 'v7', 'v6', 'v5'] : want.architecture === 'amd64' ? ['v4', 'v3', 'v2', 'v1'] : null;
  if (order && v && order.includes(v)) return order.slice(order.indexOf(v));
  return [v];
}

/**
 * The entry of an index for `want`. Throws SIF_E_BUILD_PLATFORM listing what the
 * index has when no entry fits.
 */
export function choosePlatform(manifests: readonly Descriptor[], want: Platform, source: string): Descriptor {
  const accepted = acceptedVariants(want);
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const m of manifests) {
    const p = m.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    const rank = accepted.indexOf(normVariant(p.architecture, p.variant));
    if (rank >= 0 && rank < bestRank) {
      best = m;
      bestRank = rank;
    }
  }
  if (best) return best;
  // An index whose only entry names no platform: nothing to choose between.
  if (manifests.length === 1 && !manifests[0]!.platform) return manifests[0]!;
  const have = manifests
    .filter((m) => m.platform && m.platform.os !== 'unknown' && m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest')
    .map((m) => formatPlatform(m.platform!));
  throw new SifError('SIF_E_BUILD_PLATFORM', `${source} has no image for ${formatPlatform(want)}`, {
    hint: have.length ? `it has: ${[...new Set(have)].join(', ')}; choose one with --arch` : 'its index names no platforms',
  });
}

/**
 * For a single-platform image (no index to choose from): an error when the user
 * asked for another platform, a warning when it merely differs from the host's.
 */
export function checkImagePlatform(config: OciConfigFile, want: Platform, explicit: boolean, source: string): string | undefined {
  if (!config.architecture) return undefined;
  const have: Platform = { os: config.os ?? 'linux', architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  const fits = have.os === want.os && have.architecture === want.architecture &&
    acceptedVariants(want).includes(normVariant(have.architecture, have.variant));
  if (fits) return undefined;
  const msg = `${source} is for ${formatPlatform(have)}, not ${formatPlatform(want)}`;
  if (explicit) throw new SifError('SIF_E_BUILD_PLATFORM', msg, { hint: `the image exists for ${formatPlatform(have)} only` });
  return `${msg}; it may not run here`;
}
