//! `cachet deploy`: build an action when it is JavaScript or TypeScript (here, so the server
//! needs no Node), upload it to a `cachet serve` as a new version, deploy it, and optionally
//! bind it into its trigger's flow.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use cachet_loader::ActionLoader;
use cachet_runtime::Trigger;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_rustls::rustls;
use url::Url;

use super::loader;
use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// The action: a component (.wasm) or a JavaScript or TypeScript file, built here first.
    #[arg(value_name = "ACTION")]
    pub(crate) action: PathBuf,
    /// The service, e.g. https://cachet.internal:8787.
    #[arg(long, value_name = "URL")]
    pub(crate) server: Url,
    /// The tenant the action belongs to.
    #[arg(long)]
    pub(crate) tenant: String,
    /// The trigger it is for.
    #[arg(long, value_parser = super::trigger_parser())]
    pub(crate) trigger: Trigger,
    /// Its name [default: the file name without extension].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// A host it may call over HTTPS (repeat for more).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub(crate) allow_hosts: Vec<String>,
    /// A host with a private address it may call (repeat for more).
    #[arg(long = "allow-private-host", value_name = "HOST")]
    pub(crate) allow_private_hosts: Vec<String>,
    /// A loopback address whose https:// URLs go over plain HTTP (local development).
    #[arg(long = "plain-http-host", value_name = "HOST")]
    pub(crate) plain_http_hosts: Vec<String>,
    /// A secret: NAME (the tenant's secret of that name) or NAME=TENANT_SECRET (repeat).
    #[arg(long = "secret", value_name = "NAME[=TENANT_SECRET]")]
    pub(crate) secrets: Vec<String>,
    /// `fresh` (a new instance per execution) or `warm` (instances reused per tenant).
    #[arg(long, default_value = "fresh", value_parser = ["fresh", "warm"])]
    pub(crate) instance: String,
    /// The environment variable holding the API token (with the `deploy` role).
    #[arg(long, default_value = "CACHET_TOKEN", value_name = "VAR")]
    pub(crate) token_env: String,
    /// Upload only; deploy later with `POST …/actions/NAME/deploy`.
    #[arg(long)]
    pub(crate) no_deploy: bool,
    /// Also append the action to its trigger's bindings if it is not there yet.
    #[arg(long)]
    pub(crate) bind: bool,
}

/// `cachet deploy`.
pub(crate) async fn deploy(args: DeployArgs) -> Result<ExitCode, InputError> {
    run(args).await.map_err(InputError)
}

async fn run(args: DeployArgs) -> Result<ExitCode> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .action
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{} has no file name; give --name", args.action.display()))?,
    };
    let token = std::env::var(&args.token_env).ok();
    let language = if ActionLoader::is_source(&args.action) {
        match args.action.extension().and_then(|e| e.to_str()) {
            Some("ts" | "mts" | "cts") => "typescript",
            _ => "javascript",
        }
    } else {
        "wasm"
    };
    let (path, trigger, action) = (args.action.clone(), args.trigger, name.clone());
    let component =
        tokio::task::spawn_blocking(move || loader().component(&action, trigger, &path))
            .await
            .context("building stopped unexpectedly")??;
    let bytes = std::fs::read(&component)
        .with_context(|| format!("cannot read {}", component.display()))?;

    let base = format!("v1/tenants/{}/actions/{name}", args.tenant);
    let mut url = args.server.join(&base).context("the server URL")?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("trigger", args.trigger.as_str());
        for (key, values) in [
            ("allow_hosts", &args.allow_hosts),
            ("allow_private_hosts", &args.allow_private_hosts),
            ("plain_http_hosts", &args.plain_http_hosts),
            ("secrets", &args.secrets),
        ] {
            if !values.is_empty() {
                query.append_pair(key, &values.join(","));
            }
        }
        query.append_pair("instance", &args.instance);
        query.append_pair("language", language);
    }
    let client = Client { token };
    let uploaded = client
        .send("PUT", &url, "application/wasm", bytes.clone())
        .await?;
    let version = uploaded["version"]["version"]
        .as_str()
        .ok_or_else(|| anyhow!("the server's answer has no version: {uploaded}"))?
        .to_owned();
    let created = uploaded["created"].as_bool().unwrap_or(false);
    eprintln!(
        "cachet: uploaded {}/{name} ({} bytes, {}): version {version}{}",
        args.tenant,
        bytes.len(),
        args.trigger,
        if created { "" } else { " (already stored)" }
    );
    if !args.no_deploy {
        let url = args.server.join(&format!("{base}/deploy"))?;
        let body = json!({ "version": version }).to_string().into_bytes();
        let deployed = client.send("POST", &url, "application/json", body).await?;
        eprintln!(
            "cachet: deployed version {version} (previous: {})",
            deployed["previous"].as_str().unwrap_or("none")
        );
    }
    if args.bind {
        let url = args.server.join(&format!(
            "v1/tenants/{}/triggers/{}/bindings",
            args.tenant, args.trigger
        ))?;
        let current = client.send("GET", &url, "", Vec::new()).await?;
        let mut actions: Vec<String> = current["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if actions.contains(&name) {
            eprintln!("cachet: {} already runs {name}", args.trigger);
        } else {
            actions.push(name.clone());
            let body = json!({ "actions": actions }).to_string().into_bytes();
            client.send("PUT", &url, "application/json", body).await?;
            eprintln!("cachet: {} now runs {}", args.trigger, actions.join(", "));
        }
    }
    println!(
        "{}",
        json!({ "tenant": args.tenant, "action": name, "version": version })
    );
    Ok(ExitCode::SUCCESS)
}

/// One request per connection to the service, over TLS for `https://`.
struct Client {
    token: Option<String>,
}

impl Client {
    /// Sends a request and returns its JSON answer; a non-2xx answer is an error with the
    /// server's message.
    ///
    /// The service refuses a request (token, role, tenant) before it reads the body and
    /// closes the connection, so a large upload can fail with a broken pipe before its answer
    /// is read; then the request is repeated without a body to learn why.
    async fn send(
        &self,
        method: &str,
        url: &Url,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        // Only an upload is large enough for the server to answer before it is sent.
        let upload = content_type == "application/wasm" && !body.is_empty();
        match self.once(method, url, content_type, body).await {
            Err(e) if upload && e.downcast_ref::<Refused>().is_none() => {
                match self.once(method, url, content_type, Vec::new()).await {
                    Err(refused) if refused.downcast_ref::<Refused>().is_some() => Err(refused),
                    _ => Err(e),
                }
            }
            answered => answered,
        }
    }

    /// One request and its answer.
    async fn once(
        &self,
        method: &str,
        url: &Url,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        let host = url
            .host_str()
            .ok_or_else(|| anyhow!("{url} has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| anyhow!("{url} has no port"))?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("cannot connect to {host}:{port}"))?;
        let stream: Box<dyn Stream> = match url.scheme() {
            "http" => Box::new(tcp),
            "https" => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| anyhow!("{host}: {e}"))?;
                let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                    .connect(name, tcp)
                    .await
                    .with_context(|| format!("TLS with {host}:{port} failed"))?;
                Box::new(tls)
            }
            other => bail!("--server must be an http:// or https:// URL, not {other}://"),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(conn);
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path = format!("{path}?{q}");
        }
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, format!("{host}:{port}"));
        if let Some(token) = &self.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !content_type.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, content_type);
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "error": { "message": String::from_utf8_lossy(&bytes) } }));
        if !status.is_success() {
            let message = answer["error"]["message"]
                .as_str()
                .unwrap_or("(no message)");
            let hint = if status == http::StatusCode::UNAUTHORIZED && self.token.is_none() {
                " (set the token's variable: --token-env, default CACHET_TOKEN)"
            } else {
                ""
            };
            let refused = format!("{method} {}: {status}: {message}{hint}", url.path());
            return Err(Refused(refused).into());
        }
        Ok(answer)
    }
}

/// The service answered with an error status (its message inside).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// A connection, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// Web PKI roots, ring as the provider (as the runtime's egress).
fn tls_config() -> Result<Arc<rustls::ClientConfig>> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
