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
import { builtinModules } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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

/** Node's built-in modules cannot be bundled: say so plainly instead of esbuild's hint. */
const nodeBuiltins = {
  name: 'cachet-node-builtins',
  setup(build) {
    const names = new Set(builtinModules);
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const bare = args.path.replace(/^node:/, '');
      if (args.path.startsWith('node:') || names.has(bare.split('/')[0])) {
        return {
          errors: [
            {
              text:
                `"${args.path}" is a Node.js built-in module, which actions cannot use: Cachet runs ` +
                `them in a WebAssembly sandbox with Web APIs (fetch, crypto.subtle, TextEncoder, URL) ` +
                `instead; use those, or a package that needs no Node built-ins`,
            },
          ],
        };
      }
      return undefined;
    });
  },
};

async function bundle(action, triggerName, out) {
  const t = trigger(triggerName);
  const esbuild = await import('esbuild');
  const sdk = path.join(here, 'src', t.module);
  const handlers = Object.fromEntries(Object.entries(worlds()).map(([name, w]) => [w.export, name]));
  const entry =
    `import * as action from ${JSON.stringify(path.resolve(action))};\n` +
    `import { knownHandlers } from ${JSON.stringify(path.join(here, 'src', 'common.js'))};\n` +
    `import { ${[t.fn, ...t.more.map((name) => `${name} as cachet_${name}`)].join(', ')} } from ${JSON.stringify(sdk)};\n` +
    `knownHandlers(${JSON.stringify(handlers)});\n` +
    `export const ${t.export} = ${t.fn}(action);\n` +
    t.more.map((name) => `export const ${name} = cachet_${name}(action);\n`).join('');
  try {
    await esbuild.build({
      stdin: { contents: entry, resolveDir: path.dirname(path.resolve(action)), sourcefile: 'cachet-entry.js' },
      // Paths in the bundle are relative to the action's directory, so the bundle (and the
      // cache key made from it) does not depend on where the build was started.
      absWorkingDir: path.dirname(path.resolve(action)),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      external: ['cachet:*'],
      plugins: [nodeBuiltins],
      outfile: out,
      logLevel: 'silent',
      legalComments: 'none',
      charset: 'utf8',
    });
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

async function componentize(bundlePath, triggerName, witDir, out) {
  trigger(triggerName);
  const { componentize } = await import('@bytecodealliance/componentize-js');
  let result;
  try {
    result = await componentize({
      sourcePath: bundlePath,
      witPath: witDir,
      worldName: triggerName,
      // Actions reach the network only through fetch (wasi:http, allow-listed by the host).
      disableFeatures: ['fetch-event'],
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
