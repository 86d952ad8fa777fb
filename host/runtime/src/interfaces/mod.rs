//! The host side of each interface an action imports, one file each. Every module owns the
//! per-execution state its interface needs and adds itself to a linker, so no interface reaches
//! into another or into the flow engine.
//!
//! - [`cache`]: the trigger's partition, with the per-execution write budget.
//! - [`jwt`]: native decode and verify, with a bounded cache of fetched key sets.
//! - [`crypto`]: native hashes and HMACs for the JavaScript SDK's Node `crypto`.
//! - [`http`]: `wasi:http` egress, limited to the action's allow-list and budgets.
//! - [`api`]: every trigger's `api` object, one table of methods per trigger, recording
//!   [`commands`].

pub(crate) mod api;
pub(crate) mod cache;
pub(crate) mod commands;
pub(crate) mod crypto;
pub(crate) mod http;
pub(crate) mod jwt;
