#!/usr/bin/env node
/**
 * `axios-redis-cache <command> [options]`: the operator's view of a cache in Redis. Exit codes: 0 done,
 * 1 nothing matched, 2 usage or connection error (one line on stderr, never a stack trace).
 */
import { parseArgs } from 'node:util';
import { type Context, clear, evictCommand, evictTagCommand, inspect, ls, stats, tail } from './commands.js';
import { CliError, connect, sentinelList } from './connect.js';
import { safe } from './escape.js';

const USAGE = `usage: axios-redis-cache <command> [options]

commands:
  stats                 fleet counters, hit ratio, entries and memory under the prefix, instances reporting
  ls [pattern]          entries (method, URL, status, size, age, freshness left, tags); pattern: a glob on
                        origin + path, e.g. 'https://keys.internal/domains/*'
  inspect <url|key>     every entry stored for a URL (all variants), or one key: headers, body, validators
  evict <url|pattern>   evict one request's entries, or every entry matching a pattern with *
  evict-tag <tag...>    evict every entry carrying one of the tags
  clear                 delete every cached key under the prefix, the fleet counters spared (asks first;
                        --yes to skip)
                        evict, evict-tag, clear with --soft: mark stale instead (served stale while one
                        refresh runs for the fleet, for --grace seconds, default 60; then misses)
  tail                  print overwrites and evictions as the fleet announces them

options:
  --redis URL           redis://[user:password@]host:port[/db] (default: $REDIS_URL or redis://127.0.0.1:6379)
  --prefix P            the cache's prefix (default: axios-cache:)
  --cluster             --redis names one node of a Redis Cluster
  --sentinel H:P[,H:P]  connect through Sentinel, with --name <master>
  --client LIB          ioredis or node-redis (default: ioredis when it is installed, else node-redis)
  --json                print JSON
  --limit N             most entries ls lists (default 50)
  --yes                 clear without asking
  --soft                evict, evict-tag, clear: mark stale instead of deleting
  --grace S             with --soft: seconds a marked entry may still be answered stale (default 60)
  --timeout MS          connection and eviction time limit (default 5000)
  --for MS              tail: stop after this long

exit codes: 0 done, 1 nothing matched, 2 usage or connection error`;

const OPTIONS = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  cluster: { type: 'boolean' },
  sentinel: { type: 'string' },
  client: { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  yes: { type: 'boolean' },
  soft: { type: 'boolean' },
  grace: { type: 'string' },
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

function positiveNumber(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0))
    throw new CliError(`--${name} ${JSON.stringify(value)}: expected a positive number`);
  return n;
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
  if (values.client !== undefined && values.client !== 'ioredis' && values.client !== 'node-redis') {
    throw new CliError(`--client ${JSON.stringify(values.client)}: expected ioredis or node-redis`);
  }
  const connection = await connect({
    url: values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    cluster: values.cluster ?? false,
    sentinels: values.sentinel ? sentinelList(values.sentinel) : null,
    name: values.name,
    timeoutMs,
    client: values.client,
  });
  if (values.grace !== undefined && !values.soft) throw new CliError('--grace goes with --soft');
  const grace = values.grace === undefined ? undefined : positiveNumber('grace', values.grace);
  const ctx: Context = {
    soft: values.soft ? (grace === undefined ? { soft: true } : { soft: true, grace }) : null,
    client: connection.client,
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
    connection.close();
  }
}

/**
 * Exit once what was written has gone out: a client library may keep a socket or timer alive for seconds
 * after it was told to disconnect (a stalled server), and `--timeout` is the operator's bound.
 */
function exit(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  const message =
    error instanceof CliError
      ? error.message
      : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
  process.stderr.write(`axios-redis-cache: ${safe(message)}\n`);
  exit(2);
});
