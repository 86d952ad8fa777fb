//! Outbound HTTP for actions: `wasi:http` through wasmtime-wasi-http, to allow-listed hosts
//! only, with timeouts that can never outlast the flow deadline.
//!
//! An action's request enters the host here (guest-controlled URL, headers and body). The
//! policy is checked on the request's authority before any connection is made; a refusal is
//! the wasi:http error `HTTP-request-denied`, which the guest SDK reports naming the host.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::Scheme;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Longest a connection attempt may take.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the wait for a response's first byte, or between two body bytes, may take.
pub const MAX_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Hosts an action may reach: `host` (any port) or `host:port`, compared case-insensitively.
///
/// ```
/// use cachet_host::AllowList;
/// let allow = AllowList::new(["api.example.com", "127.0.0.1:8080"]);
/// assert!(allow.allows("API.example.com", 443));
/// assert!(allow.allows("127.0.0.1", 8080));
/// assert!(!allow.allows("127.0.0.1", 8081));
/// assert!(!allow.allows("evil.example.com", 443));
/// assert!(!AllowList::default().allows("api.example.com", 443)); // denied by default
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Arc<[(String, Option<u16>)]>);

impl AllowList {
    /// An allow-list of `HOST` or `HOST:PORT` entries (IPv6 as `[::1]:PORT`).
    pub fn new<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Self {
        Self(
            entries
                .into_iter()
                .map(|e| parse_entry(e.as_ref()))
                .collect(),
        )
    }

    /// Whether `host:port` may be reached.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0
            .iter()
            .any(|(h, p)| h.eq_ignore_ascii_case(host) && p.is_none_or(|p| p == port))
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_entry(entry: &str) -> (String, Option<u16>) {
    let entry = entry.trim();
    if let Some(rest) = entry.strip_prefix('[') {
        // [v6]:port or [v6]
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host.to_string(), port);
        }
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host.to_string(), Some(p)),
            Err(_) => (entry.to_string(), None),
        },
        _ => (entry.to_string(), None),
    }
}

/// The wasi:http hooks of one execution: the action's allow-list and the flow's deadline.
pub(crate) struct Egress {
    pub(crate) allow: AllowList,
    pub(crate) deadline: Instant,
}

impl Egress {
    fn clamp(&self, requested: Option<RequestOptions>) -> RequestOptions {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let limit = |asked: Option<Duration>, max: Duration| {
            Some(asked.unwrap_or(max).min(max).min(remaining))
        };
        let asked = requested.unwrap_or_default();
        RequestOptions {
            connect_timeout: limit(asked.connect_timeout, MAX_CONNECT_TIMEOUT),
            first_byte_timeout: limit(asked.first_byte_timeout, MAX_READ_TIMEOUT),
            between_bytes_timeout: limit(asked.between_bytes_timeout, MAX_READ_TIMEOUT),
        }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        drop(fut);
        let uri = request.uri();
        let default_port = if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        };
        let target = uri
            .authority()
            .map(|a| (a.host().to_string(), a.port_u16().unwrap_or(default_port)));
        match target {
            Some((host, port)) if self.allow.allows(&host, port) => {}
            other => {
                // Log the host (not the path or query: they may carry user data).
                let host = other.map(|(h, p)| format!("{h}:{p}")).unwrap_or_default();
                tracing::warn!(%host, "outbound request denied: host is not on the action's allow-list");
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        }
        let options = self.clamp(options);
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}
