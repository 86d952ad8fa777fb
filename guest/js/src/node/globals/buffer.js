// Injected when an action (or a package it bundles) uses the global `Buffer`.
export { Buffer } from 'buffer';
