// The part of Cachet's JavaScript SDK both triggers share: `api.cache` with Auth0's shapes and
// codes, error conversion, and the entry point that runs an Auth0-style handler.
//
// This file is bundled (esbuild) into every JavaScript action together with the action's own
// code; `cachet:action/*` imports stay external and become the component's WIT imports
// (componentize-js). WIT functions that return `result<_, E>` throw a ComponentError whose
// `payload` is E; `option<T>` is T or undefined; `u64` is a BigInt.

import * as wit from 'cachet:action/cache@0.1.0';

/** Auth0's code for each WIT `cache-error` case. */
const CACHE_CODES = {
  'cache-key-size-exceeded': 'CacheKeySizeExceeded',
  'cache-value-size-exceeded': 'CacheValueSizeExceeded',
  'cache-size-exceeded': 'CacheSizeExceeded',
  'item-already-expired': 'ItemAlreadyExpired',
  'invalid-expiry': 'InvalidExpiry',
  'max-side-effects-exceeded': 'MaxSideEffectsExceeded',
  'failed-to-set-cache-record': 'FailedToSetCacheRecord',
  'failed-to-delete-cache-record': 'FailedToDeleteCacheRecord',
  'cache-key-does-not-exist': 'CacheKeyDoesNotExist',
  'cache-key-exists': 'CacheKeyExists',
};

/** The payload of an error thrown by a WIT import (a ComponentError), or the error itself. */
export function payloadOf(err) {
  return err !== null && typeof err === 'object' && 'payload' in err ? err.payload : err;
}

/**
 * Calls a WIT import that returns `result<_, string>`; its error string becomes a thrown Error
 * (what an Auth0 API method does when it refuses an argument).
 */
export function call(what, fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    throw new Error(`${what}: ${payloadOf(err)}`);
  }
}

/** `JSON.stringify` for claim and metadata values: `undefined` is sent as `null`. */
export function json(what, value) {
  const text = JSON.stringify(value === undefined ? null : value);
  if (text === undefined) {
    throw new TypeError(`${what}: the value cannot be represented as JSON (a function or a symbol)`);
  }
  return text;
}

function requireString(what, name, value) {
  if (typeof value !== 'string') {
    throw new TypeError(`${what}: ${name} must be a string, not ${value === null ? 'null' : typeof value}`);
  }
}

function record(r) {
  return { value: r.value, expires_at: Number(r.expiresAt) };
}

const U64_MAX = 2n ** 64n - 1n;

/** A millisecond option as the WIT's u64, or null when no u64 can represent it. */
function millis(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null;
  const ms = BigInt(Math.floor(value));
  return ms > U64_MAX ? null : ms;
}

function failure(code) {
  return { type: 'error', code };
}

/**
 * `api.cache`, as in Auth0: `get` returns `{ value, expires_at }` or `undefined`; `set` and
 * `delete` return `{ type: "success", record }` or `{ type: "error", code }`. Quotas, expiry
 * and the per-execution write budget are enforced by the host.
 */
export const cache = Object.freeze({
  /** A live entry, or undefined. A hit counts as a use for LRU eviction. */
  get(key) {
    requireString('api.cache.get', 'the key', key);
    const r = wit.get(key);
    return r === undefined ? undefined : record(r);
  },
  /**
   * Writes an entry; `options.ttl` (ms from now) and `options.expires_at` (ms since the epoch).
   * Cachet's extension `options.if_absent: true` writes only when the key holds no live entry
   * (else `CacheKeyExists`): an atomic claim, so one execution refreshes a shared value.
   */
  set(key, value, options = {}) {
    requireString('api.cache.set', 'the key', key);
    requireString('api.cache.set', 'the value (use JSON.stringify for objects)', value);
    const ttl = millis(options?.ttl);
    const expiresAt = millis(options?.expires_at);
    if (ttl === null || expiresAt === null) return failure('InvalidExpiry');
    try {
      return { type: 'success', record: record(wit.set(key, value, { ttl, expiresAt, ifAbsent: options?.if_absent === true })) };
    } catch (err) {
      return failure(CACHE_CODES[payloadOf(err)] ?? String(payloadOf(err)));
    }
  },
  /** Deletes a live entry; `CacheKeyDoesNotExist` when absent or expired. */
  delete(key) {
    requireString('api.cache.delete', 'the key', key);
    try {
      wit.delete(key);
      return { type: 'success' };
    } catch (err) {
      return failure(CACHE_CODES[payloadOf(err)] ?? String(payloadOf(err)));
    }
  },
});

/** The message an action fails with, from whatever it threw or rejected with. */
export function describe(err) {
  if (err instanceof Error) {
    const message = err.message || '(no message)';
    return err.name && err.name !== 'Error' ? `${err.name}: ${message}` : message;
  }
  if (err === undefined) return 'the action threw undefined';
  try {
    return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/**
 * The function a component exports for a trigger: parses the event, builds a fresh `api`,
 * runs the action's handler and waits for its promise. A thrown error or a rejected promise
 * fails the action with its message (the host reports it as the action's error).
 *
 * `action` is the action's module namespace (ESM `export const onExecute…` or CommonJS
 * `exports.onExecute…`, which esbuild turns into a namespace with a `default`). A module
 * without the handler is refused while the component is built, as this runs at module load.
 */
export function entry(action, name, makeApi) {
  const handler =
    typeof action?.[name] === 'function'
      ? action[name]
      : typeof action?.default?.[name] === 'function'
        ? action.default[name]
        : undefined;
  if (handler === undefined) {
    const other = name === 'onExecutePostLogin' ? 'onExecuteCredentialsExchange' : 'onExecutePostLogin';
    if (typeof (action?.[other] ?? action?.default?.[other]) === 'function') {
      const trigger = other === 'onExecutePostLogin' ? 'post-login' : 'credentials-exchange';
      throw new Error(`the action exports ${other}, not ${name}: it is a ${trigger} action; build it for that trigger`);
    }
    throw new Error(
      `the action exports no ${name} function: write \`exports.${name} = async (event, api) => { … }\` ` +
        `(CommonJS) or \`export const ${name} = async (event, api) => { … }\` (ES module)`,
    );
  }
  return async function run(eventJson) {
    try {
      const event = JSON.parse(eventJson);
      await handler(event, makeApi());
    } catch (err) {
      // A thrown string is the WIT result's error.
      throw describe(err);
    }
  };
}

/** A method Cachet does not implement: a clear error instead of `undefined is not a function`. */
export function unsupported(path) {
  return () => {
    throw new Error(`${path} is not supported by Cachet (only the cache, access, token claims and metadata APIs are)`);
  };
}
