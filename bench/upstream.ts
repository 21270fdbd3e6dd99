import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BODIES, isBodyId } from './bodies.js';

/**
 * The origin server: a real node:http server on 127.0.0.1:0. Paths are `/<contender>/<body id>/<anything>`;
 * it answers with that body after `latencyMs` and counts every call per contender (the first path segment),
 * so each contender's upstream calls are known exactly.
 */
export interface Upstream {
  readonly url: string;
  /** Delay before each answer, in ms (0: answer in the same tick). */
  latencyMs: number;
  /** Calls received from one contender (or from all when omitted). */
  calls(contender?: string): number;
  close(): Promise<void>;
}

export async function startUpstream(latencyMs = 0): Promise<Upstream> {
  const counts = new Map<string, number>();
  let total = 0;
  const state = { latencyMs };
  const server = http.createServer((req, res) => {
    const [, contender = '', bodyId] = (req.url ?? '/').split('/', 3);
    counts.set(contender, (counts.get(contender) ?? 0) + 1);
    total++;
    const body = isBodyId(bodyId) ? BODIES[bodyId] : undefined;
    const answer = () => {
      if (!body) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-type', body.contentType);
      res.setHeader('content-length', body.bytes.length);
      res.end(body.bytes);
    };
    req.resume();
    if (state.latencyMs > 0) setTimeout(answer, state.latencyMs);
    else answer();
  });
  server.keepAliveTimeout = 30_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(ms: number) {
      state.latencyMs = ms;
    },
    calls: (contender) => (contender === undefined ? total : (counts.get(contender) ?? 0)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
