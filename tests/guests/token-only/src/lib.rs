//! Test action: gets a management token through the helper and reports where it came from
//! (`cache`, `waited`, `fetched`) and its `exp` as claims; makes no management call. Used by
//! the token-count tests and the token bench.

use cachet_guest::{ManagementToken, PostLoginApi, PostLoginEvent, TokenSource};

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let mgmt = ManagementToken::from_secrets(&event.secrets)?;
    let (token, source) = mgmt.get_with_source(&api.cache())?;
    let source = match source {
        TokenSource::Cache => "cache",
        TokenSource::Waited => "waited",
        TokenSource::Fetched => "fetched",
    };
    let exp = cachet_guest::jwt::decode(&token)?.claims["exp"].clone();
    api.id_token().set_custom_claim("source", &source)?;
    api.id_token().set_custom_claim("exp", &exp)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
