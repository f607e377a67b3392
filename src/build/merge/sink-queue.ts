/**
 * Lets the merge run ahead of the sink. The squashfs writer runs its calls in
 * order, each on the libuv pool, so the merge need not wait for one to settle
 * before reading the next entry: it waits only when the calls in flight hold too
 * many bytes (small files are handed over whole) or are too many. The first
 * failure is kept and thrown by the next add() or by drain().
 */
import { buildTimings } from '../build-timings.js';

export interface QueueLimits {
  bytes: number;
  calls: number;
}

export const DEFAULT_LIMITS: QueueLimits = { bytes: 32 << 20, calls: 2048 };

export class SinkQueue {
  private readonly calls: { p: Promise<unknown>; bytes: number }[] = [];
  private head = 0;
  private bytes = 0;
  private failure: { error: unknown } | undefined;

  constructor(private readonly limits: QueueLimits = DEFAULT_LIMITS) {}

  /** Queues a sink call (`bytes`: data it holds); waits while the queue is over its limits. */
  async add(p: Promise<unknown>, bytes = 0): Promise<void> {
    p.catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.calls.push({ p, bytes });
    this.bytes += bytes;
    this.check();
    if (this.calls.length - this.head <= this.limits.calls && this.bytes <= this.limits.bytes) return;
    const t0 = buildTimings.on ? performance.now() : 0;
    while (this.calls.length - this.head > this.limits.calls || this.bytes > this.limits.bytes) await this.settleOne();
    if (t0) buildTimings.add('compress', t0);
  }

  /** Waits for every queued call; throws the first failure. */
  async drain(): Promise<void> {
    const t0 = buildTimings.on ? performance.now() : 0;
    while (this.head < this.calls.length) await this.settleOne();
    if (t0) buildTimings.add('compress', t0);
    this.check();
  }

  /** Waits for every queued call, ignoring failures (cleanup after an error). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.calls.slice(this.head).map((c) => c.p));
    this.calls.length = 0;
    this.head = 0;
    this.bytes = 0;
  }

  private async settleOne(): Promise<void> {
    const c = this.calls[this.head] as { p: Promise<unknown>; bytes: number };
    await c.p.catch(() => undefined);
    this.head++;
    this.bytes -= c.bytes;
    if (this.head > 1024 && this.head * 2 > this.calls.length) {
      this.calls.splice(0, this.head);
      this.head = 0;
    }
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
