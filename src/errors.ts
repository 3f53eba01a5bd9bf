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

  constructor(message: string, fields: { code: string; errno: number; syscall: string }) {
    super(message);
    this.name = 'SystemError';
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
  }
}
