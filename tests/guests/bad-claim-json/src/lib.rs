//! Hostile test action: records one valid claim, then calls the raw API with invalid JSON (the
//! typed SDK never would). The host must refuse that call with an error the action sees and
//! record nothing for it; the valid claim stays in the action's own record.

use cachet_guest::raw::post_login_api;

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    post_login_api::set_id_token_claim("before", "true").map_err(cachet_guest::Error::msg)?;
    post_login_api::set_id_token_claim("claim", "{not json").map_err(cachet_guest::Error::msg)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
