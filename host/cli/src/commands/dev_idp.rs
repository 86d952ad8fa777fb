//! `cachet dev-idp`: a local OAuth 2 authorization server for trying actions by hand.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenFormat};
use cachet_runtime::SystemClock;

use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct DevIdpArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8484")]
    pub(crate) listen: std::net::SocketAddr,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub(crate) token_ttl: u64,
    /// The client id to accept.
    #[arg(long, default_value = "cachet-dev-client")]
    pub(crate) client_id: String,
    /// The client secret to accept.
    #[arg(long, default_value = "cachet-dev-secret")]
    pub(crate) client_secret: String,
    /// What the token endpoint issues: `jwt` (Auth0's shape), `jwt-without-aud`, `opaque`
    /// (random strings with `expires_in`), or `large-jwt` (too large for a cache value).
    #[arg(long, default_value = "jwt", value_parser = parse_token_format)]
    pub(crate) token_format: TokenFormat,
}

pub(crate) fn parse_token_format(s: &str) -> Result<TokenFormat, String> {
    match s {
        "jwt" => Ok(TokenFormat::Jwt),
        "jwt-without-aud" => Ok(TokenFormat::JwtWithoutAudience),
        "opaque" => Ok(TokenFormat::Opaque),
        "large-jwt" => Ok(TokenFormat::LargeJwt),
        other => Err(format!(
            "unknown token format `{other}`; use jwt, jwt-without-aud, opaque or large-jwt"
        )),
    }
}

pub(crate) async fn dev_idp(args: DevIdpArgs) -> Result<ExitCode, InputError> {
    let idp = DevIdp::start(DevIdpConfig {
        listen: args.listen,
        token_ttl: Duration::from_secs(args.token_ttl),
        client_id: args.client_id,
        client_secret: args.client_secret,
        clock: std::sync::Arc::new(SystemClock),
    })
    .await
    .map_err(|e| {
        InputError(anyhow::anyhow!(
            "cannot start the dev IdP on {}: {e}",
            args.listen
        ))
    })?;
    idp.set_token_format(args.token_format);
    let info = serde_json::json!({
        "token_url": idp.token_url(),
        "jwks_url": idp.jwks_url(),
        "issuer": idp.issuer(),
        "audience": idp.audience(),
        "management_endpoint": format!("{}users/{{id}}", idp.audience()),
        "revoke_url": format!("http://{}/oauth/revoke", idp.addr()),
        "stats_url": format!("http://{}/stats", idp.addr()),
        "client_id": idp.client_id(),
        "client_secret": idp.client_secret(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&info).map_err(|e| InputError(e.into()))?
    );
    eprintln!(
        "cachet dev-idp: listening on {}; Ctrl-C to stop",
        idp.addr()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| InputError(e.into()))?;
    Ok(ExitCode::SUCCESS)
}
