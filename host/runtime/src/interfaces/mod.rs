//! The host side of each interface an action imports, one file each. Every module owns the
//! per-execution state its interface needs and adds itself to a linker, so no interface reaches
//! into another or into the flow engine.
//!
//! - [`cache`]: the trigger's partition, with the per-execution write budget.
//! - [`jwt`]: native decode and verify, with a bounded cache of fetched key sets.
//! - [`http`]: `wasi:http` egress, limited to the action's allow-list and budgets.
//! - [`post_login`], [`credentials_exchange`]: the trigger APIs, recording [`commands`].

pub(crate) mod cache;
pub(crate) mod commands;
pub(crate) mod credentials_exchange;
pub(crate) mod http;
pub(crate) mod jwt;
pub(crate) mod post_login;

use wasmtime::component::Linker;

use crate::trigger::Trigger;
use commands::Commands;

/// Adds a trigger API to a linker for store data `T`, given where the execution's commands are.
pub(crate) type AddApi<T> = fn(&mut Linker<T>, fn(&mut T) -> &mut Commands) -> wasmtime::Result<()>;

/// The function that links `trigger`'s API interface into a linker for store data `T`,
/// recording into the commands `get` finds: the one place that pairs a trigger with its API
/// module. Generic over the store data so the interfaces need not know the sandbox.
pub(crate) fn add_trigger_api<T: Send + 'static>(trigger: Trigger) -> AddApi<T> {
    match trigger {
        Trigger::PostLogin => post_login::add_to_linker::<T>,
        Trigger::CredentialsExchange => credentials_exchange::add_to_linker::<T>,
    }
}
