/**
 * A Readable's chunks as an async generator, one at a time, as the stream emitted
 * them. Readable's own async iterator calls read() with no size, which hands over
 * everything buffered joined into one new buffer: a copy of all the read-ahead, over
 * and over (an inflater's output, a download's body).
 */
import type { Readable } from 'node:stream';

/**
 * The chunks of `stream`, with up to `readAhead` bytes queued (the stream is paused
 * beyond). Its error is thrown after the chunks before it; a close before its end
 * throws ERR_STREAM_PREMATURE_CLOSE, as Readable's iterator does.
 */
export async function* chunksOf(stream: Readable, readAhead: number): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let head = 0;
  let queued = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (b: Buffer): void => {
    queue.push(b);
    queued += b.length;
    if (queued >= readAhead) stream.pause();
    poke();
  };
  const onEnd = (): void => {
    ended = true;
    poke();
  };
  const onError = (error: unknown): void => {
    failure ??= { error };
    poke();
  };
  const onClose = (): void => {
    if (!ended) failure ??= { error: Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }) };
    poke();
  };
  stream.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  // Already over (a download aborted before its body was read): no event will come.
  if (stream.errored) onError(stream.errored);
  else if (stream.readableEnded) onEnd();
  else if (stream.destroyed) onClose();
  try {
    for (;;) {
      if (head < queue.length) {
        const b = queue[head++] as Buffer;
        queued -= b.length;
        if (head > 64 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        if (queued < readAhead && stream.isPaused() && !ended) stream.resume();
        yield b;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // The error listener stays: an error after the reader stopped must not go unhandled.
    stream.off('data', onData).off('end', onEnd).off('close', onClose);
  }
}
