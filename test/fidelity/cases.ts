import type { AxiosRequestConfig } from 'axios';
import type { FidelityServer } from './server.js';

export type AdapterName = 'http' | 'fetch';

/** One request of a case: a factory, since a config may carry per-call objects (an AbortController). */
export type RequestFactory = (server: FidelityServer) => AxiosRequestConfig;

/**
 * A fidelity case: rounds of requests sent through one cached instance, the requests of a round at the
 * same time (joiners), the rounds one after the other (misses, then hits). Every answer must equal what
 * plain axios answers to the same request.
 */
export interface FidelityCase {
  name: string;
  rounds: RequestFactory[][];
  /** Adapters the case applies to (default both). */
  adapters?: readonly AdapterName[];
  /** Count `onDownloadProgress` calls: a caller that asked for progress must hear of it. */
  progress?: boolean;
  /**
   * The answer is stored: all the rounds through the cache must reach the upstream as often as one plain
   * request does (a miss then a hit; two joiners sharing one call).
   */
  cached?: boolean;
}

const get =
  (url: string, extra: AxiosRequestConfig = {}): RequestFactory =>
  () => ({ url, ...extra });

/** A request repeated: miss then hit, and two at once (joiners). */
function repeated(
  name: string,
  request: RequestFactory,
  adapters?: readonly AdapterName[],
  cached = false,
): FidelityCase[] {
  const base = { ...(adapters ? { adapters } : {}), ...(cached ? { cached } : {}) };
  return [
    { name: `${name} (miss, then hit)`, rounds: [[request], [request]], ...base },
    { name: `${name} (two joiners)`, rounds: [[request, request]], ...base },
  ];
}

export const CASES: FidelityCase[] = [
  // Bodies, types, statuses.
  ...repeated('JSON', get('/json'), undefined, true),
  ...repeated('text', get('/text', { responseType: 'text' }), undefined, true),
  ...repeated('binary as arraybuffer', get('/binary', { responseType: 'arraybuffer' }), undefined, true),
  ...repeated('binary as blob', get('/binary', { responseType: 'blob' }), ['fetch'], true),
  ...repeated('gzip', get('/gzip'), undefined, true),
  ...repeated(
    'gzip, decompress: false',
    get('/gzip', { decompress: false, responseType: 'arraybuffer' }),
    ['http'],
    true,
  ),
  ...repeated('404', get('/status/404'), undefined, true), // the matrix stores 404 too
  ...repeated('500', get('/status/500')),
  ...repeated('404 accepted by validateStatus', get('/status/404', { validateStatus: () => true }), undefined, true),

  // Keys: the request axios puts on the wire.
  {
    name: 'repeated param values in another order',
    rounds: [[get('/echo', { params: { ids: [2, 1] } })], [get('/echo', { params: { ids: [1, 2] } })]],
  },
  { name: 'repeated query names in another order', rounds: [[get('/echo?a=1&a=2')], [get('/echo?a=2&a=1')]] },
  {
    name: 'paramsSerializer { indexes: null }',
    rounds: [
      [get('/echo', { params: { ids: [1, 2] } })],
      [get('/echo', { params: { ids: [1, 2] }, paramsSerializer: { indexes: null } })],
    ],
  },
  {
    name: 'paramsSerializer function',
    rounds: [
      [get('/echo', { params: { q: 'x' } })],
      [get('/echo', { params: { q: 'x' }, paramsSerializer: (p: Record<string, string>) => `custom=${p.q}` })],
    ],
  },
  {
    name: 'an object param vs the same text in the URL',
    rounds: [[get('/echo', { params: { f: { x: 1 } } })], [get('/echo?f={"x":1}')]],
  },
  {
    name: 'unix sockets',
    adapters: ['http'],
    rounds: [
      [(s) => ({ url: 'http://localhost/echo', socketPath: s.socketA, baseURL: '' })],
      [(s) => ({ url: 'http://localhost/echo', socketPath: s.socketB, baseURL: '' })],
    ],
  },
  {
    name: 'a Range request after the full body is stored',
    rounds: [[get('/ranged')], [get('/ranged', { headers: { Range: 'bytes=0-3' } })]],
  },
  {
    name: 'a conditional request after the full body is stored',
    rounds: [[get('/validated')], [(s) => ({ url: '/validated', headers: { 'If-None-Match': etagOf(s) } })]],
  },

  // Per-request options on hits and joiners.
  { name: 'maxRedirects: 0 on a hit', rounds: [[get('/redirect?n=2')], [get('/redirect?n=2', { maxRedirects: 0 })]] },
  {
    name: 'maxRedirects: 1 on a hit of 2',
    rounds: [[get('/redirect?n=2')], [get('/redirect?n=2', { maxRedirects: 1 })]],
  },
  {
    name: 'maxRedirects: 0 joins a following request',
    rounds: [[get('/redirect?n=2'), get('/redirect?n=2', { maxRedirects: 0 })]],
  },
  {
    name: 'a following request joins maxRedirects: 0',
    rounds: [[get('/redirect?n=2', { maxRedirects: 0 }), get('/redirect?n=2')]],
  },
  ...repeated('redirect chain (final URL)', get('/redirect?n=2'), undefined, true),
  { name: 'maxContentLength on a hit', rounds: [[get('/big')], [get('/big', { maxContentLength: 1000 })]] },
  {
    name: 'no maxContentLength joins one that has it',
    rounds: [[get('/big', { maxContentLength: 1000 }), get('/big')]],
  },
  {
    name: 'maxContentLength joins one without it',
    rounds: [[get('/big'), get('/big', { maxContentLength: 1000 })]],
  },
  { name: 'onDownloadProgress on a hit', progress: true, rounds: [[get('/json')], [get('/json')]] },
  { name: 'onDownloadProgress for a joiner', progress: true, rounds: [[get('/json'), get('/json')]] },

  // Errors and timeouts.
  ...repeated('connection refused', (s) => ({ url: `${s.refusedUrl}/json`, baseURL: '' })),
  ...repeated('socket destroyed', get('/destroy')),
  ...repeated('timeout on a body that trickles (socket never idle)', get('/trickle', { timeout: 250 })),
  ...repeated('timeout on a slow answer', get('/slow', { timeout: 100 })),
  ...repeated(
    'timeout with clarifyTimeoutError',
    get('/slow', { timeout: 100, transitional: { clarifyTimeoutError: true } }),
  ),
  ...repeated('abort with a reason', () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped by the caller')), 50);
    return { url: '/slow', signal: controller.signal };
  }),
  ...repeated('abort without a reason', () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    return { url: '/slow', signal: controller.signal };
  }),
  ...repeated('invalid params', get('/echo', { params: { d: new Date(Number.NaN) } })),
];

/** The ETag `/validated` answers with (the server computes the same). */
export function etagOf(_server: FidelityServer): string {
  return '"cb35c602"';
}
