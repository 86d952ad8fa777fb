// Node's `process` for actions: the browser polyfill every bundler uses (`env` empty, `argv`
// empty, `nextTick`, `cwd()` '/', `version` '' so code that detects Node by it takes its
// browser path), with `nextTick` on the microtask queue as in Node rather than a timer, and
// `exit` refused: an action ends by returning or throwing.
// CommonJS, as the polyfill is: `require('process').nextTick` must work.
const process = require('process/browser.js');

process.nextTick = (callback, ...args) => {
  queueMicrotask(() => callback(...args));
};
process.exit = (code) => {
  throw new Error(`process.exit(${code ?? ''}): actions cannot exit the process; return from the handler, or call api.access.deny to refuse`);
};
// `performance.now()` is read only when called: the engine has no clock while the component
// is being initialised.
process.hrtime = (previous) => {
  const now = performance.now();
  let seconds = Math.floor(now / 1000);
  let nanos = Math.floor((now % 1000) * 1e6);
  if (previous) {
    seconds -= previous[0];
    nanos -= previous[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
  }
  return [seconds, nanos];
};
process.hrtime.bigint = () => BigInt(Math.floor(performance.now() * 1e6));
process.memoryUsage = () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 });
process.emitWarning = (warning) => console.warn(String(warning?.message ?? warning));

module.exports = process;
