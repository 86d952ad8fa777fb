//! Example credentials-exchange action.
//!
//! - Denies `admin:*` scopes (OAuth `invalid_scope`) unless the client's metadata has
//!   `allow_admin = "true"`.
//! - Counts the tokens issued to each client in the current hour in the trigger's cache (the
//!   entry expires at the end of the hour) and adds the count as a claim, so an API can
//!   rate-limit noisy clients.

use cachet_guest::{CredentialsExchangeApi, CredentialsExchangeEvent, DenyCode, SetOptions};

const HOUR_MS: u64 = 60 * 60 * 1000;

fn on_execute(
    event: &CredentialsExchangeEvent,
    api: &CredentialsExchangeApi,
) -> Result<(), cachet_guest::Error> {
    let client = &event.client;
    let may_admin = client.metadata.get("allow_admin").map(String::as_str) == Some("true");
    if let Some(scope) = event
        .transaction
        .requested_scopes
        .iter()
        .find(|s| s.starts_with("admin:") && !may_admin)
    {
        api.access().deny(
            DenyCode::InvalidScope,
            &format!("client {} may not request {scope}", client.client_id),
        )?;
        return Ok(());
    }

    let cache = api.cache();
    let key: String = format!("issued:{}", client.client_id)
        .chars()
        .take(64)
        .collect();
    let count = cache
        .get(&key)
        .and_then(|r| r.value.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let end_of_hour = (cachet_guest::now_ms() / HOUR_MS + 1) * HOUR_MS;
    if let Err(e) = cache.set(
        &key,
        &count.to_string(),
        SetOptions::expires_at(end_of_hour),
    ) {
        eprintln!("m2m-claims: counter not saved ({})", e.code());
    }

    let token = api.access_token();
    token.set_custom_claim("https://cachet.example/issued_this_hour", &count)?;
    token.set_custom_claim("https://cachet.example/tenant", &event.tenant.id)?;
    Ok(())
}

cachet_guest::credentials_exchange!(on_execute);
