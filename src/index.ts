/** forkserve: serve TypeScript apps on a genuine Unix forking server. */
export { serve, ENGINES, type ServeOptions, type EngineName } from './serve.js';
export { loadApp, parseAppSpec } from './load.js';
export { toHandler, isFetchApp, bindInterface, INTERFACES, type InterfaceName } from './apps/index.js';
export type { App, Environ, FetchApp, StartResponse, WsgiApp, HeaderList, WsgiBody, BodyChunk } from './apps/types.js';
export { AppNotFoundError, type LoadedApp } from './load.js';
export { SystemError } from './errors.js';
export { serveStatic, StaticApp, type StaticOptions } from './static/serve-static.js';
export { FileBody } from './apps/file-body.js';
