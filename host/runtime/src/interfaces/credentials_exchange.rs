//! The `credentials-exchange-api` interface: what a machine-to-machine action may do to the
//! token request, recorded as commands.

use wasmtime::component::Linker;

use crate::bindings::credentials_exchange_api as wit;
use crate::interfaces::commands::{Commands, HasCommands};
use crate::result::Command;

/// Adds `cachet:action/credentials-exchange-api` to `linker`, reaching the commands through `get`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Commands,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCommands>(linker, get)
}

impl wit::Host for Commands {
    fn deny(&mut self, code: wit::DenyCode, reason: String) -> Result<(), String> {
        let code = match code {
            wit::DenyCode::InvalidScope => "invalid_scope",
            wit::DenyCode::InvalidRequest => "invalid_request",
            wit::DenyCode::ServerError => "server_error",
        };
        let bytes = reason.len();
        Ok(self.record(
            Command::Deny {
                code: Some(code.to_string()),
                reason,
            },
            bytes,
        )?)
    }

    fn set_access_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.record_json("claim", name, &value_json, |name, value| {
            Command::SetAccessTokenClaim { name, value }
        })
        .map_err(Into::into)
    }
}
