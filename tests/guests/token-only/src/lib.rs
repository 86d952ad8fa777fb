//! Test action: gets a management token through the helper and reports where it came from
//! (`cache`, `waited`, `fetched`), its expiry and, when it was not cached, why, as claims; makes no management call. Used by
//! the token-count tests and the token bench. With a `jwks_url` secret (and optionally
//! `issuer`) it verifies signatures as well.

use cachet_guest::jwt::VerifyOptions;
use cachet_guest::{ManagementToken, PostLoginApi, PostLoginEvent, TokenSource};

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let mut mgmt = ManagementToken::from_secrets(&event.secrets)?;
    // With a `jwks_url` secret, signatures are verified too (natively, by the host).
    if let Some(jwks_url) = event.secrets.get("jwks_url") {
        let audience = mgmt.audience().to_string();
        mgmt = mgmt.verify_with(VerifyOptions {
            jwks_url: jwks_url.to_string(),
            issuer: event.secrets.get("issuer").map(str::to_string),
            audience: Some(audience),
            leeway_secs: 30,
        });
    }
    let token = mgmt.token(&api.cache())?;
    let source = match token.source {
        TokenSource::Cache => "cache",
        TokenSource::Waited => "waited",
        TokenSource::Fetched => "fetched",
    };
    let exp = token.expires_at_ms / 1000;
    api.id_token().set_custom_claim("source", &source)?;
    api.id_token().set_custom_claim("exp", &exp)?;
    if let Some(why) = &token.not_cached {
        api.id_token()
            .set_custom_claim("not_cached", &why.to_string())?;
    }
    Ok(())
}

cachet_guest::post_login!(on_execute);
