//! pre-user-registration's `api` (Auth0's PreUserRegistrationAPI): deny the sign-up (a reason
//! for the logs and a message for the user), set the new user's metadata, or refuse it with a
//! validation error.

use serde_json::Value;

use super::common::{set_app_metadata, set_user_metadata};
use super::{Call, Method};
use crate::interfaces::commands::CallRefused;
use crate::result::Command;

/// Every method.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "access.deny",
        run: deny,
    },
    Method {
        name: "user.setAppMetadata",
        run: set_app_metadata,
    },
    Method {
        name: "user.setUserMetadata",
        run: set_user_metadata,
    },
    Method {
        name: "validation.error",
        run: validation_error,
    },
];

/// `access.deny(reason, userMessage)`: the sign-up is refused; `reason` is for the tenant's
/// logs, `userMessage` may be shown to the user.
fn deny(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let reason = call.string(0, "the reason")?;
    let user_message = match call.arg(1) {
        Value::Null => None,
        _ => Some(call.string(1, "the user message")?),
    };
    call.record(Command::Deny {
        code: None,
        reason,
        user_message,
    })
}

/// `validation.error(errorCode, errorMessage)`: the sign-up (or login) is refused with this
/// error. post-login's table uses it too.
pub(crate) fn validation_error(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let code = call.name(0, "the error code")?;
    let message = call.string(1, "the error message")?;
    call.record(Command::ValidationError { code, message })
}
