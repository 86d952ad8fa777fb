//! Example post-login action: the Management-API token pattern.
//!
//! Gets a client-credentials token through [`cachet_guest::ManagementToken`] (cached in the
//! trigger's cache, refreshed once for many concurrent logins, replaced on a 401), reads the
//! user from the management API, and adds claims from the answer.
//!
//! Secrets: `token_url` (or `domain`), `client_id`, `client_secret`, `audience` (the management
//! API's base URL, e.g. `https://tenant.example/api/v2/`). The token endpoint's and API's host
//! must be on the action's allow-list.

use cachet_guest::http::{Request, encode_segment};
use cachet_guest::{ManagementToken, PostLoginApi, PostLoginEvent};
use serde_json::Value;

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let mgmt = ManagementToken::from_secrets(&event.secrets)?;
    let base = mgmt.audience().trim_end_matches('/');
    let url = format!("{base}/users/{}", encode_segment(&event.user.user_id));
    let response = mgmt.call(&api.cache(), |token| {
        Request::get(&url)
            .header("authorization", &format!("Bearer {token}"))
            .header("accept", "application/json")
            .send()
    })?;
    if response.status != 200 {
        return Err(cachet_guest::Error::msg(format!(
            "management API answered HTTP {} for {url}",
            response.status
        )));
    }
    let user: Value = serde_json::from_slice(&response.body)?;
    api.id_token().set_custom_claim(
        "https://cachet.example/email_verified",
        &user["email_verified"],
    )?;
    api.access_token()
        .set_custom_claim("https://cachet.example/plan", &user["app_metadata"]["plan"])?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
