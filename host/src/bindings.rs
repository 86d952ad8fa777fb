//! Host bindings generated from `wit/`, and the host side of each imported interface.
//!
//! Guest-controlled input enters the host here: every string an action passes (cache keys and
//! values, claim names, JSON) arrives through these functions and is checked before it is
//! stored or recorded. None of them can panic or trap on bad input; refusals are WIT results.

use cachet_limits::{CacheError as LimitsCacheError, SetOptions};
use serde_json::Value;

use crate::exec::ExecState;
use crate::result::Command;

/// The post-login world. The cache interface is generated here and shared with the
/// credentials-exchange world through `with`.
pub(crate) mod post_login {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "post-login",
        imports: {
            // The store may be remote (Redis), so cache calls are async on the host; to the
            // action they block like any call.
            "cachet:action/cache": async,
            // verify may fetch a JWKS.
            "cachet:action/jwt": async,
        },
        exports: { default: async },
    });
}

/// The credentials-exchange world.
pub(crate) mod credentials_exchange {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credentials-exchange",
        exports: { default: async },
        with: {
            "cachet:action/cache": super::post_login::cachet::action::cache,
            "cachet:action/jwt": super::post_login::cachet::action::jwt,
        },
    });
}

use credentials_exchange::cachet::action::credentials_exchange_api;
use post_login::cachet::action::cache as wit_cache;
use post_login::cachet::action::post_login_api;

/// Most commands one action execution may record: far above any real action, low enough that
/// a loop of API calls cannot make the host hold unbounded memory.
pub(crate) const MAX_COMMANDS: usize = 1_000;
/// Most bytes of command payload (names, reasons, JSON) one action execution may record.
pub(crate) const MAX_COMMAND_BYTES: usize = 1024 * 1024;
/// Longest claim name, metadata key or scope.
pub(crate) const MAX_NAME_BYTES: usize = 256;

fn wit_error(e: &LimitsCacheError) -> wit_cache::CacheError {
    use wit_cache::CacheError as W;
    match e {
        LimitsCacheError::CacheKeySizeExceeded { .. } => W::CacheKeySizeExceeded,
        LimitsCacheError::CacheValueSizeExceeded { .. } => W::CacheValueSizeExceeded,
        LimitsCacheError::CacheSizeExceeded { .. } => W::CacheSizeExceeded,
        LimitsCacheError::ItemAlreadyExpired => W::ItemAlreadyExpired,
        LimitsCacheError::InvalidExpiry => W::InvalidExpiry,
        LimitsCacheError::MaxSideEffectsExceeded { .. } => W::MaxSideEffectsExceeded,
        LimitsCacheError::FailedToSetCacheRecord { .. } => W::FailedToSetCacheRecord,
        LimitsCacheError::FailedToDeleteCacheRecord { .. } => W::FailedToDeleteCacheRecord,
        LimitsCacheError::CacheKeyDoesNotExist => W::CacheKeyDoesNotExist,
        LimitsCacheError::CacheKeyExists => W::CacheKeyExists,
    }
}

fn wit_record(r: cachet_limits::CacheRecord) -> wit_cache::CacheRecord {
    wit_cache::CacheRecord {
        value: r.value,
        expires_at: r.expires_at,
    }
}

impl wit_cache::Host for ExecState {
    async fn get(&mut self, key: String) -> Option<wit_cache::CacheRecord> {
        let now = self.clock.now_ms();
        match self.store.get(&self.partition, &key, now).await {
            Ok(hit) => hit.map(wit_record),
            Err(e) => {
                // A read that cannot reach the store behaves as a miss: the action falls back
                // to its slow path, which is always correct. Never log the key: it may embed
                // user data.
                tracing::warn!(partition = %self.partition, error = %e, "cache get failed; treated as a miss");
                None
            }
        }
    }

    async fn set(
        &mut self,
        key: String,
        value: String,
        options: wit_cache::SetOptions,
    ) -> Result<wit_cache::CacheRecord, wit_cache::CacheError> {
        self.budget.charge().map_err(|e| wit_error(&e))?;
        let options = SetOptions {
            ttl_ms: options.ttl,
            expires_at_ms: options.expires_at,
            if_absent: options.if_absent,
        };
        let now = self.clock.now_ms();
        self.store
            .set(&self.partition, &key, &value, options, now)
            .await
            .map(wit_record)
            .map_err(|e| wit_error(&e))
    }

    async fn delete(&mut self, key: String) -> Result<(), wit_cache::CacheError> {
        self.budget.charge().map_err(|e| wit_error(&e))?;
        let now = self.clock.now_ms();
        self.store
            .delete(&self.partition, &key, now)
            .await
            .map_err(|e| wit_error(&e))
    }
}

/// Parses guest-supplied JSON; the error says what is wrong without echoing the value.
fn parse_json(what: &str, json: &str) -> Result<Value, String> {
    serde_json::from_str(json).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} is {} bytes; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    Ok(())
}

impl ExecState {
    /// Records a command if the per-execution command budget allows it.
    fn record(&mut self, command: Command, payload_bytes: usize) -> Result<(), String> {
        if self.commands.len() >= MAX_COMMANDS {
            return Err(format!(
                "more than {MAX_COMMANDS} API calls in one execution; the call was refused"
            ));
        }
        if self.command_bytes + payload_bytes > MAX_COMMAND_BYTES {
            return Err(format!(
                "API call payloads exceed {MAX_COMMAND_BYTES} bytes in one execution; the call was refused"
            ));
        }
        self.command_bytes += payload_bytes;
        self.commands.push(command);
        Ok(())
    }

    fn claim(
        &mut self,
        name: String,
        json: &str,
        make: fn(String, Value) -> Command,
    ) -> Result<(), String> {
        check_name("claim name", &name)?;
        let value = parse_json("claim value", json)?;
        let bytes = name.len() + json.len();
        self.record(make(name, value), bytes)
    }
}

impl post_login_api::Host for ExecState {
    fn deny(&mut self, reason: String) -> Result<(), String> {
        let bytes = reason.len();
        self.record(Command::Deny { code: None, reason }, bytes)
    }

    fn set_id_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.claim(name, &value_json, |name, value| Command::SetIdTokenClaim {
            name,
            value,
        })
    }

    fn set_access_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.claim(name, &value_json, |name, value| {
            Command::SetAccessTokenClaim { name, value }
        })
    }

    fn add_access_token_scope(&mut self, scope: String) -> Result<(), String> {
        check_name("scope", &scope)?;
        let bytes = scope.len();
        self.record(Command::AddAccessTokenScope { scope }, bytes)
    }

    fn remove_access_token_scope(&mut self, scope: String) -> Result<(), String> {
        check_name("scope", &scope)?;
        let bytes = scope.len();
        self.record(Command::RemoveAccessTokenScope { scope }, bytes)
    }

    fn set_app_metadata(&mut self, key: String, value_json: String) -> Result<(), String> {
        check_name("metadata key", &key)?;
        let value = parse_json("metadata value", &value_json)?;
        let bytes = key.len() + value_json.len();
        self.record(Command::SetAppMetadata { key, value }, bytes)
    }

    fn set_user_metadata(&mut self, key: String, value_json: String) -> Result<(), String> {
        check_name("metadata key", &key)?;
        let value = parse_json("metadata value", &value_json)?;
        let bytes = key.len() + value_json.len();
        self.record(Command::SetUserMetadata { key, value }, bytes)
    }
}

impl credentials_exchange_api::Host for ExecState {
    fn deny(
        &mut self,
        code: credentials_exchange_api::DenyCode,
        reason: String,
    ) -> Result<(), String> {
        use credentials_exchange_api::DenyCode;
        let code = match code {
            DenyCode::InvalidScope => "invalid_scope",
            DenyCode::InvalidRequest => "invalid_request",
            DenyCode::ServerError => "server_error",
        };
        let bytes = reason.len();
        self.record(
            Command::Deny {
                code: Some(code.to_string()),
                reason,
            },
            bytes,
        )
    }

    fn set_access_token_claim(&mut self, name: String, value_json: String) -> Result<(), String> {
        self.claim(name, &value_json, |name, value| {
            Command::SetAccessTokenClaim { name, value }
        })
    }
}
