/** A grouped bar chart as SVG text: one panel per mode, a group per app, a bar per engine. */

export interface Panel {
  title: string;
  groups: { label: string; bars: { series: string; value: number | null; note?: string }[] }[];
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f', '#bab0ac'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The axis top: 4 gridline steps of a round size (1, 2, 2.5 or 5 times a power of ten) covering v. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return 4 * m * p;
  return 40 * p;
}

const fmt = (v: number) => (v >= 10_000 ? `${+(v / 1000).toFixed(1)}k` : v >= 1000 ? `${+(v / 1000).toFixed(2)}k` : `${+v.toFixed(1)}`);

export function barChart(title: string, subtitle: string, series: string[], panels: Panel[], unit = 'req/s'): string {
  const W = 960;
  const left = 70;
  const right = 20;
  const panelH = 300;
  const top = 80;
  const gap = 70;
  const plotW = W - left - right;
  const H = top + panels.length * (panelH + gap) + 10;
  const color = (s: string) => PALETTE[series.indexOf(s) % PALETTE.length];
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="24" font-size="17" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${left}" y="42" fill="#555">${esc(subtitle)}</text>`);
  // Legend.
  let lx = left;
  for (const s of series) {
    out.push(`<rect x="${lx}" y="54" width="12" height="12" fill="${color(s)}"/>`);
    out.push(`<text x="${lx + 16}" y="64">${esc(s)}</text>`);
    lx += 26 + s.length * 7;
  }
  panels.forEach((panel, pi) => {
    const y0 = top + pi * (panelH + gap) + 20;
    const plotH = panelH - 40;
    const base = y0 + plotH;
    const max = niceMax(Math.max(0, ...panel.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0))));
    out.push(`<text x="${left}" y="${y0 - 6}" font-size="14" font-weight="bold">${esc(panel.title)}</text>`);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = base - (plotH * i) / 4;
      out.push(`<line x1="${left}" y1="${y}" x2="${W - right}" y2="${y}" stroke="${i ? '#e4e4e4' : '#888'}"/>`);
      out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
    }
    out.push(`<text transform="translate(16 ${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${esc(unit)}</text>`);
    const n = Math.max(1, panel.groups.length);
    const groupW = plotW / n;
    panel.groups.forEach((g, gi) => {
      const gx = left + gi * groupW;
      const bars = g.bars;
      const bw = Math.min(40, (groupW - 30) / Math.max(1, bars.length));
      const start = gx + (groupW - bw * bars.length) / 2;
      bars.forEach((b, bi) => {
        const x = start + bi * bw;
        if (b.value === null) {
          out.push(`<text transform="translate(${x + bw / 2 + 4} ${base - 4}) rotate(-90)" fill="#999" font-size="10">${esc(b.note ?? 'n/a')}</text>`);
          return;
        }
        const h = (plotH * b.value) / max;
        out.push(`<rect x="${x + 1}" y="${base - h}" width="${bw - 2}" height="${h}" fill="${color(b.series)}"><title>${esc(`${b.series}, ${g.label}: ${b.value.toFixed(0)} ${unit}`)}</title></rect>`);
        out.push(`<text x="${x + bw / 2}" y="${base - h - 3}" text-anchor="middle" font-size="9" fill="#333">${fmt(b.value)}</text>`);
      });
      out.push(`<text x="${gx + groupW / 2}" y="${base + 18}" text-anchor="middle" font-weight="bold">${esc(g.label)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
