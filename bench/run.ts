/**
 * `npm run bench [-- --quick] [-- --only hits,misses,zipf,herd,cost] [-- --no-pin] [-- --out file.json]`
 *
 * Starts its own redis-server (no persistence) on a free port and a node:http upstream on 127.0.0.1:0, runs
 * the scenarios, prints a Markdown report to stdout (progress to stderr), and writes results.json. A full run
 * of every scenario also writes bench/results.json, bench/chart.svg and the results section of bench/README.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeChart } from './chart.js';
import { cpuSnapshot, foreignCpuShare } from './cpu.js';
import { pinProcesses } from './pin.js';
import { Progress } from './progress.js';
import { type BenchRedis, startRedis } from './redis.js';
import { renderReport } from './report.js';
import { type Machine, type Results, SCENARIOS, type ScenarioName, type Settings } from './results.js';
import type { ScenarioContext } from './scenario.js';
import { cost } from './scenarios/cost.js';
import { herd } from './scenarios/herd.js';
import { hits } from './scenarios/hits.js';
import { misses } from './scenarios/misses.js';
import { zipf } from './scenarios/zipf.js';
import { startUpstream, type Upstream } from './upstream.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

interface Args {
  quick: boolean;
  only: ScenarioName[];
  out: string | null;
  roundMs: number | null;
  rounds: number | null;
  pin: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: [...SCENARIOS], out: null, roundMs: null, rounds: null, pin: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split('=', 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        args.quick = true;
        break;
      case '--only': {
        const names = value().split(',').filter(Boolean);
        for (const name of names) {
          if (!(SCENARIOS as readonly string[]).includes(name)) {
            throw new Error(`unknown scenario "${name}" (one of ${SCENARIOS.join(', ')})`);
          }
        }
        args.only = names as ScenarioName[];
        break;
      }
      case '--no-pin':
        args.pin = false;
        break;
      case '--out':
        args.out = value();
        break;
      case '--round-ms':
        args.roundMs = Number(value());
        break;
      case '--rounds':
        args.rounds = Number(value());
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'npm run bench -- [--quick] [--only hits,misses,zipf,herd,cost] [--rounds N] [--round-ms MS] [--no-pin] [--out FILE]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return args;
}

function settingsFor(args: Args): Settings {
  const quick = args.quick;
  return {
    roundMs: args.roundMs ?? (quick ? 200 : 700),
    rounds: args.rounds ?? (quick ? 1 : 5),
    // Misses at 64 in flight vary more from round to round than hits (each is an HTTP exchange as well as
    // store calls; rounds of one run read 827–1,699 req/s for the same contender): twice the rounds.
    missRounds: args.rounds ?? (quick ? 1 : 10),
    hitKeys: quick ? 68 : 128,
    ttlSeconds: 600,
    zipfUrls: 100_000,
    zipfRequests: quick ? 5_000 : 50_000,
    zipfExponent: 1.0,
    zipfLatencyMs: 1,
    zipfChunks: quick ? 4 : 10,
    herdN: 100,
    herdRepetitions: quick ? 1 : 3,
    herdLatencyMs: 20,
    herdProcesses: [1],
    ...(quick ? { costEntries: 100 } : {}),
  };
}

function version(pkg: string): string {
  const file = join(root, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return 'unknown';
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
}

function machine(redis: BenchRedis): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    redis: redis.version,
    redisOwn: redis.own,
    axios: version('axios'),
    axiosCacheInterceptor: version('axios-cache-interceptor'),
    ioredis: version('ioredis'),
    nodeRedis: version('redis'),
    loadAvg: os.loadavg().map((n) => Math.round(n * 100) / 100),
    loadAvgEnd: [],
    foreignCpuShare: null,
    pinning: '',
  };
}

const README_START = '<!-- bench:results:start -->';
const README_END = '<!-- bench:results:end -->';

function updateReadme(report: string): void {
  const file = join(here, 'README.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return;
  const section = `${README_START}\n\n![Warm hits, 64 in flight](chart.svg)\n\n${report}\n${README_END}`;
  writeFileSync(file, text.slice(0, start) + section + text.slice(end + README_END.length));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const settings = settingsFor(args);
  const progress = new Progress();
  let redis: BenchRedis | null = null;
  let upstream: Upstream | null = null;
  const stop = async () => {
    await upstream?.close();
    await redis?.stop();
  };
  const onSignal = () => {
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    redis = await startRedis();
    const pinning = args.pin
      ? pinProcesses(redis.pid, redis.own)
      : { pinned: false, description: 'not pinned (--no-pin)' };
    upstream = await startUpstream();
    progress.line(
      'setup',
      `redis ${redis.version} at ${redis.url}${redis.own ? ' (own server)' : ''}, upstream ${upstream.url}, ` +
        `scenarios ${args.only.join(', ')}${args.quick ? ' (quick)' : ''}; ${pinning.description}`,
    );
    const ctx: ScenarioContext = {
      upstream,
      redis,
      progress,
      settings,
      contenders: { upstreamUrl: upstream.url, redis, ttlSeconds: settings.ttlSeconds },
      anomalies: [],
    };
    const results: Results = {
      schema: 1,
      date: new Date().toISOString(),
      mode: args.quick ? 'quick' : 'full',
      scenarios: args.only,
      runtimeMs: 0,
      machine: { ...machine(redis), pinning: pinning.description },
      settings,
      hits: [],
      misses: [],
      zipf: [],
      herd: [],
      cost: [],
      anomalies: ctx.anomalies,
    };
    await redis.flush();
    const cpuStart = await cpuSnapshot(redis);
    if (args.only.includes('hits')) {
      const measured = await hits(ctx);
      results.hits = measured.rows;
      results.hotHits = measured.hot;
    }
    if (args.only.includes('misses')) results.misses = await misses(ctx);
    if (args.only.includes('zipf')) results.zipf = await zipf(ctx);
    if (args.only.includes('herd')) results.herd = await herd(ctx);
    if (args.only.includes('cost')) results.cost = await cost(ctx);
    results.runtimeMs = Math.round(progress.elapsedMs);
    results.machine.loadAvgEnd = os.loadavg().map((n) => Math.round(n * 100) / 100);
    const foreign = foreignCpuShare(cpuStart, await cpuSnapshot(redis));
    results.machine.foreignCpuShare = foreign === null ? null : Math.round(foreign * 1000) / 1000;
    if (foreign !== null && foreign > 0.1) {
      ctx.anomalies.push(
        `machine busy: other processes used ${(foreign * 100).toFixed(0)}% of the CPUs during the run ` +
          `(load average ${results.machine.loadAvg.join(' ')} at start); every figure is lower and noisier than on an idle machine`,
      );
    }

    const complete = !args.quick && args.only.length === SCENARIOS.length;
    const out = args.out ?? (complete ? join(here, 'results.json') : join(tmpdir(), 'axios-redis-cache-bench.json'));
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    const report = renderReport(results);
    if (complete && args.out === null) {
      writeChart(results);
      updateReadme(report);
    }
    progress.line('done', `${(results.runtimeMs / 1000).toFixed(1)} s; results in ${out}`);
    process.stdout.write(report);
  } finally {
    await stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
