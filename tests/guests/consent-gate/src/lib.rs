//! Test action: what `examples/actions/consent-js/action.js` does, in Rust. A user who has not
//! accepted the terms is sent to a consent page with a signed session token; the action notes
//! in the cache when it sent them (so the continuation, on any host sharing the store, can read
//! it), and when the user is back it checks the token the page sent, records the consent and
//! puts the note in the ID token.
//!
//! A page answer with the claim `again: true` makes the continuation redirect once more (a
//! second redirect in one login).

use cachet_guest::{EncodeToken, PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::json;

const CONSENT_PAGE: &str = "https://consent.example.com/terms";

fn note_key(event: &PostLoginEvent) -> String {
    format!("consent:{}", event.user.user_id)
}

fn send_to_consent(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let secret = event.secrets.require("CONSENT_SECRET")?;
    let token = api.redirect().encode_token(&EncodeToken {
        secret,
        expires_in_seconds: Some(300),
        payload: json!({ "email": event.user.email }),
    })?;
    api.redirect()
        .send_user_to(CONSENT_PAGE, &[("session_token", token.as_str())])?;
    Ok(())
}

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    if event.user.app_metadata.get("terms_accepted") == Some(&json!(true)) {
        return Ok(());
    }
    api.cache()
        .set(&note_key(event), "sent-to-consent", SetOptions::default())
        .map_err(|e| cachet_guest::Error::msg(format!("{e:?}")))?;
    send_to_consent(event, api)
}

fn on_continue(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let secret = event.secrets.require("CONSENT_SECRET")?;
    let claims = api.redirect().validate_token(secret, None)?;
    if claims.get("accepted") != Some(&json!(true)) {
        api.access().deny("the terms were not accepted")?;
        return Ok(());
    }
    let note = api.cache().get(&note_key(event)).map(|r| r.value);
    api.user().set_app_metadata("terms_accepted", &true)?;
    api.id_token().set_custom_claim(
        "https://example.com/consent",
        &json!({ "note": note, "email": claims.get("email") }),
    )?;
    if claims.get("again") == Some(&json!(true)) {
        send_to_consent(event, api)?;
    }
    Ok(())
}

cachet_guest::post_login!(on_execute, on_continue);
