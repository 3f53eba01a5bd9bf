/**
 * A failing system call, shaped like Node's own SystemError: `code` is the
 * errno name (`'EINTR'`), `errno` the negative errno as Node reports it
 * (`-4`), `syscall` the call (`'accept'`). Thrown by every function of
 * `forkserve/posix`; the native layer constructs it.
 */
export class SystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  /** The file the call was about, when there is one (`/proc/123/stat`), as Node's fs errors give it. */
  readonly path?: string;

  constructor(message: string, fields: { code: string; errno: number; syscall: string; path?: string }) {
    super(message);
    this.name = 'SystemError';
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
    if (fields.path !== undefined) this.path = fields.path;
  }
}
