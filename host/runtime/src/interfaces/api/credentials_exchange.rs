//! credentials-exchange's `api` (Auth0's CredentialsExchangeAPI): deny the token request,
//! add claims to the access token, and (Early Access at Auth0) change its target scopes.

use serde_json::Value;

use super::common::{
    add_target_scope, clear_target_scopes, deny_with_code, remove_target_scope,
    set_access_token_claim, set_target_scopes,
};
use super::{Call, Method};
use crate::interfaces::commands::CallRefused;

/// The OAuth 2 error codes a denial may answer with.
const DENY_CODES: &[&str] = &["invalid_scope", "invalid_request", "server_error"];

/// Every method.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "access.deny",
        run: deny,
    },
    Method {
        name: "accessToken.setCustomClaim",
        run: set_access_token_claim,
    },
    Method {
        name: "transaction.addTargetScope",
        run: add_target_scope,
    },
    Method {
        name: "transaction.removeTargetScope",
        run: remove_target_scope,
    },
    Method {
        name: "transaction.setTargetScopes",
        run: set_target_scopes,
    },
    Method {
        name: "transaction.clearTargetScopes",
        run: clear_target_scopes,
    },
];

/// `access.deny(code, reason)`: the token request is refused with an OAuth 2 error.
fn deny(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    deny_with_code(call, Some(DENY_CODES))
}
