//! The one place that turns a path or a URL into something the runtime can run, shared by
//! `cachet run|test|serve`, the service's reloads and the console:
//!
//! - [`open_store`]: a [`cachet_runtime::StoreUrl`] into an open [`cachet_runtime::CacheStore`]
//!   (memory, snapshot file, Redis), so the runtime library needs no store backend;
//! - [`ActionLoader`]: an action file into a loaded [`cachet_runtime::Action`]: a component
//!   (`.wasm`) as it is, a JavaScript or TypeScript action (`.js`, `.mjs`, `.cjs`, `.ts`)
//!   built into one first with [`cachet_js`] (esbuild and componentize-js, cached by content
//!   hash), so the runtime library needs neither Node.js nor npm.

mod action;
mod store;

pub use action::{ActionLoader, LoadFileError};
pub use cachet_js as js;
pub use store::{OpenStoreError, OpenedStore, open_deploy_store, open_store};
