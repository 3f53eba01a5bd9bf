/** Detects the interface of an app and turns it into a request handler. */
import { runFetch } from './fetch.js';
import type { App, FetchApp, Handler, WsgiApp } from './types.js';
import { runWsgi } from './wsgi.js';

export type { App, AppResponse, Environ, FetchApp, Handler, RequestInfo, StartResponse, WsgiApp } from './types.js';

/** True for a Fetch-style app (an object with a fetch method). */
export function isFetchApp(app: unknown): app is FetchApp {
  return app != null && typeof (app as FetchApp).fetch === 'function';
}

/**
 * Returns the handler for an app: Fetch-style if it has a `fetch` method,
 * WSGI-style if it is a function. Throws TypeError otherwise.
 */
export function toHandler(app: App): Handler {
  if (isFetchApp(app)) return (req) => runFetch(app, req);
  if (typeof app === 'function') return (req) => runWsgi(app as WsgiApp, req);
  throw new TypeError('An app must be a function (environ, startResponse) or an object with fetch(request)');
}
