import type { ContenderContext } from './contenders.js';
import type { Progress } from './progress.js';
import type { BenchRedis } from './redis.js';
import type { Settings } from './results.js';
import type { Upstream } from './upstream.js';

/** What every scenario gets from the orchestrator. */
export interface ScenarioContext {
  readonly upstream: Upstream;
  readonly redis: BenchRedis;
  readonly progress: Progress;
  readonly settings: Settings;
  readonly contenders: ContenderContext;
  /** Append a line for anything that looks wrong; the report prints them all. */
  readonly anomalies: string[];
}
