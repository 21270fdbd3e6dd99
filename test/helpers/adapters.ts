import { type AxiosAdapter, AxiosHeaders } from 'axios';

/** A base adapter (no network) that answers every request with 200 and `data`. */
export function answering(data: unknown): AxiosAdapter {
  return async (config) => ({ data, status: 200, statusText: 'OK', headers: new AxiosHeaders(), config, request: {} });
}
