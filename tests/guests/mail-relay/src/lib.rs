//! Test action (custom-email-provider): logs the e-mail it would send and counts e-mails in
//! the cache; `request.query.fail` fails it with `drop` or `retry` (as
//! `tests/js/provider-tour.js` does).

use cachet_guest::{CustomEmailProviderApi, CustomEmailProviderEvent};

// Shared with the other test guests of the registration and provider triggers.
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &CustomEmailProviderEvent,
    api: &CustomEmailProviderApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "emails")?;
    let m = &event.notification;
    println!("{} to {}: {} ({n})", m.message_type, m.to, m.subject);
    match event.request.query.get("fail").and_then(|v| v.as_str()) {
        Some("drop") => api.notification().drop("the address bounces")?,
        Some("retry") => api.notification().retry("the provider is down")?,
        _ => {}
    }
    Ok(())
}

cachet_guest::custom_email_provider!(on_execute);
