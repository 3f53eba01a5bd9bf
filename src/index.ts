/** forkserve: serve TypeScript apps on a genuine Unix forking server. */
export { serve, ENGINES, type ServeOptions, type EngineName } from './serve.js';
export { loadApp, parseAppSpec } from './load.js';
export { toHandler, isFetchApp } from './apps/index.js';
export type { App, Environ, FetchApp, StartResponse, WsgiApp } from './apps/index.js';
export { SystemError } from './errors.js';
