//! Outbound HTTP for actions: `wasi:http` through wasmtime-wasi-http, and the host's own
//! fetches on an action's behalf (JWKS), under one policy:
//!
//! - only allow-listed `HOST[:PORT]` entries, validated when the action is loaded;
//! - a name is resolved by the host, and an address that is loopback, private, link-local or
//!   otherwise not publicly routable is refused unless the entry is that IP literal or the
//!   operator marked the entry private; the connection goes to the address that was checked,
//!   so DNS cannot change between check and connect;
//! - per execution, at most [`ExecutionLimits::max_outbound_requests`] requests in all and
//!   [`ExecutionLimits::max_concurrent_outbound_requests`] at once; request bodies capped at
//!   [`ExecutionLimits::max_request_body_bytes`] and streamed in chunks of
//!   [`ExecutionLimits::request_body_chunk_bytes`] (two per body at most: with the resource
//!   cap, a few MiB per execution even when an action fills bodies it never sends);
//! - timeouts that never outlast the flow deadline;
//! - refusals logged at most once a second, with a count of what was not logged.
//!
//! An action's request enters the host here (guest-controlled URL, headers and body). The
//! policy is checked on the request's authority before any DNS lookup or connection; a refusal
//! is the wasi:http error `HTTP-request-denied` (allow-list), `destination-IP-prohibited`
//! (address) or `connection-limit-reached` (budget).

use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cachet_limits::ExecutionLimits;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::observe::{EgressOutcome, Observer};

/// Longest a connection attempt (DNS, TCP and TLS) may take.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the wait for a response's first byte, or between two body bytes, may take.
pub const MAX_READ_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Allow-list

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Lower-case name or IP literal, without brackets.
    host: String,
    port: Option<u16>,
    /// The entry is an IP literal: that exact address is allowed, whatever kind it is.
    literal: bool,
    /// The operator allows this name to resolve to non-public addresses.
    private_ok: bool,
}

/// Hosts an action may reach: `HOST` (any port), `HOST:PORT`, or `[IPv6]:PORT`, compared
/// case-insensitively. Built with [`AllowList::parse`], which refuses malformed entries.
///
/// ```
/// use cachet_host::AllowList;
/// let allow = AllowList::parse(&["api.example.com", "127.0.0.1:8080"], &[] as &[&str]).unwrap();
/// assert!(allow.allows("API.example.com", 443));
/// assert!(allow.allows("127.0.0.1", 8080));
/// assert!(!allow.allows("127.0.0.1", 8081));
/// assert!(!allow.allows("evil.example.com", 443));
/// assert!(!AllowList::default().allows("api.example.com", 443)); // denied by default
/// // Mistakes are refused, not read as "any port" or "never matches".
/// assert!(AllowList::parse(&["[::1]:99999"], &[] as &[&str]).is_err());
/// assert!(AllowList::parse(&["https://api.example.com"], &[] as &[&str]).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Arc<[Entry]>);

impl AllowList {
    /// Parses `entries`; those also in `private` may resolve to non-public addresses. Every
    /// entry of `private` must be an entry of `entries`.
    pub fn parse<S: AsRef<str>, P: AsRef<str>>(
        entries: &[S],
        private: &[P],
    ) -> Result<Self, String> {
        let private = private
            .iter()
            .map(|p| parse_entry(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut list = entries
            .iter()
            .map(|e| parse_entry(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        for p in &private {
            let entry = list
                .iter_mut()
                .find(|e| e.host == p.host && e.port == p.port)
                .ok_or_else(|| {
                    format!(
                        "private host `{}` is not on the allow-list; add it to the allowed hosts too",
                        p.host
                    )
                })?;
            entry.private_ok = true;
        }
        Ok(Self(list.into()))
    }

    /// Whether `host:port` may be reached (before address checks).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.matching(host, port).is_some()
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn matching(&self, host: &str, port: u16) -> Option<&Entry> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0
            .iter()
            .find(|e| e.host.eq_ignore_ascii_case(host) && e.port.is_none_or(|p| p == port))
    }

    /// Whether `host:port` may connect to non-public addresses: the entry is an IP literal
    /// (the operator named that address) or was marked private.
    fn private_allowed(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().any(|e| {
            e.host.eq_ignore_ascii_case(host)
                && e.port.is_none_or(|p| p == port)
                && (e.literal || e.private_ok)
        })
    }
}

fn parse_entry(raw: &str) -> Result<Entry, String> {
    let entry = raw.trim();
    let bad = |why: &str| Err(format!("allow-list entry `{raw}` {why}"));
    if entry.is_empty() {
        return bad("is empty");
    }
    if entry.contains("://") || entry.contains(['/', '@', '?', '#', ' ']) {
        return bad(
            "is not HOST or HOST:PORT (no scheme, path or user; e.g. `api.example.com:443`)",
        );
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "allow-list entry `{raw}` has port `{p}`; a port is 1 to 65535"
        )),
    };
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            return bad("opens `[` without closing it");
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return bad("has brackets around something that is not an IPv6 address");
        }
        match tail {
            "" => (host, None),
            _ => match tail.strip_prefix(':') {
                Some(p) => (host, Some(port(p)?)),
                None => return bad("has text after `]` that is not `:PORT`"),
            },
        }
    } else if entry.parse::<std::net::Ipv6Addr>().is_ok() {
        (entry, None)
    } else {
        match entry.rsplit_once(':') {
            Some((_, _)) if entry.matches(':').count() > 1 => {
                return bad("looks like an IPv6 address with a port; write it as `[ADDR]:PORT`");
            }
            Some((host, p)) => (host, Some(port(p)?)),
            None => (entry, None),
        }
    };
    let literal = host.parse::<IpAddr>().is_ok();
    if !literal
        && (host.is_empty()
            || host.starts_with(['.', '-'])
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return bad("is not a host name (letters, digits, `.`, `-`)");
    }
    Ok(Entry {
        host: host.to_ascii_lowercase(),
        port,
        literal,
        private_ok: false,
    })
}

/// Whether `ip` is a publicly routable unicast address: not loopback, private, link-local
/// (which includes cloud metadata services), shared, documentation, multicast, reserved, or an
/// IPv6 form that embeds one of those. IPv6 is judged by allowing global unicast only.
fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24, IETF protocol
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            // Only global unicast (2000::/3) is public; everything else (loopback, IPv4-
            // compatible ::a.b.c.d, NAT64, unique and link local, multicast, ...) is not.
            let s = v6.segments();
            (s[0] & 0xe000) == 0x2000
                && !(s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23: Teredo, ORCHIDs, benchmarking
                && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                && s[0] != 0x2002 // 6to4: embeds an IPv4 address
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

// ---------------------------------------------------------------------------------------------
// Targets

/// Where a host-side fetch goes: scheme, host and port of a URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Lower-case host without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    /// The original URI (absolute form).
    uri: http::Uri,
}

impl Target {
    /// Parses an absolute `http` or `https` URL without user info.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
        Self::from_uri(uri)
    }

    fn from_uri(uri: http::Uri) -> Result<Self, String> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must start with https:// (or http:// for loopback)".into()),
        };
        let authority = uri.authority().ok_or("the URL has no host")?;
        if authority.as_str().contains('@') {
            return Err("the URL must not carry user info".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self {
            host,
            port,
            tls,
            uri,
        })
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL with scheme and host in lower case, the default port explicit and any fragment
    /// dropped: one cache key for one resource, however it was spelled.
    pub(crate) fn normalised_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        format!("{scheme}://{}{path}", self.authority())
    }

    /// Plain `http` is accepted only for a loopback host (a local dev server).
    pub(crate) fn require_https_unless_loopback(&self, what: &str) -> Result<(), String> {
        if self.tls || is_loopback_host(&self.host) {
            return Ok(());
        }
        Err(format!(
            "{what} {} must use https (plain http is accepted only for loopback hosts)",
            self.normalised_url()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Budget

/// One execution's outbound requests: how many were started and how many are in flight.
#[derive(Debug)]
pub(crate) struct OutboundBudget {
    started: AtomicU32,
    in_flight: AtomicU32,
    max_total: u32,
    max_concurrent: u32,
}

/// One request in flight; releases its slot when dropped (request failed, response body read
/// to the end or dropped, connection closed, or the execution's store dropped).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<OutboundBudget>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl OutboundBudget {
    pub(crate) fn new(limits: &ExecutionLimits) -> Self {
        Self {
            started: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            max_total: limits.max_outbound_requests,
            max_concurrent: limits.max_concurrent_outbound_requests,
        }
    }

    /// Takes a slot for one more request, or says which limit refused it. Every attempt counts
    /// toward the total, refused ones included: the total bounds the work an action can make
    /// the host do, not only the connections it gets.
    pub(crate) fn start(self: &Arc<Self>) -> Result<InFlight, String> {
        let started = self.started.fetch_add(1, Ordering::AcqRel);
        if started >= self.max_total {
            // Saturate rather than count on: the counter cannot wrap.
            self.started.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "more than {} outbound requests in one execution",
                self.max_total
            ));
        }
        let in_flight = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if in_flight >= self.max_concurrent {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "more than {} outbound requests in flight at once",
                self.max_concurrent
            ));
        }
        Ok(InFlight(Arc::clone(self)))
    }
}

// ---------------------------------------------------------------------------------------------
// Rate-limited refusal log

/// Logs refusals at most once a second across the whole process, so a hostile action cannot
/// flood the host's log; the next line says how many were not logged.
struct RefusalLog {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

static REFUSALS: RefusalLog = RefusalLog {
    last: Mutex::new(None),
    suppressed: AtomicU64::new(0),
};

impl RefusalLog {
    fn warn(&self, host: &str, why: &str) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        drop(last);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        // The host only: paths and queries may carry user data.
        tracing::warn!(%host, suppressed, "outbound request refused: {why}");
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:http hooks

/// The wasi:http hooks of one execution.
pub(crate) struct Egress {
    allow: AllowList,
    outbound: Arc<OutboundBudget>,
    deadline: Instant,
    max_body_bytes: usize,
    body_chunk_bytes: usize,
    observer: Arc<dyn Observer>,
}

impl Egress {
    pub(crate) fn new(
        allow: AllowList,
        outbound: Arc<OutboundBudget>,
        limits: &ExecutionLimits,
        deadline: Instant,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self {
            allow,
            outbound,
            deadline,
            max_body_bytes: limits.max_request_body_bytes,
            body_chunk_bytes: limits.request_body_chunk_bytes,
            observer,
        }
    }

    /// Refuses the request before anything is sent, logging why (rate-limited) and telling
    /// the observer.
    fn refuse(
        &self,
        host: &str,
        why: &str,
        error: Error,
        outcome: EgressOutcome,
    ) -> ResponseFuture {
        self.observer.egress_request(outcome);
        refuse(host, why, error)
    }
}

/// The timeouts a request gets: what the action asked for, capped by the host's maxima and by
/// what is left of the flow.
fn clamp(requested: Option<RequestOptions>, deadline: Instant) -> RequestOptions {
    let remaining = deadline.saturating_duration_since(Instant::now());
    let limit =
        |asked: Option<Duration>, max: Duration| Some(asked.unwrap_or(max).min(max).min(remaining));
    let asked = requested.unwrap_or_default();
    RequestOptions {
        connect_timeout: limit(asked.connect_timeout, MAX_CONNECT_TIMEOUT),
        first_byte_timeout: limit(asked.first_byte_timeout, MAX_READ_TIMEOUT),
        between_bytes_timeout: limit(asked.between_bytes_timeout, MAX_READ_TIMEOUT),
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type ResponseFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

fn refuse(host: &str, why: &str, error: Error) -> ResponseFuture {
    REFUSALS.warn(host, why);
    Box::new(async move { Err(error) })
}

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> ResponseFuture {
        drop(fut);
        let target = match Target::from_uri(request.uri().clone()) {
            Ok(t) => t,
            Err(why) => {
                return self.refuse(
                    "",
                    &why,
                    Error::HttpRequestUriInvalid,
                    EgressOutcome::Refused,
                );
            }
        };
        let authority = target.authority();
        // The budget first: refused requests count too, so a loop of denied requests ends.
        let slot = match self.outbound.start() {
            Ok(slot) => slot,
            Err(why) => {
                return self.refuse(
                    &authority,
                    &why,
                    Error::ConnectionLimitReached,
                    EgressOutcome::Refused,
                );
            }
        };
        if !self.allow.allows(&target.host, target.port) {
            return self.refuse(
                &authority,
                "the host is not on the action's allow-list",
                Error::HttpRequestDenied,
                EgressOutcome::Denied,
            );
        }
        let allow_private = self.allow.private_allowed(&target.host, target.port);
        let max = self.max_body_bytes;
        // A declared length past the limit is refused before connecting; an undeclared one is
        // cut off at the limit as it streams.
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            drop(slot);
            return self.refuse(
                &authority,
                "the request body is larger than the limit",
                Error::HttpRequestBodySize(Some(max as u64)),
                EgressOutcome::Refused,
            );
        }
        let request = request.map(|body| {
            Limited::new(body, max)
                .map_err(move |e| match e.downcast::<Error>() {
                    Ok(e) => *e,
                    Err(_) => Error::HttpRequestBodySize(Some(max as u64)),
                })
                .boxed_unsync()
        });
        let options = clamp(options, self.deadline);
        let observer = Arc::clone(&self.observer);
        let token_request = request.method() == http::Method::POST
            && request
                .uri()
                .path()
                .trim_end_matches('/')
                .ends_with("/token");
        Box::new(async move {
            let sent = send_checked(request, target, allow_private, options, slot).await;
            let outcome = match sent {
                Ok(_) => EgressOutcome::Completed,
                Err(_) => EgressOutcome::Failed,
            };
            observer.egress_request(outcome);
            if token_request {
                observer.token_request(outcome);
            }
            sent
        })
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.body_chunk_bytes
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        // Never 0: wasmtime-wasi-http asserts at least one.
        1
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting to checked addresses

trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            // The provider is named: immune to another crate enabling a second one.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        })
        .clone()
        .unwrap_or_else(|| {
            // Unreachable with ring, which supports the default versions; fail closed anyway.
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        })
}

/// Resolves `target`, keeps only addresses the policy allows, and connects to one of them
/// (TLS with the original host name for SNI and certificate checks).
/// The caller bounds the whole of it (DNS, TCP, TLS) by one connect timeout.
async fn connect(target: &Target, allow_private: bool) -> Result<Box<dyn Conn>, Error> {
    let resolved: Vec<SocketAddr> =
        match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Err(e) => {
                return Err(Error::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                });
            }
            Ok(addrs) => addrs.collect(),
        };
    if resolved.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| allow_private || is_public(a.ip()))
        .collect();
    if allowed.is_empty() {
        REFUSALS.warn(
            &target.authority(),
            "the name resolves only to loopback, private or link-local addresses; list the IP \
             itself, or mark the entry private, to allow it",
        );
        return Err(Error::DestinationIpProhibited);
    }
    let mut last = None;
    let mut tcp = None;
    for addr in &allowed {
        match TcpStream::connect(*addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        Error::Connect(last.unwrap_or_else(|| std::io::Error::other("no address to connect to")))
    })?;
    if !target.tls {
        return Ok(Box::new(tcp));
    }
    let name = ServerName::try_from(target.host.clone())?;
    let tls = tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, tcp)
        .await
        .map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

/// A response body that enforces the between-bytes timeout and holds the request's slot
/// until it ends or is dropped. The timer starts when a read finds no data, not when the
/// previous data came: an action may take its time before reading, and that is not the
/// server's silence.
struct ResponseBody {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
    _slot: Arc<InFlight>,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => {
                self.waiting = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let between_bytes = self.between_bytes;
                let waiting = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(between_bytes)));
                ready!(waiting.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// Sends `request` to `target` over a connection [`connect`] made, with hyper's header limits,
/// the given timeouts, and `slot` held until the response is done with. Adapted from
/// wasmtime-wasi-http's `default_send_request`, which resolves and connects by name.
async fn send_checked(
    mut request: http::Request<WasiBody>,
    target: Target,
    allow_private: bool,
    options: RequestOptions,
    slot: InFlight,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let slot = Arc::new(slot);
    let connect_timeout = options.connect_timeout.unwrap_or(MAX_CONNECT_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(MAX_READ_TIMEOUT);
    let between_bytes = options
        .between_bytes_timeout
        .unwrap_or(MAX_READ_TIMEOUT)
        .max(Duration::from_nanos(1));
    // One budget for DNS, TCP, TLS and the HTTP handshake together, so a request's worst case
    // is connect + first byte + between bytes, as the options say.
    let (mut sender, conn) = tokio::time::timeout(connect_timeout, async {
        let stream = connect(&target, allow_private).await?;
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.max_headers(100).max_buf_size(64 * 1024);
        Ok::<_, Error>(
            builder
                .handshake::<_, WasiBody>(TokioIo::new(stream))
                .await?,
        )
    })
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    // Origin form on the wire: the Host header already carries the authority.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|e| Error::InternalError(Some(e.to_string())))?;

    let body_slot = Arc::clone(&slot);
    let send = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        Ok::<_, Error>(response.map(|incoming| ResponseBody {
            incoming,
            between_bytes,
            waiting: None,
            _slot: body_slot,
        }))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Wait for the response head while driving the connection.
    let response = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match done {
                Ok(()) => send.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(Error::from(e))),
            }
        }
    })
    .await?;
    let io = async move {
        let _slot = slot;
        match conn.take() {
            None => Ok(()),
            Some(conn) => conn.await.map_err(|e| {
                if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    e.into()
                }
            }),
        }
    };
    Ok((response.map(BodyExt::boxed_unsync), Box::new(io)))
}

/// GETs `target` on the host's own behalf (a JWKS), under the same address policy as an
/// action's requests, reading at most `max_bytes`, and never past `deadline`. The caller has
/// checked the allow-list and taken an outbound slot.
pub(crate) async fn get(
    target: &Target,
    allow: &AllowList,
    max_bytes: usize,
    deadline: Instant,
    slot: InFlight,
) -> Result<Bytes, String> {
    let url = target.normalised_url();
    let request = http::Request::get(target.uri.clone())
        .header(http::header::HOST, target.authority())
        .body(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| format!("{url}: {e}"))?;
    let options = clamp(None, deadline);
    let allow_private = allow.private_allowed(&target.host, target.port);
    let fetch = async {
        let (response, io) = send_checked(request, target.clone(), allow_private, options, slot)
            .await
            .map_err(|e| format!("fetching {url}: {e}"))?;
        let io = tokio::spawn(Box::into_pin(io));
        let status = response.status();
        if !status.is_success() {
            io.abort();
            return Err(format!("fetching {url}: HTTP {status}"));
        }
        let body = Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| format!("reading {url} (at most {max_bytes} bytes): {e}"))?
            .to_bytes();
        Ok(body)
    };
    tokio::time::timeout_at(deadline.into(), fetch)
        .await
        .map_err(|_| format!("fetching {url} did not finish before the flow deadline"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> &'static [&'static str] {
        &[]
    }

    #[test]
    fn malformed_allow_list_entries_are_refused_with_the_entry_named() {
        for bad in [
            "[::1]:99999",
            "https://host",
            "host:0",
            "host:http",
            "",
            "host:80:80",
            "user@host",
            "host/path",
            "[::1",
            "[nothost]:1",
        ] {
            let err = AllowList::parse(&[bad], none()).unwrap_err();
            assert!(err.contains("allow-list entry"), "{bad}: {err}");
        }
    }

    #[test]
    fn valid_entries_parse_to_hosts_and_ports() {
        let allow = AllowList::parse(
            &[
                "Example.COM",
                "10.0.0.1:8080",
                "[::1]:443",
                "::1",
                "svc.internal:443",
            ],
            &["svc.internal:443"],
        )
        .unwrap();
        assert!(allow.allows("example.com", 1));
        assert!(allow.allows("10.0.0.1", 8080) && !allow.allows("10.0.0.1", 8081));
        assert!(allow.allows("[::1]", 443) && allow.allows("::1", 7));
        assert!(
            allow.private_allowed("10.0.0.1", 8080),
            "an IP literal names its address"
        );
        assert!(allow.private_allowed("svc.internal", 443));
        assert!(!allow.private_allowed("example.com", 443));
    }

    #[test]
    fn a_private_mark_on_any_matching_entry_counts() {
        let allow = AllowList::parse(&["svc:443", "svc"], &["svc"]).unwrap();
        assert!(allow.private_allowed("svc", 443));
    }

    #[test]
    fn a_private_entry_must_also_be_allowed() {
        assert!(AllowList::parse(&["a.example"], &["b.example"]).is_err());
    }

    #[test]
    fn non_public_addresses_are_recognised_in_every_spelling() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::ffff:127.0.0.1",
            "fe80::1",
            "fd00::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "::7f00:1",
            "::a9fe:a9fe",
            "2001::1",
            "2002:7f00:1::",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_normalise_and_plain_http_is_for_loopback_only() {
        let t = Target::parse("HTTPS://Issuer.Example/.well-known/jwks.json#x").unwrap();
        assert_eq!(
            t.normalised_url(),
            "https://issuer.example:443/.well-known/jwks.json"
        );
        assert!(t.require_https_unless_loopback("JWKS URL").is_ok());
        let plain = Target::parse("http://issuer.example/jwks").unwrap();
        assert!(plain.require_https_unless_loopback("JWKS URL").is_err());
        for local in [
            "http://127.0.0.1:1/j",
            "http://localhost/j",
            "http://[::1]:8/j",
        ] {
            let t = Target::parse(local).unwrap();
            assert!(
                t.require_https_unless_loopback("JWKS URL").is_ok(),
                "{local}"
            );
        }
        assert!(Target::parse("http://user@host/").is_err());
        assert!(Target::parse("ftp://host/").is_err());
    }

    #[test]
    fn the_outbound_budget_bounds_total_and_concurrent_requests() {
        let limits = ExecutionLimits {
            max_outbound_requests: 3,
            max_concurrent_outbound_requests: 2,
            ..ExecutionLimits::default()
        };
        let budget = Arc::new(OutboundBudget::new(&limits));
        let a = budget.start().unwrap();
        let _b = budget.start().unwrap();
        assert!(budget.start().unwrap_err().contains("in flight"));
        drop(a);
        // The refused attempt counted: three were started, allowed or not.
        assert!(budget.start().unwrap_err().contains("more than 3"));
    }
}
