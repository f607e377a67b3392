/**
 * --nv's device nodes. Without --contain, /dev is the host's: nothing to bind. With it,
 * the control nodes, the chosen GPUs' /dev/nvidiaN and the MIG capability nodes
 * (/dev/nvidia-caps/nvidia-capM) those GPUs need; and CUDA_VISIBLE_DEVICES as CUDA must
 * then read it.
 */
import type { DeviceNode, GpuHostFacts } from '../host/gpu-host-facts.js';
import { capMinor, type CapOwner, parseGpuInformation, parseMigMinors, parseSmiList } from './gpu-inventory.js';
import { NVIDIA_CONTROL_NODES } from './nvidia-files.js';
import type { NvidiaPlan, NvidiaRequest } from './plan-nvidia.js';
import { type CapNeed, type Inventory, resolveDevices, type ResolvedDevice } from './resolve-devices.js';
import { describeSelection } from './visible-devices.js';

function inventory(facts: GpuHostFacts, smiPath: string | undefined): Inventory {
  return {
    procGpus: () => facts.gpuInformation()?.flatMap((f) => parseGpuInformation(f.busId, f.text) ?? []),
    smiGpus: () => {
      const text = smiPath ? facts.nvidiaSmiList(smiPath) : undefined;
      return text === undefined ? undefined : parseSmiList(text);
    },
  };
}

/**
 * The capability nodes to bind: the global ones (config, monitor), and those of a chosen
 * GPU (all of them, or one instance's). Without mig-minors, which says what each node
 * is, all are bound.
 */
function chooseCaps(facts: GpuHostFacts, caps: DeviceNode[], wanted: Map<number, CapNeed[]> | 'all', plan: NvidiaPlan): DeviceNode[] {
  if (caps.length === 0 || wanted === 'all') return caps;
  const text = facts.migMinors();
  if (text === undefined) {
    plan.notes.push('MIG capability nodes: which GPU each is for is not known (no /proc/driver/nvidia-caps/mig-minors): all are bound');
    return caps;
  }
  const owners = parseMigMinors(text);
  const wants = (o: CapOwner | undefined): boolean => {
    if (!o || 'global' in o) return true;
    return (wanted.get(o.gpu) ?? []).some((n) => n === 'gpu' || (n.gi === o.gi && (o.ci === undefined || n.ci === o.ci)));
  };
  const out = caps.filter((c) => wants(owners.get(capMinor(c.name) ?? -1)));
  const left = caps.filter((c) => !out.includes(c)).map((c) => c.name.slice('nvidia-caps/'.length));
  if (left.length) plan.notes.push(`MIG capability nodes of GPUs not chosen, not bound: ${left.join(' ')}`);
  return out;
}

function cudaNames(devices: ResolvedDevice[], allIndices: boolean, plan: NvidiaPlan, chosen: DeviceNode[]): void {
  if (allIndices) {
    // Only these nodes exist in the container: CUDA numbers them 0..n-1 (in its own
    // device order, CUDA_DEVICE_ORDER), so the host's indices would name missing GPUs.
    plan.env.CUDA_VISIBLE_DEVICES = chosen.map((_, i) => String(i)).join(',');
    plan.notes.push(`CUDA_VISIBLE_DEVICES=${plan.env.CUDA_VISIBLE_DEVICES} in the container: ${chosen.length ? `CUDA numbers ${chosen.map((g) => `/dev/${g.name}`).join(' ')} from 0` : 'no GPU'}`);
    return;
  }
  // UUIDs name the same device whatever is bound; MIG devices can only be named so.
  plan.env.CUDA_VISIBLE_DEVICES = devices.map((d) => d.cudaName).filter(Boolean).join(',');
  plan.notes.push(`CUDA_VISIBLE_DEVICES=${plan.env.CUDA_VISIBLE_DEVICES} in the container: UUIDs, which need no renumbering`);
}

export function planDevices(facts: GpuHostFacts, req: NvidiaRequest, plan: NvidiaPlan, smiPath: string | undefined): void {
  const nodes = facts.deviceNodes();
  const gpus = nodes.filter((n) => /^nvidia\d+$/.test(n.name));
  const sel = plan.selection;
  plan.notes.push(`visible devices: ${describeSelection(sel)}; GPU nodes on the host: ${gpus.map((g) => `/dev/${g.name}`).join(' ') || 'none'}`);
  if (gpus.length === 0) plan.warnings.push('--nv: no GPU device node (/dev/nvidia0, ...) on this host: CUDA will see no device');
  if (!req.contain) {
    plan.notes.push("device nodes: the host's /dev is bound whole, with every GPU's node; the visible-device variables choose among them");
    return;
  }
  const control = nodes.filter((n) => NVIDIA_CONTROL_NODES.includes(n.name));
  const caps = nodes.filter((n) => n.name.startsWith('nvidia-caps/'));
  let chosen: DeviceNode[] = gpus;
  let wanted: Map<number, CapNeed[]> | 'all' = 'all';
  if (sel.kind === 'none') {
    chosen = [];
    wanted = new Map();
  } else if (sel.kind === 'some') {
    const r = resolveDevices(sel.refs, inventory(facts, smiPath));
    if (r.kind === 'unmapped') {
      plan.warnings.push(`--nv --contain: cannot map ${sel.from}=${sel.value} to device nodes (${r.why}): binding every GPU`);
      // CUDA still chooses by UUID among all of them, if it is told.
      const uuids = sel.refs.every((ref) => ref.kind === 'gpu-uuid' || ref.kind === 'mig-uuid' || ref.kind === 'mig-instance');
      if (uuids && sel.from !== 'CUDA_VISIBLE_DEVICES') {
        plan.env.CUDA_VISIBLE_DEVICES = sel.value;
        plan.notes.push(`CUDA_VISIBLE_DEVICES=${sel.value} in the container: CUDA picks those among every GPU`);
      } else if (!uuids) {
        plan.warnings.push(`--nv --contain: CUDA will see every GPU: ${sel.value} names MIG devices by index, which CUDA_VISIBLE_DEVICES cannot`);
      }
    } else {
      for (const d of r.devices) plan.notes.push(`device ${d.how}`);
      const found = r.devices.filter((d) => gpus.some((g) => g.name === `nvidia${d.minor}`));
      const absent = [...r.missing, ...r.devices.filter((d) => !found.includes(d)).map((d) => `/dev/nvidia${d.minor}`)];
      if (absent.length) plan.warnings.push(`--nv: ${sel.from} names ${absent.join(', ')}, not on this host: left out`);
      chosen = [...new Set(found.map((d) => d.minor))].map((m) => gpus.find((g) => g.name === `nvidia${m}`)!);
      wanted = new Map();
      for (const d of found) wanted.set(d.minor, [...(wanted.get(d.minor) ?? []), d.caps]);
      cudaNames(found, sel.refs.every((ref) => ref.kind === 'index'), plan, chosen);
    }
  }
  for (const n of [...chooseCaps(facts, caps, wanted, plan), ...control, ...chosen]) {
    plan.mounts.push({ src: n.path, dst: `/dev/${n.name}` });
    plan.notes.push(`device /dev/${n.name}`);
  }
}
