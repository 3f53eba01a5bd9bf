// `forkserve status PID --bind HOST:PORT`: a small web page showing a process
// tree live: the tree (zombies marked), one process's descriptor table with
// descriptors shared across processes highlighted, the last children seen
// going away, and a chart of children and zombies over the last 2 minutes.
// One self-contained HTML page (inline CSS and JS, no external resource) that
// polls GET /api/snapshot. Reference: docs/observe.md.
//
// It runs in its own process, never inside the forking server (whose parent
// loop runs in native code and does not return to the event loop).

import http from 'node:http';
import { parseArgs } from 'node:util';
import { descriptors, type Descriptor, type DescriptorRef } from '../observe.js';
import { stateLabel } from './format.js';
import { sharedAcrossProcesses } from './group.js';
import { renderMetrics } from './metrics.js';
import { launchObserver } from './launch.js';
import { describeGone, TreeTracker, type GoneProcess, type TrackedProcess, type TreeSnapshot } from './tracker.js';
import { ForkTimeline, TIMELINE_MAX_PROCESSES, type ForkConnection } from './timeline.js';

/** How often the history of counts is sampled, ms. */
export const HISTORY_INTERVAL_MS = 500;
/** How much history is kept, ms. */
export const HISTORY_SPAN_MS = 120_000;

/** One process of /api/snapshot. */
export interface StatusProcess extends TrackedProcess {
  stateLabel: string;
  /** null for a zombie (no descriptors) or when unreadable (see descriptorsError). */
  descriptors: Descriptor[] | null;
  /** `EACCES`, `ESRCH` (exited meanwhile), ... when the descriptors could not be read. */
  descriptorsError: string | null;
}

/** The document served at /api/snapshot (dates as ISO strings once serialized). */
export interface StatusSnapshot {
  pid: number;
  time: Date;
  /** The target has exited; `processes` is empty. */
  gone: boolean;
  /** This status server's pid. */
  observer: number;
  /** Observer pids that were in the tree and are left out of it. */
  excluded: number[];
  counts: { children: number; descendants: number; zombies: number };
  processes: StatusProcess[];
  /** Open file descriptions held by two or more processes of the tree (sharedAcrossProcesses(): no standard streams, no /dev/null). */
  shared: Array<{ identity: string; refs: DescriptorRef[] }>;
  /** Counts over the last HISTORY_SPAN_MS, oldest first; `t` in ms since the epoch. */
  history: Array<{ t: number; children: number; zombies: number }>;
  /** The last descendants seen going away, newest first, with `description` saying what is inferred. */
  reaped: Array<GoneProcess & { description: string }>;
  /** The fork moment: the last connections the root accepted and the stages seen of each (timeline.ts), newest first. */
  forks: ForkConnection[];
  /** An error of the last look at the tree (e.g. EACCES), else null. */
  error: string | null;
}

function withDescriptors(p: TrackedProcess): StatusProcess {
  let list: Descriptor[] | null = null;
  let error: string | null = null;
  if (!p.zombie) {
    try {
      list = descriptors(p.pid);
    } catch (err) {
      error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
  }
  return { ...p, stateLabel: stateLabel(p.state), descriptors: list, descriptorsError: error };
}

class Observer {
  private readonly tracker: TreeTracker;
  private readonly timeline: ForkTimeline;
  /** The processes of the last sample with their descriptors, when it read them (a small tree). */
  private lastProcesses: StatusProcess[] | null = null;
  private readonly history: StatusSnapshot['history'] = [];
  private last: TreeSnapshot | null = null;
  private error: string | null = null;
  /** Descendants noticed gone since the observer started (forkserve_children_seen_gone_total). */
  goneTotal = 0;

  constructor(readonly pid: number) {
    this.tracker = new TreeTracker(pid, { exclude: [process.pid], keep: 12 });
    this.timeline = new ForkTimeline(pid, { keep: 6 });
  }

  /** One look at the tree; also a history point. Never throws after the first look. */
  sample(): TreeSnapshot | null {
    try {
      this.last = this.tracker.sample();
      this.goneTotal += this.last.newlyGone.length;
      this.error = null;
    } catch (err) {
      if (!this.last) throw err;
      this.error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return this.last;
    }
    // A small tree's descriptors are read on every sample: the fork moment's stages are seen from them.
    this.lastProcesses = null;
    if (!this.last.gone && this.last.processes.length <= TIMELINE_MAX_PROCESSES) {
      this.lastProcesses = this.last.processes.map(withDescriptors);
      this.timeline.observe(this.last.time, this.lastProcesses);
    }
    const t = this.last.time.getTime();
    if (!this.last.gone) this.history.push({ t, children: this.last.children, zombies: this.last.zombies });
    while (this.history.length > 0 && this.history[0]!.t < t - HISTORY_SPAN_MS) this.history.shift();
    return this.last;
  }

  snapshot(): StatusSnapshot {
    const snap = this.sample()!;
    const processes = this.lastProcesses ?? snap.processes.map(withDescriptors);
    const lists: Array<[number, Descriptor[]]> = [];
    for (const p of processes) if (p.descriptors) lists.push([p.pid, p.descriptors]);
    const shared = [...sharedAcrossProcesses(lists)].map(([identity, refs]) => ({ identity, refs }));
    return {
      pid: this.pid,
      time: snap.time,
      gone: snap.gone,
      observer: process.pid,
      excluded: snap.excluded,
      counts: { children: snap.children, descendants: snap.descendants, zombies: snap.zombies },
      processes,
      shared,
      history: [...this.history],
      reaped: snap.recentlyGone.map((g) => ({ ...g, description: describeGone(g) })),
      forks: this.timeline.connections(),
      error: this.error,
    };
  }

  get gone(): boolean {
    return this.tracker.rootGone;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const SECURITY_HEADERS = {
  // The page may load nothing from anywhere: inline style and script only, fetch to itself.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * Starts the status page for process `targetPid` on `host:port` (port 0
 * picks a free one). The tree is sampled every HISTORY_INTERVAL_MS for the
 * chart; /api/snapshot takes a fresh look on each request.
 *
 * Requests whose Host header names another host are refused (421), so a web
 * page elsewhere cannot read the snapshot through DNS rebinding; when bound
 * to a wildcard address (0.0.0.0, ::) any Host is accepted. The page shows
 * command lines and open files of the processes: bind it to loopback.
 *
 * @throws ESRCH if `targetPid` does not exist; the server's listen error
 *   (EADDRINUSE, EACCES, ...) if it cannot listen.
 */
export async function startStatusServer(
  targetPid: number,
  host: string,
  port: number,
): Promise<{ url: string; port: number; close(): Promise<void>; readonly targetGone: boolean }> {
  const observer = new Observer(targetPid);
  observer.sample(); // throws ESRCH now rather than serve an empty page
  const timer = setInterval(() => observer.sample(), HISTORY_INTERVAL_MS);
  timer.unref();

  let boundPort = port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const wildcard = host === '0.0.0.0' || host === '::';
  const allowedHosts = () =>
    new Set([`${hostPart}:${boundPort}`, `localhost:${boundPort}`, `127.0.0.1:${boundPort}`, `[::1]:${boundPort}`]);

  const server = http.createServer((req, res) => {
    if (!wildcard && !allowedHosts().has((req.headers.host ?? '').toLowerCase())) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('Misdirected request: unexpected Host header\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('Method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : PAGE);
      return;
    }
    if (path === '/metrics') {
      let body: string;
      try {
        const snap = observer.snapshot();
        body = renderMetrics({ pid: snap.pid, processes: snap.processes, counts: snap.counts, goneTotal: observer.goneTotal });
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
        res.end(`${(err as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/api/snapshot') {
      let body: string;
      try {
        body = JSON.stringify(observer.snapshot());
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json', ...SECURITY_HEADERS });
        res.end(JSON.stringify({ error: (err as Error).message }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end('Not found\n');
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address && typeof address === 'object') boundPort = address.port;

  return {
    url: `http://${hostPart}:${boundPort}/`,
    port: boundPort,
    get targetGone() {
      return observer.gone;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const STATUS_USAGE = `Usage: forkserve status PID [--bind HOST:PORT]

Serves a live web page of the process tree under PID: the tree (zombies
marked), a descriptor table per process with descriptors shared across
processes highlighted, the last children seen going away, and a chart of
children and zombies over the last 2 minutes. JSON at /api/snapshot.
Stops when PID exits, or on Ctrl-C.

  -b, --bind HOST:PORT  address of the page (default 127.0.0.1:8889; port 0: any free port).
                        The page shows command lines and open files: keep it on loopback.
  -h, --help            this text
`;

function parseHostPort(bind: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(bind);
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** How long the page stays up after the target exited, so it can show that. */
const LINGER_MS = 3_000;

/** `forkserve status PID [--bind HOST:PORT]`. Returns the exit code; stops on SIGINT/SIGTERM (0) and shortly after PID exits (0). */
export async function statusMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { bind: { type: 'string', short: 'b' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  const pid = Number(positionals[0]);
  if (positionals.length !== 1 || !Number.isSafeInteger(pid) || pid <= 0) {
    process.stderr.write(`forkserve status: expected one PID\n${STATUS_USAGE}`);
    return 2;
  }
  const bind = parseHostPort(values.bind ?? '127.0.0.1:8889');
  if (!bind) {
    process.stderr.write(`forkserve status: --bind must be HOST:PORT (IPv6: [::1]:PORT), got "${values.bind}"\n`);
    return 2;
  }
  let status;
  try {
    status = await startStatusServer(pid, bind.host, bind.port);
  } catch (err) {
    process.stderr.write(`forkserve status: ${(err as Error).message}\n`);
    return 1;
  }
  if (!isLoopback(bind.host)) {
    process.stderr.write(`forkserve status: warning: ${bind.host} is not a loopback address; anyone who can reach it sees these processes' command lines and open files\n`);
  }
  process.stderr.write(`forkserve status: page for PID ${pid} at ${status.url} (status server pid ${process.pid})\n`);

  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (status.targetGone) {
        clearInterval(poll);
        setTimeout(finish, LINGER_MS);
      }
    }, HISTORY_INTERVAL_MS);
    function finish(): void {
      clearInterval(poll);
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      resolve();
    }
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
  });
  await status.close();
  if (status.targetGone) process.stderr.write(`forkserve status: PID ${pid} exited; page closed\n`);
  return 0;
}

/**
 * For `forkserve APP --status HOST:PORT`: starts `forkserve status <this pid>
 * --bind HOST:PORT` as a process that is not a child of this one (see
 * launch.ts), sharing our stderr (it prints the page's URL there). It stops
 * by itself a few seconds after this process exits. Call it before serve();
 * resolves once the intermediate process has exited. Does nothing in a
 * node:cluster worker.
 */
export async function startStatusForSelf(bind: string): Promise<void> {
  await launchObserver(['status', String(process.pid), '--bind', bind]);
}

// ---------------------------------------------------------------------------
// The page. Data only ever reaches the DOM through textContent / attributes.
// ---------------------------------------------------------------------------

const PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>forkserve status</title>
<style>
  :root { --fg:#1d2330; --muted:#667085; --line:#d9dee7; --bg:#f7f8fa; --card:#fff; --zombie:#b42318; --zombie-bg:#fde8e7; --sel:#e8f0fe; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 12px 20px; background: #1d2330; color: #fff; display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .counts span { margin-right: 16px; }
  header .counts b { font-size: 16px; }
  header .zombies b { color: #ff8a80; }
  #conn { margin-left: auto; font-size: 12px; color: #c5cad3; }
  #conn.bad { color: #ffb4a9; }
  /* Two columns that fit 1280x900 without scrolling: the tree over the chart, the descriptors over the fork moment and the reaped list. */
  main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 12px; padding: 12px 16px; align-items: start; }
  .col { display: flex; flex-direction: column; gap: 12px; min-width: 0; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  h2 small { font-weight: normal; color: var(--muted); }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; font: 12.5px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  td { overflow: hidden; text-overflow: ellipsis; }
  th, td { text-align: left; padding: 3px 8px 3px 4px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; position: sticky; top: 0; background: var(--card); }
  td.state { white-space: nowrap; }
  td.state .note { white-space: normal; }
  td.cmd { white-space: pre; }
  #tree col.pid { width: 62px; } #tree col.state { width: 132px; } #tree col.fds { width: 40px; } #tree col.shared { width: 74px; }
  #fds col.fd { width: 34px; } #fds col.type { width: 60px; } #fds col.mode { width: 40px; } #fds col.identity { width: 92px; }
  #fds td:last-child { white-space: normal; overflow-wrap: anywhere; }
  #forks col.peer { width: 150px; } #forks td { white-space: normal; } #forks td.stage.seen { background: #ecfdf3; } #forks td.stage.missed { color: var(--muted); }
  td.swatches { white-space: nowrap; }
  td.swatches .swatch { width: 8px; height: 8px; margin-right: 2px; }
  #tree tbody tr { cursor: pointer; }
  #tree tbody tr:hover { background: #f2f4f7; }
  #tree tbody tr.selected { background: var(--sel); }
  tr.zombie td { color: var(--zombie); background: var(--zombie-bg); }
  .badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11px; font-family: system-ui, sans-serif; }
  .badge.z { background: var(--zombie); color: #fff; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 3px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
  #fds tr.shared td { background: var(--c); }
  #fds tr.shared td:first-child { box-shadow: inset 4px 0 0 var(--cs); }
  .note { color: #344054; font-family: system-ui, sans-serif; font-size: 12px; }
  .muted { color: var(--muted); }
  .gone { color: var(--zombie); font-weight: 600; }
  select { font: inherit; margin-left: 6px; }
  #chart svg { width: 100%; height: auto; display: block; }
  .legend span { margin-right: 16px; font-size: 12px; }
  .legend i { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 4px; }
  ul#reaped { margin: 0; padding-left: 18px; font-size: 13px; }
  ul#reaped li { margin: 2px 0; }
  .scroll { max-height: 300px; overflow-y: auto; overflow-x: hidden; }
  #fdscroll { max-height: 330px; }
  #chart svg { max-height: 170px; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>forkserve status · <span id="target">…</span></h1>
  <div class="counts"><span id="children">children <b>–</b></span><span class="zombies" id="zombies">zombies <b>–</b></span><span id="descendants" class="muted"></span></div>
  <div id="conn">connecting…</div>
</header>
<main>
  <div class="col">
  <section>
    <h2>Process tree <small>(click a row to see its descriptors)</small></h2>
    <div class="scroll"><table id="tree"><colgroup><col class="pid"><col class="pid"><col class="state"><col class="fds"><col><col class="shared"></colgroup>
      <thead><tr><th>PID</th><th>PPID</th><th>STATE</th><th>FDS</th><th>COMMAND</th><th>SHARED</th></tr></thead><tbody></tbody></table></div>
    <p id="excluded" class="muted"></p>
  </section>
  <section>
    <h2>Children and zombies <small>(last 2 minutes)</small></h2>
    <div id="chart"></div>
    <div class="legend"><span><i style="background:#2f6fde"></i>children</span><span><i style="background:#d92d20"></i>zombies</span></div>
  </section>
  </div>
  <div class="col">
  <section>
    <h2>Descriptors of <select id="proc" aria-label="process"></select> <small id="fdcount"></small></h2>
    <div class="scroll" id="fdscroll"><table id="fds"><colgroup><col class="fd"><col class="type"><col class="mode"><col class="identity"><col></colgroup>
      <thead><tr><th>FD</th><th>TYPE</th><th>MODE</th><th>IDENTITY</th><th>DETAILS</th></tr></thead><tbody></tbody></table></div>
    <p class="muted">Colored rows: one open file description held by two or more processes of the tree (fork() copies the table; SCM_RIGHTS passes one); the count is the kernel's reference count. Sockets come first.
      <label><input type="checkbox" id="showall"> show the standard streams and /dev/null</label> (every process inherits them).</p>
  </section>
  <section>
    <h2>The fork moment <small>(each connection the parent accepted; run the server with --trace-forks to see every stage)</small></h2>
    <table id="forks"><colgroup><col class="peer"><col><col><col><col><col></colgroup>
      <thead><tr><th>CONNECTION</th><th>ACCEPTED</th><th>FORKED</th><th>PARENT CLOSED</th><th>CHILD EXITED</th><th>REAPED</th></tr></thead>
      <tbody><tr><td colspan="6" class="muted">no connection seen yet</td></tr></tbody></table>
  </section>
  <section>
    <h2>Last children seen going away <small>(inferred by comparing successive looks at the tree)</small></h2>
    <ul id="reaped"><li class="muted">none seen yet</li></ul>
  </section>
  </div>
</main>
<script>
"use strict";
const POLL_MS = 500, SPAN_MS = 120000;
const colorOf = new Map();
let selected = null, lastSnap = null, stopped = false, lastTablesKey = "", lastReapedKey = "", lastForksKey = "";
const STAGES = ["accepted", "forked", "parent-closed", "child-exited", "reaped"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.setAttribute("style", v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}
function exitText(st) {
  if (!st) return "";
  if (st.exited) return "exited " + st.exitCode;
  if (st.signaled) return "killed by " + st.signal + (st.coreDumped ? " (core dumped)" : "");
  return "status " + st.raw;
}
function endpoint(a, p, fam) { return fam === "inet6" ? "[" + a + "]:" + p : a + ":" + p; }
function details(d) {
  const s = d.socket;
  if (s && s.family === "unix") return "unix " + s.protocol + " " + (s.path || "(unnamed)") + " " + s.state;
  if (s) {
    const proto = s.family === "inet6" ? s.protocol + "6" : s.protocol;
    const remote = s.remotePort ? " -> " + endpoint(s.remoteAddress, s.remotePort, s.family) : "";
    return proto + " " + endpoint(s.localAddress, s.localPort, s.family) + remote + " " + s.state;
  }
  if (d.type === "file" && d.pos !== null) return d.target + " (pos " + d.pos + ")";
  return d.target;
}
const ACCESS = { "read": "r", "write": "w", "read-write": "rw" };
function commandLine(p) { return (p.args.length ? p.args.join(" ") : "[" + p.command + "]") + (p.zombie ? " <defunct>" : ""); }
// One color per shared object, kept for the page's life: hues a golden angle apart never repeat closely.
function colorFor(identity) {
  if (!colorOf.has(identity)) {
    const hue = Math.round((colorOf.size * 137.508 + 45) % 360);
    colorOf.set(identity, ["hsl(" + hue + " 85% 90%)", "hsl(" + hue + " 65% 42%)"]);
  }
  return colorOf.get(identity);
}
function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }

function renderHeader(s) {
  const root = s.processes[0];
  const target = document.getElementById("target");
  target.textContent = "PID " + s.pid + (root ? " · " + root.command + " · " + root.stateLabel : "");
  if (s.gone) target.append(" ", el("span", { class: "gone" }, "(exited)"));
  document.querySelector("#children b").textContent = s.counts.children;
  document.querySelector("#zombies b").textContent = s.counts.zombies;
  document.getElementById("descendants").textContent = s.counts.descendants !== s.counts.children ? "descendants " + s.counts.descendants : "";
  document.getElementById("excluded").textContent = s.excluded.length ? "This status server (pid " + s.excluded.join(", ") + ") is left out of the tree." : "";
}

function renderTree(s, sharedBy) {
  const body = document.querySelector("#tree tbody");
  body.replaceChildren();
  if (s.gone) body.append(el("tr", {}, el("td", { colspan: "6", class: "gone" }, "PID " + s.pid + " has exited.")));
  for (const p of s.processes) {
    const state = el("td", { class: "state" }, p.stateLabel);
    if (p.zombie) {
      state.replaceChildren(el("span", { class: "badge z" }, "zombie"), " " + p.stateLabel);
      if (p.exitStatus) state.append(el("div", { class: "note" }, exitText(p.exitStatus) + ", not yet reaped by " + p.ppid));
    }
    const swatches = el("td", { class: "swatches" });
    for (const id of sharedBy.get(p.pid) || []) {
      const [bg, fg] = colorFor(id);
      swatches.append(el("span", { class: "swatch", title: id, style: "background:" + bg + ";border-color:" + fg }));
    }
    const cmd = el("td", { class: "cmd", title: commandLine(p) }, (p.depth ? "  ".repeat(p.depth - 1) + "\\_ " : "") + commandLine(p));
    const row = el("tr", { "data-pid": p.pid, class: (p.zombie ? "zombie" : "") + (p.pid === selected ? " selected" : "") },
      el("td", {}, p.pid), el("td", {}, p.ppid), state, el("td", {}, p.descriptorCount === null ? "-" : p.descriptorCount), cmd, swatches);
    row.addEventListener("click", () => { selected = p.pid; render(lastSnap); });
    body.append(row);
  }
}

function renderSelect(s) {
  const sel = document.getElementById("proc");
  const want = s.processes.map((p) => p.pid + "|" + p.command + "|" + p.state).join(",");
  if (sel.dataset.key !== want) {
    sel.replaceChildren(...s.processes.map((p) => el("option", { value: p.pid }, p.pid + " " + p.command + (p.zombie ? " (zombie)" : ""))));
    sel.dataset.key = want;
  }
  if (selected !== null) sel.value = String(selected);
}

function renderDescriptors(s, refsOf) {
  const body = document.querySelector("#fds tbody");
  const count = document.getElementById("fdcount");
  body.replaceChildren();
  const p = s.processes.find((q) => q.pid === selected);
  if (!p) { count.textContent = ""; return; }
  if (p.zombie) {
    count.textContent = "";
    body.append(el("tr", {}, el("td", { colspan: "5", class: "note" },
      "PID " + p.pid + " is a zombie: it has exited" + (p.exitStatus ? " (" + exitText(p.exitStatus) + ")" : "") +
      " and the kernel closed its descriptors; it stays in the process table until its parent " + p.ppid + " reaps it with wait().")));
    return;
  }
  if (!p.descriptors) {
    count.textContent = "";
    body.append(el("tr", {}, el("td", { colspan: "5", class: "note" }, "Descriptors not readable (" + (p.descriptorsError || "unknown") + ").")));
    return;
  }
  // Sockets first (listening, then connected), then the rest by number; the standard streams and /dev/null folded unless asked for.
  const rank = (d) => (d.socket && d.socket.state === "LISTEN" ? 0 : d.type === "socket" ? 1 : 2);
  const showAll = document.getElementById("showall").checked;
  const folded = (d) => !showAll && (d.fd <= 2 || d.target === "/dev/null");
  const list = p.descriptors.filter((d) => !folded(d)).sort((a, b) => rank(a) - rank(b) || a.fd - b.fd);
  const hidden = p.descriptors.length - list.length;
  count.textContent = "(" + p.descriptors.length + " open" + (hidden ? ", " + hidden + " folded" : "") + ")";
  for (const d of list) {
    // The group this very descriptor belongs to (one open file description), if any.
    const group = refsOf.get(p.pid + "/" + d.fd);
    const refs = group && group.refs;
    const others = refs ? refs.filter((r) => !(r.pid === p.pid && r.fd === d.fd)) : [];
    const shared = others.length > 0;
    const det = el("td", {}, details(d));
    const attrs = { "data-fd": d.fd, "data-identity": d.identity };
    if (shared) {
      const [bg, fg] = colorFor(group.identity);
      attrs.class = "shared";
      attrs.style = "--c:" + bg + ";--cs:" + fg;
      det.append(el("div", { class: "note" }, el("span", { class: "swatch", style: "background:" + bg + ";border-color:" + fg }),
        "one open file description, " + refs.length + " references: also " + others.map((r) => "PID " + r.pid + "/fd " + r.fd).join(", ")));
    }
    body.append(el("tr", attrs, el("td", {}, d.fd), el("td", {}, d.type), el("td", {}, d.access ? ACCESS[d.access] : "?"), el("td", {}, d.identity), det));
  }
}

function renderChart(s) {
  const W = 600, H = 170, L = 34, R = 10, T = 10, B = 24;
  const now = new Date(s.time).getTime();
  const pts = s.history.filter((h) => h.t >= now - SPAN_MS);
  const max = Math.max(1, ...pts.map((h) => Math.max(h.children, h.zombies)));
  const x = (t) => L + ((t - (now - SPAN_MS)) / SPAN_MS) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "children and zombies over the last 2 minutes" });
  for (const v of [0, max]) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#d9dee7" }));
    const t = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" }); t.textContent = v; root.append(t);
  }
  for (const [label, t] of [["-2 min", now - SPAN_MS], ["-1 min", now - SPAN_MS / 2], ["now", now]]) {
    const e = svg("text", { x: x(t), y: H - 6, "text-anchor": t === now ? "end" : "middle", "font-size": 11, fill: "#667085" }); e.textContent = label; root.append(e);
  }
  for (const [key, color] of [["children", "#2f6fde"], ["zombies", "#d92d20"]]) {
    const points = pts.map((h) => x(h.t).toFixed(1) + "," + y(h[key]).toFixed(1)).join(" ");
    root.append(svg("polyline", { id: "series-" + key, "data-series": key, points, fill: "none", stroke: color, "stroke-width": 2, "stroke-linejoin": "round" }));
    const lastPoint = pts[pts.length - 1];
    if (lastPoint) root.append(svg("circle", { cx: x(lastPoint.t), cy: y(lastPoint[key]), r: 3, fill: color }));
  }
  document.getElementById("chart").replaceChildren(root);
}

function renderReaped(s) {
  const list = document.getElementById("reaped");
  if (!s.reaped.length) { list.replaceChildren(el("li", { class: "muted" }, "none seen yet")); return; }
  list.replaceChildren(...s.reaped.map((g) => el("li", { "data-pid": g.pid, "data-how": g.how },
    clock(new Date(g.noticedAt).getTime()) + "  PID " + g.pid + " (" + g.command + "): " + g.description)));
}

// One row per connection; a cell per stage: when it was first seen, and the reference count then.
function renderForks(s) {
  const body = document.querySelector("#forks tbody");
  if (!s.forks.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "no connection seen yet"))); return; }
  body.replaceChildren(...s.forks.map((c) => {
    const t0 = c.stages.length ? new Date(c.stages[0].at).getTime() : 0;
    const cells = STAGES.map((name) => {
      const st = c.stages.find((x) => x.stage === name);
      if (!st) return el("td", { class: "stage missed", "data-stage": name }, "–");
      const t = new Date(st.at).getTime();
      const when = st === c.stages[0] ? clock(t) : "+" + ((t - t0) / 1000).toFixed(1) + " s";
      const what = name === "child-exited" ? (st.exitStatus ? exitText(st.exitStatus) + ", zombie" : "zombie")
        : name === "reaped" ? "gone" : st.holders.length + " ref" + (st.holders.length > 1 ? "s" : "") + ": " + st.holders.map((h) => h.pid + "/fd " + h.fd).join(", ");
      return el("td", { class: "stage seen", "data-stage": name }, when, el("div", { class: "note" }, what));
    });
    return el("tr", { "data-socket": c.socket, "data-child": c.child === null ? "" : c.child },
      el("td", {}, c.peer, el("div", { class: "note" }, c.child ? "child " + c.child : "")), ...cells);
  }));
}

function render(s) {
  if (!s) return;
  lastSnap = s;
  if (selected === null || !s.processes.some((p) => p.pid === selected)) selected = s.processes.length ? s.processes[0].pid : null;
  const refsOf = new Map();
  for (const g of s.shared) for (const r of g.refs) refsOf.set(r.pid + "/" + r.fd, g);
  const sharedBy = new Map();
  for (const g of s.shared) for (const r of g.refs) {
    if (!sharedBy.has(r.pid)) sharedBy.set(r.pid, []);
    if (!sharedBy.get(r.pid).includes(g.identity)) sharedBy.get(r.pid).push(g.identity);
  }
  renderHeader(s);
  // Rebuild the tables only when what they show changed: a user selecting text keeps it.
  const tablesKey = JSON.stringify([selected, s.gone, s.processes, s.shared]);
  if (tablesKey !== lastTablesKey) {
    lastTablesKey = tablesKey;
    renderTree(s, sharedBy);
    renderSelect(s);
    renderDescriptors(s, refsOf);
  }
  renderChart(s);
  const forksKey = JSON.stringify(s.forks);
  if (forksKey !== lastForksKey) {
    lastForksKey = forksKey;
    renderForks(s);
  }
  const reapedKey = JSON.stringify(s.reaped);
  if (reapedKey !== lastReapedKey) {
    lastReapedKey = reapedKey;
    renderReaped(s);
  }
}

document.getElementById("showall").addEventListener("change", () => { lastTablesKey = ""; render(lastSnap); });
document.getElementById("proc").addEventListener("change", (e) => { selected = Number(e.target.value); render(lastSnap); });

async function tick() {
  const conn = document.getElementById("conn");
  try {
    const res = await fetch("/api/snapshot", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const s = await res.json();
    render(s);
    conn.textContent = "updated " + clock(new Date(s.time).getTime()) + (s.error ? " · last look failed: " + s.error : "");
    conn.className = s.error ? "bad" : "";
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (err) {
    conn.textContent = (lastSnap && lastSnap.gone ? "target exited; status server stopped" : "no answer from the status server") + " (" + err.message + ")";
    conn.className = "bad";
  } finally {
    if (!stopped) setTimeout(tick, POLL_MS);
  }
}
tick();
</script>
</body>
</html>
`;
