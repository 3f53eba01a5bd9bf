/**
 * Loads an app from `path[:export]`, like gunicorn's `module:app`. `.ts`
 * files load directly through tsx (no build step for the user).
 */
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { App } from './apps/index.js';

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

/**
 * Returns the app exported by the module: the named export, else `default`,
 * `app` or `application`. With `fresh`, the app's own modules are read again
 * (SIGHUP reload). Throws Error with code 'ENOENT' for a missing
 * file, TypeError when no export is an app.
 */
export async function loadApp(spec: string, cwd = process.cwd(), options: { fresh?: boolean } = {}): Promise<App> {
  const { file, exportName } = parseAppSpec(spec);
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) {
    throw Object.assign(new Error(`App module not found: ${abs}`), { code: 'ENOENT' });
  }
  const mod = await importModule(abs, options.fresh === true);
  const names = exportName ? [exportName] : ['default', 'app', 'application'];
  for (const name of names) {
    let candidate = mod[name] as unknown;
    // A CommonJS-compiled module may nest its default export once more.
    if (name === 'default' && candidate && typeof candidate === 'object' && 'default' in candidate && typeof (candidate as { fetch?: unknown }).fetch !== 'function') {
      candidate = (candidate as Record<string, unknown>).default;
    }
    if (typeof candidate === 'function' || (candidate && typeof (candidate as { fetch?: unknown }).fetch === 'function')) {
      return candidate as App;
    }
  }
  throw new TypeError(`${file} exports no app${exportName ? ` named "${exportName}"` : ' (looked for default, app, application)'}: an app is a function (environ, startResponse) or an object with fetch(request)`);
}
