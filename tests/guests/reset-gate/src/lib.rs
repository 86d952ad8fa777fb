//! Test action: `examples/actions/password-reset-post-challenge-js/action.js` in Rust, so that
//! both SDKs must record the same commands for the same events. A locked account is denied; a
//! reset from another country than the account's is sent to an identity check and continued;
//! administrators are challenged with OTP (or a security key), others with an enrolled factor.

use cachet_guest::{
    EncodeToken, Factor, PasswordResetPostChallengeApi as Api,
    PasswordResetPostChallengeEvent as Event, SetOptions,
};
use serde_json::{Value, json};

const IDV_PAGE: &str = "https://idv.example.com/check";

fn challenge(event: &Event, api: &Api) -> Result<(), cachet_guest::Error> {
    let admin = event
        .authorization
        .as_ref()
        .is_some_and(|a| a.roles.iter().any(|r| r == "admin"));
    let enrolled: Vec<Factor> = event
        .user
        .enrolled_factors
        .iter()
        .filter_map(|f| f.get("type").and_then(Value::as_str))
        .map(Factor::new)
        .collect();
    if admin {
        api.authentication()
            .challenge_with(&Factor::new("otp"), &[Factor::new("webauthn-roaming")])?;
    } else if !enrolled.is_empty() {
        api.authentication().challenge_with_any(&enrolled)?;
    }
    Ok(())
}

fn on_execute(event: &Event, api: &Api) -> Result<(), cachet_guest::Error> {
    if event.user.app_metadata.get("locked") == Some(&json!(true)) {
        api.access()
            .deny("this account is locked; contact support")?;
        return Ok(());
    }
    let country = event
        .request
        .geoip
        .as_ref()
        .and_then(|g| g.get("countryCode"))
        .and_then(Value::as_str);
    let home = event
        .user
        .app_metadata
        .get("home_country")
        .and_then(Value::as_str);
    if let (Some(country), Some(home)) = (country, home)
        && country != home
    {
        let key = format!("reset:{}", event.user.user_id);
        let _ = api.cache().set(&key, country, SetOptions::default());
        let token = api.redirect().encode_token(&EncodeToken {
            secret: event.secrets.require("IDV_SECRET")?,
            expires_in_seconds: Some(600),
            payload: json!({ "country": country }),
        })?;
        api.redirect()
            .send_user_to(IDV_PAGE, &[("session_token", token.as_str())])?;
        return Ok(());
    }
    challenge(event, api)
}

fn on_continue(event: &Event, api: &Api) -> Result<(), cachet_guest::Error> {
    let answer = api
        .redirect()
        .validate_token(event.secrets.require("IDV_SECRET")?, None)?;
    if answer.get("verified") != Some(&json!(true)) {
        api.access().deny("identity verification failed")?;
        return Ok(());
    }
    challenge(event, api)
}

cachet_guest::password_reset_post_challenge!(on_execute, on_continue);
