import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/index.js';
import { synced } from './clients.js';

/**
 * What a redis-server executed, as `MONITOR` reports it: every command of every client but the
 * monitor's own, in order. Library-neutral: it sees what ioredis and node-redis sent alike.
 */
export interface CommandLog {
  /** The commands executed since the last `clear()` (upper-case name first). */
  commands(): string[][];
  /**
   * Wait until the server has reported everything it executed before this call — and everything sent on
   * `through` (a store client: its last commands may still be on their way on their own connection).
   */
  flush(through?: RedisClient): Promise<void>;
  clear(): void;
  stop(): Promise<void>;
}

let markers = 0;

export async function monitor(port: number): Promise<CommandLog> {
  const admin = new Redis({ port, host: '127.0.0.1' });
  admin.on('error', () => {});
  const mon = await admin.monitor();
  let seen: string[][] = [];
  const waiting = new Map<string, () => void>();
  mon.on('monitor', (_time: string, args: string[], source: string) => {
    // Commands run by scripts are reported too, from "lua": only what clients sent counts here.
    if (source === 'lua') return;
    const [name = '', ...rest] = args;
    if (name.toUpperCase() === 'ECHO' && rest[0]?.startsWith('monitor-marker:')) {
      waiting.get(rest[0])?.();
      waiting.delete(rest[0]);
      return;
    }
    // MONITOR prints arguments escaped (a newline as \n); scripts are recognised by their source.
    seen.push([name.toUpperCase(), ...rest.map(unescapeArg)]);
  });
  const marker = new Redis({ port, host: '127.0.0.1' });
  marker.on('error', () => {});
  return {
    commands: () => seen,
    async flush(through) {
      if (through) await synced(through);
      const id = `monitor-marker:${++markers}`;
      const arrived = new Promise<void>((resolve) => waiting.set(id, resolve));
      await marker.echo(id);
      await arrived;
    },
    clear() {
      seen = [];
    },
    async stop() {
      mon.disconnect();
      marker.disconnect();
      admin.disconnect();
    },
  };
}

function unescapeArg(arg: string): string {
  return arg.replace(
    /\\(n|r|t|"|\\)/g,
    (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c] ?? c,
  );
}
