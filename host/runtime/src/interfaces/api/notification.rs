//! The `api` of custom-email-provider and custom-phone-provider (Auth0's
//! CustomEmailProviderAPI and CustomPhoneProviderAPI): fail the notification, for good
//! (`drop`) or to be tried again (`retry`, up to 5 times at Auth0). Only the last call counts,
//! so both are recorded and the caller applies the last.

use serde_json::Value;

use super::{Call, Method};
use crate::interfaces::commands::CallRefused;
use crate::result::Command;

/// Auth0 cuts a longer reason to this many characters.
const MAX_REASON_CHARS: usize = 1024;

/// Every method.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "notification.drop",
        run: |call| {
            let reason = reason(call)?;
            call.record(Command::DropNotification { reason })
        },
    },
    Method {
        name: "notification.retry",
        run: |call| {
            let reason = reason(call)?;
            call.record(Command::RetryNotification { reason })
        },
    },
];

/// The reason, cut to [`MAX_REASON_CHARS`] characters as Auth0 cuts it.
fn reason(call: &Call<'_>) -> Result<String, CallRefused> {
    let reason = match call.arg(0) {
        Value::Null => String::new(),
        _ => call.string(0, "the reason")?,
    };
    Ok(reason.chars().take(MAX_REASON_CHARS).collect())
}
