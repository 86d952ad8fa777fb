//! The Cachet action SDK: write an identity-platform action as one typed Rust function.
//!
//! An action is a WebAssembly component built for `wasm32-wasip2`. This crate gives it typed
//! events ([`PostLoginEvent`], [`CredentialsExchangeEvent`]), the trigger's API
//! ([`PostLoginApi`], [`CredentialsExchangeApi`]) with the per-trigger [`Cache`], and a macro
//! that exports the function — action crates need no `wit-bindgen` of their own.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! cachet-guest = { version = "0.1", features = ["post-login"] }
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "post-login")] mod action {
//! use cachet_guest::{PostLoginApi, PostLoginEvent, SetOptions};
//!
//! fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
//!     let plan = event.user.app_metadata.get("plan").cloned().unwrap_or_default();
//!     api.id_token().set_custom_claim("https://example.com/plan", &plan)?;
//!     api.cache().set("last-login", &event.user.user_id, SetOptions::ttl(60_000))?;
//!     Ok(())
//! }
//!
//! cachet_guest::post_login!(on_execute);
//! # }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component to load. Enable exactly one trigger
//! feature per action crate, and build actions of different triggers in separate cargo
//! invocations (a component exports one trigger's entry point).
//!
//! Inside an action there is no filesystem, no environment and no network except what the host
//! allows; `std::time::SystemTime::now()` reads the host's clock (which tests can set), and
//! `println!`/`eprintln!` go to the action's log.

mod api;
mod cache;
mod error;
mod event;
pub mod http;
pub mod jwt;
mod token;

pub use api::{
    Authentication, CacheOnlyApi, ChallengeApi, CredentialsAccess, CredentialsAccessToken,
    CredentialsExchangeApi, CustomEmailProviderApi, CustomPhoneProviderApi, CustomTokenExchangeApi,
    DenyCode, EncodeToken, EventStreamApi, Factor, IdToken, Multifactor, MultifactorOptions,
    Notification, NotificationProviderApi, PasswordResetPostChallengeApi, PostChangePasswordApi,
    PostLoginAccess, PostLoginAccessToken, PostLoginApi, PostUserRegistrationApi,
    PreUserRegistrationApi, Prompt, RedirectApi, RefreshToken, RegistrationAccess, Rules,
    SamlResponse, SendPhoneMessageApi, Session, TokenExchangeAccess, TokenExchangeAuthentication,
    Transaction, UserApi, UserByConnectionOptions, Validation,
};
pub use cache::{Cache, CacheError, CacheRecord, SetOptions};
pub use error::{ApiError, Error};
pub use event::{
    Authorization, Client, CloudEvent, Connection, CredentialsExchangeEvent,
    CredentialsTransaction, CustomEmailProviderEvent, CustomPhoneProviderEvent,
    CustomTokenExchangeEvent, EmailNotification, EventStreamEvent, MessageOptions,
    PasswordResetPostChallengeEvent, PhoneNotification, PostChangePasswordEvent, PostLoginEvent,
    PostUserRegistrationEvent, PreUserRegistrationEvent, RawEvent, Request, ResourceServer,
    Secrets, SendPhoneMessageEvent, Stats, Tenant, TokenExchangeTransaction, User,
};
pub use token::{ManagementToken, NotCached, Token, TokenError, TokenSource, effective_leeway_ms};

/// Milliseconds since the Unix epoch by the host's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

// The imports of every trigger, from a world that exports nothing: linking it never obliges an
// action to export another trigger's entry point, and imports an action does not call are
// dropped from its component.
#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "sdk-imports",
    });
}

/// The raw WIT bindings, for tests that must call the host in ways the typed API never would
/// (e.g. with invalid JSON). Actions should use the typed API.
#[doc(hidden)]
pub use bindings::cachet::action as raw;

/// How many trigger features are on: a component exports one trigger's entry point.
#[cfg(target_arch = "wasm32")]
const TRIGGER_FEATURES: usize = cfg!(feature = "post-login") as usize
    + cfg!(feature = "credentials-exchange") as usize
    + cfg!(feature = "pre-user-registration") as usize
    + cfg!(feature = "post-user-registration") as usize
    + cfg!(feature = "post-change-password") as usize
    + cfg!(feature = "send-phone-message") as usize
    + cfg!(feature = "custom-email-provider") as usize
    + cfg!(feature = "custom-phone-provider") as usize
    + cfg!(feature = "custom-token-exchange") as usize
    + cfg!(feature = "event-stream") as usize
    + cfg!(feature = "password-reset-post-challenge") as usize;

#[cfg(target_arch = "wasm32")]
const _: () = assert!(
    TRIGGER_FEATURES <= 1,
    "cachet-guest: enable only one trigger feature per action; build actions of different \
     triggers in separate cargo invocations so features do not unify"
);

#[cfg(feature = "post-login")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod post_login_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "post-login",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_post_login",
        default_bindings_module: "cachet_guest::post_login_export",
    });
}

#[cfg(feature = "credentials-exchange")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod credentials_exchange_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "credentials-exchange",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_credentials_exchange",
        default_bindings_module: "cachet_guest::credentials_exchange_export",
    });
}

#[cfg(feature = "pre-user-registration")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod pre_user_registration_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "pre-user-registration",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_pre_user_registration",
        default_bindings_module: "cachet_guest::pre_user_registration_export",
    });
}

#[cfg(feature = "post-user-registration")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod post_user_registration_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "post-user-registration",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_post_user_registration",
        default_bindings_module: "cachet_guest::post_user_registration_export",
    });
}

#[cfg(feature = "post-change-password")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod post_change_password_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "post-change-password",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_post_change_password",
        default_bindings_module: "cachet_guest::post_change_password_export",
    });
}

#[cfg(feature = "send-phone-message")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod send_phone_message_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "send-phone-message",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_send_phone_message",
        default_bindings_module: "cachet_guest::send_phone_message_export",
    });
}

#[cfg(feature = "custom-email-provider")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod custom_email_provider_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "custom-email-provider",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_custom_email_provider",
        default_bindings_module: "cachet_guest::custom_email_provider_export",
    });
}

#[cfg(feature = "custom-phone-provider")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod custom_phone_provider_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "custom-phone-provider",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_custom_phone_provider",
        default_bindings_module: "cachet_guest::custom_phone_provider_export",
    });
}

#[cfg(feature = "custom-token-exchange")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod custom_token_exchange_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "custom-token-exchange",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_custom_token_exchange",
        default_bindings_module: "cachet_guest::custom_token_exchange_export",
    });
}

#[cfg(feature = "password-reset-post-challenge")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod password_reset_post_challenge_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "password-reset-post-challenge",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_password_reset_post_challenge",
        default_bindings_module: "cachet_guest::password_reset_post_challenge_export",
    });
}

#[cfg(feature = "event-stream")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod event_stream_export {
    wit_bindgen::generate!({
        path: "../wit",
        world: "event-stream",
        with: {
            "cachet:action/cache@0.1.0": crate::bindings::cachet::action::cache,
            "cachet:action/api@0.1.0": crate::bindings::cachet::action::api,
        },
        pub_export_macro: true,
        export_macro_name: "__export_event_stream",
        default_bindings_module: "cachet_guest::event_stream_export",
    });
}

/// Glue the export macros expand to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use crate::{
        CredentialsExchangeApi, CredentialsExchangeEvent, Error, PostLoginApi, PostLoginEvent,
    };

    /// Parses the event and runs a post-login handler; the error string fails the action.
    pub fn run_post_login(
        event_json: &str,
        handler: fn(&PostLoginEvent, &PostLoginApi) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event = PostLoginEvent::parse(event_json)
            .map_err(|e| format!("cachet-guest: the event is not a post-login event: {e}"))?;
        handler(&event, &PostLoginApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a credentials-exchange handler.
    pub fn run_credentials_exchange(
        event_json: &str,
        handler: fn(&CredentialsExchangeEvent, &CredentialsExchangeApi) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event = CredentialsExchangeEvent::parse(event_json).map_err(|e| {
            format!("cachet-guest: the event is not a credentials-exchange event: {e}")
        })?;
        handler(&event, &CredentialsExchangeApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a pre-user-registration handler.
    pub fn run_pre_user_registration(
        event_json: &str,
        handler: fn(
            &crate::PreUserRegistrationEvent,
            &crate::PreUserRegistrationApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::PreUserRegistrationEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a pre-user-registration event: {e}")
            })?;
        handler(&event, &crate::PreUserRegistrationApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a post-user-registration handler.
    pub fn run_post_user_registration(
        event_json: &str,
        handler: fn(
            &crate::PostUserRegistrationEvent,
            &crate::PostUserRegistrationApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::PostUserRegistrationEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a post-user-registration event: {e}")
            })?;
        handler(&event, &crate::PostUserRegistrationApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a post-change-password handler.
    pub fn run_post_change_password(
        event_json: &str,
        handler: fn(
            &crate::PostChangePasswordEvent,
            &crate::PostChangePasswordApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::PostChangePasswordEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a post-change-password event: {e}")
            })?;
        handler(&event, &crate::PostChangePasswordApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a send-phone-message handler.
    pub fn run_send_phone_message(
        event_json: &str,
        handler: fn(
            &crate::SendPhoneMessageEvent,
            &crate::SendPhoneMessageApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::SendPhoneMessageEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a send-phone-message event: {e}")
            })?;
        handler(&event, &crate::SendPhoneMessageApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a custom-email-provider handler.
    pub fn run_custom_email_provider(
        event_json: &str,
        handler: fn(
            &crate::CustomEmailProviderEvent,
            &crate::CustomEmailProviderApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::CustomEmailProviderEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a custom-email-provider event: {e}")
            })?;
        handler(&event, &crate::CustomEmailProviderApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a custom-phone-provider handler.
    pub fn run_custom_phone_provider(
        event_json: &str,
        handler: fn(
            &crate::CustomPhoneProviderEvent,
            &crate::CustomPhoneProviderApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::CustomPhoneProviderEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a custom-phone-provider event: {e}")
            })?;
        handler(&event, &crate::CustomPhoneProviderApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a custom-token-exchange handler.
    pub fn run_custom_token_exchange(
        event_json: &str,
        handler: fn(
            &crate::CustomTokenExchangeEvent,
            &crate::CustomTokenExchangeApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::CustomTokenExchangeEvent =
            serde_json::from_str(event_json).map_err(|e| {
                format!("cachet-guest: the event is not a custom-token-exchange event: {e}")
            })?;
        handler(&event, &crate::CustomTokenExchangeApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a password-reset-post-challenge handler.
    pub fn run_password_reset_post_challenge(
        event_json: &str,
        handler: fn(
            &crate::PasswordResetPostChallengeEvent,
            &crate::PasswordResetPostChallengeApi,
        ) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::PasswordResetPostChallengeEvent = serde_json::from_str(event_json)
            .map_err(|e| {
                format!("cachet-guest: the event is not a password-reset-post-challenge event: {e}")
            })?;
        handler(&event, &crate::PasswordResetPostChallengeApi::new()).map_err(|e| e.to_string())
    }

    /// Parses the event and runs a event-stream handler.
    pub fn run_event_stream(
        event_json: &str,
        handler: fn(&crate::EventStreamEvent, &crate::EventStreamApi) -> Result<(), Error>,
    ) -> Result<(), String> {
        let event: crate::EventStreamEvent = serde_json::from_str(event_json)
            .map_err(|e| format!("cachet-guest: the event is not a event-stream event: {e}"))?;
        handler(&event, &crate::EventStreamApi::new()).map_err(|e| e.to_string())
    }
}

/// Exports a post-login action: `fn(&PostLoginEvent, &PostLoginApi) -> Result<(), Error>`,
/// and optionally a second function of the same shape, Auth0's `onContinuePostLogin`: where
/// the action resumes when the user is back from a redirect (`api.redirect().send_user_to`).
///
/// ```text
/// cachet_guest::post_login!(on_execute);               // never redirects
/// cachet_guest::post_login!(on_execute, on_continue);  // redirects and continues
/// ```
///
/// Needs the `post-login` feature.
#[cfg(feature = "post-login")]
#[macro_export]
macro_rules! post_login {
    ($handler:path) => {
        $crate::post_login!(@export $handler, |_: &$crate::PostLoginEvent, _: &$crate::PostLoginApi| {
            ::std::result::Result::Err($crate::Error::msg(
                "this action redirected, but has no onContinuePostLogin: pass it to \
                 cachet_guest::post_login! as the second function",
            ))
        });
    };
    ($handler:path, $continue:path) => {
        $crate::post_login!(@export $handler, $continue);
    };
    (@export $handler:path, $continue:expr) => {
        struct __CachetPostLoginAction;

        impl $crate::post_login_export::Guest for __CachetPostLoginAction {
            fn on_execute_post_login(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_post_login(&event, $handler)
            }

            fn on_continue_post_login(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_post_login(&event, $continue)
            }
        }

        $crate::post_login_export::__export_post_login!(__CachetPostLoginAction with_types_in $crate::post_login_export);
    };
}

/// Exports a credentials-exchange action:
/// `fn(&CredentialsExchangeEvent, &CredentialsExchangeApi) -> Result<(), Error>`.
///
/// Needs the `credentials-exchange` feature.
#[cfg(feature = "credentials-exchange")]
#[macro_export]
macro_rules! credentials_exchange {
    ($handler:path) => {
        struct __CachetCredentialsExchangeAction;

        impl $crate::credentials_exchange_export::Guest for __CachetCredentialsExchangeAction {
            fn on_execute_credentials_exchange(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_credentials_exchange(&event, $handler)
            }
        }

        $crate::credentials_exchange_export::__export_credentials_exchange!(
            __CachetCredentialsExchangeAction with_types_in $crate::credentials_exchange_export
        );
    };
}

/// Exports a pre-user-registration action: `fn(&PreUserRegistrationEvent, &PreUserRegistrationApi) -> Result<(), Error>`.
///
/// Needs the `pre-user-registration` feature.
#[cfg(feature = "pre-user-registration")]
#[macro_export]
macro_rules! pre_user_registration {
    ($handler:path) => {
        struct __CachetPreUserRegistrationAction;

        impl $crate::pre_user_registration_export::Guest for __CachetPreUserRegistrationAction {
            fn on_execute_pre_user_registration(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_pre_user_registration(&event, $handler)
            }
        }

        $crate::pre_user_registration_export::__export_pre_user_registration!(
            __CachetPreUserRegistrationAction with_types_in $crate::pre_user_registration_export
        );
    };
}

/// Exports a post-user-registration action: `fn(&PostUserRegistrationEvent, &PostUserRegistrationApi) -> Result<(), Error>`.
///
/// Needs the `post-user-registration` feature.
#[cfg(feature = "post-user-registration")]
#[macro_export]
macro_rules! post_user_registration {
    ($handler:path) => {
        struct __CachetPostUserRegistrationAction;

        impl $crate::post_user_registration_export::Guest for __CachetPostUserRegistrationAction {
            fn on_execute_post_user_registration(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_post_user_registration(&event, $handler)
            }
        }

        $crate::post_user_registration_export::__export_post_user_registration!(
            __CachetPostUserRegistrationAction with_types_in $crate::post_user_registration_export
        );
    };
}

/// Exports a post-change-password action: `fn(&PostChangePasswordEvent, &PostChangePasswordApi) -> Result<(), Error>`.
///
/// Needs the `post-change-password` feature.
#[cfg(feature = "post-change-password")]
#[macro_export]
macro_rules! post_change_password {
    ($handler:path) => {
        struct __CachetPostChangePasswordAction;

        impl $crate::post_change_password_export::Guest for __CachetPostChangePasswordAction {
            fn on_execute_post_change_password(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_post_change_password(&event, $handler)
            }
        }

        $crate::post_change_password_export::__export_post_change_password!(
            __CachetPostChangePasswordAction with_types_in $crate::post_change_password_export
        );
    };
}

/// Exports a send-phone-message action: `fn(&SendPhoneMessageEvent, &SendPhoneMessageApi) -> Result<(), Error>`.
///
/// Needs the `send-phone-message` feature.
#[cfg(feature = "send-phone-message")]
#[macro_export]
macro_rules! send_phone_message {
    ($handler:path) => {
        struct __CachetSendPhoneMessageAction;

        impl $crate::send_phone_message_export::Guest for __CachetSendPhoneMessageAction {
            fn on_execute_send_phone_message(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_send_phone_message(&event, $handler)
            }
        }

        $crate::send_phone_message_export::__export_send_phone_message!(
            __CachetSendPhoneMessageAction with_types_in $crate::send_phone_message_export
        );
    };
}

/// Exports a custom-email-provider action: `fn(&CustomEmailProviderEvent, &CustomEmailProviderApi) -> Result<(), Error>`.
///
/// Needs the `custom-email-provider` feature.
#[cfg(feature = "custom-email-provider")]
#[macro_export]
macro_rules! custom_email_provider {
    ($handler:path) => {
        struct __CachetCustomEmailProviderAction;

        impl $crate::custom_email_provider_export::Guest for __CachetCustomEmailProviderAction {
            fn on_execute_custom_email_provider(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_custom_email_provider(&event, $handler)
            }
        }

        $crate::custom_email_provider_export::__export_custom_email_provider!(
            __CachetCustomEmailProviderAction with_types_in $crate::custom_email_provider_export
        );
    };
}

/// Exports a custom-phone-provider action: `fn(&CustomPhoneProviderEvent, &CustomPhoneProviderApi) -> Result<(), Error>`.
///
/// Needs the `custom-phone-provider` feature.
#[cfg(feature = "custom-phone-provider")]
#[macro_export]
macro_rules! custom_phone_provider {
    ($handler:path) => {
        struct __CachetCustomPhoneProviderAction;

        impl $crate::custom_phone_provider_export::Guest for __CachetCustomPhoneProviderAction {
            fn on_execute_custom_phone_provider(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_custom_phone_provider(&event, $handler)
            }
        }

        $crate::custom_phone_provider_export::__export_custom_phone_provider!(
            __CachetCustomPhoneProviderAction with_types_in $crate::custom_phone_provider_export
        );
    };
}

/// Exports a custom-token-exchange action: `fn(&CustomTokenExchangeEvent, &CustomTokenExchangeApi) -> Result<(), Error>`.
///
/// Needs the `custom-token-exchange` feature.
#[cfg(feature = "custom-token-exchange")]
#[macro_export]
macro_rules! custom_token_exchange {
    ($handler:path) => {
        struct __CachetCustomTokenExchangeAction;

        impl $crate::custom_token_exchange_export::Guest for __CachetCustomTokenExchangeAction {
            fn on_execute_custom_token_exchange(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_custom_token_exchange(&event, $handler)
            }
        }

        $crate::custom_token_exchange_export::__export_custom_token_exchange!(
            __CachetCustomTokenExchangeAction with_types_in $crate::custom_token_exchange_export
        );
    };
}

/// Exports a event-stream action: `fn(&EventStreamEvent, &EventStreamApi) -> Result<(), Error>`.
///
/// Needs the `event-stream` feature.
#[cfg(feature = "event-stream")]
#[macro_export]
macro_rules! event_stream {
    ($handler:path) => {
        struct __CachetEventStreamAction;

        impl $crate::event_stream_export::Guest for __CachetEventStreamAction {
            fn on_execute_event_stream(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_event_stream(&event, $handler)
            }
        }

        $crate::event_stream_export::__export_event_stream!(
            __CachetEventStreamAction with_types_in $crate::event_stream_export
        );
    };
}

/// Exports a password-reset-post-challenge action:
/// `fn(&PasswordResetPostChallengeEvent, &PasswordResetPostChallengeApi) -> Result<(), Error>`,
/// and optionally a second function of the same shape, Auth0's `onContinuePostChallenge`,
/// where the action resumes when the user is back from a redirect.
///
/// Needs the `password-reset-post-challenge` feature.
#[cfg(feature = "password-reset-post-challenge")]
#[macro_export]
macro_rules! password_reset_post_challenge {
    ($handler:path) => {
        $crate::password_reset_post_challenge!(
            @export $handler,
            |_: &$crate::PasswordResetPostChallengeEvent,
             _: &$crate::PasswordResetPostChallengeApi| {
                ::std::result::Result::Err($crate::Error::msg(
                    "this action redirected, but has no onContinuePostChallenge: pass it to \
                     cachet_guest::password_reset_post_challenge! as the second function",
                ))
            }
        );
    };
    ($handler:path, $continue:path) => {
        $crate::password_reset_post_challenge!(@export $handler, $continue);
    };
    (@export $handler:path, $continue:expr) => {
        struct __CachetPostChallengeAction;

        impl $crate::password_reset_post_challenge_export::Guest for __CachetPostChallengeAction {
            fn on_execute_post_challenge(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_password_reset_post_challenge(&event, $handler)
            }

            fn on_continue_post_challenge(
                event: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run_password_reset_post_challenge(&event, $continue)
            }
        }

        $crate::password_reset_post_challenge_export::__export_password_reset_post_challenge!(
            __CachetPostChallengeAction with_types_in $crate::password_reset_post_challenge_export
        );
    };
}
