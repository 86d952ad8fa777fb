//! Test action (custom-phone-provider): logs the message it would send and counts messages in
//! the cache; `request.query.fail` fails it with `drop` or `retry` (as
//! `tests/js/provider-tour.js` does).

use cachet_guest::{CustomPhoneProviderApi, CustomPhoneProviderEvent};

// Shared with the other test guests of the registration and provider triggers.
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &CustomPhoneProviderEvent,
    api: &CustomPhoneProviderApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "texts")?;
    let m = &event.notification;
    println!(
        "{} to {}: {} ({n})",
        m.delivery_method, m.recipient, m.as_text
    );
    match event.request.query.get("fail").and_then(|v| v.as_str()) {
        Some("drop") => api.notification().drop("the number is unreachable")?,
        Some("retry") => api.notification().retry("the provider is down")?,
        _ => {}
    }
    Ok(())
}

cachet_guest::custom_phone_provider!(on_execute);
