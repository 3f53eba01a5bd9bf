/**
 * Forking from a quiescent state. Work the parent has started but not
 * finished (an fs.promises read, an unref'd setImmediate of a library) is
 * copied into every child, and each child then finishes it again, often by
 * starting libuv's thread pool (4 threads) to do so. Before the engine
 * starts forking, the parent lets its event loop run until no request
 * (fs, dns, crypto work) is in flight, within a bound.
 */

// process.getActiveResourcesInfo() names: handles (servers, timers, stdio)
// stay for the process's life; requests finish.
const isRequest = (name: string) => /Req|FileHandle|Promise|Work/.test(name);

/** Resolves when no async request is pending, or after maxMs. Returns the requests still pending. */
export async function quiesce(maxMs = 2000): Promise<string[]> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    // Two turns: one for immediates queued now, one for what they queue.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const pending = process.getActiveResourcesInfo().filter(isRequest);
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    await new Promise((r) => setTimeout(r, 5));
  }
}
