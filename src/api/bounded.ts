import { CacheStoreError, CacheStoreTimeoutError, type StoreOperation } from './errors.js';
import type { CacheState } from './state.js';

/**
 * Run an eviction (or another call the user waits for: the fleet counters) within `evictTimeout`: it resolves, or rejects with a `CacheStoreError` (the store's
 * failure as `cause`) or a `CacheStoreTimeoutError` — never hangs on a dead store, never a raw client
 * error. A command the store already sent may still run later (deleting later is still an eviction).
 */
export async function bounded<T>(
  state: CacheState,
  operation: StoreOperation,
  key: string | undefined,
  work: (store: CacheState['options']['store']) => Promise<T>,
): Promise<T> {
  const timeoutMs = state.options.evictTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CacheStoreTimeoutError(operation, key, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => work(state.options.store)), timedOut]);
  } catch (error) {
    throw error instanceof CacheStoreError ? error : new CacheStoreError(operation, key, error);
  } finally {
    clearTimeout(timer);
  }
}
