import { performance } from 'node:perf_hooks';

/** One line per measured step on stderr: elapsed time, scenario, step and its figure. */
export class Progress {
  private readonly start = performance.now();

  line(scenario: string, text: string): void {
    const s = Math.round((performance.now() - this.start) / 1000);
    const clock = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    process.stderr.write(`[${clock}] ${scenario.padEnd(6)} ${text}\n`);
  }

  get elapsedMs(): number {
    return performance.now() - this.start;
  }
}

export function formatRate(rps: number): string {
  if (!Number.isFinite(rps)) return 'n/a';
  return `${Math.round(rps).toLocaleString('en-US')}/s`;
}
