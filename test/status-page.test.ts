// The status page (src/observe/status-server.ts) against real process trees,
// driven through headless Chromium (Debian's /usr/bin/chromium, package
// `chromium`) with playwright-core. Assertions are on what a user sees.
//
// Trees used:
// - test/fixtures/status-tree.mjs: a parent and two children holding one
//   inherited listening socket, a zombie (exit 7), and a child that is a
//   zombie (exit 3) for ~1.5 s, then reaped;
// - the fork engine through the CLI (`slow` app) with two slow connections open.
//
// Every process is started in its own process group and the group is
// SIGKILLed afterwards; every wait is bounded.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStatusServer, type StatusSnapshot } from '../src/observe/status-server.js';
import { childPids, FIXTURES, ROOT, startServer, until, waitFor, type RunningServer } from './helpers/server.js';
import { cleanupAfterEach, startTree as startTreeIn, type TreeFixture } from './helpers/status-tree.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const linux = process.platform === 'linux';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

if (!haveChromium) {
  console.warn(`status-page.test.ts: SKIPPING the Chromium tests: ${CHROMIUM} not found (Debian package "chromium": apt-get install -y chromium)`);
}

const { groups, cleanups } = cleanupAfterEach();

/** The status-tree fixture, cleaned up after each test. */
const startTree = (reapAfterMs = 2500): Promise<TreeFixture> => startTreeIn(reapAfterMs, groups);

/** GET /api/snapshot on 127.0.0.1:port with the given Host header (fetch may not set Host); returns the status code. */
function statusWithHost(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/snapshot', headers: { host }, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls async `probe` every 100 ms until it returns a truthy value; throws after `ms`. */
/** Asserts that `promtool check metrics` (Debian's prometheus) accepts a /metrics body. */
async function promtoolOk(body: string): Promise<void> {
  const check = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  check.stdout.on('data', (d) => (out += d));
  check.stderr.on('data', (d) => (out += d));
  check.stdin.end(body);
  expect(await new Promise((resolve) => check.on('exit', resolve)), out).toBe(0);
}

async function getJson(url: string): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe.skipIf(!linux)('status server HTTP', () => {
  it('serves one self-contained page and a JSON snapshot, and refuses foreign Host headers', async () => {
    const tree = await startTree();
    const status = await startStatusServer(tree.pid, '127.0.0.1', 0);
    cleanups.push(() => status.close());
    expect(status.url).toBe(`http://127.0.0.1:${status.port}/`);

    const page = await getJson(status.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    // No external resource: no src/href attribute and no url() pointing anywhere.
    expect(page.body).not.toMatch(/\b(src|href)\s*=/i);
    expect(page.body).not.toMatch(/url\(/i);
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);

    const s = await until('a snapshot with the whole tree', async () => {
      const r = await getJson(`${status.url}api/snapshot`);
      const snap = JSON.parse(r.body) as StatusSnapshot;
      return snap.processes.length >= 4 ? snap : null;
    });
    expect(s.pid).toBe(tree.pid);
    expect(s.processes[0]!.pid).toBe(tree.pid);
    const pids = s.processes.map((p) => p.pid);
    for (const pid of [...tree.holders, tree.zombie]) expect(pids).toContain(pid);
    const zombie = s.processes.find((p) => p.pid === tree.zombie)!;
    expect(zombie.zombie).toBe(true);
    expect(zombie.descriptors).toBeNull();
    expect(zombie.exitStatus).toMatchObject({ exited: true, exitCode: 7 });
    expect(s.counts.zombies).toBeGreaterThanOrEqual(1);
    // The listening socket: one identity, held by the parent and both holders (and the child to be reaped, while it lives).
    const root = s.processes[0]!;
    const listening = root.descriptors!.find((d) => d.socket?.family === 'inet' && d.socket.state === 'LISTEN' && d.socket.localPort === tree.port)!;
    expect(listening).toBeDefined();
    const group = s.shared.find((g) => g.identity === listening.identity)!;
    expect(group.refs.map((r) => r.pid)).toEqual(expect.arrayContaining([tree.pid, ...tree.holders]));
    expect(s.history.length).toBeGreaterThan(0);

    expect((await getJson(`${status.url}nope`)).status).toBe(404);
    // A page elsewhere reaching us through DNS rebinding sends its own Host: refused.
    expect(await statusWithHost(status.port, `evil.example:${status.port}`)).toBe(421);
    expect(await statusWithHost(status.port, `localhost:${status.port}`)).toBe(200);
  });

  it('throws ESRCH for a pid that does not exist, and reports a target that exits', async () => {
    await expect(startStatusServer(2 ** 22 + 12345, '127.0.0.1', 0)).rejects.toMatchObject({ code: 'ESRCH' });
    const tree = await startTree();
    const status = await startStatusServer(tree.pid, '127.0.0.1', 0);
    cleanups.push(() => status.close());
    process.kill(-tree.proc.pid!, 'SIGKILL');
    const gone = await until('the target to be reported gone', async () => {
      const s = JSON.parse((await getJson(`${status.url}api/snapshot`)).body) as StatusSnapshot;
      return s.gone ? s : null;
    });
    expect(gone.processes).toEqual([]);
    expect(status.targetGone).toBe(true);
  });
});

describe.skipIf(!linux)('status server /metrics', () => {
  it('serves the tree\'s figures in the Prometheus text format, valid for promtool, with the accept queue seen for real', async () => {
    const server = await startServer(`${FIXTURES}/apps.ts:echo`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    const status = await startStatusServer(server.pid, '127.0.0.1', 0);
    const workers: number[] = [];
    const socks: net.Socket[] = [];
    try {
      expect(await waitFor(() => childPids(server.pid).length === 2, 15_000)).toBe(true);
      workers.push(...childPids(server.pid));
      const metrics = async () => {
        const r = await getJson(`${status.url}metrics`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
        return r.body;
      };
      const sample = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"=.[\]]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      const body = await metrics();
      await promtoolOk(body);
      expect(sample(body, 'forkserve_processes{role="master"}')).toBe(1);
      expect(sample(body, 'forkserve_processes{role="worker"}')).toBe(2);
      expect(sample(body, 'forkserve_zombies')).toBe(0);
      for (const pid of [server.pid, ...workers]) expect(sample(body, `forkserve_resident_memory_bytes{pid="${pid}",role="${pid === server.pid ? 'master' : 'worker'}"}`)).toBeGreaterThan(1 << 20);
      const listener = `127.0.0.1:${server.port}`;
      expect(sample(body, `forkserve_listen_queue_length{listener="${listener}"}`)).toBe(0);
      // Workers stopped: three connections wait in the accept queue, and /metrics says so.
      for (const pid of workers) process.kill(pid, 'SIGSTOP');
      for (let i = 0; i < 3; i++) socks.push(net.connect(server.port, '127.0.0.1'));
      let seen = NaN;
      for (let i = 0; i < 100 && seen !== 3; i++) {
        seen = sample(await metrics(), `forkserve_listen_queue_length{listener="${listener}"}`);
        if (seen !== 3) await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen).toBe(3);
    } finally {
      for (const pid of workers) process.kill(pid, 'SIGCONT');
      socks.forEach((s) => s.destroy());
      await status.close();
      await server.stop();
    }
  }, 30_000);
});

describe.skipIf(!linux)('/metrics: the master\'s own counters', () => {
  const sample = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"=.[\]]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  /** The status line of one raw request (the HTTP core's own error responses included). */
  function statusOf(port: number, request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(request));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('error', reject);
      s.on('close', () => resolve(got.split('\r\n')[0]!));
    });
  }

  it.each(['prefork', 'fork'] as const)('%s: responses by status class, timeouts and reaps by reason, counted in every process', async (engine) => {
    const server = await startServer(`${FIXTURES}/apps.ts:slow`, ['--engine', engine, '--workers', '2', '--timeout', '1', '--no-access-log']);
    const status = await startStatusServer(server.pid, '127.0.0.1', 0);
    try {
      if (engine === 'prefork') await until('two workers', () => childPids(server.pid).length === 2, 15_000);
      for (let i = 0; i < 4; i++) expect(await statusOf(server.port, 'GET /?ms=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 200 OK');
      expect(await statusOf(server.port, 'GET /?ms=0 HTTP/1.1\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 400 Bad Request'); // no Host: the core's 400
      expect(await statusOf(server.port, 'GET /?ms=4000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 503 Service Unavailable'); // past --timeout 1
      if (engine === 'prefork') {
        const [victim] = childPids(server.pid);
        process.kill(victim!, 'SIGKILL');
        await until('the killed worker replaced', () => childPids(server.pid).length === 2 && !childPids(server.pid).includes(victim!), 15_000);
      }
      const want = engine === 'prefork'
        ? { '2xx': 4, '4xx': 1, '5xx': 1, timeouts: 1, exited: 0, timeout: 0, signal: 1 }
        // fork: a child per request head (the parent answers the head it rejects itself: no child for the 400);
        // the one past --timeout is ended by the request watchdog (exit 124).
        : { '2xx': 4, '4xx': 1, '5xx': 1, timeouts: 1, exited: 4, timeout: 1, signal: 0 };
      const body = await until('the counters to add up', async () => {
        const text = (await getJson(`${status.url}metrics`)).body;
        return sample(text, 'forkserve_reaps_total{reason="exited"}') === want.exited && sample(text, 'forkserve_reaps_total{reason="signal"}') === want.signal
          && sample(text, 'forkserve_reaps_total{reason="timeout"}') === want.timeout ? text : null;
      }, 10_000, 100);
      await promtoolOk(body);
      expect(sample(body, 'forkserve_http_responses_total{code="2xx"}')).toBe(want['2xx']);
      expect(sample(body, 'forkserve_http_responses_total{code="4xx"}')).toBe(want['4xx']);
      expect(sample(body, 'forkserve_http_responses_total{code="5xx"}')).toBe(want['5xx']);
      expect(sample(body, 'forkserve_http_responses_total{code="3xx"}')).toBe(0);
      expect(sample(body, 'forkserve_request_timeouts_total')).toBe(want.timeouts);
      for (const r of ['failed', 'memory', 'oom']) expect(sample(body, `forkserve_reaps_total{reason="${r}"}`)).toBe(0);
      // Only the master holds the counters' descriptor: no process of the tree shares it.
      const snap = JSON.parse((await getJson(`${status.url}api/snapshot`)).body) as StatusSnapshot;
      const holders = snap.processes.filter((p) => p.descriptors?.some((d) => d.target.startsWith('/memfd:forkserve-counters')));
      expect(holders.map((p) => p.pid)).toEqual([server.pid]);
    } finally {
      await status.close();
      await server.stop('SIGINT');
    }
  }, 40_000);
});

describe.skipIf(!linux)('forkserve status (statusMain)', () => {
  it('prints the page URL, serves it, and stops a few seconds after the target exits', async () => {
    const tree = await startTree();
    const proc = spawn(process.execPath, [path.join(FIXTURES, 'observer-entry.mjs'), 'status', String(tree.pid), '--bind', '127.0.0.1:0'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    groups.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | string | null>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig)));
    const url = await until('the page URL on stderr', async () => /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err)?.[1], 8000);
    const snap = JSON.parse((await getJson(`${url}api/snapshot`)).body) as StatusSnapshot;
    expect(snap.pid).toBe(tree.pid);
    expect(snap.observer).toBe(proc.pid);
    process.kill(-tree.proc.pid!, 'SIGKILL');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 8000))]);
    expect(code).toBe(0);
    expect(err).toContain(`PID ${tree.pid} exited; page closed`);
  });
});

describe.skipIf(!linux || !haveChromium)(`status page in Chromium (${CHROMIUM})`, () => {
  let context: BrowserContext;
  let userDataDir = '';

  beforeAll(async () => {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-chromium-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // launchPersistentContext: the way to give Chromium our own fresh --user-data-dir.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 }, // the layout must hold at 1280x900 (checked below)
      timeout: 20_000,
    });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    cleanups.push(() => page.close());
    await page.goto(url);
    await page.waitForSelector('body[data-updates]');
    return page;
  }

  /** The descriptor-table row of the listening socket on `port`, for the selected process. */
  function listenRow(page: Page, port: number) {
    return page.locator('#fds tbody tr', { hasText: `127.0.0.1:${port} LISTEN` });
  }

  /** The background color of that row's first cell, found and read in one step (rows may be rebuilt between steps). */
  function listenRowColor(page: Page, port: number): Promise<string> {
    return page.evaluate((text) => {
      const row = Array.from(document.querySelectorAll('#fds tbody tr')).find((tr) => tr.textContent!.includes(text));
      return row ? getComputedStyle((row as HTMLTableRowElement).cells[0]!).backgroundColor : 'no row';
    }, `127.0.0.1:${port} LISTEN`);
  }

  it('shows the tree, the zombie, the shared listening socket in two processes, reaped children and the chart', async () => {
    const tree = await startTree(2500);
    const status = await startStatusServer(tree.pid, '127.0.0.1', 0);
    cleanups.push(() => status.close());
    const page = await open(status.url);

    // The tree: the parent and its children, by pid.
    await page.waitForSelector(`#tree tbody tr[data-pid="${tree.zombie}"]`);
    await expect(page.locator('#target').textContent()).resolves.toContain(`PID ${tree.pid}`);
    for (const pid of [tree.pid, ...tree.holders]) {
      await expect(page.locator(`#tree tbody tr[data-pid="${pid}"]`).count()).resolves.toBe(1);
    }
    // The zombie row is marked as one, with the exit status its parent has not collected.
    const zombieRow = page.locator(`#tree tbody tr[data-pid="${tree.zombie}"]`);
    await expect(zombieRow.getAttribute('class')).resolves.toContain('zombie');
    const zombieText = (await zombieRow.textContent())!;
    expect(zombieText).toContain('zombie');
    expect(zombieText).toContain('<defunct>');
    expect(zombieText).toContain('exited 7, not yet reaped');
    expect(Number(await page.locator('#zombies b').textContent())).toBeGreaterThanOrEqual(1);

    // Root selected by default: its listening socket row is highlighted and names the holders.
    const rootRow = listenRow(page, tree.port);
    await expect(rootRow.count()).resolves.toBe(1);
    await expect(rootRow.getAttribute('class')).resolves.toContain('shared');
    const rootNote = (await rootRow.locator('.note').textContent())!;
    for (const pid of tree.holders) expect(rootNote).toContain(`PID ${pid}/fd`);
    const identity = await rootRow.getAttribute('data-identity');
    const rootColor = await listenRowColor(page, tree.port);
    expect(rootColor).toMatch(/^rgb/);
    expect(rootColor).not.toBe('rgba(0, 0, 0, 0)');

    // Another process: same socket, same identity, same color, pointing back at the parent.
    await page.selectOption('#proc', String(tree.holders[0]));
    await page.waitForFunction((pid) => document.querySelector('#tree tr.selected')?.getAttribute('data-pid') === String(pid), tree.holders[0]);
    const childRow = listenRow(page, tree.port);
    await expect(childRow.getAttribute('class')).resolves.toContain('shared');
    await expect(childRow.getAttribute('data-identity')).resolves.toBe(identity);
    await expect(listenRowColor(page, tree.port)).resolves.toBe(rootColor);
    await expect(childRow.locator('.note').textContent()).resolves.toContain(`PID ${tree.pid}/fd`);

    // The tree marks the processes holding it with the same swatch.
    for (const pid of [tree.pid, ...tree.holders]) {
      await expect(page.locator(`#tree tbody tr[data-pid="${pid}"] .swatch[title="${identity}"]`).count()).resolves.toBe(1);
    }

    // The child reaped after being a zombie shows up with its exit status.
    const reaped = page.locator(`#reaped li[data-pid="${tree.reaped}"]`);
    await reaped.waitFor({ timeout: 10_000 });
    await expect(reaped.getAttribute('data-how')).resolves.toBe('reaped-zombie');
    await expect(reaped.textContent()).resolves.toContain('exited 3');

    // The chart has points for both series.
    await page.waitForFunction(() => (document.querySelector('#series-children')?.getAttribute('points') ?? '').trim().split(' ').length >= 3);
    const points = (await page.locator('#series-children').getAttribute('points'))!.trim().split(' ');
    for (const p of points) expect(p).toMatch(/^\d+(\.\d)?,\d+(\.\d)?$/);
    const zombiePoints = (await page.locator('#series-zombies').getAttribute('points'))!.trim().split(' ');
    expect(zombiePoints.length).toBeGreaterThanOrEqual(3);
    await expect(page.locator('#chart svg circle').count()).resolves.toBe(2);

    // Back to the root for the picture.
    await page.locator(`#tree tbody tr[data-pid="${tree.pid}"]`).click();
    await page.waitForFunction((pid) => document.querySelector('#tree tr.selected')?.getAttribute('data-pid') === String(pid), tree.pid);
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page.png'), fullPage: true });

    // At 1280x900, without scrolling: the tree (every column, SHARED included, with no
    // horizontal scrollbar), the shared listening socket's row, and the chart.
    const layout = await page.evaluate((text) => {
      const box = (e: Element | null | undefined) => {
        if (!e) return null;
        const r = e.getBoundingClientRect();
        return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
      };
      const row = Array.from(document.querySelectorAll('#fds tbody tr')).find((tr) => tr.textContent!.includes(text));
      const fdScroll = document.querySelector('#fds')!.parentElement!;
      const treeScroll = document.querySelector('#tree')!.parentElement!;
      const sharedHeader = Array.from(document.querySelectorAll('#tree th')).find((th) => th.textContent === 'SHARED');
      return {
        viewport: { width: innerWidth, height: innerHeight },
        scrolled: scrollX !== 0 || scrollY !== 0,
        pageWider: document.documentElement.scrollWidth > innerWidth,
        treeOverflowsSideways: treeScroll.scrollWidth > treeScroll.clientWidth,
        tree: box(document.querySelector('#tree')),
        sharedHeader: box(sharedHeader),
        treeScroll: box(treeScroll),
        sharedRow: box(row),
        fdScroll: box(fdScroll),
        firstRowText: document.querySelector('#fds tbody tr')?.textContent ?? '',
        chart: box(document.querySelector('#chart svg')),
      };
    }, `127.0.0.1:${tree.port} LISTEN`);
    expect(layout.viewport).toEqual({ width: 1280, height: 900 });
    expect(layout.scrolled).toBe(false);
    expect(layout.pageWider).toBe(false);
    expect(layout.treeOverflowsSideways).toBe(false);
    for (const [what, b] of Object.entries({ tree: layout.tree, sharedRow: layout.sharedRow, chart: layout.chart, sharedHeader: layout.sharedHeader })) {
      expect(b, what).not.toBeNull();
      expect({ what, inside: b!.top >= 0 && b!.left >= 0 && b!.bottom <= 900 && b!.right <= 1280 }).toEqual({ what, inside: true });
    }
    expect(layout.sharedHeader!.right).toBeLessThanOrEqual(layout.treeScroll!.right);
    // The listening socket is the first row, inside the table's scroll box (not clipped by it).
    expect(layout.firstRowText).toContain(`127.0.0.1:${tree.port} LISTEN`);
    expect(layout.sharedRow!.bottom).toBeLessThanOrEqual(layout.fdScroll!.bottom);
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page-1280x900.png') });
  });

  it('shows the fork moment of a --trace-forks server: five stages, with reference counts', async () => {
    const server: RunningServer = await startServer('examples/hello.ts', ['-k', 'fork', '--trace-forks', '--trace-pause', '500']);
    cleanups.push(() => server.stop('SIGINT'));
    const status = await startStatusServer(server.pid, '127.0.0.1', 0);
    cleanups.push(() => status.close());
    const page = await open(status.url);
    const res = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(15_000) });
    expect(res.status).toBe(200);
    await res.text();
    const row = page.locator('#forks tbody tr[data-socket]').first();
    await row.locator('td[data-stage="reaped"].seen').waitFor({ timeout: 10_000 });
    for (const stage of ['accepted', 'forked', 'parent-closed', 'child-exited', 'reaped']) {
      await expect(row.locator(`td[data-stage="${stage}"]`).getAttribute('class')).resolves.toContain('seen');
    }
    const child = Number(await row.getAttribute('data-child'));
    expect(child).toBeGreaterThan(0);
    await expect(row.locator('td[data-stage="accepted"] .note').textContent()).resolves.toMatch(new RegExp(`^1 ref: ${server.pid}/fd \\d+$`));
    await expect(row.locator('td[data-stage="forked"] .note').textContent()).resolves.toMatch(new RegExp(`^2 refs: (${server.pid}|${child})/fd \\d+, (${server.pid}|${child})/fd \\d+$`));
    await expect(row.locator('td[data-stage="parent-closed"] .note').textContent()).resolves.toMatch(new RegExp(`^1 ref: ${child}/fd \\d+$`));
    await expect(row.locator('td[data-stage="child-exited"] .note').textContent()).resolves.toBe('exited 0, zombie');
    await page.screenshot({ path: path.join(ARTIFACTS, 'status-page-fork-moment.png') });
  });

  it('shows a fork-engine server and its connection children', async () => {
    const server: RunningServer = await startServer('test/fixtures/apps.ts:slow');
    cleanups.push(() => server.stop('SIGINT')); // fast stop: the engine SIGKILLs its children
    const sockets: net.Socket[] = [];
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 2; i++) {
      const sock = net.connect(server.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.write('GET /?ms=15000 HTTP/1.1\r\nHost: x\r\n\r\n');
      sockets.push(sock);
    }
    const children = await waitFor(() => (childPids(server.pid).length >= 2 ? childPids(server.pid) : null), 8000);
    expect(children).not.toBeNull();

    const status = await startStatusServer(server.pid, '127.0.0.1', 0);
    cleanups.push(() => status.close());
    const page = await open(status.url);
    await page.waitForSelector(`#tree tbody tr[data-pid="${server.pid}"]`);
    await expect(page.locator('#target').textContent()).resolves.toContain(`PID ${server.pid}`);
    for (const pid of children!) {
      const row = page.locator(`#tree tbody tr[data-pid="${pid}"]`);
      await row.waitFor();
      await expect(row.locator('td').nth(1).textContent()).resolves.toBe(String(server.pid));
    }
    expect(Number(await page.locator('#children b').textContent())).toBeGreaterThanOrEqual(2);
    // A connection child's table shows its accepted connection.
    await page.selectOption('#proc', String(children![0]));
    await page.locator('#fds tbody tr', { hasText: 'ESTABLISHED' }).first().waitFor();
  });
});
