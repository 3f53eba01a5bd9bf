/**
 * The one mechanism behind the lazy Request (request.ts) and the
 * lightweight Response (response.ts): a prototype whose members answer a
 * few properties itself and forward every other member of the native
 * class's prototype to a real instance, built on first use.
 */

/**
 * Defines on `proto` every own member of `nativeProto` (except
 * `constructor`): the getters in `own` as given, every other getter and
 * method forwarded to `real(this)`. Returns `proto`.
 */
export function forwardMembers<T extends object>(
  proto: object, nativeProto: object, real: (self: T) => object, own: Record<string, (self: T) => unknown> = {},
): object {
  for (const name of Reflect.ownKeys(nativeProto)) {
    if (name === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(nativeProto, name)!;
    const base = { configurable: true, enumerable: d.enumerable };
    const mine = typeof name === 'string' ? own[name] : undefined;
    if (mine) {
      Object.defineProperty(proto, name, { ...base, get(this: T) { return mine(this); } });
    } else if (d.get) {
      Object.defineProperty(proto, name, { ...base, get(this: T) { return (real(this) as Record<PropertyKey, unknown>)[name]; } });
    } else if (typeof d.value === 'function') {
      const method = d.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, name, { ...base, writable: true, value: function (this: T, ...args: unknown[]) { return method.apply(real(this), args); } });
    }
  }
  return proto;
}
