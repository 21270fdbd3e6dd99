import { createRequire } from 'node:module';
import path from 'node:path';
import axios, { type AxiosInstance } from 'axios';

/** The axios module: its adapters and the classes its errors and headers are made of. */
export type AxiosModule = typeof axios;

/**
 * The copy of axios an instance was made by. One installed axios is two module copies in a process that
 * loads both of its builds — `require('axios')` (CommonJS) and `import 'axios'` (ESM) — each with its own
 * `AxiosError`, `AxiosHeaders` and `CanceledError` classes. This library is loaded in one format too; if
 * it resolved the instance's adapter and made its errors with its own copy, the errors of an instance made
 * by the other copy would fail `instanceof AxiosError` for its owner. So the instance's own copy is found
 * (by the default transforms every instance inherits from the copy that made it) and used for everything
 * the cache hands to the caller: the base adapter (so its errors are the owner's class), replayed
 * rejections, timeouts, cancellations, headers.
 *
 * Found: this library's own copy, or the other build of the same installed axios (CommonJS from the ESM
 * build; ESM from the CommonJS build where Node can `require()` ES modules: 20.19+, 22.12+). Any other
 * copy (a second axios installed elsewhere) falls back to this library's own: see "Differences" in the
 * README.
 */
export function axiosCopyOf(instance: AxiosInstance): AxiosModule {
  if (madeBy(instance, axios)) return axios;
  const other = otherBuild();
  return other && madeBy(instance, other) ? other : axios;
}

/**
 * Whether the instance inherited the default transforms of this copy (every `create()` copies them; an
 * instance that replaced both is told by neither, and taken as this library's copy's).
 */
function madeBy(instance: AxiosInstance, copy: AxiosModule): boolean {
  return (
    sameFirst(instance.defaults.transformRequest, copy.defaults.transformRequest) ||
    sameFirst(instance.defaults.transformResponse, copy.defaults.transformResponse)
  );
}

function sameFirst(own: unknown, origin: unknown): boolean {
  const a = Array.isArray(own) ? own[0] : own;
  const b = Array.isArray(origin) ? origin[0] : origin;
  return typeof a === 'function' && a === b;
}

let otherCopy: AxiosModule | null | undefined;

/** The other build of the axios this library resolves (loaded once, the first time it is needed). */
function otherBuild(): AxiosModule | null {
  if (otherCopy !== undefined) return otherCopy;
  otherCopy = null;
  try {
    // (`import.meta.url` is shimmed in the CommonJS build: tsup's `shims`.)
    const load = createRequire(import.meta.url);
    const cjs = load('axios') as AxiosModule | { default: AxiosModule };
    const commonjs = 'default' in cjs && typeof cjs.default === 'function' ? cjs.default : (cjs as AxiosModule);
    if (commonjs !== axios) {
      otherCopy = commonjs;
    } else if ((process.features as { require_module?: boolean }).require_module === true) {
      // This is the CommonJS build: the ESM build is the package's `index.js`, which Node can require.
      const esm = load(path.join(path.dirname(load.resolve('axios/package.json')), 'index.js')) as {
        default?: AxiosModule;
      };
      if (esm.default && esm.default !== axios) otherCopy = esm.default;
    }
  } catch {
    // No other build to be found: the instance's copy is one this library cannot load.
  }
  return otherCopy;
}
