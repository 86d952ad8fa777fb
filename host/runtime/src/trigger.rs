//! Triggers, and the one table that says what each trigger means to the runtime: the function
//! its actions export, the WIT world they are built against, how each SDK exports it, and (in
//! [`Trigger::add_api_to_linker`]) the trigger API linked in.
//! Everything trigger-specific in the runtime reads this table; adding a trigger is a new row
//! (and its API module in `interfaces/`), not a `match` in every file.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::interfaces::{credentials_exchange, post_login};
use wasmtime::component::Linker;

use crate::interfaces::commands::Commands;

/// A trigger: the event an action runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Every login.
    PostLogin,
    /// Every client-credentials (machine-to-machine) token exchange.
    CredentialsExchange,
}

/// Adds a trigger API to a linker for store data `T`, given where the execution's commands are.
pub(crate) type AddApi<T> = fn(&mut Linker<T>, fn(&mut T) -> &mut Commands) -> wasmtime::Result<()>;

/// What the runtime needs to know about one trigger.
pub(crate) struct TriggerSpec {
    /// The trigger this row describes.
    pub(crate) trigger: Trigger,
    /// Its name in configuration and on the command line.
    pub(crate) name: &'static str,
    /// The WIT world (in `wit/action.wit`) its actions target.
    pub(crate) world: &'static str,
    /// The function its actions export: `func(event: string) -> result<_, string>`.
    pub(crate) export: &'static str,
    /// How an action exports it in each SDK, for load errors.
    pub(crate) how_to_export: &'static str,
}

/// The table, in [`Trigger::ALL`] order.
static TRIGGERS: [TriggerSpec; 2] = [
    TriggerSpec {
        trigger: Trigger::PostLogin,
        name: "post-login",
        world: "post-login",
        export: "on-execute-post-login",
        how_to_export: "in Rust `cachet_guest::post_login!(your_fn)` (feature `post-login`); \
                        in JavaScript `exports.onExecutePostLogin`",
    },
    TriggerSpec {
        trigger: Trigger::CredentialsExchange,
        name: "credentials-exchange",
        world: "credentials-exchange",
        export: "on-execute-credentials-exchange",
        how_to_export: "in Rust `cachet_guest::credentials_exchange!(your_fn)` (feature \
                        `credentials-exchange`); in JavaScript `exports.onExecuteCredentialsExchange`",
    },
];

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 2] = [Trigger::PostLogin, Trigger::CredentialsExchange];

    /// This trigger's row of the table.
    pub(crate) fn spec(self) -> &'static TriggerSpec {
        let spec = &TRIGGERS[self.index()];
        debug_assert_eq!(spec.trigger, self);
        spec
    }

    /// The function that links this trigger's API interface into a linker for store data `T`,
    /// recording into the commands `get` finds. The table's last column: a function, generic
    /// over the store data so this module need not know the sandbox.
    pub(crate) fn add_api_to_linker<T: Send + 'static>(self) -> AddApi<T> {
        match self {
            Self::PostLogin => post_login::add_to_linker::<T>,
            Self::CredentialsExchange => credentials_exchange::add_to_linker::<T>,
        }
    }

    /// Position in [`Trigger::ALL`], for per-trigger arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::PostLogin => 0,
            Self::CredentialsExchange => 1,
        }
    }

    /// The trigger's name, e.g. `"post-login"`.
    pub fn as_str(&self) -> &'static str {
        self.spec().name
    }

    /// The name of the function an action of this trigger exports.
    pub fn export_name(&self) -> &'static str {
        self.spec().export
    }

    /// The WIT world (package `cachet:action`) an action of this trigger is built against.
    pub fn world(&self) -> &'static str {
        self.spec().world
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Trigger {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown trigger `{s}`; use `post-login` or `credentials-exchange`")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trigger_has_its_own_row_and_round_trips_through_its_name() {
        for (i, t) in Trigger::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(t.spec().trigger, t);
            assert_eq!(t.as_str().parse::<Trigger>(), Ok(t));
        }
        assert!("pre-login".parse::<Trigger>().is_err());
    }
}
