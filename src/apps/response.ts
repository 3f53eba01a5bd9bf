/**
 * A Response that costs only what is read of it. Node's Response (undici)
 * builds a ReadableStream and a Headers object for every
 * `new Response('Hello')`, which a server then has to drain again. While a
 * Fetch app is served, `globalThis.Response` is this class:
 *  - built from a string, a Uint8Array, an ArrayBuffer or nothing, with a
 *    valid status, it keeps the body and the init as given;
 *  - `status`, `statusText`, `ok`, `type`, `url`, `redirected`, `bodyUsed`
 *    are answered from them;
 *  - any other member (`headers`, `body`, `text()`, `clone()`...) builds the
 *    real Response once and forwards to it from then on;
 *  - anything else it is built from (a stream, a Blob, FormData...) or an
 *    invalid init builds the real one at once, so errors are thrown where
 *    the Fetch standard throws them.
 * `x instanceof Response` holds for these and for real Responses
 * (`fetch()`'s, `Response.json()`'s); `Response.json`, `.error` and
 * `.redirect` are the real ones. The engine reads an untouched instance's
 * status, headers and bytes without building anything (`untouched`).
 * @hono/node-server does the same by default; this one is written from the
 * Fetch standard (§6.4 Response class, "extract a body").
 */
import { forwardMembers } from './forward.js';

const Native = globalThis.Response;

const kBody = Symbol('forkserve.body');
const kInit = Symbol('forkserve.init');
const kReal = Symbol('forkserve.response');

type FastBody = string | Uint8Array | ArrayBuffer | null | undefined;

interface LightResponse {
  [kBody]: FastBody;
  [kInit]: ResponseInit | undefined;
  [kReal]?: Response;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function isFastBody(body: unknown): body is FastBody {
  return body == null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

/** Whether the init is plain enough to keep as it is (else the real constructor validates it). */
function isFastInit(init: ResponseInit | undefined, body: FastBody): boolean {
  if (init === undefined) return true;
  if (init === null || typeof init !== 'object') return false;
  const status = init.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) return false;
  if (body != null && NULL_BODY_STATUS.has(status)) return false;
  if (init.statusText !== undefined && typeof init.statusText !== 'string') return false;
  return true;
}

function real(self: LightResponse): Response {
  return (self[kReal] ??= new Native(self[kBody] as BodyInit | null | undefined, self[kInit]));
}

function LightweightResponse(this: LightResponse, body?: unknown, init?: ResponseInit): void {
  if (!new.target) throw new TypeError("Class constructor Response cannot be invoked without 'new'");
  this[kBody] = undefined;
  this[kInit] = undefined;
  // Anything else is built (and validated, and thrown about) by the real constructor now.
  if (!isFastBody(body) || !isFastInit(init, body as FastBody)) this[kReal] = new Native(body as BodyInit, init);
  else {
    this[kBody] = body;
    this[kInit] = init;
  }
}

const proto = Object.create(Native.prototype) as Record<PropertyKey, unknown>;
const status = (self: LightResponse) => (self[kReal] ? self[kReal].status : self[kInit]?.status ?? 200);
const fast: Record<string, (self: LightResponse) => unknown> = {
  status,
  ok: (self) => { const s = status(self); return s >= 200 && s <= 299; },
  statusText: (self) => (self[kReal] ? self[kReal].statusText : self[kInit]?.statusText ?? ''),
  type: (self) => (self[kReal] ? self[kReal].type : 'default'),
  url: (self) => (self[kReal] ? self[kReal].url : ''),
  redirected: (self) => (self[kReal] ? self[kReal].redirected : false),
  bodyUsed: (self) => (self[kReal] ? self[kReal].bodyUsed : false),
};
forwardMembers<LightResponse>(proto, Native.prototype, real, fast);
Object.defineProperty(proto, 'constructor', { configurable: true, writable: true, value: LightweightResponse });
LightweightResponse.prototype = proto;
Object.setPrototypeOf(LightweightResponse, Native); // Response.json, .error, .redirect: the real ones
Object.defineProperty(LightweightResponse, 'name', { value: 'Response' });
Object.defineProperty(LightweightResponse, Symbol.hasInstance, {
  value: (x: unknown) => x instanceof Native || (x != null && Object.prototype.isPrototypeOf.call(proto, x)),
});

/** Makes `globalThis.Response` the lightweight class (idempotent). */
export function installLightweightResponse(): void {
  if (globalThis.Response !== (LightweightResponse as unknown as typeof Response)) {
    globalThis.Response = LightweightResponse as unknown as typeof Response;
  }
}

/** An untouched lightweight Response's parts, or null for any other Response. */
export function untouched(res: unknown): { status: number; statusText: string; headers: HeadersInit | undefined; body: FastBody } | null {
  if (res == null || typeof res !== 'object' || !(kBody in res)) return null;
  const self = res as LightResponse;
  if (self[kReal]) return null;
  const init = self[kInit];
  return { status: init?.status ?? 200, statusText: init?.statusText ?? '', headers: init?.headers, body: self[kBody] };
}
