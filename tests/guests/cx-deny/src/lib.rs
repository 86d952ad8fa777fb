//! Test action (credentials-exchange): denies the token request with the OAuth error code in
//! `request.body.code` (`invalid_scope`, `invalid_request` or `server_error`) and the reason in
//! `request.body.reason`, so every deny code can be tested through the real API. With
//! `request.body.scopes` it instead calls every target-scope method once (as `tests/js/m2m.js`
//! does) and does not deny.

use cachet_guest::{CredentialsExchangeApi, CredentialsExchangeEvent, DenyCode};

fn on_execute(
    event: &CredentialsExchangeEvent,
    api: &CredentialsExchangeApi,
) -> Result<(), cachet_guest::Error> {
    let body = &event.request.body;
    if body.get("scopes") == Some(&serde_json::json!(true)) {
        let tx = api.transaction();
        tx.add_target_scope("read:a")?;
        tx.remove_target_scope("read:b")?;
        tx.set_target_scopes(&["read:a", "read:c"])?;
        tx.clear_target_scopes()?;
        return Ok(());
    }
    let code = match body.get("code").and_then(|c| c.as_str()) {
        Some("invalid_scope") => DenyCode::InvalidScope,
        Some("invalid_request") => DenyCode::InvalidRequest,
        Some("server_error") => DenyCode::ServerError,
        other => return Err(cachet_guest::Error::msg(format!("no such code {other:?}"))),
    };
    let reason = body
        .get("reason")
        .and_then(|r| r.as_str())
        .unwrap_or_default();
    api.access().deny(code, reason)?;
    Ok(())
}

cachet_guest::credentials_exchange!(on_execute);
