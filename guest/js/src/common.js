// The part of Cachet's JavaScript SDK every trigger shares: `api.cache` with Auth0's shapes and
// codes, the `api` objects made from a trigger's method list (each method one host call that
// checks its arguments as Auth0's does), error conversion, and the entry point that runs an
// Auth0-style handler.
//
// This file is bundled (esbuild) into every JavaScript action together with the action's own
// code; `cachet:action/*` imports stay external and become the component's WIT imports
// (componentize-js). WIT functions that return `result<_, E>` throw a ComponentError whose
// `payload` is E; `option<T>` is T or undefined; `u64` is a BigInt.

import * as wit from 'cachet:action/cache@0.1.0';
import { call as apiCall, perform as apiPerform } from 'cachet:action/api@0.1.0';

/**
 * The host functions the SDK calls: the WIT imports, except while `warmUp` runs (at build time,
 * when no host exists). `get`'s glue is rewritten by `build.mjs` to return Auth0's record,
 * `{ value, expires_at }` with a Number expiry, not the WIT record.
 */
const host = { call: apiCall, perform: apiPerform, get: wit.get, set: wit.set, delete: wit.delete };

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
function argsJson(method, args, plain) {
  // Without objects among the arguments (lists of primitives aside: `primitiveList`),
  // JSON.stringify of the array already sends `undefined` as `null`; a replacer function is
  // called per value, which the interpreter pays for (~0.15 µs per value).
  const text = plain ? JSON.stringify(args) : JSON.stringify(args, (_key, value) => (value === undefined ? null : value));
  if (text === undefined) {
    throw new TypeError(`api.${method}: the arguments cannot be represented as JSON`);
  }
  return text;
}

/**
 * Whether `value` is an array of primitives, which JSON.stringify writes as the replacer of
 * `argsJson` would (an `undefined` element becomes `null` either way): lists of scopes and
 * entitlements, sent without calling the replacer for each element.
 */
function primitiveList(value) {
  if (!Array.isArray(value) || typeof value.toJSON === 'function') return false;
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] === 'object' && value[i] !== null) return false;
  }
  return true;
}

/**
 * Calls `method` of the trigger's API (Auth0's name without `api.`) with `args` and returns its
 * value, or, with `wanted` false, returns nothing and the host sends no value back (`perform`,
 * for the many methods that return nothing: no reply to copy into the sandbox and read). The
 * host checks the arguments as Auth0's method does; its refusal is thrown as an Error reading
 * `api.<method>: <why>`, and nothing is recorded.
 */
export function invoke(method, args, wanted = true) {
  let plain = true;
  for (let i = 0; i < args.length; i++) {
    const type = typeof args[i];
    if (type === 'object') {
      if (plain && args[i] !== null) plain = primitiveList(args[i]);
    } else if (type === 'function' || type === 'symbol' || type === 'bigint') {
      throw new TypeError(`api.${method}: a ${type} cannot be sent to the host (use JSON values)`);
    }
  }
  const json = argsJson(method, args, plain);
  let reply;
  try {
    if (!wanted) {
      host.perform(method, json);
      return undefined;
    }
    reply = host.call(method, json);
  } catch (err) {
    throw new Error(`api.${method}: ${payloadOf(err)}`);
  }
  return reply === 'null' ? null : JSON.parse(reply);
}

/**
 * The `api` of the execution running now. An instance runs one execution at a time, and
 * `makeApi` sets this as each one starts, so a group's methods, which every execution of the
 * instance shares, act for the execution that calls them.
 */
let current;

/** The event of one execution, on its `api` (for methods that also change the event). */
const EVENT = Symbol('cachet.event');

/**
 * The `api` and event of the execution running now: for the methods a trigger adds with
 * `groups`, which return the api and change the event (`api.transaction.setMetadata`).
 */
export function running() {
  return { api: current, event: current?.[EVENT] };
}

/**
 * Makes a trigger's `api` factory: `methods` are Auth0's dotted names
 * (`accessToken.addScope`); each becomes a function that calls the host and returns `api` (for
 * chaining), or the host's value for the names in `returning` (`rules.wasExecuted`). `groups`
 * adds or replaces methods of a group (plain functions that may use `running()`), and
 * `unsupported` names methods Cachet does not run yet, which throw saying so. Every `api` has
 * `api.cache`.
 *
 * Everything here runs once, at module load (so a component's snapshot holds it), and an
 * execution pays for one object, its `api`. The group objects (`api.idToken`, …) are made here
 * and shared by every execution of the instance: a method acts for the execution running now
 * (`current`), however it is reached (chained, detached, or through an `api` kept from an
 * earlier execution). They are not frozen, because Auth0's are ordinary objects that an action
 * may add to or wrap, and strict code (all bundled code is) would throw where Auth0 does not; in a
 * warm instance such a change stays for later executions, as module globals do. Assigning
 * `api.idToken = …` replaces the group on that execution's `api` only. Building every method's
 * closure per login cost a warm execution about 225 µs in the interpreter (BENCHMARKS.md); group
 * objects made per execution on first access, through a getter on the prototype, cost a warm
 * `claims.js` ~4 µs of its 55 (two getter calls, each a new interpreter activation).
 */
export function apiFactory(methods, { returning = [], groups = {}, unsupported: missing = [] } = {}) {
  const prototypes = {};
  const place = (name, fn) => {
    const [group, member] = name.split('.');
    prototypes[group] ??= {};
    prototypes[group][member] = fn;
  };
  for (const name of methods) {
    place(
      name,
      returning.includes(name)
        ? function (...args) {
            return invoke(name, args);
          }
        : function (...args) {
            invoke(name, args, false);
            return current;
          },
    );
  }
  for (const name of missing) {
    place(name, unsupported(`api.${name}`));
  }
  for (const [group, members] of Object.entries(groups)) {
    prototypes[group] = Object.assign(prototypes[group] ?? {}, members);
  }
  const apiPrototype = Object.assign({ cache }, prototypes);
  return function makeApi(event) {
    const api = Object.create(apiPrototype);
    api[EVENT] = event;
    current = api;
    return api;
  };
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
    return host.get(key);
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
      return { type: 'success', record: record(host.set(key, value, { ttl, expiresAt, ifAbsent: options?.if_absent === true })) };
    } catch (err) {
      return failure(CACHE_CODES[payloadOf(err)] ?? String(payloadOf(err)));
    }
  },
  /** Deletes a live entry; `CacheKeyDoesNotExist` when absent or expired. */
  delete(key) {
    requireString('api.cache.delete', 'the key', key);
    try {
      host.delete(key);
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
 *
 * The returned function is called by the glue's export (rewritten by `build.mjs`, "each export
 * as a function that hands the SDK its result writer") with the event's JSON and `settle`, which
 * writes the WIT result: `{ tag: 'ok' }` or `{ tag: 'err', val: message }`. It returns the
 * promise the engine runs its event loop for, which settles once `settle` has been called.
 */
export function entry(action, name, makeApi, { optional = false } = {}) {
  warmUp(makeApi);
  const handler =
    typeof action?.[name] === 'function'
      ? action[name]
      : typeof action?.default?.[name] === 'function'
        ? action.default[name]
        : undefined;
  if (handler === undefined && optional) {
    // A second entry point (`onContinuePostLogin`) the action does not use: an error only if
    // the host ever calls it.
    const why = `the action redirected, but exports no ${name}: write \`exports.${name} = async (event, api) => { … }\``;
    return function missing(_eventJson, settle) {
      settle({ tag: 'err', val: why });
      return SETTLED;
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
  return runner(handler, makeApi);
}

/** The WIT result of a handler that completed (what it resolved to does not matter: Auth0 ignores it). */
const OK = Object.freeze({ tag: 'ok', val: undefined });

/** What the export returns when the result is already written: the engine needs a promise. */
const SETTLED = Promise.resolve();

/** The glue's result writer of the execution running now (an instance runs one at a time). */
let settling;

/** Whether `warmUp` is running (at build time, with stand-in host functions). */
let warming = false;

/** Whether an execution has started: before, the module is loading at build time, where no host exists. */
let live = false;

/**
 * Whether host imports may be called: once an execution has started. At build time (the
 * module's top level and the warm-up) a call of an import the SDK has no stand-in for aborts
 * the build, so the Node layer computes there what it would otherwise ask the host for.
 */
export function hostLive() {
  return live;
}

function done() {
  settling(OK);
}

function fail(err) {
  settling({ tag: 'err', val: describe(err) });
}

/** The exported function: runs `handler` on the event the host passes (see `entry`). */
function runner(handler, makeApi) {
  // No `async function` and no `await`: each costs the interpreter a generator, a promise and a
  // job, and SpiderMonkey records a stack and reads the clock for every promise made and settled.
  return function run(eventJson, settle) {
    settling = settle;
    live = !warming;
    let result;
    try {
      const event = JSON.parse(eventJson);
      result = handler(event, makeApi(event));
    } catch (err) {
      fail(err);
      return SETTLED;
    }
    if (result instanceof Promise) return result.then(done, fail);
    if (typeof result?.then !== 'function') {
      done();
      return SETTLED;
    }
    // Another thenable: its `then` need not return a promise, and the engine needs one.
    return Promise.resolve(result).then(done, fail);
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

let warmed = false;

/** The trigger's example event as text, set by the build's entry before `entry` runs. */
let sampleText = '{"user":{"user_id":"warm-up"}}';

/**
 * Kept for the life of the instance: the example event the warm-up parsed, so that its property
 * names stay atoms and its objects' shapes stay in the snapshot. Without them, the first event
 * a fresh instance parsed added ~100 atoms and grew the engine's atom table, every time.
 */
let sample;

/** Tells the warm-up the trigger's example event (text in Auth0's shape). */
export function sampleEvent(text) {
  sampleText = text;
}

/**
 * Runs the SDK's part of a login once while the module loads, against stand-in host functions,
 * so that the component's snapshot holds these functions compiled. SpiderMonkey compiles a
 * function to bytecode on its first call, and a fresh instance starts from the snapshot, so
 * each fresh execution would otherwise compile them again (`claims.js` fresh: 299 → 286 µs,
 * BENCHMARKS.md). The module loads once, at build time (componentize-js's Wizer step, where no
 * host exists); nothing the warm-up makes outlives it but the parsed example event (`sample`),
 * and it never touches the action's code.
 */
function warmUp(makeApi) {
  if (warmed) return;
  warmed = true;
  warming = true;
  const real = { ...host };
  Object.assign(host, {
    call: () => 'null',
    perform: () => {},
    get: () => ({ value: '{}', expires_at: 0 }),
    set: (_key, _value, options) => ({ value: '', expiresAt: options.ttl ?? 0n }),
    delete: () => {},
  });
  // Each step on its own: one that throws (a method Cachet does not support) skips only itself.
  const attempt = (step) => {
    try {
      step();
    } catch {
      // Only the compilation it was to save is lost.
    }
  };
  try {
    attempt(() => {
      sample = JSON.parse(sampleText);
    });
    // The exported function itself, with a handler of the SDK's own: the promise machinery an
    // execution uses. Its continuation runs while the module loads, after the host functions
    // are restored; it calls none.
    attempt(() => runner(async () => {}, makeApi)(sampleText, () => {}).catch(() => {}));
    const api = makeApi(sample === undefined ? {} : JSON.parse(sampleText));
    for (const group of Object.keys(Object.getPrototypeOf(api))) {
      attempt(() => {
        const members = api[group];
        const first = Object.keys(members).find((m) => typeof members[m] === 'function');
        if (first !== undefined) members[first]('warm-up', { warm: ['up'] });
      });
    }
    attempt(() => JSON.parse(api.cache.get('warm-up').value));
    attempt(() => api.cache.set('warm-up', '{}', { ttl: 1 }));
    attempt(() => api.cache.delete('warm-up'));
    attempt(() => describe(new Error('warm-up')));
  } finally {
    Object.assign(host, real);
    warming = false;
  }
}
