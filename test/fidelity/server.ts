import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * The fidelity suite's upstream: a real node:http server whose answers depend only on the request (never
 * on a call count or the clock, except `date`), so that plain axios and a cached instance can be compared
 * answer for answer. Two more servers on unix sockets answer differently from each other.
 */
export interface FidelityServer {
  readonly url: string;
  /** Requests received, by path + query as sent on the wire. */
  readonly received: string[];
  /** A port on 127.0.0.1 where nothing listens (connections are refused). */
  readonly refusedUrl: string;
  readonly socketA: string;
  readonly socketB: string;
  close(): Promise<void>;
}

const BIG = 'x'.repeat(4000);
const BINARY = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256));

function route(req: http.IncomingMessage, res: http.ServerResponse, tag: string): void {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const path = url.pathname;
  const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-server': tag, ...headers });
    res.end(JSON.stringify(value));
  };
  if (path === '/echo') {
    json(200, { url: req.url, tag });
    return;
  }
  if (path === '/json') {
    json(200, { hello: 'world', list: [1, 2, 3] }, { etag: '"v1"', 'x-custom': 'a' });
    return;
  }
  if (path === '/text') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('plain text, ünïcödé');
    return;
  }
  if (path === '/binary') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(BINARY);
    return;
  }
  if (path === '/gzip') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(gzipSync(JSON.stringify({ zipped: true })));
    return;
  }
  if (path === '/big') {
    json(200, { big: BIG });
    return;
  }
  if (path === '/redirect') {
    const n = Number(url.searchParams.get('n') ?? '1');
    res.writeHead(302, { location: n > 1 ? `/redirect?n=${n - 1}` : '/json', 'content-type': 'text/plain' });
    res.end('moved');
    return;
  }
  if (path.startsWith('/status/')) {
    json(Number(path.slice(8)), { status: Number(path.slice(8)) });
    return;
  }
  if (path === '/trickle') {
    // 6 chunks, one every 100 ms: a socket never idle for 250 ms, a body that takes 600 ms in all.
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`chunk${sent};`);
      if (++sent === 6) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/slow') {
    const timer = setTimeout(() => json(200, { slow: true }), 400);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (path === '/destroy') {
    req.socket.destroy();
    return;
  }
  if (path === '/ranged') {
    const body = 'abcdefghijklmnopqrstuvwxyz';
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      res.writeHead(206, { 'content-type': 'text/plain', 'content-range': `bytes ${from}-${to}/${body.length}` });
      res.end(body.slice(from, to + 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'accept-ranges': 'bytes' });
    res.end(body);
    return;
  }
  if (path === '/validated') {
    const etag = `"${createHash('sha1').update('validated').digest('hex').slice(0, 8)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    json(200, { validated: true }, { etag, 'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT' });
    return;
  }
  json(404, { missing: path });
}

function listen(server: http.Server, where: number | string): Promise<void> {
  return new Promise((resolve) => {
    if (typeof where === 'string') server.listen(where, resolve);
    else server.listen(where, '127.0.0.1', resolve);
  });
}

export async function startFidelityServer(): Promise<FidelityServer> {
  const received: string[] = [];
  const main = http.createServer((req, res) => {
    received.push(req.url ?? '/');
    route(req, res, 'tcp');
  });
  const dir = mkdtempSync(join(tmpdir(), 'arc-fidelity-'));
  const socketA = join(dir, 'a.sock');
  const socketB = join(dir, 'b.sock');
  const onA = http.createServer((req, res) => route(req, res, 'socket-a'));
  const onB = http.createServer((req, res) => route(req, res, 'socket-b'));
  const refused = http.createServer();
  await Promise.all([listen(main, 0), listen(onA, socketA), listen(onB, socketB), listen(refused, 0)]);
  const refusedPort = (refused.address() as AddressInfo).port;
  await new Promise<void>((resolve) => refused.close(() => resolve()));
  const servers = [main, onA, onB];
  return {
    url: `http://127.0.0.1:${(main.address() as AddressInfo).port}`,
    received,
    refusedUrl: `http://127.0.0.1:${refusedPort}`,
    socketA,
    socketB,
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
