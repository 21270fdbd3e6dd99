import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ContenderId } from './contenders.js';
import type { MeasuredRow, Results } from './results.js';

/**
 * bench/chart.svg from bench/results.json: warm-hit req/s per contender, one panel per body size, 64 requests
 * in flight. Each panel has its own scale (the bodies differ by orders of magnitude). Plain SVG text.
 *
 *   node --import tsx bench/chart.ts [results.json] [chart.svg]
 */

const COLORS: Readonly<Record<ContenderId, string>> = {
  ours: '#d6336c',
  'ours-raw': '#c2255c',
  'ours-node-redis': '#e8590c',
  'ours-l1': '#f783ac',
  'ours-http': '#9775fa',
  'aci-redis': '#4263eb',
  'raw-get': '#868e96',
  'noop-axios': '#adb5bd',
  'no-cache': '#ced4da',
};
const ORDER: readonly ContenderId[] = [
  'ours',
  'ours-node-redis',
  'ours-l1',
  'ours-http',
  'aci-redis',
  'raw-get',
  'noop-axios',
];

const WIDTH = 820;
const LABEL_W = 240;
const BAR_W = 430;
const BAR_H = 18;
const BAR_GAP = 6;
const PANEL_TITLE_H = 26;
const PANEL_GAP = 18;
const TOP = 56;

export function renderChart(results: Results, concurrency = 64): string {
  const rows = results.hits.filter((r) => r.concurrency === concurrency);
  const bodies = [...new Set(rows.map((r) => r.body))];
  const panels = bodies.map((body) => {
    const inPanel = rows.filter((r) => r.body === body);
    return {
      title: inPanel[0]?.bodyLabel ?? body,
      bars: ORDER.map((id) => inPanel.find((r) => r.contender === id)).filter((r): r is MeasuredRow => !!r),
    };
  });
  const height =
    TOP + panels.reduce((h, p) => h + PANEL_TITLE_H + p.bars.length * (BAR_H + BAR_GAP) + PANEL_GAP, 0) + 10;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `role="img" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>Warm hits, ${concurrency} in flight: requests per second per contender and body size</title>`);
  out.push(`<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#212529">Warm hits, ${concurrency} in flight — requests/s (higher is better)</text>`,
  );
  const m = results.machine;
  out.push(
    `<text x="12" y="40" fill="#495057">${esc(
      `${m.cpus} × ${m.cpuModel}, Node ${m.node}, Redis ${m.redis}; median of ${results.settings.rounds} rounds; ${results.date.slice(0, 10)}`,
    )}</text>`,
  );
  let y = TOP;
  for (const panel of panels) {
    out.push(`<text x="12" y="${y + 17}" font-weight="600" fill="#212529">${esc(panel.title)}</text>`);
    y += PANEL_TITLE_H;
    const max = Math.max(1, ...panel.bars.map((b) => b.rps));
    const aci = panel.bars.find((b) => b.contender === 'aci-redis');
    for (const bar of panel.bars) {
      const w = Math.max(1, Math.round((bar.rps / max) * BAR_W));
      const ratio =
        aci && (bar.contender === 'ours' || bar.contender === 'ours-l1')
          ? ` (${(bar.rps / aci.rps).toFixed(2)}× ACI)`
          : '';
      out.push(`<text x="${LABEL_W - 8}" y="${y + 13}" text-anchor="end" fill="#343a40">${esc(bar.label)}</text>`);
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${w}" height="${BAR_H}" rx="2" fill="${COLORS[bar.contender]}"/>`);
      out.push(
        `<text x="${LABEL_W + w + 6}" y="${y + 13}" fill="#212529">${Math.round(bar.rps).toLocaleString('en-US')}/s${esc(ratio)}</text>`,
      );
      y += BAR_H + BAR_GAP;
    }
    y += PANEL_GAP;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const here = dirname(fileURLToPath(import.meta.url));

export function writeChart(results: Results, path = join(here, 'chart.svg')): string {
  writeFileSync(path, renderChart(results));
  return path;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const input = process.argv[2] ?? join(here, 'results.json');
  const output = process.argv[3] ?? join(here, 'chart.svg');
  const results = JSON.parse(readFileSync(input, 'utf8')) as Results;
  console.log(`wrote ${writeChart(results, output)}`);
}
