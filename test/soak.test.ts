// A small fork-safety soak (the full one is `npm run soak`, docs/soak.md):
// the GC-churning app on the fork engine and on prefork recycling its
// workers every 50 requests, watched from /proc.
import { describe, expect, it } from 'vitest';
import { runSoak, type SoakResult } from '../bench/soak-core.js';

// A lighter churn than the full soak's (smaller parent, 1-3 MB per request), so both runs fit well within 90 s on 2 cores.
const env = { CHURN_LOAD_MB: '32', CHURN_MIN_MB: '1', CHURN_MAX_MB: '3' };

function expectClean(r: SoakResult) {
  const summary = JSON.stringify({ ...r, hungDetails: r.hungDetails.slice(0, 5) });
  expect(r.serverDied, summary).toBeUndefined();
  expect(r.completed, summary).toBe(r.requested);
  expect(r.hung, summary).toBe(0);
  expect(r.zombiesAtEnd, summary).toBe(0);
  expect(r.zombiesLingering, summary).toBe(0);
  expect(r.fdDelta, summary).toBe(0);
  expect(r.failed, summary).toBe(0);
}

describe('fork-safety soak (small)', () => {
  it('fork engine: 1,000 requests, no hung child, no zombie, no leaked fd, no failed request', async () => {
    const r = await runSoak({ name: 'fork', kind: 'fork', engineArgs: ['--engine', 'fork'], requests: 1000, timeoutS: 10, maxMs: 60_000, env });
    expectClean(r);
    expect(r.flags).toContain('--single-threaded');
  }, 85_000);

  // Long-lived workers run many mark-compacts: before Node's platform
  // threads were parked around fork() (docs/fork-in-node.md) they hung in
  // futex_wait here and the master killed them.
  it('prefork --max-requests 50: 1,000 requests over recycled workers, all clean', async () => {
    const r = await runSoak({
      name: 'prefork', kind: 'prefork', engineArgs: ['--engine', 'prefork', '--workers', '2', '--max-requests', '50'],
      requests: 1000, timeoutS: 10, maxMs: 60_000, env,
    });
    expectClean(r);
    // 1,000 requests at 50 per worker: about 20 workers came and went.
    expect(r.childrenSeen).toBeGreaterThanOrEqual(10);
  }, 85_000);
});
