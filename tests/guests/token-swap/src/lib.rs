//! Test action (custom-token-exchange): every call of its API, as `tests/js/provider-tour.js`
//! makes them. `request.query.mode`: `connection` sets the user by connection instead of by
//! id; `reject` rejects the subject token; `deny` denies; `twice` sets the user twice.

use cachet_guest::{CustomTokenExchangeApi, CustomTokenExchangeEvent, UserByConnectionOptions};
use serde_json::json;

fn on_execute(
    event: &CustomTokenExchangeEvent,
    api: &CustomTokenExchangeApi,
) -> Result<(), cachet_guest::Error> {
    let token = &event.transaction.subject_token;
    let auth = api.authentication();
    match event.request.query.get("mode").and_then(|v| v.as_str()) {
        Some("reject") => {
            return Ok(api
                .access()
                .reject_invalid_subject_token("the subject token is not valid")?);
        }
        Some("deny") => return Ok(api.access().deny("invalid_request", "no such session")?),
        Some("connection") => auth.set_user_by_connection(
            "legacy-db",
            &json!({ "user_id": format!("legacy|{token}"), "email": "ada@example.com" }),
            &UserByConnectionOptions {
                creation_behavior: "create_if_not_exists".into(),
                update_behavior: "none".into(),
            },
        )?,
        Some("twice") => {
            auth.set_user_by_id("auth0|one")?;
            auth.set_user_by_id("auth0|two")?;
        }
        _ => auth.set_user_by_id(&format!("auth0|{token}"))?,
    }
    auth.set_organization("org_acme")?;
    auth.set_actor(&json!({ "sub": "agent|1", "act": { "sub": "agent|0" } }))?;
    api.user().set_app_metadata("exchanged", &true)?;
    api.user().set_user_metadata("via", &"token-exchange")?;
    Ok(())
}

cachet_guest::custom_token_exchange!(on_execute);
