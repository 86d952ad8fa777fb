// Injected when an action (or a package it bundles) mentions the global `process`: bare uses
// bind to this export, and `globalThis.process` is set for the others.
import process from 'process';

globalThis.process ??= process;
export { process };
