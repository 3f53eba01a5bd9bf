/**
 * The bench's report: a table per mode (every server, every app, with
 * ratios to the plain node:http handler measured in the same run), the
 * targets of issues #11 and #14 judged on server CPU per request, and the
 * anchors that could not run.
 */
import type { Run } from './measure.js';
import type { AppDef, Mode, ServerDef } from './servers.js';

export interface Cell {
  server: ServerDef;
  app: AppDef;
  mode: Mode;
  runs: Run[];
  errors: string[];
  skipped?: string;
}

const f0 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const f1 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(0)}%`);

/** The run with the most req/s (interference only ever lowers it). */
export const best = (c: Cell | undefined) => (c && c.runs.length ? c.runs.reduce((a, b) => (b.wrk.rps > a.wrk.rps ? b : a)) : undefined);
/** The lowest server CPU per request of the rounds, in µs (interference only adds to it). */
export const cpuUs = (c: Cell | undefined) => (c && c.runs.length ? Math.min(...c.runs.map((r) => (r.cpuMsPerReq ?? Infinity) * 1000)) : undefined);
/** The lowest busy time of the server's CPU per request (softirq included), in µs. */
export const coreUs = (c: Cell | undefined) => (c && c.runs.length ? Math.min(...c.runs.map((r) => (r.coreMsPerReq ?? Infinity) * 1000)) : undefined);

export class Report {
  constructor(private readonly cells: Cell[], private readonly apps: AppDef[], private readonly modes: { id: Mode; label: string }[]) {}

  find(serverId: string, appId: string, mode: Mode): Cell | undefined {
    return this.cells.find((c) => c.server.id === serverId && c.app.id === appId && c.mode === mode && !c.skipped);
  }

  /** One table per mode: a row per server and app, ratios over the plain node:http handler of the same app and mode. */
  table(mode: Mode): string[] {
    const lines = [
      '| app | server | req/s | × node:http req/s | server CPU µs/req | × node:http CPU/req | server core µs/req | p50 ms | p99 ms | server CPU | client CPU | peak RSS MiB | procs | errors |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ];
    for (const app of this.apps) {
      const base = this.find('node', app.id, mode);
      const baseRps = best(base)?.wrk.rps;
      const baseCpu = cpuUs(base);
      for (const c of this.cells.filter((x) => x.app.id === app.id && x.mode === mode && !x.skipped)) {
        const b = best(c);
        const name = c.server.kind === 'anchor' ? `*${c.server.label}*` : c.server.label;
        if (!b) {
          lines.push(`| ${app.id} | ${name} | failed | | | | | | | | | | | ${c.errors[0]?.replace(/\|/g, '\\|').slice(0, 80) ?? ''} |`);
          continue;
        }
        const cpu = cpuUs(c);
        const w = b.wrk;
        lines.push(`| ${app.id} | ${name} | ${f0(w.rps)} | ${baseRps ? `${(w.rps / baseRps).toFixed(2)}×` : '–'} | ${f1(cpu)} | ${cpu && baseCpu ? `${(cpu / baseCpu).toFixed(2)}×` : '–'} | ${f1(coreUs(c))} | ${f2(w.p50)} | ${f2(w.p99)} | ${pct(b.cpuUsePct)} | ${pct(b.clientCpuPct)} | ${f0(b.peakRssMiB)} | ${b.peakProcs} | ${w.errors ? `${w.errors}${w.non2xx ? ` (${w.non2xx} non-2xx)` : ''}` : '0'} |`);
      }
    }
    return lines;
  }

  /** A CPU-per-request target: `id`'s over `anchor`'s must be at most `limit` (the tree's CPU, or with `core` the server core's busy time). */
  private cpuTarget(out: string[], name: string, id: string, anchor: string, app: string, mode: Mode, limit: number, core = false): void {
    const per = core ? coreUs : cpuUs;
    const a = per(this.find(id, app, mode));
    const b = per(this.find(anchor, app, mode));
    if (!a || !b || !Number.isFinite(a) || !Number.isFinite(b)) {
      out.push(`- **NOT MEASURED** ${name}: ${!a ? id : anchor} (${app}, ${mode}) missing from this run`);
      return;
    }
    const r = a / b;
    out.push(`- **${r <= limit ? 'MET' : 'MISSED'}** ${name}: ${r.toFixed(2)}× (${a.toFixed(1)} vs ${b.toFixed(1)} µs of ${core ? 'server core busy time' : 'server CPU'} per request; target ≤ ${limit}×)`);
  }

  private rpsTarget(out: string[], name: string, id: string, anchor: string, app: string, mode: Mode, limit: number): void {
    const a = best(this.find(id, app, mode))?.wrk.rps;
    const b = best(this.find(anchor, app, mode))?.wrk.rps;
    if (!a || !b) {
      out.push(`- **NOT MEASURED** ${name}: ${!a ? id : anchor} (${app}, ${mode}) missing from this run`);
      return;
    }
    const r = a / b;
    out.push(`- **${r >= limit ? 'MET' : 'MISSED'}** ${name}: ${r.toFixed(2)}× (${f0(a)} vs ${f0(b)} req/s; target ≥ ${limit}×)`);
  }

  targets(): string[] {
    const out: string[] = [];
    for (const id of ['poll', 'prefork']) {
      this.cpuTarget(out, `${id}, keep-alive "Hello, World!", ≤ 0.5× plain node:http's CPU per request`, id, 'node', 'hello', 'keepalive', 0.5);
    }
    for (const id of ['hono-poll', 'hono-prefork']) {
      this.cpuTarget(out, `the Hono app on ${id.slice(5)}, keep-alive, ≤ 0.67× @hono/node-server's CPU per request`, id, 'hono-node', 'hello', 'keepalive', 0.67);
    }
    for (const id of ['poll', 'prefork']) {
      this.cpuTarget(out, `${id}, keep-alive 64 KiB echo, ≤ 0.67× plain node:http's CPU per request`, id, 'node', 'echo', 'keepalive', 0.67);
    }
    for (const id of ['poll', 'prefork', 'iterative']) {
      this.cpuTarget(out, `${id}, new connection per request, ≤ 1.0× nginx's CPU per request`, id, 'nginx', 'hello', 'close', 1.0);
    }
    // #15: static files, keep-alive, 1 MiB. Judged on the server core's busy
    // time: sendfile's work is in the kernel, much of it in softirq, which
    // the tree's CPU time (tick accounting) does not see.
    for (const id of ['poll', 'prefork']) {
      for (const [anchor, limit] of [['sirv', 0.5], ['serve-handler', 0.5], ['nginx', 1.4]] as const) {
        this.cpuTarget(out, `${id}, a 1 MiB static file, keep-alive, ≤ ${limit}× ${anchor}'s server core time per request`, id, anchor, 'static1m', 'keepalive', limit, true);
      }
    }
    this.rpsTarget(out, 'fork engine ≥ 2.0× the Python forking server, new connection per request', 'fork', 'pyfork', 'hello', 'close', 2.0);
    this.cpuTarget(out, 'fork engine CPU per connection ≤ 3× the C floor\'s', 'fork', 'floor', 'hello', 'close', 3.0);
    return out;
  }

  /** Markdown: header lines, a table per mode, the targets, what did not run. */
  markdown(header: string[]): string {
    const md = [...header];
    for (const m of this.modes) md.push('', `## ${m.label}`, '', ...this.table(m.id));
    md.push('', '## Targets (server CPU per request, same run)', '', ...this.targets());
    const skipped = new Map<string, string[]>();
    for (const c of this.cells.filter((x) => x.skipped)) {
      const key = `${c.server.label}: ${c.skipped}`;
      skipped.set(key, [...(skipped.get(key) ?? []), `${c.app.id}/${c.mode}`]);
    }
    if (skipped.size) md.push('', 'Not run:', '', ...[...skipped].map(([why, cells]) => `- ${why} (${cells.join(', ')})`));
    const failed = this.cells.filter((c) => c.errors.length);
    if (failed.length) md.push('', 'Cells with errors:', '', ...failed.map((c) => `- ${c.server.label}, ${c.app.id}, ${c.mode}: ${[...new Set(c.errors)].join('; ').replace(/\|/g, '\\|')}`));
    return md.join('\n') + '\n';
  }
}
