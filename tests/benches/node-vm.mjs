// The Node.js baseline for the JavaScript benchmarks: the same action source, run in `node:vm`
// with a fresh context per execution and with one reused context, against an in-memory stand-in
// for `api` with Auth0's shapes. Prints one JSON line of p50/p99 in microseconds. SECRETS.json,
// when given, is the event's `secrets`; `require` is Node's own (its `crypto` is OpenSSL), finding
// packages from the action's directory.
//
//   node tests/benches/node-vm.mjs ACTION.js EVENT.json ITERATIONS [SECRETS.json]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import vm from 'node:vm';

const [actionPath, eventPath, iterations = '2000', secretsPath] = process.argv.slice(2);
const source = readFileSync(actionPath, 'utf8');
const event = JSON.parse(readFileSync(eventPath, 'utf8'));
if (secretsPath) event.secrets = JSON.parse(readFileSync(secretsPath, 'utf8'));
const eventJson = JSON.stringify(event);
// Packages resolve from the action's directory, as they would beside the action in Node.
const require = createRequire(resolve(actionPath));
const n = Number(iterations);
// CommonJS, as Auth0 loads actions.
const script = new vm.Script(`(function (exports, module, require) {\n${source}\n})`, { filename: actionPath });

const store = new Map();
function makeApi(commands) {
  return {
    cache: {
      get(key) {
        const e = store.get(key);
        return e && e.expires_at > Date.now() ? { value: e.value, expires_at: e.expires_at } : undefined;
      },
      set(key, value, options = {}) {
        const record = { value, expires_at: Date.now() + (options.ttl ?? 86400000) };
        store.set(key, record);
        return { type: 'success', record };
      },
      delete(key) {
        return store.delete(key) ? { type: 'success' } : { type: 'error', code: 'CacheKeyDoesNotExist' };
      },
    },
    idToken: { setCustomClaim: (name, value) => commands.push({ name, value: JSON.stringify(value) }) },
    accessToken: { setCustomClaim: (name, value) => commands.push({ name, value: JSON.stringify(value) }) },
  };
}

function load(context) {
  const module = { exports: {} };
  script.runInContext(context)(module.exports, module, require);
  return module.exports.onExecutePostLogin;
}

async function once(handler) {
  const commands = [];
  await handler(JSON.parse(eventJson), makeApi(commands));
  // What the host receives: the commands as JSON.
  return JSON.stringify(commands);
}

async function measure(next) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once(next());
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round((samples.length - 1) * p)];
  return { p50_us: at(0.5), p99_us: at(0.99) };
}

const reusedHandler = load(vm.createContext({ console, Buffer }));
await once(reusedHandler); // the first login caches; every later one is a hit
for (let i = 0; i < 200; i++) await once(reusedHandler); // JIT warm-up, as a warm runtime has had
const reused = await measure(() => reusedHandler);
const fresh = await measure(() => load(vm.createContext({ console, Buffer })));
console.log(JSON.stringify({ node: process.version, fresh, reused }));
