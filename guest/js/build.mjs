// Builds a JavaScript action into a WebAssembly component for one trigger's world. Run by
// Cachet (`cachet build`, or a `.js` action given to `cachet run`/`cachet serve`/the library),
// which installs this directory's pinned tooling with `npm ci` first:
//
//   node build.mjs bundle ACTION.js TRIGGER OUT.js       esbuild: the action, its npm
//                                                         dependencies and the SDK, one file
//   node build.mjs componentize BUNDLE.js TRIGGER WIT_DIR OUT.wasm
//
// Errors go to stderr as one readable message and the exit code is 1.

import * as path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as acorn from 'acorn';

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * The trigger worlds, read from the WIT (the SDK directory's copy, or the repository's): a world
 * `name` exporting `on-execute-x` is built from `src/name.js`'s `handle` into the export
 * `onExecuteX`; a further export `on-continue-x` (post-login's, after a redirect) from the
 * function of that name in the same file (`onContinueX`). Nothing here lists triggers: a new
 * world and its SDK file are enough.
 */
function worlds() {
  const candidates = [path.join(here, 'wit', 'action.wit'), path.join(here, '..', '..', 'wit', 'action.wit')];
  const file = candidates.find((p) => existsSync(p));
  if (file === undefined) fail(`cannot find wit/action.wit beside ${here}`);
  const found = {};
  for (const [, name, body] of readFileSync(file, 'utf8').matchAll(/world ([a-z-]+) \{([^}]*)\}/g)) {
    const camel = (kebab) => kebab.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const exported = [...body.matchAll(/export ([a-z-]+):/g)].map((m) => camel(m[1]));
    if (exported.length === 0) continue;
    found[name] = { module: `${name}.js`, fn: 'handle', export: exported[0], more: exported.slice(1) };
  }
  return found;
}

function fail(message) {
  process.stderr.write(`${message.trimEnd()}\n`);
  process.exit(1);
}

function trigger(name) {
  const all = worlds();
  return all[name] ?? fail(`unknown trigger ${name}: expected one of ${Object.keys(all).join(', ')}`);
}

/**
 * Node's built-in modules, for npm packages written for Node (Auth0 runs actions on Node 22).
 * A built-in resolves, in order, to: what the importing package's `browser` field or an
 * installed npm package of that name gives (as every bundler does); else a polyfill from
 * `node-stdlib-browser` (maintained, pinned by the lock file) or Cachet's own shim over one
 * (`src/node/`); else, for what a sandbox cannot have (files, sockets, processes), a module
 * that imports and throws a clear error naming the call when used. Anything else is refused
 * here, naming the package that imported it.
 */
const nodeLayer = (() => {
  const stdlib = createRequire(import.meta.url)('node-stdlib-browser');
  const shim = (file) => path.join(here, 'src', 'node', file);
  /** Built-in name: the file that replaces it. */
  const polyfills = {
    buffer: shim('buffer.js'),
    crypto: shim('crypto.js'),
    process: shim('process.js'),
    stream: shim('stream.js'),
    util: shim('util.js'),
    sys: shim('util.js'),
  };
  for (const name of [
    'assert', 'constants', 'domain', 'events', 'os', 'path', 'punycode', 'querystring',
    '_stream_duplex', '_stream_passthrough', '_stream_readable', '_stream_transform',
    '_stream_writable', 'string_decoder', 'timers', 'timers/promises', 'tty', 'url',
    'zlib',
  ]) {
    polyfills[name] = stdlib[name];
  }
  /** Built-in name: a module written here (CommonJS), for names that are a part of another. */
  const virtual = {
    console: 'module.exports = globalThis.console;',
    'assert/strict': "module.exports = require('assert').strict;",
    'util/types': "module.exports = require('util').types;",
    'path/posix': "module.exports = require('path');",
    perf_hooks: 'module.exports = { performance: globalThis.performance };',
    'stream/web': 'module.exports = { ReadableStream, WritableStream, TransformStream, ' +
      'TextEncoderStream: globalThis.TextEncoderStream, TextDecoderStream: globalThis.TextDecoderStream };',
  };
  const why = {
    files: 'actions have no filesystem',
    sockets: "actions have no sockets: make HTTP requests with fetch (to the hosts on the action's allow-list)",
    processes: 'actions cannot start processes or threads',
    other: "it is not available in Cachet's sandbox",
  };
  /** Built-in name: why it cannot work in a sandbox. It imports; using it throws. */
  const sandboxed = {
    fs: why.files, 'fs/promises': why.files,
    net: why.sockets, tls: why.sockets, dgram: why.sockets, dns: why.sockets, 'dns/promises': why.sockets,
    http: why.sockets, https: why.sockets, http2: why.sockets, _http_agent: why.sockets,
    _http_client: why.sockets, _http_common: why.sockets, _http_incoming: why.sockets,
    _http_outgoing: why.sockets, _http_server: why.sockets, _tls_common: why.sockets, _tls_wrap: why.sockets,
    child_process: why.processes, cluster: why.processes, worker_threads: why.processes,
    readline: why.other, 'readline/promises': why.other, repl: why.other, inspector: why.other,
    'inspector/promises': why.other, v8: why.other, vm: why.other, module: why.other,
    async_hooks: why.other, diagnostics_channel: why.other, trace_events: why.other, wasi: why.other,
  };
  const builtins = new Set(builtinModules);
  return { polyfills, virtual, sandboxed, builtins };
})();

/** Node's globals, by the file of `src/node/globals/` that injects them where they are used. */
const nodeGlobals = {
  'buffer.js': ['Buffer'],
  'process.js': ['process'],
  'immediate.js': ['setImmediate', 'clearImmediate'],
};

/**
 * The source of a sandboxed built-in: every name Node's own module exports (read from it
 * here, so named imports bind) is a function that throws `<module>.<name>: <why>` when called
 * or constructed, with `(used by the npm package "<by>")` after the name when a package
 * imported it; property reads give more of the same, so `fs.promises.readFile` fails only
 * when called.
 */
async function sandboxedSource(name, reason, by) {
  let names = [];
  try {
    names = Object.keys(await import(`node:${name}`)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
  } catch {
    // A name this Node lacks: the default export still works.
  }
  const user = by === undefined ? '' : ` (used by the npm package "${by}")`;
  return (
    `const reason = ${JSON.stringify(`${user}: ${reason}`)};\n` +
    `function unavailable(path) {\n` +
    `  const fail = () => { const e = new Error(path + reason); e.code = 'ERR_CACHET_SANDBOX'; throw e; };\n` +
    `  return new Proxy(function () {}, {\n` +
    `    apply: fail, construct: fail,\n` +
    `    get: (target, key) => typeof key === 'symbol' || key === 'then' || key === 'prototype' ? target[key] : unavailable(path + '.' + key),\n` +
    `  });\n` +
    `}\n` +
    `const mod = unavailable(${JSON.stringify(name)});\n` +
    `export default mod;\n` +
    names.map((n) => `export const ${n} = mod.${n};\n`).join('')
  );
}

/** Package directories' `browser` maps, by directory (a build reads each once). */
const browserMaps = new Map();

/**
 * Whether the `package.json` nearest to `importer` maps `specifier` to `false` in its
 * `browser` field (the module is disabled in browsers, so in actions).
 */
function browserDisables(importer, specifier) {
  for (let dir = path.dirname(importer); ; dir = path.dirname(dir)) {
    if (!browserMaps.has(dir)) {
      let map = null;
      try {
        const browser = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).browser;
        map = typeof browser === 'object' && browser !== null ? browser : {};
      } catch {
        // No package.json here: look further up.
      }
      browserMaps.set(dir, map);
    }
    const map = browserMaps.get(dir);
    if (map !== null) return Object.hasOwn(map, specifier) && map[specifier] === false;
    if (path.dirname(dir) === dir) return false;
  }
}

/** Names of the npm package a path is in (`node_modules/<name>` or `<@scope/name>`), if any. */
function packageOf(file) {
  const match = file?.match(/.*node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/);
  return match ? match[1].replace(/\\/g, '/') : undefined;
}

/** Resolves Node's built-ins through the layer, recording what went in for the build report. */
function nodeCompat(report) {
  const tooling = path.resolve(here, '..') + path.sep;
  const globalsDir = path.join(here, 'src', 'node', 'globals') + path.sep;
  /** Which layer module `name` became (`key`: the file or virtual path), and who imported it. */
  const note = (kind, name, key, importer) => {
    const entry = (report[key] ??= { kind, module: name, by: new Set() });
    // Imports among the polyfills' own files, and the global injections, are the layer's
    // business: the report names the action and its packages.
    if (!importer?.startsWith(tooling) && !importer?.startsWith('cachet-node-') && !importer?.startsWith(here)) {
      entry.by.add(packageOf(importer) ?? 'the action');
    }
  };
  return {
    name: 'cachet-node-compat',
    setup(build) {
      const { polyfills, virtual, sandboxed, builtins } = nodeLayer;
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.cachetNative) return undefined;
        const prefixed = args.path.startsWith('node:');
        const name = args.path.replace(/^node:/, '');
        if (!prefixed && !builtins.has(name)) return undefined;
        if (!prefixed && !args.importer.startsWith(here + path.sep)) {
          // A package's `browser` field, or an installed npm package of that name, wins (the
          // layer's own shims, beside this script, always use the layer).
          const native = await build.resolve(args.path, {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: { cachetNative: true },
          });
          if (native.errors.length === 0) {
            // `"browser": { "fs": false }` gives esbuild's disabled module, which has no path;
            // when a package of that name is installed, esbuild returns it instead, so the
            // importing package's own map is read here too.
            if (native.namespace === '' || browserDisables(args.importer, args.path)) {
              return { path: name, namespace: 'cachet-node-disabled' };
            }
            return native;
          }
        }
        if (Object.hasOwn(polyfills, name)) {
          // A polyfill package (a directory) resolves by its own package.json, browser field
          // included.
          const resolved = await build.resolve(polyfills[name], {
            kind: args.kind,
            resolveDir: here,
            pluginData: { cachetNative: true },
          });
          if (resolved.errors.length > 0) return { errors: resolved.errors };
          note('polyfill', name, resolved.path, args.importer);
          // Imported by a global's injection: free of side effects, so it is left out unless
          // the global is used (an action that uses no Node API pays nothing).
          return { path: resolved.path, sideEffects: !args.importer.startsWith(globalsDir) };
        }
        if (Object.hasOwn(virtual, name)) {
          note('polyfill', name, `cachet-node-virtual:${name}`, args.importer);
          return { path: name, namespace: 'cachet-node-virtual' };
        }
        if (Object.hasOwn(sandboxed, name)) {
          // One stub per importing package, so the error a call throws names the package.
          const by = args.importer.startsWith(tooling) ? undefined : packageOf(args.importer);
          const stub = by === undefined ? name : `${name}|${by}`;
          note('sandboxed', name, `cachet-node-sandboxed:${stub}`, args.importer);
          return { path: stub, namespace: 'cachet-node-sandboxed' };
        }
        const by = packageOf(args.importer);
        return {
          errors: [
            {
              text:
                `"${args.path}" is a Node.js built-in module Cachet has no replacement for` +
                (by ? `, imported by the npm package "${by}"` : '') +
                `: actions run in a WebAssembly sandbox with Web APIs (fetch, crypto.subtle, ` +
                `TextEncoder, URL) and polyfills of Node's portable modules; use those, or a ` +
                `package that does not need "${name}"`,
            },
          ],
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'cachet-node-virtual' }, (args) => ({
        contents: virtual[args.path],
        loader: 'js',
        resolveDir: here,
      }));
      build.onLoad({ filter: /.*/, namespace: 'cachet-node-disabled' }, () => ({
        contents: 'module.exports = {};',
        loader: 'js',
      }));
      build.onLoad({ filter: /.*/, namespace: 'cachet-node-sandboxed' }, async (args) => {
        const [name, by] = args.path.split('|');
        return { contents: await sandboxedSource(name, sandboxed[name], by), loader: 'js' };
      });
    },
  };
}

/**
 * The trigger's example event (Auth0's shape) as text: `events/TRIGGER.json` beside this script
 * (the SDK directory Cachet installs) or the repository's `examples/events/`. The SDK parses it
 * while the component is built, so that the snapshot already holds its property names and
 * object shapes, which a fresh instance would otherwise make for every event it parses. `{}`
 * when there is none: only that saving is lost.
 */
function sampleEventText(triggerName) {
  const candidates = [path.join(here, 'events', `${triggerName}.json`), path.join(here, '..', '..', 'examples', 'events', `${triggerName}.json`)];
  const file = candidates.find((p) => existsSync(p));
  return file === undefined ? '{}' : readFileSync(file, 'utf8');
}

async function bundle(action, triggerName, out) {
  const t = trigger(triggerName);
  const esbuild = await import('esbuild');
  const sdk = path.join(here, 'src', t.module);
  const handlers = Object.fromEntries(Object.entries(worlds()).map(([name, w]) => [w.export, name]));
  const entry =
    `import * as action from ${JSON.stringify(path.resolve(action))};\n` +
    `import { knownHandlers, sampleEvent } from ${JSON.stringify(path.join(here, 'src', 'common.js'))};\n` +
    `import { ${[t.fn, ...t.more.map((name) => `${name} as cachet_${name}`)].join(', ')} } from ${JSON.stringify(sdk)};\n` +
    `knownHandlers(${JSON.stringify(handlers)});\n` +
    `sampleEvent(${JSON.stringify(sampleEventText(triggerName))});\n` +
    `export const ${t.export} = ${t.fn}(action);\n` +
    t.more.map((name) => `export const ${name} = cachet_${name}(action);\n`).join('');
  const options = {
    stdin: { contents: entry, resolveDir: path.dirname(path.resolve(action)), sourcefile: 'cachet-entry.js' },
    // Paths in the bundle are relative to the action's directory, so the bundle (and the
    // cache key made from it) does not depend on where the build was started.
    absWorkingDir: path.dirname(path.resolve(action)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['cachet:*'],
    logLevel: 'silent',
    legalComments: 'none',
    charset: 'utf8',
    // `global` is `globalThis`, as in Node.
    define: { global: 'globalThis' },
  };
  const report = {};
  try {
    // First pass: which of Node's globals the bundle mentions. esbuild's `inject` would add
    // every global to every CommonJS module it wraps, used or not, so only those mentioned
    // (bare, or as `global.X`/`globalThis.X`) are injected; a mention in a string costs only
    // bytes.
    const probe = await esbuild.build({
      ...options,
      plugins: [nodeCompat({})],
      write: false,
      minifyWhitespace: true,
    });
    const code = probe.outputFiles[0].text;
    const inject = Object.entries(nodeGlobals)
      .filter(([, names]) =>
        names.some((name) =>
          new RegExp(`(?<![.\\w$])(?:(?:globalThis|global|window|self)\\.)?${name}(?![\\w$])`).test(code),
        ),
      )
      .map(([file]) => path.join(here, 'src', 'node', 'globals', file));
    const result = await esbuild.build({
      ...options,
      plugins: [nodeCompat(report)],
      inject,
      metafile: true,
      outfile: out,
    });
    await writeFile(`${out}.report.json`, JSON.stringify(buildReport(result.metafile, report, path.dirname(path.resolve(action))), null, 2));
  } catch (err) {
    const messages = (err.errors ?? []).map((e) => {
      const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : '';
      // An npm package that is not installed: say where to install it.
      const hint = /^Could not resolve "[^.\/]/.test(e.text)
        ? ` (install it with \`npm install\` in ${path.dirname(path.resolve(action))} or an ancestor)`
        : '';
      return `${at}${e.text}${hint}`;
    });
    fail(messages.length ? messages.join('\n') : String(err));
  }
}

/**
 * What went into a bundle, for `cachet build` to print: the Node polyfills and sandboxed
 * modules in it and who imported them (none: a global such as `Buffer` did), the npm packages
 * with their versions and bytes, and the bytes of the action, its packages, the SDK and the
 * Node layer.
 */
function buildReport(metafile, report, workingDir) {
  const output = Object.values(metafile.outputs)[0];
  const tooling = path.resolve(here, '..') + path.sep;
  const bytes = { action: 0, packages: 0, sdk: 0, node: 0 };
  const packages = {};
  const modules = {};
  for (const [file, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    // esbuild writes a module a `browser` field maps to false as `(disabled):PATH`.
    const bare = file.replace(/^\(disabled\):/, '');
    const absolute = bare.startsWith('cachet-node-') ? bare : path.resolve(workingDir, bare);
    const layer = report[absolute];
    if (layer !== undefined && bytesInOutput > 0) {
      const entry = (modules[layer.module] ??= { module: layer.module, kind: layer.kind, by: new Set() });
      layer.by.forEach((by) => entry.by.add(by));
    }
    const name = packageOf(absolute);
    if (absolute.startsWith('cachet-node-') || absolute.startsWith(path.join(here, 'src', 'node') + path.sep)) {
      bytes.node += bytesInOutput;
    } else if (absolute.startsWith(tooling)) {
      bytes[name === undefined ? 'sdk' : 'node'] += bytesInOutput;
    } else if (name !== undefined) {
      bytes.packages += bytesInOutput;
      const dir = absolute.match(/.*node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+/)[0];
      const entry = (packages[dir] ??= { name, version: undefined, bytes: 0 });
      entry.bytes += bytesInOutput;
      if (entry.version === undefined) {
        try {
          const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
          if (typeof version === 'string') entry.version = version;
        } catch {
          // No readable package.json: shown without a version.
        }
      }
    } else {
      bytes.action += bytesInOutput;
    }
  }
  const list = (kind) =>
    Object.values(modules)
      .filter((m) => m.kind === kind)
      .map((m) => ({ module: m.module, by: [...m.by].sort() }))
      .sort((a, b) => a.module.localeCompare(b.module));
  return {
    bundleBytes: output?.bytes ?? 0,
    bytes,
    polyfills: list('polyfill'),
    sandboxed: list('sandboxed'),
    packages: Object.values(packages).sort((a, b) => a.name.localeCompare(b.name) || a.bytes - b.bytes),
  };
}

/**
 * Run once where the glue is evaluated, so the component's snapshot holds what every call of it
 * would otherwise make in each fresh instance. The glue has a realm of its own (it reads
 * `TextEncoder` from `contentGlobal`, the action's), whose standard classes SpiderMonkey makes on
 * first use: `Uint8Array` (every string the host sends) and the promise and async-function
 * machinery (every export was an `async function`; the engine still adds its reactions to the
 * promise an export returns) were made anew by every fresh execution,
 * about 45 µs of an empty action's 160 (BENCHMARKS.md, "The glue's realm"). Nothing here calls
 * the host, and nothing it makes is kept.
 */
const GLUE_WARM_UP =
  '(() => {\n' +
  '  const bytes = new Uint8Array(new ArrayBuffer(8), 0, 8);\n' +
  '  TEXT_DECODER_UTF8.decode(bytes);\n' +
  "  TEXT_ENCODER_UTF8.encodeInto('warm-up', bytes);\n" +
  '  BigInt.asUintN(64, BigInt(new DataView(bytes.buffer).getBigInt64(0, true)));\n' +
  '  (async () => { await null; })();\n' +
  '})();\n';

/**
 * A pattern that matches `code` token for token, whatever whitespace separates the tokens: the
 * text of a generated function a rewrite replaces whole, so that the build stops if the glue it
 * was written against changes in anything but layout.
 */
function exactly(code) {
  const words = code.trim().split(/\s+/).map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(words.join('\\s*'));
}

/**
 * How both `api` functions' rewritten glue (below) lowers its two strings, a method's name and
 * its arguments' JSON: together in one allocation with one `encodeInto` when together they are
 * ASCII, otherwise each on its own as the glue does.
 */
const API_ARGUMENTS = String.raw`
  var ptr0, len0, ptr1, len1;
  const units = typeof arg0 === 'string' && typeof arg1 === 'string' ? arg0.length + arg1.length : 0;
  const both = units > 0 && units <= 0x100000 ? $realloc(0, 0, 1, units) : 0;
  if (both !== 0 && TEXT_ENCODER_UTF8.encodeInto(arg0 + arg1, new Uint8Array($memory.buffer, both, units)).read === units) {
    ptr0 = both;
    len0 = arg0.length;
    ptr1 = both + len0;
    len1 = arg1.length;
  } else {
    if (both !== 0) $dealloc(both, units, 1);
    ptr0 = _utf8AllocateAndEncode(arg0, $realloc, $memory);
    len0 = CACHET_ENCODED_LEN;
    ptr1 = _utf8AllocateAndEncode(arg1, $realloc, $memory);
    len1 = CACHET_ENCODED_LEN;
  }`.slice(1);

/**
 * Rewrites of the JavaScript glue componentize-js generates for a world's imports and exports
 * (its `jsBindings`, evaluated into the component's snapshot). The glue runs in SpiderMonkey's
 * interpreter on every host call, so what it does per character or per call is paid on every
 * login. Each rewrite does exactly what the text it replaces does, faster (BENCHMARKS.md,
 * "JavaScript: the bindings' glue"):
 *
 * - `_utf8AllocateAndEncode` counts a string's UTF-8 bytes with a JavaScript loop, one
 *   `charCodeAt` per character, for every string sent to the host (a method name, its
 *   arguments' JSON, a cache key and value): about 12 µs per host call of a typical login, and
 *   ~0.2 µs per character in the interpreter. It now allocates three bytes per UTF-16 unit, the
 *   most UTF-8 any string needs (a unit alone takes 1-3 bytes, a surrogate pair's two units
 *   take 4), encodes into that once (native code) and passes the host the length written; the
 *   allocation, unused end included, is freed as the glue's others are (a test runs a warm
 *   instance that sends long strings on every execution). ASCII or not, no string is walked in
 *   JavaScript. Past 1 Mi units (a whole execution's default command budget is 1 MiB), the
 *   room is one byte per unit, which holds exactly an ASCII string, so that an oversized
 *   argument still reaches the host's refusal instead of exhausting the instance's memory; a
 *   string that does not fit is freed and counted by the loop as before. (Earlier rewrites allocated one byte per unit
 *   for every string, so only ASCII skipped the loop: a login setting two claims with a name
 *   such as `José Müller` took 54 µs warm instead of 33. Before that, a regular expression asked
 *   whether a string was ASCII, which SpiderMonkey runs in its regular-expression interpreter
 *   here, ~8 ns per character.)
 * - `_debugLog` looks up `globalThis.process.env.JCO_DEBUG` on each of its two calls per host
 *   call. An action has no environment, so it never logs: the function does nothing, and its
 *   calls, whose arguments were two objects made per host call, are removed.
 * - `dataView($memory)` (three or four uses per host call) is a call of a function that compares
 *   the buffers of its cached `DataView` and of the memory; each use is now that comparison
 *   itself (every interpreted call pushes a frame and unwinds its environments on return).
 *   An earlier rewrite compared one getter instead (the old buffer's length, taking 0 for "the
 *   memory grew"). Together with the rewrites below, warm instances of the Node-layer `claims`
 *   benchmark action failed after some thousands of executions with "offset is outside the
 *   bounds of the DataView": the cached view was used after the memory's buffer had changed
 *   without the old one reading as length 0. (componentize-js's embedding, in the source of
 *   0.21, answers `$memory.buffer` with a new `ArrayBuffer` over the memory whenever the heap's
 *   end has moved, and leaves the old one attached at its old length.) The comparison of both
 *   buffers is the glue's own, and holds whatever the engine does with an old buffer.
 * - `_utf8AllocateAndEncode` returned `{ ptr, len, codepoints }`, an object per string sent, of
 *   which its callers read `ptr` and `len` at once: it returns the pointer and leaves the length
 *   in `CACHET_ENCODED_LEN`.
 * - Each export was an `async function` that awaited the SDK's entry, which returned its own
 *   `then` of the handler's promise: three promises per execution (the handler's, the entry's,
 *   the export's), and SpiderMonkey records a stack and reads the clock (a host call) when each
 *   is made and when it settles. The export now passes the entry a function that writes the
 *   WIT result exactly as the glue's own code after its `await` did (the same statements), and
 *   returns the entry's promise, which the engine drives to completion as it did the export's:
 *   two promises. The entry (`runner` in src/common.js) calls that function with
 *   `{ tag: 'ok' }` or `{ tag: 'err', val: message }`, what the glue made of the values the
 *   entry used to resolve or throw.
 * - `api.call`, the one host call behind every trigger-API method (`api.idToken.setCustomClaim`
 *   …), is replaced whole by the same steps written for its one signature (two strings in, a
 *   `result<string, string>` out): a method's name and its arguments' JSON are encoded together,
 *   into one allocation, with one `encodeInto`, when they are ASCII together, as the SDK's names
 *   and JSON nearly always are (any other pair is encoded as before, each string on its own); the
 *   result is read through one view of the memory, checked once after the call (nothing in
 *   between allocates), and returned or thrown without the `{ tag, val }` object the glue made
 *   for it. The glue's per-string encoding (a call, an allocation, an `encodeInto` whose result
 *   object is made with two property definitions by name, a view) and its five memory checks
 *   were ~2.4 µs of a method call's ~7 µs. Most methods answer JSON's `null`, which is
 *   recognised from one 32-bit read of its four bytes instead of being decoded into a string
 *   (a view and a string less: ~0.45 µs of a method call's ~5 µs).
 * - `api.perform` (the same two strings in, `result<_, string>` out), which the SDK calls for
 *   the methods whose value it does not use, is replaced the same way: on success it reads one
 *   byte and frees the return area.
 * - `cache.get` (`option<record { value: string, expires-at: u64 }>` out) is replaced whole: it
 *   returns Auth0's record, `{ value, expires_at }` with the expiry a Number (the two halves of
 *   the u64 added: exact below 2^53 ms, and rounded above it as `Number(bigint)` rounds),
 *   instead of a record whose `BigInt` expiry the SDK then converted into a second object; and
 *   reads the result, every field before the string is made, through one view (~1 µs of a
 *   hit).
 * - `GLUE_WARM_UP` is added where the glue is evaluated (it only adds).
 *
 * Then the whole glue is put in a function's scope (`inFunctionScope`).
 *
 * Each entry names `what` it rewrites, the text or pattern it must `find`, its `replace`ment
 * (none: the text is only required to be there) and, where a pattern could miss a variant,
 * what must be `absent` afterwards.
 *
 * componentize-js is pinned by the lock file; if an upgrade changes the glue so that a rewrite
 * no longer matches, the build stops here rather than quietly losing the speed.
 */
const BINDINGS_REWRITES = [
  {
    what: 'the one native encoding of _utf8AllocateAndEncode',
    find: '  let len = 0;\n  let codepoints = 0;\n  for (let i = 0; i < s.length; i++) {',
    replace:
      '  {\n' +
      '    const room = s.length <= 0x100000 ? s.length * 3 : s.length;\n' +
      '    const ptr = realloc(0, 0, 1, room);\n' +
      '    const { read, written } = TEXT_ENCODER_UTF8.encodeInto(s, new Uint8Array(memory.buffer, ptr, room));\n' +
      '    if (read === s.length) { CACHET_ENCODED_LEN = written; return ptr; }\n' +
      '    $dealloc(ptr, room, 1);\n' +
      '  }\n' +
      '  let len = 0;\n  let codepoints = 0;\n  for (let i = 0; i < s.length; i++) {',
  },
  {
    what: "the warm-up of the glue's realm",
    find: 'const TEXT_ENCODER_UTF8 = new TextEncoder();\n',
    replace: 'const TEXT_ENCODER_UTF8 = new TextEncoder();\n' + GLUE_WARM_UP,
  },
  {
    what: 'the silent _debugLog',
    find: /^const _debugLog = \(\.\.\.args\) => \{\n  if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\n  console\.debug\(\.\.\.args\);\n\};\n/m,
    replace: 'const _debugLog = () => {};\n',
  },
  {
    what: 'the DataView function the inlined check copies',
    // Only found (no `replace`: kept as it is, for any other use), so that the copy below is
    // of this check.
    find: 'const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);\n',
  },
  {
    what: 'the inlined DataView check',
    // The function's own check, written out at each use of the glue's memory: one interpreted
    // call (a frame pushed and unwound) fewer per use, three or four per host call.
    find: /\bdataView\(\$memory\)/g,
    replace: '(dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer)))',
  },
  {
    what: "the length of _utf8AllocateAndEncode's result",
    find: 'const TEXT_ENCODER_UTF8 = new TextEncoder();\n',
    replace: 'const TEXT_ENCODER_UTF8 = new TextEncoder();\nlet CACHET_ENCODED_LEN = 0;\n',
  },
  {
    what: '_utf8AllocateAndEncode returning the pointer (empty string)',
    find: '  if (s.length === 0) { return { ptr: 1, len: 0 }; }\n',
    replace: '  if (s.length === 0) { CACHET_ENCODED_LEN = 0; return 1; }\n',
  },
  {
    what: '_utf8AllocateAndEncode returning the pointer',
    find: '  const res = { ptr, len, codepoints };\n  return res;\n',
    replace: '  CACHET_ENCODED_LEN = len;\n  return ptr;\n',
  },
  {
    what: "the uses of _utf8AllocateAndEncode's result",
    // `{ ptr, len, codepoints }` was made for each string sent to the host, and only `ptr` and
    // `len` were read, at once: the pointer is returned, the length left in a variable.
    find: /var encodeRes = (_utf8AllocateAndEncode\([^;\n]*\));\n([ \t]*)var (ptr\d+) ?= encodeRes\.ptr;\n[ \t]*var (len\d+) = encodeRes\.len;\n/g,
    replace: 'var $3 = $1;\n$2var $4 = CACHET_ENCODED_LEN;\n',
    // Any other use would read a field the function no longer returns.
    absent: /encodeRes|(?<!var ptr\d+ = |function )_utf8AllocateAndEncode\(/,
  },
  {
    what: 'the calls of _debugLog',
    // Each call statement: its arguments (a string and an object literal, with no `;` outside
    // strings) were built on every host call only to be ignored.
    find: /\n[ \t]*_debugLog\((?:'[^'\n]*'|"[^"\n]*"|`[^`]*`|[^;'"`])*\);(?=\n)/g,
    replace: '\n',
    // A call this pattern did not match would still work (the function does nothing); one
    // left means the glue changed shape, and the build says so.
    absent: /\b_debugLog\(/,
  },
  {
    what: 'each export as a function that hands the SDK its result writer',
    // After the `_debugLog` calls are gone. The glue's part (decoding the event, writing the
    // WIT result) is kept as it is; the SDK's entry (`runner` in src/common.js) settles it.
    find: new RegExp(
      String.raw`async function (export_\w+)\(arg0, arg1, arg2\) \{\n([\s\S]*?)\n  let ret;\n[ \t]*\n` +
        String.raw`  try \{\n    const hostRet1 = await (\w+)\(result0\);\n` +
        String.raw`    ret = hostRet1 !== null && typeof hostRet1 === 'object' && \(hostRet1\.tag === 'ok' \|\| hostRet1\.tag === 'err'\)\n` +
        String.raw`    \? hostRet1\n    : \{ tag: 'ok', val: hostRet1\};\n` +
        String.raw`  \} catch \(e\) \{\n[ \t]*\n    ret = \{ tag: 'err', val: getErrorPayload\(e\) \};\n  \}\n[ \t]*\n` +
        String.raw`(  var variant\d+ = ret;\n[\s\S]*?)\n[ \t]*\n  return;\n\}\n`,
      'g',
    ),
    replace: 'function $1(arg0, arg1, arg2) {\n$2\n  return $3(result0, (ret) => {\n$4\n  });\n}\n',
    // An export left `async`, or awaiting its handler, would hand the SDK no writer.
    absent: /async function export_|await \w+\(result0\)/,
  },
  {
    what: "cache.get's glue, returning Auth0's record",
    find: exactly(String.raw`
function import_cachet_action_cache_0_1_0$get(arg0) {
  var ptr0 = _utf8AllocateAndEncode(arg0, $realloc, $memory);
  var len0 = CACHET_ENCODED_LEN;
  let ret;
  ret = $import_cachet_action_cache_0_1_0$get(ptr0, len0);
  let variant2;
  if ((dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint8(ret + 0, true)) {
    var ptr1 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 8, true);
    var len1 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 12, true);
    var result1 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr1, len1));
    if (len1 !== 0) $dealloc(ptr1, len1, 1);
    variant2 = {
      value: result1,
      expiresAt: BigInt.asUintN(64, BigInt((dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getBigInt64(ret + 16, true))),
    };
  } else {
    variant2 = undefined;
  }
  const retCopy = variant2;
  $dealloc(ret);
  return retCopy;
}
`),
    replace: () => String.raw`
function import_cachet_action_cache_0_1_0$get(arg0) {
  var ptr0 = _utf8AllocateAndEncode(arg0, $realloc, $memory);
  var len0 = CACHET_ENCODED_LEN;
  const ret = $import_cachet_action_cache_0_1_0$get(ptr0, len0);
  const view = dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer));
  let record;
  if (view.getUint8(ret + 0, true)) {
    const ptr = view.getUint32(ret + 8, true);
    const len = view.getUint32(ret + 12, true);
    // Every field is read before the string is made: making it may move the heap's end, after
    // which the view is of an old buffer.
    const expires = view.getUint32(ret + 16, true) + view.getUint32(ret + 20, true) * 4294967296;
    const value = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr, len));
    if (len !== 0) $dealloc(ptr, len, 1);
    record = { value, expires_at: expires };
  }
  $dealloc(ret);
  return record;
}
`.trim(),
  },
  {
    what: "api.call's glue, written for its one signature",
    find: exactly(String.raw`
function import_cachet_action_api_0_1_0$call(arg0, arg1) {
  var ptr0 = _utf8AllocateAndEncode(arg0, $realloc, $memory);
  var len0 = CACHET_ENCODED_LEN;
  var ptr1 = _utf8AllocateAndEncode(arg1, $realloc, $memory);
  var len1 = CACHET_ENCODED_LEN;
  let ret;
  ret = $import_cachet_action_api_0_1_0$call(ptr0, len0, ptr1, len1);
  let variant4;
  if ((dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint8(ret + 0, true)) {
    var ptr3 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 4, true);
    var len3 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 8, true);
    var result3 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr3, len3));
    if (len3 !== 0) $dealloc(ptr3, len3, 1);
    variant4= {
      tag: 'err',
      val: result3
    };
  } else {
    var ptr2 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 4, true);
    var len2 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 8, true);
    var result2 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr2, len2));
    if (len2 !== 0) $dealloc(ptr2, len2, 1);
    variant4= {
      tag: 'ok',
      val: result2
    };
  }
  const retCopy = variant4;
  $dealloc(ret);
  if (typeof retCopy === 'object' && retCopy.tag === 'err') {
    throw new ComponentError(retCopy.val);
  }
  return retCopy.val;
}
`),
    // A function, so that no `$` in the text is read as a replacement pattern.
    replace: () => String.raw`
function import_cachet_action_api_0_1_0$call(arg0, arg1) {
${API_ARGUMENTS}
  const ret = $import_cachet_action_api_0_1_0$call(ptr0, len0, ptr1, len1);
  const view = dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer));
  const failed = view.getUint8(ret + 0, true);
  const ptr = view.getUint32(ret + 4, true);
  const len = view.getUint32(ret + 8, true);
  // Most methods answer JSON's null (the bytes 6e 75 6c 6c): known from one read, where
  // decoding it made a view and a string (~0.45 µs of a ~5 µs call, BENCHMARKS.md).
  const text =
    len === 4 && view.getUint32(ptr, true) === 0x6c6c756e
      ? 'null'
      : TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr, len));
  if (len !== 0) $dealloc(ptr, len, 1);
  $dealloc(ret);
  if (failed) throw new ComponentError(text);
  return text;
}
`.trim(),
  },
  {
    what: "api.perform's glue, written for its one signature",
    find: exactly(String.raw`
function import_cachet_action_api_0_1_0$perform(arg0, arg1) {
  var ptr0 = _utf8AllocateAndEncode(arg0, $realloc, $memory);
  var len0 = CACHET_ENCODED_LEN;
  var ptr1 = _utf8AllocateAndEncode(arg1, $realloc, $memory);
  var len1 = CACHET_ENCODED_LEN;
  let ret;
  ret = $import_cachet_action_api_0_1_0$perform(ptr0, len0, ptr1, len1);
  let variant3;
  if ((dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint8(ret + 0, true)) {
    var ptr2 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 4, true);
    var len2 = (dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer))).getUint32(ret + 8, true);
    var result2 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr2, len2));
    if (len2 !== 0) $dealloc(ptr2, len2, 1);
    variant3= {
      tag: 'err',
      val: result2
    };
  } else {
    variant3= {
      tag: 'ok',
      val: undefined
    };
  }
  const retCopy = variant3;
  $dealloc(ret);
  if (typeof retCopy === 'object' && retCopy.tag === 'err') {
    throw new ComponentError(retCopy.val);
  }
  return retCopy.val;
}
`),
    replace: () => String.raw`
function import_cachet_action_api_0_1_0$perform(arg0, arg1) {
${API_ARGUMENTS}
  const ret = $import_cachet_action_api_0_1_0$perform(ptr0, len0, ptr1, len1);
  const view = dv.buffer === $memory.buffer ? dv : (dv = new DataView($memory.buffer));
  if (view.getUint8(ret + 0, true)) {
    const ptr = view.getUint32(ret + 4, true);
    const len = view.getUint32(ret + 8, true);
    const text = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr, len));
    if (len !== 0) $dealloc(ptr, len, 1);
    $dealloc(ret);
    throw new ComponentError(text);
  }
  $dealloc(ret);
}
`.trim(),
  },
];

/**
 * The glue evaluated in one function's scope instead of at the top level of a script.
 * componentize-js evaluates its glue as a script in a scope the compiler cannot see through, so
 * SpiderMonkey resolves every name the glue's functions use at run time, by searching the
 * environment chain (`JSOp::GetName`; the interpreter caches none of it): each use of `$memory`,
 * `dataView`, `$realloc`, `TEXT_DECODER_UTF8`, `Uint8Array` … in each host call, about
 * thirty per call, was a lookup by name (5-6 % of a warm execution's samples). Declared in a
 * function's scope, the same names are slots the bytecode addresses directly; the standard
 * classes the glue uses per call are bound there too (the same objects, from the glue's own
 * global).
 *
 * Exact because the engine reaches the glue only through its global object: it calls the
 * top-level functions (`bindExports`, each `export_…`) by name, and a script's top-level
 * function declarations are properties of that object, so each is put there explicitly. A
 * top-level `var` (also a property of the global) would not be, so the build refuses a glue with
 * one; the glue's `let`, `const` and `class` declarations were visible to nothing else.
 */
function inFunctionScope(jsBindings) {
  const fail = (why) => {
    throw new Error(
      `componentize-js's generated bindings ${why}, which Cachet's rewrite into a function scope ` +
        'does not expect: update inFunctionScope in build.mjs for this componentize-js version',
    );
  };
  let program;
  try {
    program = acorn.parse(jsBindings, { ecmaVersion: 'latest', sourceType: 'script' });
  } catch (err) {
    fail(`do not parse as a script (${err.message})`);
  }
  const functions = [];
  for (const node of program.body) {
    if (node.type === 'FunctionDeclaration') functions.push(node.id.name);
    if (node.type === 'VariableDeclaration' && node.kind === 'var') fail('declare a top-level `var`');
  }
  if (!functions.includes('bindExports') || !functions.some((name) => name.startsWith('export_'))) {
    fail('have no top-level bindExports or export_ function');
  }
  return (
    '(() => {\n' +
    'const { Uint8Array, DataView, BigInt } = globalThis;\n' +
    jsBindings +
    '\n' +
    functions.map((name) => `globalThis.${name} = ${name};\n`).join('') +
    '})();\n'
  );
}

/**
 * `jsBindings` with every rewrite applied and evaluated in a function's scope, or the build fails
 * naming the rewrite that did not match.
 */
function rewriteBindings(jsBindings) {
  let text = jsBindings;
  for (const { what, find, replace, absent } of BINDINGS_REWRITES) {
    if (typeof find !== 'string') find.lastIndex = 0;
    const found = typeof find === 'string' ? text.includes(find) : find.test(text);
    if (!found) {
      throw new Error(
        `componentize-js's generated bindings no longer contain what Cachet rewrites (${what}): ` +
          'update BINDINGS_REWRITES in build.mjs for this componentize-js version',
      );
    }
    if (replace !== undefined) text = text.replace(find, replace);
    if (absent !== undefined && absent.test(text)) {
      throw new Error(
        `componentize-js's generated bindings have a form Cachet's rewrite (${what}) does not ` +
          'match: update BINDINGS_REWRITES in build.mjs for this componentize-js version',
      );
    }
  }
  return inFunctionScope(text);
}

/**
 * Makes componentize-js pass its generated bindings through `rewriteBindings`. componentize-js
 * takes them from its splicer module's exported `splicer` object; the package exports only its
 * entry point, so the module is imported by its file, which is the same module instance
 * componentize-js imports. Returns a check that the rewrite ran.
 */
async function rewriteSplicedBindings() {
  const require = createRequire(import.meta.url);
  const dir = require.resolve
    .paths('@bytecodealliance/componentize-js')
    .map((modules) => path.join(modules, '@bytecodealliance', 'componentize-js'))
    .find((candidate) => existsSync(path.join(candidate, 'package.json')));
  if (dir === undefined) fail('cannot find @bytecodealliance/componentize-js in the tooling directory');
  const file = realpathSync(path.join(dir, 'lib', 'spidermonkey-embedding-splicer.js'));
  const { splicer } = await import(pathToFileURL(file).href);
  let rewritten = 0;
  const splice = splicer.spliceBindings;
  splicer.spliceBindings = (...args) => {
    const spliced = splice(...args);
    spliced.jsBindings = rewriteBindings(spliced.jsBindings);
    rewritten += 1;
    return spliced;
  };
  return () => {
    if (rewritten === 0) fail(`componentize-js did not use the splicer at ${file}: the bindings were not rewritten`);
  };
}

async function componentize(bundlePath, triggerName, witDir, out) {
  trigger(triggerName);
  const { componentize } = await import('@bytecodealliance/componentize-js');
  const rewrote = await rewriteSplicedBindings();
  let result;
  try {
    result = await componentize({
      sourcePath: bundlePath,
      witPath: witDir,
      worldName: triggerName,
      // Actions reach the network only through fetch (wasi:http, allow-listed by the host).
      disableFeatures: ['fetch-event'],
      // StarlingMonkey's portable baseline interpreter (`env: { ENABLE_PBL: '1' }`) and weval
      // ahead-of-time compilation (`enableAot`, weval 0.5.1 built from crates.io) were
      // measured twice and left off (BENCHMARKS.md). With today's glue and SDK, warm / fresh
      // p50 of claims.js: 43 / 136 us as built here, 67 / 268 us with PBL, 45 / 145 us with
      // weval (for a 30 % larger component, three times the build time and an eight-minute
      // tool build).
    });
  } catch (err) {
    const text = String(err?.message ?? err);
    // The action's module is evaluated while the component is built (Wizer): what it threw
    // is the message that matters, not componentize-js's account of it.
    const thrown = text.match(/Exception while evaluating top-level script\n(?:\S+:\d+:\d+ )?(.*)/);
    fail(
      thrown
        ? `the action threw while its module was loaded: ${thrown[1]}`
        : `componentize-js could not build the component: ${text}`,
    );
  }
  rewrote();
  await writeFile(out, result.component);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'bundle' && args.length === 3) {
  await bundle(...args);
} else if (command === 'componentize' && args.length === 4) {
  await componentize(...args);
} else {
  fail('usage: node build.mjs bundle ACTION.js TRIGGER OUT.js | componentize BUNDLE.js TRIGGER WIT_DIR OUT.wasm');
}
