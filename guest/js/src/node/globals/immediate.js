// Injected when an action (or a package it bundles) mentions `setImmediate`/`clearImmediate`:
// a zero-delay timer, which runs after pending promise callbacks as Node's does.
export function setImmediate(callback, ...args) {
  return setTimeout(callback, 0, ...args);
}
export function clearImmediate(handle) {
  clearTimeout(handle);
}

globalThis.setImmediate ??= setImmediate;
globalThis.clearImmediate ??= clearImmediate;
