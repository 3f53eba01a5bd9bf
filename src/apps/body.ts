import type { BodyChunk } from './types.js';

/** True for a promise or any thenable (an app's or a listener's async result). */
export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x != null && typeof (x as PromiseLike<unknown>).then === 'function';
}

/** Returns a chunk as a Buffer without copying Buffers and typed arrays. */
export function toBuffer(chunk: BodyChunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`A response body chunk must be a string, Buffer or Uint8Array, not ${typeof chunk}`);
}

/**
 * Reads an async stream far enough to know whether it is one chunk: then the
 * body has a known length (Content-Length); otherwise it stays a stream
 * (chunked coding), with the chunks already read put back in front.
 */
export async function settle(chunks: AsyncIterator<Buffer>): Promise<Buffer | AsyncIterable<Buffer>> {
  const first = await chunks.next();
  if (first.done) return Buffer.alloc(0);
  const second = await chunks.next();
  if (second.done) return first.value;
  return {
    async *[Symbol.asyncIterator]() {
      yield first.value;
      yield second.value;
      for (let r = await chunks.next(); !r.done; r = await chunks.next()) yield r.value;
    },
  };
}
