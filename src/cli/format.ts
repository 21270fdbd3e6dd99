import type { FleetCacheStats } from '../fleet/counters.js';
import type { EntryDetails, EntrySummary } from '../operate/entries.js';
import { safe } from './escape.js';

/**
 * Human-readable output of the CLI's commands (`--json` prints the objects instead). Every field that came
 * from Redis, an upstream or a publisher goes through `safe()`: nothing stored reaches the terminal raw.
 */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function seconds(s: number): string {
  const sign = s < 0 ? '-' : '';
  const a = Math.abs(s);
  if (a < 120) return `${sign}${a.toFixed(a < 10 ? 1 : 0)}s`;
  if (a < 7200) return `${sign}${Math.round(a / 60)}m`;
  return `${sign}${(a / 3600).toFixed(1)}h`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatList(entries: readonly EntrySummary[], more: boolean): string {
  if (entries.length === 0) return 'no entries';
  const rows = [['METHOD', 'URL', 'STATUS', 'SIZE', 'AGE', 'FRESH FOR', 'MODE', 'TAGS']];
  for (const e of entries) {
    rows.push([
      safe(e.method),
      safe(e.url),
      safe(e.status),
      bytes(e.bytes),
      seconds(e.age),
      e.softEvicted ? `${seconds(e.freshFor)} soft` : seconds(e.freshFor),
      safe(e.mode),
      e.tags.map(safe).join(','),
    ]);
  }
  const footer = `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${more ? ' (more: raise --limit or narrow the pattern)' : ''}`;
  return `${table(rows)}\n${footer}`;
}

export function formatDetails(entries: readonly EntryDetails[]): string {
  return entries
    .map((e) => {
      const headers = Object.entries(e.headers)
        .map(([name, value]) => `    ${safe(name)}: ${safe(Array.isArray(value) ? value.join(', ') : value)}`)
        .join('\n');
      return [
        `${safe(e.method)} ${safe(e.url)}  →  ${safe(e.status)} ${safe(e.statusText)}`,
        `  key          ${safe(e.key)}`,
        `  stored       ${e.createdAt} (age ${seconds(e.age)})`,
        `  fresh until  ${e.freshUntil} (${e.freshFor >= 0 ? `${seconds(e.freshFor)} left` : `stale for ${seconds(-e.freshFor)}`})`,
        ...(e.softEvicted
          ? [
              `  soft-evicted ${e.softEvicted.staleAt}: answered stale while one refresh runs until ${e.softEvicted.graceUntil}${Date.parse(e.softEvicted.graceUntil) <= Date.now() ? ' (grace over: a miss)' : ''}`,
            ]
          : []),
        `  mode         ${e.mode}`,
        `  size         ${bytes(e.bytes)}`,
        `  tags         ${e.tags.map(safe).join(', ') || '-'}`,
        `  validators   ${[e.etag && `ETag ${safe(e.etag)}`, e.lastModified && `Last-Modified ${safe(e.lastModified)}`].filter(Boolean).join(', ') || '-'}`,
        `  varies on    ${e.varyOn.map(safe).join(', ') || '-'}  (${e.variants} entr${e.variants === 1 ? 'y' : 'ies'} for this request)`,
        '  headers',
        headers,
        '  body',
        `    ${safe(e.preview)}`,
      ].join('\n');
    })
    .join('\n\n');
}

export interface StatsView extends FleetCacheStats {
  prefix: string;
  entries: number;
  memoryBytes: number | null;
}

export function formatStats(s: StatsView): string {
  const c = s.counters;
  const ratio = s.hitRatio === null ? '-' : `${(s.hitRatio * 100).toFixed(1)}%`;
  const consulted = c.hits + c.staleHits + c.revalidations + c.misses + c.coalesced;
  const upstream = consulted === 0 ? '-' : `${((c.misses / consulted) * 100).toFixed(1)}%`;
  const now = Date.now();
  const lines = [
    `prefix     ${safe(s.prefix)}`,
    `requests   hits ${c.hits} (l1 ${c.l1Hits})  stale ${c.staleHits}  revalidated ${c.revalidations}  misses ${c.misses}  coalesced ${c.coalesced}  bypasses ${c.bypasses}`,
    `hit ratio  ${ratio} from the store; ${c.misses} of ${consulted} requests went upstream (${upstream})`,
    `store      errors ${c.storeErrors}  timeouts ${c.storeTimeouts}  skipped ${c.storeSkips}  bad entries ${c.badEntries}  reconnects ${c.distrusts}`,
    `entries    ${s.entries}${s.memoryBytes === null ? '' : ` (${bytes(s.memoryBytes)} in Redis, keys under the prefix)`}`,
    `instances  ${s.instances.length} reporting`,
  ];
  for (const i of s.instances) {
    lines.push(
      `  ${safe(i.id)}  read breaker ${safe(i.breaker)}  write breaker ${safe(i.writeBreaker)}  l1 ${safe(i.l1)}  (${seconds((now - Number(i.at)) / 1000)} ago)`,
    );
  }
  return lines.join('\n');
}
