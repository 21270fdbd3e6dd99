import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream received: the truth a cache test asserts on. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: ReceivedRequest, res: http.ServerResponse, callNumber: number) => void | Promise<void>;

export interface Upstream {
  readonly url: string;
  /** Every request received, in order. */
  readonly received: ReceivedRequest[];
  /** Number of requests received (optionally only those whose path starts with `path`). */
  calls(path?: string): number;
  /** Replace the handler. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** By default: 200 JSON echoing the path and the call number. */
export const echoJson: Handler = (req, res, n) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ path: req.url, call: n }));
};

/** {@link echoJson}, answered after `ms`. */
export const slowEcho =
  (ms: number): Handler =>
  (...args) =>
    void setTimeout(() => echoJson(...args), ms);

/** A real node:http server on 127.0.0.1:0 that records every request. */
export async function startUpstream(initial: Handler = echoJson): Promise<Upstream> {
  const received: ReceivedRequest[] = [];
  let handler = initial;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: ReceivedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(record);
      Promise.resolve(handler(record, res, received.length)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    calls: (path) => (path ? received.filter((r) => r.url.startsWith(path)).length : received.length),
    handle: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
