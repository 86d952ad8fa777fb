//! Hostile test action: records one valid claim, then calls the raw API with invalid JSON (the
//! typed SDK never would). The host must refuse that call with an error the action sees and
//! record nothing for it; the valid claim stays in the action's own record.

use cachet_guest::raw::api;

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    api::call("idToken.setCustomClaim", r#"["before", true]"#).map_err(cachet_guest::Error::msg)?;
    api::call("idToken.setCustomClaim", r#"["claim", {not json]"#)
        .map_err(cachet_guest::Error::msg)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
