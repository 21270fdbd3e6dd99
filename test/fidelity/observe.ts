import type { AxiosResponse } from 'axios';

/** Response headers that differ between two calls by nature (the clock) or that the cache never replays. */
const IGNORED_HEADERS: ReadonlySet<string> = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

/** What a caller can observe of one settled request, in a form two runs can be compared on. */
export type Observation =
  | {
      settled: 'resolved';
      status: number;
      statusText: string;
      headers: Record<string, unknown>;
      dataType: string;
      data: unknown;
      finalUrl: unknown;
      requestUrl: unknown;
      progress?: boolean;
    }
  | {
      settled: 'rejected';
      errorClass: string;
      name: unknown;
      code: unknown;
      message: unknown;
      isAxiosError: unknown;
      cause: unknown;
      response: unknown;
      progress?: boolean;
    };

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'Object';
}

async function plainData(data: unknown): Promise<unknown> {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return { blob: await data.text(), type: data.type };
  if (Buffer.isBuffer(data)) return data.toString('hex');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('hex');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
  return data;
}

function headersOf(headers: unknown): Record<string, unknown> {
  const source =
    headers && typeof (headers as { toJSON?: unknown }).toJSON === 'function'
      ? (headers as { toJSON(): Record<string, unknown> }).toJSON()
      : ((headers ?? {}) as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(source).sort()) {
    if (!IGNORED_HEADERS.has(name.toLowerCase())) out[name.toLowerCase()] = source[name];
  }
  return out;
}

function describeCause(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) return { value: String(cause) };
  const c = cause as Error & { code?: unknown };
  return { errorClass: typeName(cause), name: c.name, code: c.code, message: c.message };
}

/** The final URL after redirects, as the common idioms read it (http: `request.res.responseUrl`). */
function finalUrlOf(response: AxiosResponse): unknown {
  const request = response.request as { res?: { responseUrl?: unknown }; responseURL?: unknown } | undefined;
  return request?.res?.responseUrl ?? request?.responseURL;
}

export async function observe(run: () => Promise<AxiosResponse>, progress?: () => boolean): Promise<Observation> {
  try {
    const response = await run();
    const observed: Observation = {
      settled: 'resolved',
      status: response.status,
      statusText: response.statusText,
      headers: headersOf(response.headers),
      dataType: typeName(response.data),
      data: await plainData(response.data),
      finalUrl: finalUrlOf(response),
      requestUrl: (response.request as { url?: unknown } | undefined)?.url,
    };
    if (progress) observed.progress = progress();
    return observed;
  } catch (error) {
    const e = error as Error & { code?: unknown; isAxiosError?: unknown; response?: AxiosResponse };
    const observed: Observation = {
      settled: 'rejected',
      errorClass: typeName(error),
      name: e.name,
      code: e.code,
      message: e.message,
      isAxiosError: e.isAxiosError,
      cause: describeCause(e.cause),
      response: e.response
        ? { status: e.response.status, headers: headersOf(e.response.headers), data: await plainData(e.response.data) }
        : undefined,
    };
    if (progress) observed.progress = progress();
    return observed;
  }
}
