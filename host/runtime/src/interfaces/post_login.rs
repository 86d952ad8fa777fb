//! The `post-login-api` interface: what a post-login action may do to the login, recorded as
//! commands for the caller to apply once the flow has run.

use wasmtime::component::Linker;

use crate::bindings::post_login_api as wit;
use crate::interfaces::commands::{Commands, HasCommands};
use crate::result::Command;

/// Adds `cachet:action/post-login-api` to `linker`, reaching the commands through `get`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Commands,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCommands>(linker, get)
}

impl wit::Host for Commands {
    fn deny(&mut self, reason: String) -> Result<(), String> {
        let bytes = reason.len();
        self.record(Command::Deny { code: None, reason }, bytes)
            .map_err(Into::into)
    }

    fn set_id_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.record_json("claim", name, &value_json, |name, value| {
            Command::SetIdTokenClaim { name, value }
        })
        .map_err(Into::into)
    }

    fn set_access_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.record_json("claim", name, &value_json, |name, value| {
            Command::SetAccessTokenClaim { name, value }
        })
        .map_err(Into::into)
    }

    fn add_access_token_scope(&mut self, scope: String) -> Result<(), String> {
        self.check_name("scope", &scope)?;
        let bytes = scope.len();
        self.record(Command::AddAccessTokenScope { scope }, bytes)
            .map_err(Into::into)
    }

    fn remove_access_token_scope(&mut self, scope: String) -> Result<(), String> {
        self.check_name("scope", &scope)?;
        let bytes = scope.len();
        self.record(Command::RemoveAccessTokenScope { scope }, bytes)
            .map_err(Into::into)
    }

    fn set_app_metadata(&mut self, key: String, value_json: String) -> Result<(), String> {
        self.record_json("metadata key", key, &value_json, |key, value| {
            Command::SetAppMetadata { key, value }
        })
        .map_err(Into::into)
    }

    fn set_user_metadata(&mut self, key: String, value_json: String) -> Result<(), String> {
        self.record_json("metadata key", key, &value_json, |key, value| {
            Command::SetUserMetadata { key, value }
        })
        .map_err(Into::into)
    }
}
