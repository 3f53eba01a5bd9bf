/** Binds an app to its interface and turns it into what the engines serve. */
import type { RequestListener } from 'node:http';
import { runFetch } from './fetch.js';
import { bindInterface, type InterfaceName, type TypedApp } from './interface.js';
import type { App, AppResponse, FetchApp, Handler } from './types.js';
import { staticListener } from '../static/node.js';
import { runWsgi } from './wsgi.js';

export type { App, AppResponse, Environ, FetchApp, Handler, RequestInfo, StartResponse, WsgiApp } from './types.js';
export { bindInterface, INTERFACES, type InterfaceName, type TypedApp } from './interface.js';

/**
 * What an engine serves: a request handler (WSGI and Fetch apps, which the
 * native HTTP core parses for), or a Node request listener, which gets the
 * connection itself and is parsed by node:http in the serving process
 * (docs/interfaces.md).
 */
export type Served =
  | { interface: 'wsgi' | 'fetch' | 'static'; handler: Handler }
  | { interface: 'node'; listener: RequestListener };

/** True for a Fetch-style app (an object with a fetch method). */
export function isFetchApp(app: unknown): app is FetchApp {
  return app != null && typeof (app as FetchApp).fetch === 'function';
}

/** Turns an app bound to its interface into what the engines serve. */
export function toServed(typed: TypedApp): Served {
  switch (typed.interface) {
    case 'fetch': { const app = typed.app; return { interface: 'fetch', handler: (req) => runFetch(app, req) }; }
    case 'wsgi': { const app = typed.app; return { interface: 'wsgi', handler: (req) => runWsgi(app, req) }; }
    case 'node': return { interface: 'node', listener: typed.app };
    case 'static': {
      const files = typed.app;
      const inner = typed.inner && toServed(typed.inner);
      // Alone, the files answer everything (404, 405 included).
      if (!inner) return { interface: 'static', handler: (req) => files.respond(req) as AppResponse };
      if (inner.interface === 'node') return { interface: 'node', listener: staticListener(files, inner.listener) };
      const next = inner.handler;
      return { interface: inner.interface, handler: (req) => files.respond(req) ?? next(req) };
    }
  }
}

/**
 * Returns the request handler of a WSGI or Fetch app (interface detected
 * unless named). Throws TypeError for a Node request listener, which has
 * no request handler (serve() runs it), and when the interface cannot be
 * told.
 */
export function toHandler(app: App, name: InterfaceName | 'auto' = 'auto'): Handler {
  const served = toServed(bindInterface(app, name));
  if (served.interface === 'node') throw new TypeError('A Node request listener (req, res) has no request handler: serve it with serve(app, { interface: "node" })');
  return served.handler;
}
