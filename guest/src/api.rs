//! The trigger APIs: what an action may do to the login or token request.
//!
//! Every call is recorded by the host as a command and applied after the whole flow has run.
//! Values are any `Serialize` type; the host validates the JSON and refuses what is invalid.

use serde::Serialize;

use crate::bindings::cachet::action::{credentials_exchange_api as cx, post_login_api as pl};
use crate::{ApiError, Cache};

fn json(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|e| ApiError(format!("value is not serializable as JSON: {e}")))
}

/// The post-login API, handed to a post-login action.
#[derive(Debug)]
pub struct PostLoginApi {
    _private: (),
}

impl PostLoginApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the login.
    pub fn access(&self) -> PostLoginAccess {
        PostLoginAccess { _private: () }
    }

    /// Claims of the ID token.
    pub fn id_token(&self) -> IdToken {
        IdToken { _private: () }
    }

    /// Claims and scopes of the access token.
    pub fn access_token(&self) -> PostLoginAccessToken {
        PostLoginAccessToken { _private: () }
    }

    /// The user's metadata.
    pub fn user(&self) -> UserApi {
        UserApi { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

/// `api.access()` of post-login.
#[derive(Debug)]
pub struct PostLoginAccess {
    _private: (),
}

impl PostLoginAccess {
    /// Refuses the login with a reason shown to the user; the flow stops after this action.
    pub fn deny(&self, reason: &str) -> Result<(), ApiError> {
        pl::deny(reason).map_err(ApiError)
    }
}

/// `api.id_token()` of post-login.
#[derive(Debug)]
pub struct IdToken {
    _private: (),
}

impl IdToken {
    /// Adds a custom claim to the ID token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        pl::set_id_token_claim(name, &json(value)?).map_err(ApiError)
    }
}

/// `api.access_token()` of post-login.
#[derive(Debug)]
pub struct PostLoginAccessToken {
    _private: (),
}

impl PostLoginAccessToken {
    /// Adds a custom claim to the access token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        pl::set_access_token_claim(name, &json(value)?).map_err(ApiError)
    }

    /// Adds a scope to the access token.
    pub fn add_scope(&self, scope: &str) -> Result<(), ApiError> {
        pl::add_access_token_scope(scope).map_err(ApiError)
    }

    /// Removes a scope from the access token.
    pub fn remove_scope(&self, scope: &str) -> Result<(), ApiError> {
        pl::remove_access_token_scope(scope).map_err(ApiError)
    }
}

/// `api.user()` of post-login.
#[derive(Debug)]
pub struct UserApi {
    _private: (),
}

impl UserApi {
    /// Sets one key of the user's app_metadata.
    pub fn set_app_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), ApiError> {
        pl::set_app_metadata(key, &json(value)?).map_err(ApiError)
    }

    /// Sets one key of the user's user_metadata.
    pub fn set_user_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), ApiError> {
        pl::set_user_metadata(key, &json(value)?).map_err(ApiError)
    }
}

/// The OAuth 2 error a credentials-exchange denial answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyCode {
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_request`
    InvalidRequest,
    /// `server_error`
    ServerError,
}

/// The credentials-exchange API, handed to a credentials-exchange action.
#[derive(Debug)]
pub struct CredentialsExchangeApi {
    _private: (),
}

impl CredentialsExchangeApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the token request.
    pub fn access(&self) -> CredentialsAccess {
        CredentialsAccess { _private: () }
    }

    /// Claims of the access token being issued.
    pub fn access_token(&self) -> CredentialsAccessToken {
        CredentialsAccessToken { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

/// `api.access()` of credentials-exchange.
#[derive(Debug)]
pub struct CredentialsAccess {
    _private: (),
}

impl CredentialsAccess {
    /// Refuses the token request with an OAuth 2 error code; the flow stops after this action.
    pub fn deny(&self, code: DenyCode, reason: &str) -> Result<(), ApiError> {
        let code = match code {
            DenyCode::InvalidScope => cx::DenyCode::InvalidScope,
            DenyCode::InvalidRequest => cx::DenyCode::InvalidRequest,
            DenyCode::ServerError => cx::DenyCode::ServerError,
        };
        cx::deny(code, reason).map_err(ApiError)
    }
}

/// `api.access_token()` of credentials-exchange.
#[derive(Debug)]
pub struct CredentialsAccessToken {
    _private: (),
}

impl CredentialsAccessToken {
    /// Adds a custom claim to the access token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        cx::set_access_token_claim(name, &json(value)?).map_err(ApiError)
    }
}
