/**
 * Which interface an app speaks, uvicorn's `--interface` in forkserve's
 * terms:
 *  - `wsgi`:  `app(environ, startResponse)`, PEP 3333's shape;
 *  - `fetch`: an object with `fetch(request: Request)` (WHATWG Fetch; Hono,
 *    itty-router, h3 2, Bun and Deno apps);
 *  - `node`:  a Node request listener `(req: IncomingMessage, res:
 *    ServerResponse)` (Express, connect, Koa's `app.callback()`); a Koa
 *    application object is taken as its `callback()`.
 * `auto` decides from the app's shape and, for a plain function, from the
 * names of its parameters; where it cannot tell, it throws at load time
 * rather than answer 500 to every request.
 */
import type { RequestListener } from 'node:http';
import type { App, FetchApp, WsgiApp } from './types.js';
import { StaticApp } from '../static/serve-static.js';

export type InterfaceName = 'wsgi' | 'fetch' | 'node';
export const INTERFACES: readonly (InterfaceName | 'auto')[] = ['auto', 'wsgi', 'fetch', 'node'];

/** An app bound to the interface it is served with. */
export type TypedApp =
  | { interface: 'wsgi'; app: WsgiApp }
  | { interface: 'fetch'; app: FetchApp }
  | { interface: 'node'; app: RequestListener }
  /** serveStatic(): files, in front of the app they are composed with (bound to the interface asked for). */
  | { interface: 'static'; app: StaticApp; inner?: TypedApp };

const isFunction = (v: unknown): v is (...args: unknown[]) => unknown => typeof v === 'function';
const has = (v: unknown, name: string): boolean => v != null && isFunction((v as Record<string, unknown>)[name]);

/** A Koa application (an object with callback() and use()), not yet a listener. */
const isKoa = (v: unknown): v is { callback(): RequestListener } => typeof v === 'object' && has(v, 'callback') && has(v, 'use');

/**
 * Whether a module export could be an app of some interface (a function, an
 * object with fetch(), or one with callback() as Koa's): what loadApp looks
 * for among a module's exports; bindInterface then decides which.
 */
export function looksLikeApp(v: unknown): boolean {
  return isFunction(v) || v instanceof StaticApp || (typeof v === 'object' && (has(v, 'fetch') || has(v, 'callback')));
}

/**
 * The parameter names of a function, from its source text: `['environ',
 * 'startResponse']`. Destructured or rest parameters give ''. Reads
 * `Function.prototype.toString`, which keeps names (tsx/esbuild do not
 * rename them).
 */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const src = Function.prototype.toString.call(fn);
  const m = /^[^(]*\(([^)]*)\)/.exec(src) ?? /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (!m) return [];
  return m[1].split(',').map((p) => p.replace(/\/\*.*?\*\//g, '').trim()).filter(Boolean)
    .map((p) => (/^[A-Za-z_$][\w$]*/.exec(p)?.[0] ?? ''));
}

const WSGI_FIRST = /^(environ|env|environment)$/i;
const WSGI_SECOND = /^(start_?response|start|sr)$/i;
const NODE_FIRST = /^(req|request|incoming|im)$/i;
const NODE_SECOND = /^(res|response|reply|resp|out)$/i;

/** What auto-detection makes of `app`, or a sentence saying why it cannot tell. */
function detect(app: unknown): InterfaceName | string {
  if (has(app, 'fetch')) return 'fetch';
  if (isKoa(app)) return 'node';
  if (!isFunction(app)) return 'it is neither a function nor an object with fetch(request)';
  // Express and connect apps are functions (req, res, next) with handle() and use().
  if (has(app, 'handle') && has(app, 'use')) return 'node';
  const [first = '', second = ''] = parameterNames(app);
  if (WSGI_FIRST.test(first) || WSGI_SECOND.test(second)) return 'wsgi';
  if (NODE_FIRST.test(first) || NODE_SECOND.test(second)) return 'node';
  return `a function (${[first, second].filter(Boolean).join(', ')}) can be a WSGI app (environ, startResponse) or a Node request listener (req, res)`;
}

/**
 * Binds `app` to an interface: the one named, or with `'auto'` (the default)
 * the one detected. Throws TypeError when the app does not fit the named
 * interface, or when `auto` cannot tell; the message names the
 * `--interface` flag to pass.
 */
export function bindInterface(app: App | RequestListener | unknown, name: InterfaceName | 'auto' = 'auto'): TypedApp {
  if (!INTERFACES.includes(name)) throw new TypeError(`Unknown interface "${name}": expected one of ${INTERFACES.join(', ')}`);
  if (app instanceof StaticApp) return { interface: 'static', app, inner: app.app === undefined ? undefined : bindInterface(app.app, name) };
  let chosen: InterfaceName;
  if (name === 'auto') {
    const found = detect(app);
    if (!INTERFACES.includes(found as InterfaceName)) {
      throw new TypeError(`Cannot tell which interface the app speaks: ${found}. Pass --interface wsgi, fetch or node (serve(app, { interface }))`);
    }
    chosen = found as InterfaceName;
  } else {
    chosen = name;
  }
  switch (chosen) {
    case 'fetch':
      if (!has(app, 'fetch')) throw new TypeError('--interface fetch: the app has no fetch(request) method');
      return { interface: 'fetch', app: app as FetchApp };
    case 'node':
      if (isKoa(app)) return { interface: 'node', app: app.callback() };
      if (!isFunction(app)) throw new TypeError('--interface node: the app must be a function (req, res), or a Koa app');
      return { interface: 'node', app: app as RequestListener };
    case 'wsgi':
      if (!isFunction(app)) throw new TypeError('--interface wsgi: the app must be a function (environ, startResponse)');
      return { interface: 'wsgi', app: app as WsgiApp };
  }
}
