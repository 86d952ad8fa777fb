// Injected when an action (or a package it bundles) mentions the global `Buffer`: bare uses
// bind to this export, and `globalThis.Buffer` (or `global.Buffer`) is set for the others.
import { Buffer } from 'buffer';

globalThis.Buffer ??= Buffer;
export { Buffer };
