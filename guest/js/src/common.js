// The part of Cachet's JavaScript SDK every trigger shares: `api.cache` with Auth0's shapes and
// codes, the `api` object built from a trigger's method list (each method one host call that
// checks its arguments as Auth0's does), error conversion, and the entry point that runs an
// Auth0-style handler.
//
// This file is bundled (esbuild) into every JavaScript action together with the action's own
// code; `cachet:action/*` imports stay external and become the component's WIT imports
// (componentize-js). WIT functions that return `result<_, E>` throw a ComponentError whose
// `payload` is E; `option<T>` is T or undefined; `u64` is a BigInt.

import * as wit from 'cachet:action/cache@0.1.0';
import { call as apiCall } from 'cachet:action/api@0.1.0';

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

/** Arguments as the host reads them: `undefined` is sent as `null`, as Auth0's JSON does. */
function argsJson(method, args) {
  const text = JSON.stringify(args, (_key, value) => (value === undefined ? null : value));
  if (text === undefined) {
    throw new TypeError(`api.${method}: the arguments cannot be represented as JSON`);
  }
  return text;
}

/**
 * Calls `method` of the trigger's API (Auth0's name without `api.`) with `args`. The host
 * checks them as Auth0's method does; its refusal is thrown as an Error reading
 * `api.<method>: <why>`, and nothing is recorded.
 */
export function invoke(method, args) {
  for (const arg of args) {
    if (typeof arg === 'function' || typeof arg === 'symbol' || typeof arg === 'bigint') {
      throw new TypeError(`api.${method}: a ${typeof arg} cannot be sent to the host (use JSON values)`);
    }
  }
  let reply;
  try {
    reply = apiCall(method, argsJson(method, args));
  } catch (err) {
    throw new Error(`api.${method}: ${payloadOf(err)}`);
  }
  return JSON.parse(reply);
}

/** The `api` a group object of one execution belongs to (what its methods return). */
const API = Symbol('cachet.api');

/** Per `methods` list, per options: each group's prototype of methods (see `buildApi`). */
const templates = new WeakMap();

/**
 * The methods of `methods`, made once per trigger (at module load, so a component's snapshot
 * holds them): `[group, prototype]` pairs whose prototype's functions call the host and return
 * the execution's `api` (found through the group object), or the host's value for `returning`.
 */
function template(methods, returning, missing) {
  let byOptions = templates.get(methods);
  if (byOptions === undefined) {
    byOptions = new Map();
    templates.set(methods, byOptions);
  }
  const key = `${returning.join(',')}|${missing.join(',')}`;
  let made = byOptions.get(key);
  if (made !== undefined) return made;
  const groups = {};
  const place = (name, fn) => {
    const [group, member] = name.split('.');
    groups[group] ??= {};
    groups[group][member] = fn;
  };
  for (const name of methods) {
    place(
      name,
      returning.includes(name)
        ? function (...args) {
            return invoke(name, args);
          }
        : function (...args) {
            invoke(name, args);
            return this?.[API];
          },
    );
  }
  for (const name of missing) {
    place(name, unsupported(`api.${name}`));
  }
  made = Object.entries(groups);
  byOptions.set(key, made);
  return made;
}

/**
 * The `api` object of a trigger: `methods` are Auth0's dotted names (`accessToken.addScope`);
 * each becomes a function that calls the host and returns `api` (for chaining), or the host's
 * value for the names in `returning` (`rules.wasExecuted`). `extra` adds members of its own
 * (`cache`, methods that also change the event), and `unsupported` names methods Cachet does
 * not run yet, which throw saying so.
 *
 * Called per execution, so it only makes one object per group over prototypes built once
 * (`template`): building every method's closure per login cost a warm JavaScript execution
 * about 225 µs in the interpreter (BENCHMARKS.md).
 */
export function buildApi(methods, { returning = [], extra = {}, unsupported: missing = [] } = {}) {
  const api = {};
  for (const [group, methodsOf] of template(methods, returning, missing)) {
    const members = Object.create(methodsOf);
    members[API] = api;
    api[group] = members;
  }
  for (const [group, members] of Object.entries(extra)) {
    if (typeof members === 'object' && members !== null && !Object.isFrozen(members) && api[group]) {
      Object.assign(api[group], members);
    } else {
      api[group] = members;
    }
  }
  return api;
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
export function entry(action, name, makeApi, { optional = false } = {}) {
  const handler =
    typeof action?.[name] === 'function'
      ? action[name]
      : typeof action?.default?.[name] === 'function'
        ? action.default[name]
        : undefined;
  if (handler === undefined && optional) {
    // A second entry point (`onContinuePostLogin`) the action does not use: an error only if
    // the host ever calls it.
    return async function missing() {
      throw `the action redirected, but exports no ${name}: write \`exports.${name} = async (event, api) => { … }\``;
    };
  }
  if (handler === undefined) {
    // Another trigger's handler: `onExecuteCredentialsExchange` is a credentials-exchange action.
    for (const [other, trigger] of Object.entries(handlers)) {
      if (other !== name && typeof (action?.[other] ?? action?.default?.[other]) === 'function') {
        throw new Error(`the action exports ${other}, not ${name}: it is a ${trigger} action; build it for that trigger`);
      }
    }
    throw new Error(
      `the action exports no ${name} function: write \`exports.${name} = async (event, api) => { … }\` ` +
        `(CommonJS) or \`export const ${name} = async (event, api) => { … }\` (ES module)`,
    );
  }
  // Build the trigger's method prototypes now, while the component is being made, so its
  // snapshot holds them and a fresh instance does not build them per login. (No host call:
  // building an `api` only makes objects.)
  makeApi({});
  return async function run(eventJson) {
    try {
      const event = JSON.parse(eventJson);
      await handler(event, makeApi(event));
    } catch (err) {
      // A thrown string is the WIT result's error.
      throw describe(err);
    }
  };
}

/** Every trigger's handler name and trigger, set by the build's entry from the WIT. */
let handlers = {};

/** Tells `entry` every trigger's handler (`{ onExecutePostLogin: "post-login", … }`). */
export function knownHandlers(map) {
  handlers = map;
}

/** A method Cachet does not implement: a clear error instead of `undefined is not a function`. */
export function unsupported(path) {
  return () => {
    throw new Error(`${path} is not supported by Cachet`);
  };
}
