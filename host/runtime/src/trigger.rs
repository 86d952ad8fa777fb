//! Triggers, and the one table that says what each trigger means: its name, the function its
//! actions export, the WIT world they are built against, and how each SDK exports it. Pure
//! data, so every layer (stores, the linker, the CLI, the server) can read it; the trigger's
//! API is a table of methods in `interfaces/api/`, chosen by the execution's trigger.
//!
//! Everything trigger-specific reads this table; adding a trigger is a new row (with its WIT
//! world, its method table in `interfaces/api/` and the SDKs' files), not a `match` in every
//! file.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A trigger: the event an action runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Every login.
    PostLogin,
    /// Every client-credentials (machine-to-machine) token exchange.
    CredentialsExchange,
    /// Every sign-up to a database or passwordless connection, before the user is created.
    PreUserRegistration,
    /// After a user is created (Auth0 runs it asynchronously).
    PostUserRegistration,
    /// After a database user's password changes (asynchronous).
    PostChangePassword,
    /// Each SMS or voice message of MFA enrollment and challenge.
    SendPhoneMessage,
    /// Each e-mail Auth0 sends, for delivery through a provider of your own.
    CustomEmailProvider,
    /// Each SMS or voice message Auth0 sends, for delivery through a provider of your own.
    CustomPhoneProvider,
    /// Each custom token exchange (Early Access at Auth0): which user an external token stands for.
    CustomTokenExchange,
    /// Each event of an event stream (a CloudEvent), delivered asynchronously.
    EventStream,
    /// A password reset, after its first challenge (the e-mail link) and before the password
    /// changes: a second factor, a redirect, or a denial.
    PasswordResetPostChallenge,
}

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
    /// The function that resumes the action after a redirect (`onContinuePostLogin`), for
    /// triggers whose actions can redirect; same shape as `export`. Optional in a component:
    /// an action that never redirects need not have it.
    pub(crate) continue_export: Option<&'static str>,
    /// How an action exports it in each SDK, for load errors.
    pub(crate) how_to_export: &'static str,
    /// A realistic Auth0-shaped event (JSON), from `examples/events/`: what `cachet test`
    /// scenarios and the console start from.
    pub(crate) default_event: &'static str,
}

/// The table, in [`Trigger::ALL`] order.
static TRIGGERS: [TriggerSpec; 11] = [
    TriggerSpec {
        trigger: Trigger::PostLogin,
        name: "post-login",
        world: "post-login",
        export: "on-execute-post-login",
        continue_export: Some("on-continue-post-login"),
        how_to_export: "in Rust `cachet_guest::post_login!(your_fn)` (feature `post-login`); \
                        in JavaScript `exports.onExecutePostLogin`",
        default_event: include_str!("../../../examples/events/post-login.json"),
    },
    TriggerSpec {
        trigger: Trigger::CredentialsExchange,
        name: "credentials-exchange",
        world: "credentials-exchange",
        export: "on-execute-credentials-exchange",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::credentials_exchange!(your_fn)` (feature \
                        `credentials-exchange`); in JavaScript `exports.onExecuteCredentialsExchange`",
        default_event: include_str!("../../../examples/events/credentials-exchange.json"),
    },
    TriggerSpec {
        trigger: Trigger::PreUserRegistration,
        name: "pre-user-registration",
        world: "pre-user-registration",
        export: "on-execute-pre-user-registration",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::pre_user_registration!(your_fn)` (feature `pre-user-registration`); in \
                        JavaScript `exports.onExecutePreUserRegistration`",
        default_event: include_str!("../../../examples/events/pre-user-registration.json"),
    },
    TriggerSpec {
        trigger: Trigger::PostUserRegistration,
        name: "post-user-registration",
        world: "post-user-registration",
        export: "on-execute-post-user-registration",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::post_user_registration!(your_fn)` (feature `post-user-registration`); in \
                        JavaScript `exports.onExecutePostUserRegistration`",
        default_event: include_str!("../../../examples/events/post-user-registration.json"),
    },
    TriggerSpec {
        trigger: Trigger::PostChangePassword,
        name: "post-change-password",
        world: "post-change-password",
        export: "on-execute-post-change-password",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::post_change_password!(your_fn)` (feature `post-change-password`); in \
                        JavaScript `exports.onExecutePostChangePassword`",
        default_event: include_str!("../../../examples/events/post-change-password.json"),
    },
    TriggerSpec {
        trigger: Trigger::SendPhoneMessage,
        name: "send-phone-message",
        world: "send-phone-message",
        export: "on-execute-send-phone-message",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::send_phone_message!(your_fn)` (feature `send-phone-message`); in \
                        JavaScript `exports.onExecuteSendPhoneMessage`",
        default_event: include_str!("../../../examples/events/send-phone-message.json"),
    },
    TriggerSpec {
        trigger: Trigger::CustomEmailProvider,
        name: "custom-email-provider",
        world: "custom-email-provider",
        export: "on-execute-custom-email-provider",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::custom_email_provider!(your_fn)` (feature `custom-email-provider`); in \
                        JavaScript `exports.onExecuteCustomEmailProvider`",
        default_event: include_str!("../../../examples/events/custom-email-provider.json"),
    },
    TriggerSpec {
        trigger: Trigger::CustomPhoneProvider,
        name: "custom-phone-provider",
        world: "custom-phone-provider",
        export: "on-execute-custom-phone-provider",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::custom_phone_provider!(your_fn)` (feature `custom-phone-provider`); in \
                        JavaScript `exports.onExecuteCustomPhoneProvider`",
        default_event: include_str!("../../../examples/events/custom-phone-provider.json"),
    },
    TriggerSpec {
        trigger: Trigger::CustomTokenExchange,
        name: "custom-token-exchange",
        world: "custom-token-exchange",
        export: "on-execute-custom-token-exchange",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::custom_token_exchange!(your_fn)` (feature `custom-token-exchange`); in \
                        JavaScript `exports.onExecuteCustomTokenExchange`",
        default_event: include_str!("../../../examples/events/custom-token-exchange.json"),
    },
    TriggerSpec {
        trigger: Trigger::EventStream,
        name: "event-stream",
        world: "event-stream",
        export: "on-execute-event-stream",
        continue_export: None,
        how_to_export: "in Rust `cachet_guest::event_stream!(your_fn)` (feature `event-stream`); in \
                        JavaScript `exports.onExecuteEventStream`",
        default_event: include_str!("../../../examples/events/event-stream.json"),
    },
    TriggerSpec {
        trigger: Trigger::PasswordResetPostChallenge,
        name: "password-reset-post-challenge",
        world: "password-reset-post-challenge",
        export: "on-execute-post-challenge",
        continue_export: Some("on-continue-post-challenge"),
        how_to_export: "in Rust `cachet_guest::password_reset_post_challenge!(your_fn)` (feature \
                        `password-reset-post-challenge`); in JavaScript \
                        `exports.onExecutePostChallenge`",
        default_event: include_str!("../../../examples/events/password-reset-post-challenge.json"),
    },
];

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 11] = [
        Trigger::PostLogin,
        Trigger::CredentialsExchange,
        Trigger::PreUserRegistration,
        Trigger::PostUserRegistration,
        Trigger::PostChangePassword,
        Trigger::SendPhoneMessage,
        Trigger::CustomEmailProvider,
        Trigger::CustomPhoneProvider,
        Trigger::CustomTokenExchange,
        Trigger::EventStream,
        Trigger::PasswordResetPostChallenge,
    ];

    /// This trigger's row of the table.
    pub(crate) fn spec(self) -> &'static TriggerSpec {
        let spec = &TRIGGERS[self.index()];
        debug_assert_eq!(spec.trigger, self);
        spec
    }

    /// Position in [`Trigger::ALL`], for per-trigger arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::PostLogin => 0,
            Self::CredentialsExchange => 1,
            Self::PreUserRegistration => 2,
            Self::PostUserRegistration => 3,
            Self::PostChangePassword => 4,
            Self::SendPhoneMessage => 5,
            Self::CustomEmailProvider => 6,
            Self::CustomPhoneProvider => 7,
            Self::CustomTokenExchange => 8,
            Self::EventStream => 9,
            Self::PasswordResetPostChallenge => 10,
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

    /// The function that resumes this trigger's actions after a redirect, if they can
    /// redirect: `on-continue-post-login` for post-login.
    pub fn continue_export_name(&self) -> Option<&'static str> {
        self.spec().continue_export
    }

    /// The WIT world (package `cachet:action`) an action of this trigger is built against.
    pub fn world(&self) -> &'static str {
        self.spec().world
    }

    /// A realistic Auth0-shaped event of this trigger, as JSON (`examples/events/NAME.json`):
    /// where scenarios and the console's test runner start.
    pub fn default_event(&self) -> &'static str {
        self.spec().default_event
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no trigger's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown trigger `{0}`; use one of: {names}", names = Trigger::names().join(", "))]
pub struct UnknownTrigger(pub String);

impl Trigger {
    /// Every trigger's name, in [`Trigger::ALL`] order.
    pub fn names() -> Vec<&'static str> {
        Trigger::ALL.iter().map(|t| t.as_str()).collect()
    }
}

impl std::str::FromStr for Trigger {
    type Err = UnknownTrigger;

    fn from_str(s: &str) -> Result<Self, UnknownTrigger> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTrigger(s.to_string()))
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
            let event: serde_json::Value = serde_json::from_str(t.default_event()).unwrap();
            assert!(event.is_object(), "{t}");
        }
        let unknown = "pre-login".parse::<Trigger>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            format!(
                "unknown trigger `pre-login`; use one of: {}",
                Trigger::names().join(", ")
            )
        );
        assert!(
            unknown.to_string().ends_with(
                "use one of: post-login, credentials-exchange, pre-user-registration, \
                            post-user-registration, post-change-password, send-phone-message, \
                            custom-email-provider, custom-phone-provider, \
                            custom-token-exchange, event-stream, password-reset-post-challenge"
            ),
            "{unknown}"
        );
    }
}
