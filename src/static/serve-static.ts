/**
 * serveStatic(root, options): an app that serves the files under `root`
 * (docs/static.md). The file is opened natively beneath the root
 * (openBeneath: openat(2) per component, O_NOFOLLOW) and sent with
 * sendfile(2) by the native engines; HTTP semantics are RFC 9110's:
 * GET/HEAD, validators (strong ETag, Last-Modified), conditional requests
 * (304, 412), single byte ranges (206, 416), precompressed siblings, index
 * files and the trailing-slash redirect.
 */
import fs from 'node:fs';
import path from 'node:path';
import mime from 'mime-types';
import Negotiator from 'negotiator';
import parseRange from 'range-parser';
import { FileBody } from '../apps/file-body.js';
import type { App, AppResponse, RequestInfo } from '../apps/types.js';
import type { RequestListener } from 'node:http';
import { SystemError } from '../errors.js';
import { listDir, openBeneath, type OpenFile } from '../posix.js';
import { listingPage } from './listing.js';
import { evaluate, rangeApplies, type FieldMap, type Validators } from './preconditions.js';
import { decodePath, splitTarget } from './target.js';

export interface StaticOptions {
  /** URL path the files are mounted at: '/assets' serves ROOT/x at /assets/x. Default '/'. */
  prefix?: string;
  /** The app that gets every request the files do not answer (not found, or a method other than GET/HEAD). */
  app?: App | RequestListener | StaticApp;
  /** Answer a directory without an index file with an HTML listing. Default false (404). */
  listing?: boolean;
  /** Follow symlinks, also out of the root. Default false: a symlink on the path is refused with 403. */
  followSymlinks?: boolean;
  /** Serve names starting with '.'. Default false: 404, as serve-handler. */
  dotfiles?: boolean;
  /** Cache-Control of file responses (e.g. 'public, max-age=3600'). Default: none. */
  cacheControl?: string;
  /** Index file names tried for a directory, in order. Default ['index.html']. */
  index?: string[];
  /** Serve FILE.br / FILE.gz in place of FILE when Accept-Encoding allows. Default true. */
  precompressed?: boolean;
}

const ALLOW = 'GET, HEAD';
const ENCODINGS = [['br', '.br'], ['gzip', '.gz']] as const;

function plain(status: number, text: string, extra: string[] = []): AppResponse {
  return { status, headers: ['Content-Type', 'text/plain; charset=utf-8', ...extra], body: Buffer.from(`${text}\n`) };
}

/** The first value of each field of interest, by lower-case name. */
function fieldsOf(headers: string[]): FieldMap {
  const f: FieldMap = {};
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (f[name] === undefined) f[name] = headers[i + 1];
  }
  return f;
}

/**
 * A strong ETag from the inode, size and modification time in nanoseconds,
 * as nginx's (mtime-size) with the finer clock: a file rewritten in place
 * gets a new one, and a precompressed sibling (another inode) its own.
 * Strong, so that If-Range and If-Match can use it (RFC 9110 §13.1.5).
 */
function etagOf(f: OpenFile): string {
  const ns = BigInt(f.mtimeSec) * 1_000_000_000n + BigInt(f.mtimeNsec);
  return `"${f.ino.toString(16)}-${f.size.toString(16)}-${ns.toString(16)}"`;
}

export class StaticApp {
  readonly root: string;
  readonly prefix: string;
  readonly app?: App | RequestListener | StaticApp;
  private readonly rootFd: number;
  private readonly options: Required<Omit<StaticOptions, 'app' | 'prefix' | 'cacheControl'>> & { cacheControl?: string };

  /** Opens `root` (throws SystemError ENOENT, ENOTDIR, EACCES from open(2)) and keeps it open while serving. */
  constructor(root: string, options: StaticOptions = {}) {
    this.root = path.resolve(root);
    const prefix = options.prefix ?? '/';
    if (!prefix.startsWith('/')) throw new TypeError(`The static prefix must start with '/', got "${prefix}"`);
    this.prefix = prefix.replace(/\/+$/, '');
    this.app = options.app;
    this.options = {
      listing: options.listing ?? false,
      followSymlinks: options.followSymlinks ?? false,
      dotfiles: options.dotfiles ?? false,
      cacheControl: options.cacheControl,
      index: options.index ?? ['index.html'],
      precompressed: options.precompressed ?? true,
    };
    try {
      this.rootFd = fs.openSync(this.root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SystemError(`open ${this.root}: ${e.code ?? 'EIO'} (the static root must be a directory forkserve can read)`, { code: e.code ?? 'EIO', errno: e.errno ?? -5, syscall: 'open' });
    }
  }

  /**
   * The same files (the same open root, prefix and options) in front of
   * another app: how a reloaded app (prefork's SIGHUP) is put behind the
   * files without opening the root again. In a chain of serveStatic, the
   * innermost one gets `app`.
   */
  withApp(app: App | RequestListener | StaticApp | undefined): StaticApp {
    const inner = this.app instanceof StaticApp ? this.app.withApp(app) : app;
    return Object.assign(Object.create(StaticApp.prototype) as StaticApp, this, { app: inner });
  }

  /**
   * Answers `req` from the files, or returns undefined when it is the app's
   * to answer: outside the prefix, or, with an app, a method other than GET
   * and HEAD, or no such file. Without an app those are 405 (with Allow)
   * and 404. Unsafe paths get 400, refused files 403, in every case.
   */
  respond(req: RequestInfo): AppResponse | undefined {
    const split = splitTarget(req.target);
    if (!split) return this.app ? undefined : plain(400, '400 Bad Request');
    const { raw, query } = split;
    let rel: string;
    if (this.prefix === '') {
      rel = raw;
    } else if (raw === this.prefix || raw.startsWith(this.prefix + '/')) {
      rel = raw.slice(this.prefix.length);
    } else {
      return this.app ? undefined : plain(404, '404 Not Found');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.app ? undefined : plain(405, '405 Method Not Allowed', ['Allow', ALLOW]);
    }
    const decoded = decodePath(rel === '' ? '/' : rel, this.options.dotfiles);
    if (!Buffer.isBuffer(decoded)) return decoded.status === 404 ? this.notFound() : plain(400, '400 Bad Request');
    let file: OpenFile;
    try {
      file = openBeneath(this.rootFd, decoded, this.options.followSymlinks);
    } catch (err) {
      return this.openFailed(err);
    }
    if (file.kind === 'directory') {
      if (!raw.endsWith('/')) {
        fs.closeSync(file.fd);
        // RFC 9110 §15.4.2: the directory's URL ends with '/', so relative links in its index work.
        return { status: 301, headers: ['Location', `${raw}/${query ? `?${query}` : ''}`, 'Content-Type', 'text/plain; charset=utf-8'], body: Buffer.from('301 Moved Permanently\n') };
      }
      return this.directory(file, raw, req);
    }
    if (file.kind !== 'file') {
      fs.closeSync(file.fd);
      return plain(403, '403 Forbidden');
    }
    return this.fileResponse(file, this.rootFd, decoded, req);
  }

  private notFound(): AppResponse | undefined {
    return this.app ? undefined : plain(404, '404 Not Found');
  }

  private openFailed(err: unknown): AppResponse | undefined {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return this.notFound();
    if (code === 'ELOOP' || code === 'EACCES' || code === 'EPERM') return plain(403, '403 Forbidden');
    if (code === 'EXDEV') return plain(400, '400 Bad Request');
    throw err;
  }

  private directory(dir: OpenFile, urlPath: string, req: RequestInfo): AppResponse | undefined {
    try {
      for (const name of this.options.index) {
        let file: OpenFile;
        try {
          file = openBeneath(dir.fd, name, this.options.followSymlinks);
        } catch {
          continue;
        }
        if (file.kind === 'file') return this.fileResponse(file, dir.fd, Buffer.from(name), req);
        fs.closeSync(file.fd);
      }
      if (!this.options.listing) return this.notFound();
      const entries = listDir(dir.fd).filter(([name]) => this.options.dotfiles || !name.startsWith('.'));
      const body = listingPage(urlPath, entries);
      return { status: 200, headers: ['Content-Type', 'text/html; charset=utf-8'], body: req.method === 'HEAD' ? Buffer.alloc(0) : body };
    } finally {
      fs.closeSync(dir.fd);
    }
  }

  /** The response for an open regular file: validators, preconditions, encoding, range. */
  private fileResponse(original: OpenFile, base: number, name: Buffer, req: RequestInfo): AppResponse {
    const fields = fieldsOf(req.headers);
    const type = mime.contentType(path.extname(name.toString('latin1'))) || 'application/octet-stream';
    let file = original;
    const headers: string[] = ['Content-Type', type];
    if (this.options.precompressed) {
      const accept = fields['accept-encoding'];
      if (accept !== undefined) {
        const sibling = this.precompressed(base, name, accept);
        if (sibling) {
          fs.closeSync(original.fd);
          file = sibling.file;
          headers.push('Content-Encoding', sibling.encoding);
        }
      }
      headers.push('Vary', 'Accept-Encoding');
    }
    const v: Validators = { etag: etagOf(file), lastModified: new Date(file.mtimeSec * 1000).toUTCString(), mtimeSec: file.mtimeSec };
    headers.push('Accept-Ranges', 'bytes', 'ETag', v.etag, 'Last-Modified', v.lastModified);
    if (this.options.cacheControl) headers.push('Cache-Control', this.options.cacheControl);
    const verdict = evaluate(fields, v);
    if (verdict !== undefined) {
      fs.closeSync(file.fd);
      if (verdict === 412) return plain(412, '412 Precondition Failed');
      return { status: 304, headers: headers.slice(2), body: Buffer.alloc(0) }; // no Content-Type on an empty 304 (§15.4.5)
    }
    const range = fields.range;
    // Range is defined for GET only (RFC 9110 §14.2).
    if (range !== undefined && req.method === 'GET' && rangeApplies(fields, v)) {
      const ranges = parseRange(file.size, range, { combine: true });
      if (ranges === -1) {
        fs.closeSync(file.fd);
        return plain(416, '416 Range Not Satisfiable', ['Content-Range', `bytes */${file.size}`]);
      }
      // -2 (malformed) is ignored, as RFC 9110 §14.2 allows; several ranges
      // are answered with the whole file (multipart/byteranges is not sent).
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
        const { start, end } = ranges[0];
        headers.push('Content-Range', `bytes ${start}-${end}/${file.size}`);
        return { status: 206, headers, body: new FileBody(file, start, end - start + 1) };
      }
    }
    return { status: 200, headers, body: new FileBody(file) };
  }

  /**
   * The best precompressed sibling (REL.br, REL.gz beneath base) that
   * Accept-Encoding allows, opened as REL was; undefined when none is.
   */
  private precompressed(base: number, rel: Buffer, accept: string): { file: OpenFile; encoding: string } | undefined {
    // br first when the client likes both equally (negotiator 1.x's `preferred`, not in @types/negotiator).
    const negotiator = new Negotiator({ headers: { 'accept-encoding': accept } }) as unknown as { encodings(available: string[], opts: { preferred: string[] }): string[] };
    const wanted = negotiator.encodings(['br', 'gzip'], { preferred: ['br', 'gzip'] });
    for (const encoding of wanted) {
      const suffix = ENCODINGS.find(([e]) => e === encoding)?.[1];
      if (!suffix) continue;
      let sibling: OpenFile;
      try {
        sibling = openBeneath(base, Buffer.concat([rel, Buffer.from(suffix)]), this.options.followSymlinks);
      } catch {
        continue;
      }
      if (sibling.kind === 'file') return { file: sibling, encoding };
      fs.closeSync(sibling.fd);
    }
    return undefined;
  }
}

/**
 * Returns an app serving the files under `root` (see StaticApp.respond),
 * usable with serve() and composable: `serveStatic('./public', { prefix:
 * '/assets', app })` hands `app` (WSGI, Fetch, a Node request listener, or
 * another serveStatic) every request the files do not answer. Throws
 * SystemError (ENOENT, ENOTDIR, EACCES) when root cannot be opened as a
 * directory, TypeError for a prefix that does not start with '/'.
 */
export function serveStatic(root: string, options: StaticOptions = {}): StaticApp {
  return new StaticApp(root, options);
}
