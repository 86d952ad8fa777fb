// Injected when an action (or a package it bundles) uses the global `process`.
export { default as process } from 'process';
