/**
 * A response body that is a byte range of an open file. The native engines
 * send it with sendfile(2) (native/engine/file_send.h): the bytes go from
 * the page cache to the socket and never through JS. The node engine, and
 * files served beside a Node request listener, stream it with fs.
 */
import fs from 'node:fs';
import type { OpenFile } from '../posix.js';

export class FileBody {
  readonly fd: number;
  /** First byte to send. */
  readonly offset: number;
  /** Bytes to send. */
  readonly length: number;
  /** The stat the response head was built from: a file found changed is not sent on. */
  readonly size: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly ino: number;
  readonly dev: number;

  /** Takes over `file`'s descriptor: whoever sends the body closes it (close() if it is never sent). */
  constructor(file: OpenFile, offset = 0, length = file.size - offset) {
    if (!(offset >= 0 && length >= 0 && offset + length <= file.size)) throw new RangeError(`bytes ${offset}+${length} are outside the file (${file.size} bytes)`);
    this.fd = file.fd;
    this.offset = offset;
    this.length = length;
    this.size = file.size;
    this.mtimeSec = file.mtimeSec;
    this.mtimeNsec = file.mtimeNsec;
    this.ino = file.ino;
    this.dev = file.dev;
  }

  /** Closes the descriptor of a body that will not be sent. */
  close(): void {
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
  }

  /**
   * The bytes as a stream, for servers that cannot sendfile (node:http);
   * closes the descriptor at its end. Fewer bytes than `length` (a file
   * truncated meanwhile) end the stream with an error, so the response is
   * cut short rather than padded by a different version.
   */
  stream(): AsyncIterable<Buffer> {
    const { fd, offset, length } = this;
    return (async function* () {
      if (length === 0) {
        fs.closeSync(fd);
        return;
      }
      let sent = 0;
      for await (const chunk of fs.createReadStream('', { fd, start: offset, end: offset + length - 1, autoClose: true })) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (sent < length) throw new Error(`file truncated while being sent: ${sent} of ${length} bytes`);
    })();
  }
}
