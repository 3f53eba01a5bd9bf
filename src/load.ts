/**
 * Loads an app from `path[:export]`, like gunicorn's `module:app`. `.ts`
 * files load directly through tsx (no build step for the user).
 */
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { looksLikeApp } from './apps/interface.js';

/** Splits "examples/hello.ts:app" into file and export name. */
export function parseAppSpec(spec: string): { file: string; exportName?: string } {
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && !spec.slice(colon + 1).includes('/') && !fs.existsSync(spec)) {
    return { file: spec.slice(0, colon), exportName: spec.slice(colon + 1) || undefined };
  }
  return { file: spec };
}

let generation = 0;

/** Forgets the app's own modules (not node_modules) so the next load reads them again. */
function forgetModules(dir: string): void {
  const cache = createRequire(import.meta.url).cache;
  for (const key of Object.keys(cache)) {
    if (key.startsWith(dir) && !key.includes(`${path.sep}node_modules${path.sep}`)) delete cache[key];
  }
}

async function importModule(file: string, fresh: boolean): Promise<Record<string, unknown>> {
  if (fresh) forgetModules(path.dirname(file));
  if (/\.[cm]?tsx?$/.test(file)) {
    // esbuild (under tsx) would otherwise keep a worker thread and a service
    // process alive in the server: an extra thread at every fork() and a
    // stray child in the process tree. Without them it transforms in a
    // short-lived process per file, at load time only.
    process.env.ESBUILD_WORKER_THREADS = '0';
    // tsx's disk cache writes files and sweeps its directory asynchronously
    // (setImmediate, fs.promises): work the parent never runs before it
    // forks, so every child would run it, and start libuv's thread pool to do
    // so. An in-memory cache does no I/O.
    process.env.TSX_DISABLE_CACHE = '1';
    // tsx's CommonJS hook runs on this thread; its ESM hooks would run on a
    // loader thread that a forked child does not have.
    const { require: tsxRequire } = await import('tsx/cjs/api');
    return tsxRequire(file, import.meta.url) as Record<string, unknown>;
  }
  // ESM has no cache to clear: a new URL is a new module instance.
  const url = pathToFileURL(file).href + (fresh ? `?reload=${++generation}` : '');
  return (await import(url)) as Record<string, unknown>;
}

/** A module path or export that names no app: the CLI exits 2 (a usage error). */
export class AppNotFoundError extends Error {
  readonly code: string;
  constructor(message: string, code: 'ENOENT' | 'ERR_NO_APP') {
    super(message);
    this.name = 'AppNotFoundError';
    this.code = code;
  }
}

/** "app (function), port (number)": what a module exports, for the error that finds no app in it. */
function describeExports(mod: Record<string, unknown>): string {
  const names = Object.keys(mod).filter((k) => k !== '__esModule');
  if (names.length === 0) return 'it exports nothing';
  return `it exports: ${names.map((k) => `${k} (${mod[k] === null ? 'null' : typeof mod[k]})`).join(', ')}`;
}

/** A module path the user probably meant: "examples/hello" -> "examples/hello.ts" when that exists. */
function suggestFile(abs: string, file: string): string | undefined {
  for (const ext of ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']) {
    if (fs.existsSync(abs + ext)) return file + ext;
  }
  return undefined;
}

/** What loadApp found: the app (never awaited: a router may be a thenable Proxy) and its export's name. */
export interface LoadedApp {
  app: unknown;
  exportName: string;
}

/**
 * Loads the app exported by the module `spec` ("path[:export]"): the named
 * export, else `default`, `app` or `application`. With `fresh`, the app's own
 * modules are read again (SIGHUP reload). The app is returned inside an
 * object and never awaited, so a thenable app (itty-router's Proxy) is served
 * as it is. Throws AppNotFoundError (code 'ENOENT': no such module, with a
 * suggestion for a missing extension; 'ERR_NO_APP': no export is an app, with
 * the list of what the module exports); whatever the module throws while it
 * loads passes through.
 */
export async function loadApp(spec: string, cwd = process.cwd(), options: { fresh?: boolean } = {}): Promise<LoadedApp> {
  const { file, exportName } = parseAppSpec(spec);
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) {
    const suggestion = suggestFile(abs, file);
    const hint = suggestion ? ` Did you mean ${suggestion}${exportName ? `:${exportName}` : ''}? forkserve loads a file path with its extension, not a module name.` : '';
    throw new AppNotFoundError(`App module not found: ${file}.${hint}`, 'ENOENT');
  }
  const mod = await importModule(abs, options.fresh === true);
  if (exportName && !(exportName in mod)) {
    throw new AppNotFoundError(`${file} has no export named "${exportName}": ${describeExports(mod)}.`, 'ERR_NO_APP');
  }
  const names = exportName ? [exportName] : ['default', 'app', 'application'];
  for (const name of names) {
    let candidate = mod[name] as unknown;
    // A CommonJS-compiled module may nest its default export once more.
    if (name === 'default' && !looksLikeApp(candidate) && candidate && typeof candidate === 'object' && 'default' in candidate) {
      candidate = (candidate as Record<string, unknown>).default;
    }
    if (looksLikeApp(candidate)) return { app: candidate, exportName: name };
  }
  throw new AppNotFoundError(
    `${file} exports no app${exportName ? ` named "${exportName}"` : ' (looked for default, app, application)'}: ${describeExports(mod)}. `
    + 'An app is a function (environ, startResponse) or (req, res), or an object with fetch(request); name another export with APP:EXPORT.',
    'ERR_NO_APP',
  );
}
