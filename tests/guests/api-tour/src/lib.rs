//! Test action: calls every post-login API once, and denies when the event's query says
//! `deny=true`.

use cachet_guest::{PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::json;

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    println!("tour for {}", event.user.user_id);
    api.id_token()
        .set_custom_claim("https://tour/name", &event.user.name)?;
    api.access_token()
        .set_custom_claim("https://tour/tenant", &event.tenant.id)?;
    api.access_token().add_scope("read:profile")?;
    api.access_token().remove_scope("write:everything")?;
    api.user().set_app_metadata("last_ip", &event.request.ip)?;
    api.user()
        .set_user_metadata("visits", &(event.stats.logins_count + 1))?;

    let cache = api.cache();
    let written = cache.set("tour", "value", SetOptions::ttl(60_000))?;
    let read = cache.get("tour").map(|r| r.value);
    cache.delete("tour")?;
    let after_delete = cache.get("tour").is_none();
    api.id_token().set_custom_claim(
        "https://tour/cache",
        &json!({ "expires_at": written.expires_at, "read": read, "gone": after_delete }),
    )?;
    let names: Vec<&str> = event.secrets.names().collect();
    api.id_token()
        .set_custom_claim("https://tour/secret-names", &names)?;

    if event.request.query.get("deny") == Some(&json!(true)) {
        api.access().deny("denied by the tour")?;
    }
    Ok(())
}

cachet_guest::post_login!(on_execute);
