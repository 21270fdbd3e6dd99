import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between a client and a server (a test's own redis-server), for network faults
 * and lying replies. Loopback only; it stops with `close()`.
 *
 * Server → client bytes go through, in order, `onChunk` (raw chunks as they arrive: insert or change
 * bytes anywhere) and, when set, `onReply` (each complete RESP reply, framed: replace it, drop it, or add
 * replies after it). Modes: `pass`; `blackhole` (nothing goes through either way and nothing is closed:
 * a half-open connection); `delay` (each chunk waits `delayMs`, both ways); `slow-replies` (each chunk from
 * the server waits `delayMs`: every reply that much late, as from a slow Redis).
 */
export interface TcpProxy {
  readonly port: number;
  mode: 'pass' | 'blackhole' | 'delay' | 'slow-replies';
  delayMs: number;
  onChunk: ((chunk: Buffer, index: number) => Buffer) | null;
  onReply: ((reply: Buffer, index: number) => Buffer | Buffer[]) | null;
  /** Server replies seen so far (framed), across connections. */
  readonly replies: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroy every open connection (RST to both sides). */
  cut(): void;
  /**
   * The connections open now go silent — nothing through, either way, and nothing closed (a half-open
   * connection: a dead NAT, a failed host) — while new connections work.
   */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const stalled = new WeakSet<net.Socket>();
  let chunks = 0;
  let replies = 0;
  let connections = 0;
  const proxy: TcpProxy = {
    port: 0,
    mode: 'pass',
    delayMs: 0,
    onChunk: null,
    onReply: null,
    get replies() {
      return replies;
    },
    get connections() {
      return connections;
    },
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    stall() {
      for (const socket of sockets) stalled.add(socket);
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const forward = (to: net.Socket, data: Buffer, reply = false) => {
    if (proxy.mode === 'blackhole' || stalled.has(to)) return;
    if (proxy.mode === 'delay' || (proxy.mode === 'slow-replies' && reply)) {
      setTimeout(() => to.destroyed || to.write(data), proxy.delayMs);
    } else if (!to.destroyed) to.write(data);
  };
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (data: Buffer) => forward(upstream, data));
    upstream.on('data', (data: Buffer) => {
      const chunk = proxy.onChunk ? proxy.onChunk(data, chunks++) : data;
      if (!proxy.onReply) {
        forward(client, chunk, true);
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        const end = replyEnd(pending, 0);
        if (end === -1) break;
        const reply = pending.subarray(0, end);
        pending = pending.subarray(end);
        const replaced = proxy.onReply ? proxy.onReply(Buffer.from(reply), replies++) : reply;
        if (Array.isArray(replaced)) out.push(...replaced);
        else out.push(replaced);
      }
      if (out.length > 0) forward(client, Buffer.concat(out), true);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (proxy as { port: number }).port = (server.address() as net.AddressInfo).port;
  return proxy;
}

/** Where the RESP reply starting at `at` ends, or -1 when the buffer does not hold all of it yet. */
export function replyEnd(buffer: Buffer, at: number): number {
  if (at >= buffer.length) return -1;
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd === -1) return -1;
  const type = String.fromCharCode(buffer[at] as number);
  const next = lineEnd + 2;
  // RESP2 and RESP3 (node-redis 6 speaks RESP3): simple types end with their line.
  if ('+-:_#,('.includes(type)) return next;
  const count = Number(buffer.toString('latin1', at + 1, lineEnd));
  if (type === '$' || type === '!' || type === '=') {
    if (count < 0) return next;
    return buffer.length >= next + count + 2 ? next + count + 2 : -1;
  }
  if (type === '*' || type === '~' || type === '>' || type === '%' || type === '|') {
    const items = count < 0 ? 0 : type === '%' || type === '|' ? 2 * count : count;
    let end = next;
    for (let i = 0; i < items; i++) {
      end = replyEnd(buffer, end);
      if (end === -1) return -1;
    }
    // An attribute precedes the reply it annotates.
    return type === '|' ? replyEnd(buffer, end) : end;
  }
  throw new Error(`not a RESP reply: ${JSON.stringify(buffer.toString('latin1', at, at + 20))}`);
}

/** A RESP bulk string reply holding `bytes`. */
export function bulkReply(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
}
