import { connect, type Socket } from 'node:net';
import type { RedisClient } from '../../src/index.js';
import { synced } from './clients.js';

/**
 * What a redis-server executed, as `MONITOR` reports it: every command of every client but the
 * monitor's own, in order. Library-neutral: it sees what ioredis and node-redis sent alike.
 *
 * The monitor speaks RESP on its own socket rather than through a client library: ioredis enters its
 * monitoring mode one microtask after MONITOR's `+OK`, so a command line that arrives in the same packet as
 * that `+OK` throws "Command queue state error" (seen in CI when another client connected at that moment).
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
  let seen: string[][] = [];
  const waiting = new Map<string, () => void>();
  const onCommand = (args: string[], source: string) => {
    // Commands run by scripts are reported too, from "lua": only what clients sent counts here.
    if (source === 'lua') return;
    const [name = '', ...rest] = args;
    if (name.toUpperCase() === 'ECHO' && rest[0]?.startsWith('monitor-marker:')) {
      waiting.get(rest[0])?.();
      waiting.delete(rest[0]);
      return;
    }
    seen.push([name.toUpperCase(), ...rest]);
  };
  const mon = await openMonitor(port, onCommand);
  const marker = await openSocket(port);
  return {
    commands: () => seen,
    async flush(through) {
      if (through) await synced(through);
      const id = `monitor-marker:${++markers}`;
      const arrived = new Promise<void>((resolve) => waiting.set(id, resolve));
      marker.write(`ECHO ${id}\r\n`);
      await arrived;
    },
    clear() {
      seen = [];
    },
    async stop() {
      mon.destroy();
      marker.destroy();
    },
  };
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      // Once connected, a reset (the server stopped first) is not the test's failure.
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
    socket.on('data', () => {}); // replies to the markers are not read
  });
}

/** A socket in MONITOR mode, resolved once the server said `+OK`; every later line goes to `onCommand`. */
async function openMonitor(port: number, onCommand: (args: string[], source: string) => void): Promise<Socket> {
  const socket = await openSocket(port);
  socket.removeAllListeners('data');
  return new Promise((resolve, reject) => {
    let buffered = '';
    let monitoring = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!monitoring) {
          if (line !== '+OK') {
            socket.destroy();
            reject(new Error(`MONITOR refused: ${line}`));
            return;
          }
          monitoring = true;
          resolve(socket);
          continue;
        }
        const parsed = parseMonitorLine(line);
        if (parsed) onCommand(parsed.args, parsed.source);
      }
    });
    socket.write('MONITOR\r\n');
  });
}

/**
 * One MONITOR line: `+1700000000.123456 [0 127.0.0.1:5000] "GET" "key"` (the source is `lua` for commands a
 * script ran). Arguments are quoted with C-style escapes (`\n`, `\"`, `\xHH`, …), decoded here to the bytes
 * as latin1 characters, so a UTF-8 argument reads back as its bytes — the tests compare ASCII names.
 */
export function parseMonitorLine(line: string): { args: string[]; source: string } | undefined {
  const open = line.indexOf('[');
  const close = line.indexOf(']', open);
  if (!line.startsWith('+') || open < 0 || close < 0) return undefined;
  const source = line.slice(open + 1, close).split(' ')[1] ?? '';
  const args: string[] = [];
  let i = close + 1;
  while (i < line.length) {
    if (line[i] !== '"') {
      i++;
      continue;
    }
    let arg = '';
    for (i++; i < line.length && line[i] !== '"'; i++) {
      const c = line[i] ?? '';
      if (c !== '\\') {
        arg += c;
        continue;
      }
      const e = line[++i] ?? '';
      if (e === 'x') {
        arg += String.fromCharCode(Number.parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else arg += ESCAPES[e] ?? e;
    }
    i++; // the closing quote
    args.push(arg);
  }
  return { args, source };
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
