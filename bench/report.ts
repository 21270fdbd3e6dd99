import type { CostRow, HerdRow, MeasuredRow, Results, ZipfRow } from './results.js';

/** The Markdown report of a run: one table per scenario, the targets, and any anomalies. */
export function renderReport(results: Results): string {
  const parts: string[] = [];
  const m = results.machine;
  parts.push(
    `Run of ${results.date} (${results.mode}, ${(results.runtimeMs / 1000).toFixed(0)} s): ${m.cpus} × ${m.cpuModel}, ` +
      `Node ${m.node}, Redis ${m.redis} on loopback, axios ${m.axios}, axios-cache-interceptor ${m.axiosCacheInterceptor}, ` +
      `ioredis ${m.ioredis}${m.nodeRedis ? `, redis (node-redis) ${m.nodeRedis}` : ''}` +
      `${m.pinning ? `; ${m.pinning}` : ''}. ` +
      `Median of ${results.settings.rounds} alternating rounds of ${results.settings.roundMs} ms per contender` +
      (m.foreignCpuShare === null
        ? '.'
        : `; other processes used ${(m.foreignCpuShare * 100).toFixed(0)}% of the CPUs meanwhile.`),
  );
  if (results.hits.length) parts.push(hitsTable(results.hits));
  if (results.hotHits?.length) parts.push(hotHitsTable(results.hotHits));
  if (results.misses.length) parts.push(missesTable(results.misses));
  if (results.zipf.length) parts.push(zipfTable(results.zipf));
  if (results.herd.length) parts.push(herdTable(results.herd));
  if (results.cost?.length) parts.push(costTable(results.cost));
  const targets = targetLines(results);
  if (targets.length) {
    parts.push(
      [
        '### Targets (figures, not assertions)',
        '',
        'Hit ratios here are the median of per-round ratios (each round measures every contender back to back); the tables above divide medians.',
        '',
        ...targets,
      ].join('\n'),
    );
  }
  parts.push(
    results.anomalies.length
      ? ['### Anomalies', '', ...results.anomalies.map((a) => `- ${a}`)].join('\n')
      : '### Anomalies\n\nNone seen.',
  );
  return `${parts.join('\n\n')}\n`;
}

function hitsTable(rows: readonly MeasuredRow[]): string {
  const lines = [
    '### Warm hits',
    '',
    '| Scenario | Contender | req/s | × ACI+Redis | × no-op axios | p50 ms | p99 ms | Upstream warm / measured | Notes |',
    '|---|---|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const row of rows) {
    const peers = rows.filter((r) => r.body === row.body && r.concurrency === row.concurrency);
    const aci = peers.find((r) => r.contender === 'aci-redis');
    const noop = peers.find((r) => r.contender === 'noop-axios');
    const notes = [...row.notes];
    if (row.dataOk === false) notes.push('data on a hit is not what the upstream sent');
    lines.push(
      cells([
        `hits ${row.bodyLabel} ×${row.concurrency}`,
        row.label,
        rate(row.rps),
        ratio(row.rps, aci?.rps),
        ratio(row.rps, noop?.rps),
        ms(row.p50Ms),
        ms(row.p99Ms),
        row.contender === 'noop-axios' ? '—' : `${row.warmUpstreamCalls} / ${row.upstreamCalls}`,
        unique(notes).join('; '),
      ]),
    );
  }
  return lines.join('\n');
}

/** The labelled extra: one hot URL (what one URL requested 64 at a time measures: coalescing, not the store). */
function hotHitsTable(rows: readonly MeasuredRow[]): string {
  const lines = [
    '### One hot URL (a labelled extra: 64 in flight on one warm URL, 0.5 KB JSON)',
    '',
    'Requests in flight for one URL share one store read in our cache (in-process coalescing): this row measures',
    'that, not the store. The hit table above cycles over distinct URLs.',
    '',
    '| Contender | req/s | × ACI+Redis |',
    '|---|--:|--:|',
  ];
  const aci = rows.find((r) => r.contender === 'aci-redis');
  for (const row of rows) {
    lines.push(cells([row.label, rate(row.rps), aci ? `${roundRatio(row, aci).toFixed(2)}×` : '—']));
  }
  return lines.join('\n');
}

function missesTable(rows: readonly MeasuredRow[]): string {
  const lines = [
    '### Misses (every request a new URL, 0.5 KB JSON)',
    '',
    '| Scenario | Contender | req/s | × ACI+Redis | × no cache | p50 ms | p99 ms | p50 added | Upstream calls | Notes |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const row of rows) {
    const peers = rows.filter((r) => r.latencyMs === row.latencyMs && r.concurrency === row.concurrency);
    const aci = peers.find((r) => r.contender === 'aci-redis');
    const none = peers.find((r) => r.contender === 'no-cache');
    const added =
      row.contender !== 'no-cache' && row.p50Ms !== null && none?.p50Ms != null
        ? `${signed(row.p50Ms - none.p50Ms)} ms`
        : '—';
    lines.push(
      cells([
        `miss, upstream ${row.latencyMs} ms ×${row.concurrency}`,
        row.label,
        rate(row.rps),
        ratio(row.rps, aci?.rps),
        ratio(row.rps, none?.rps),
        ms(row.p50Ms),
        ms(row.p99Ms),
        added,
        String(row.upstreamCalls),
        unique(row.notes.filter((n) => !n.startsWith('p50 +'))).join('; '),
      ]),
    );
  }
  return lines.join('\n');
}

function zipfTable(rows: readonly ZipfRow[]): string {
  const first = rows[0] as ZipfRow;
  const lines = [
    `### Many keys (${first.urls.toLocaleString('en-US')} URLs, Zipf s=${first.exponent}, ` +
      `${first.requests.toLocaleString('en-US')} requests, ×${first.concurrency}, upstream ${first.latencyMs} ms, cold start)`,
    '',
    '| Scenario | Contender | req/s | × ACI+Redis | Hit ratio | Coalesced | Ideal hit ratio | Upstream calls | Notes |',
    '|---|---|--:|--:|--:|--:|--:|--:|---|',
  ];
  const aci = rows.find((r) => r.contender === 'aci-redis');
  for (const row of rows) {
    lines.push(
      cells([
        'zipf',
        row.label,
        rate(row.rps),
        row.ratioToPeer != null ? `${row.ratioToPeer.toFixed(2)}×` : ratio(row.rps, aci?.rps),
        pct(row.hitRatio),
        pct(row.coalescedRatio),
        pct(row.idealHitRatio),
        row.upstreamCalls.toLocaleString('en-US'),
        row.notes.join('; '),
      ]),
    );
  }
  return lines.join('\n');
}

function herdTable(rows: readonly HerdRow[]): string {
  const first = rows[0] as HerdRow;
  const lines = [
    `### Herd (${first.n} concurrent identical cold GETs, upstream ${first.latencyMs} ms)`,
    '',
    '| Scenario | Contender | Processes | Upstream calls per cold URL | Wall ms (median) | Outcomes |',
    '|---|---|--:|--:|--:|---|',
  ];
  for (const row of rows) {
    const outcomes = Object.entries(row.outcomes)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(
      cells([
        `herd ×${row.n}`,
        row.label,
        String(row.processes),
        row.upstreamCalls.join(', '),
        ms(medianOf(row.wallMs)),
        `${outcomes}${row.errors ? `, errors ${row.errors}` : ''}`,
      ]),
    );
  }
  return lines.join('\n');
}

/**
 * The median over rounds of `a`'s rate over `b`'s in the same round. Each round measures every contender back to
 * back, so a machine whose speed drifts during a case (a shared host) skews this less than a ratio of medians.
 */
function roundRatio(a: MeasuredRow, b: MeasuredRow): number {
  const ratios: number[] = [];
  for (const ra of a.rounds) {
    const rb = b.rounds.find((r) => r.round === ra.round);
    if (rb && rb.rps > 0) ratios.push(ra.rps / rb.rps);
  }
  if (ratios.length === 0) return a.rps / b.rps;
  ratios.sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? (ratios[mid] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
}

function targetLines(results: Results): string[] {
  const out: string[] = [];
  const hits = results.hits;
  for (const [concurrency, target] of [
    [64, 1.5],
    [1, 1.2],
  ] as const) {
    const figures: string[] = [];
    for (const ours of hits.filter((r) => r.contender === 'ours' && r.concurrency === concurrency)) {
      const aci = hits.find(
        (r) => r.contender === 'aci-redis' && r.concurrency === concurrency && r.body === ours.body,
      );
      if (!aci) continue;
      const x = roundRatio(ours, aci);
      figures.push(`${ours.bodyLabel} ${x.toFixed(2)}× ${x >= target ? '✓' : '✗'}`);
    }
    if (figures.length) {
      out.push(
        `- Warm hits ×${concurrency} vs axios-cache-interceptor + Redis (target ≥ ${target}×): ${figures.join(', ')}`,
      );
    }
  }
  const withL1: string[] = [];
  for (const l1 of hits.filter((r) => r.contender === 'ours-l1' && r.concurrency === 64)) {
    const noop = hits.find((r) => r.contender === 'noop-axios' && r.concurrency === 64 && r.body === l1.body);
    if (!noop) continue;
    const x = roundRatio(l1, noop);
    withL1.push(`${l1.bodyLabel} ${x.toFixed(2)}× ${x >= 0.9 ? '✓' : '✗'}`);
  }
  if (withL1.length) out.push(`- Warm hits ×64 with l1 vs axios + no-op adapter (target ≥ 0.9×): ${withL1.join(', ')}`);
  const rfc: string[] = [];
  for (const http9111 of hits.filter((r) => r.contender === 'ours-http')) {
    const ttl = hits.find(
      (r) => r.contender === 'ours' && r.concurrency === http9111.concurrency && r.body === http9111.body,
    );
    if (!ttl) continue;
    const x = roundRatio(http9111, ttl);
    rfc.push(`${http9111.bodyLabel} ×${http9111.concurrency} ${x.toFixed(2)}× ${x >= 0.95 ? '✓' : '✗'}`);
  }
  if (rfc.length) out.push(`- Warm hits with httpSemantics vs the default mode (target ≥ 0.95×): ${rfc.join(', ')}`);
  const misses = results.misses;
  const added: string[] = [];
  for (const ours of misses.filter((r) => r.contender === 'ours' && r.concurrency === 1)) {
    const none = misses.find(
      (r) => r.contender === 'no-cache' && r.concurrency === 1 && r.latencyMs === ours.latencyMs,
    );
    if (ours.p50Ms === null || none?.p50Ms == null) continue;
    const d = ours.p50Ms - none.p50Ms;
    added.push(`upstream ${ours.latencyMs} ms ${signed(d)} ms ${d <= 1 ? '✓' : '✗'}`);
  }
  if (added.length) out.push(`- A miss adds at the median, vs no cache (target ≤ 1 ms): ${added.join(', ')}`);
  const missRates: string[] = [];
  for (const ours of misses.filter((r) => r.contender.startsWith('ours') && r.concurrency === 64)) {
    const aci = misses.find(
      (r) => r.contender === 'aci-redis' && r.concurrency === 64 && r.latencyMs === ours.latencyMs,
    );
    if (!aci) continue;
    const x = roundRatio(ours, aci);
    missRates.push(`${ours.label} ${x.toFixed(2)}× ${x >= 1 ? '✓' : '✗'}`);
  }
  if (missRates.length)
    out.push(`- Misses ×64 vs axios-cache-interceptor + Redis (target ≥ 1.0×): ${missRates.join(', ')}`);
  const zipf = results.zipf.find((r) => r.contender === 'ours');
  if (zipf?.ratioToPeer != null)
    out.push(
      `- Zipf vs axios-cache-interceptor + Redis (target ≥ 1.0×): ${zipf.ratioToPeer.toFixed(2)}× ${zipf.ratioToPeer >= 1 ? '✓' : '✗'}`,
    );
  out.push(...costTargets(results.cost));
  return out;
}

/** The cost targets: commands per cold miss, memory of a small entry against the peer's, compression. */
function costTargets(cost: readonly CostRow[]): string[] {
  const out: string[] = [];
  const row = (contender: string, body: string) => cost.find((r) => r.contender === contender && r.body === body);
  const ours = cost.filter((r) => r.contender === 'ours');
  if (ours.length) {
    const most = Math.max(...ours.map((r) => r.commandsPerMiss));
    out.push(`- Redis commands per cold miss (target ≤ 8): ${most} ${most <= 8 ? '✓' : '✗'}`);
  }
  const small = row('ours', 'json-0.5k');
  const smallPeer = row('aci-redis', 'json-0.5k');
  if (small && smallPeer) {
    const x = small.memoryPerEntry / smallPeer.memoryPerEntry;
    out.push(`- Redis memory per 0.5 KB entry vs the peer's (target ≤ 1.1×): ${x.toFixed(2)}× ${x <= 1.1 ? '✓' : '✗'}`);
  }
  const compressed = row('ours', 'json-20k');
  if (compressed) {
    const x = compressed.valueBytes / compressed.bodyBytes;
    out.push(
      `- A 20 KB JSON entry compressed, vs the body's size (target ≤ 0.35×): ${x.toFixed(2)}× ${x <= 0.35 ? '✓' : '✗'}`,
    );
  }
  return out;
}

function cells(values: readonly string[]): string {
  return `| ${values.map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`;
}

function rate(rps: number): string {
  return Number.isFinite(rps) ? Math.round(rps).toLocaleString('en-US') : 'n/a';
}

function ratio(value: number, base: number | undefined): string {
  if (base === undefined || !Number.isFinite(base) || base <= 0) return '—';
  return `${(value / base).toFixed(2)}×`;
}

function ms(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(3)}`;
}

function pct(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function medianOf(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? null;
}

function costTable(rows: readonly CostRow[]): string {
  const lines = [
    '### What a cache costs Redis (a redis-server of its own per contender and body)',
    '',
    '| Body | Contender | Redis memory per entry | × ACI+Redis | value stored (body on the wire) | commands per miss | per hit |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const row of rows) {
    const aci = rows.find((r) => r.body === row.body && r.contender === 'aci-redis');
    lines.push(
      cells([
        `${row.bodyLabel} × ${row.entries}`,
        row.label,
        `${row.memoryPerEntry.toLocaleString('en')} B`,
        aci ? `${(row.memoryPerEntry / aci.memoryPerEntry).toFixed(2)}×` : '',
        `${row.valueBytes.toLocaleString('en')} B (${row.bodyBytes.toLocaleString('en')} B)`,
        String(row.commandsPerMiss),
        String(row.commandsPerHit),
      ]),
    );
  }
  return lines.join('\n');
}
