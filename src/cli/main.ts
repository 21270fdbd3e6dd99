#!/usr/bin/env node
/**
 * `axios-redis-cache <command> [options]`: the operator's view of a cache in Redis. Exit codes: 0 done,
 * 1 nothing matched, 2 usage or connection error (one line on stderr, never a stack trace).
 */
import { parseArgs } from 'node:util';
import type { Cluster, Redis } from 'ioredis';
import { type Context, clear, evictCommand, evictTagCommand, inspect, ls, stats, tail } from './commands.js';
import { CliError, connect, sentinelList } from './connect.js';

const USAGE = `usage: axios-redis-cache <command> [options]

commands:
  stats                 fleet counters, hit ratio, entries and memory under the prefix, instances reporting
  ls [pattern]          entries (method, URL, status, size, age, freshness left, tags); pattern: a glob on
                        origin + path, e.g. 'https://keys.internal/domains/*'
  inspect <url|key>     every entry stored for a URL (all variants), or one key: headers, body, validators
  evict <url|pattern>   evict one request's entries, or every entry matching a pattern with *
  evict-tag <tag...>    evict every entry carrying one of the tags
  clear                 delete every key under the prefix (asks first; --yes to skip)
  tail                  print overwrites and evictions as the fleet announces them

options:
  --redis URL           redis://[user:password@]host:port[/db] (default: $REDIS_URL or redis://127.0.0.1:6379)
  --prefix P            the cache's prefix (default: axios-cache:)
  --cluster             --redis names one node of a Redis Cluster
  --sentinel H:P[,H:P]  connect through Sentinel, with --name <master>
  --json                print JSON
  --limit N             most entries ls lists (default 50)
  --yes                 clear without asking
  --timeout MS          connection and eviction time limit (default 5000)
  --for MS              tail: stop after this long

exit codes: 0 done, 1 nothing matched, 2 usage or connection error`;

const OPTIONS = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  cluster: { type: 'boolean' },
  sentinel: { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  yes: { type: 'boolean' },
  timeout: { type: 'string' },
  for: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMANDS = new Set(['stats', 'ls', 'inspect', 'evict', 'evict-tag', 'clear', 'tail']);

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new CliError(`--${name} ${JSON.stringify(value)}: expected a positive integer`);
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!command || !COMMANDS.has(command)) {
    throw new CliError(`${command ? `unknown command ${JSON.stringify(command)}` : 'no command'}; see --help`);
  }
  const timeoutMs = positiveInteger('timeout', values.timeout, 5000);
  const limit = positiveInteger('limit', values.limit, 50);
  const forMs = values.for === undefined ? null : positiveInteger('for', values.for, 1);
  const client: Redis | Cluster = await connect({
    url: values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    cluster: values.cluster ?? false,
    sentinels: values.sentinel ? sentinelList(values.sentinel) : null,
    name: values.name,
    timeoutMs,
  });
  const ctx: Context = {
    client,
    prefix: values.prefix ?? 'axios-cache:',
    json: values.json ?? false,
    limit,
    yes: values.yes ?? false,
    timeoutMs,
    out: (text) => process.stdout.write(`${text}\n`),
  };
  try {
    switch (command) {
      case 'stats':
        return await stats(ctx);
      case 'ls':
        return await ls(ctx, rest[0]);
      case 'inspect':
        return await inspect(ctx, rest[0]);
      case 'evict':
        return await evictCommand(ctx, rest[0]);
      case 'evict-tag':
        return await evictTagCommand(ctx, rest);
      case 'clear':
        return await clear(ctx);
      default:
        return await tail(ctx, forMs);
    }
  } finally {
    client.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof CliError
        ? error.message
        : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
    process.stderr.write(`axios-redis-cache: ${message}\n`);
    process.exitCode = 2;
  },
);
