// chunksOf: a Readable's chunks one by one (never joined), with a bounded read-ahead,
// its error after the chunks before it, and a premature close as an error.
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { chunksOf } from '../../../src/build/chunks-of.js';

function source(data: Buffer, chunk: number, fail?: Error): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (let o = 0; o < data.length; o += chunk) yield data.subarray(o, o + chunk);
    if (fail) throw fail;
  }
  return Readable.from(gen(), { objectMode: false });
}

describe('chunksOf', () => {
  it('hands over each chunk as the stream emitted it, never joined', async () => {
    const chunks = [Buffer.alloc(300, 1), Buffer.alloc(200, 2), Buffer.alloc(500, 3)];
    const stream = Readable.from(chunks, { objectMode: false, highWaterMark: 1 << 20 });
    const got: Buffer[] = [];
    for await (const b of chunksOf(stream, 1 << 20)) got.push(b);
    expect(got.map((b) => b.length)).toEqual([300, 200, 500]);
    expect(got.every((b, i) => b.equals(chunks[i] as Buffer))).toBe(true);
  });

  it('pauses the stream at the read-ahead and resumes it as the reader catches up', async () => {
    let produced = 0;
    async function* gen(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 40; i++) {
        produced++;
        yield Buffer.alloc(1000, i);
      }
    }
    const it = chunksOf(Readable.from(gen(), { objectMode: false, highWaterMark: 1000 }), 5000);
    await it.next();
    await new Promise((r) => setTimeout(r, 50));
    expect(produced).toBeLessThan(15); // read-ahead 5 chunks, plus what the streams buffer
    let n = 1;
    while (!(await it.next()).done) n++;
    expect(n).toBe(40);
  });

  it('passes on the error of the stream, after the chunks before it', async () => {
    const boom = new Error('boom');
    const seen: number[] = [];
    await expect((async () => {
      for await (const b of chunksOf(source(Buffer.alloc(3000, 7), 1000, boom), 1 << 20)) seen.push(b.length);
    })()).rejects.toBe(boom);
    expect(seen).toEqual([1000, 1000, 1000]);
  });

  it('fails when the stream closes before its end', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.alloc(10));
    setTimeout(() => stream.destroy(), 10);
    await expect((async () => {
      for await (const _ of chunksOf(stream, 1 << 20)) void _;
    })()).rejects.toThrow(/Premature close/);
  });

  // A download aborted before its body is read: the events came and went already.
  it('ends, or fails, at once for a stream that has already closed', async () => {
    const drain = async (s: Readable) => {
      for await (const _ of chunksOf(s, 1 << 20)) void _;
    };
    const destroyed = new Readable({ read() {} });
    destroyed.destroy();
    await new Promise((r) => setImmediate(r));
    await expect(drain(destroyed)).rejects.toThrow(/Premature close/);
    const failed = new Readable({ read() {} });
    failed.on('error', () => undefined).destroy(new Error('reset'));
    await new Promise((r) => setImmediate(r));
    await expect(drain(failed)).rejects.toThrow('reset');
    const ended = Readable.from([Buffer.from('x')], { objectMode: false });
    for await (const _ of ended) void _;
    await expect(drain(ended)).resolves.toBeUndefined();
  });
});
