//! Connecting to checked addresses and exchanging one HTTP/1 request: DNS by the host, the
//! address policy on every resolved address, the connection made to the address checked (no
//! rebinding between check and connect), TLS verified against the original name, and every
//! phase bounded by its timeout and the flow's deadline. Also the host's own fetches on an
//! action's behalf (JWKS) through the same path.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::budget::{InFlight, REFUSALS};
use super::policy::{AllowList, is_public};
use super::target::Target;
use super::{MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT};

/// What the response future of a request resolves to, and the connection's remaining I/O.
pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// The timeouts a request gets: what the action asked for, capped by the host's maxima and by
/// what is left of the flow.
pub(crate) fn clamp(requested: Option<RequestOptions>, deadline: Instant) -> RequestOptions {
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

/// Reads a refused request's body to its end (or the flow's deadline) and drops what it reads:
/// nothing is kept, so the action's writes cost the host no memory, and they succeed instead
/// of finding the stream closed.
pub(crate) async fn discard(mut body: WasiBody, deadline: Instant) {
    let _ = tokio::time::timeout_at(deadline.into(), async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

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

/// Why a name is refused when it resolves only to addresses the policy does not allow.
pub(crate) const ADDRESS_REFUSED: &str = "the name resolves only to loopback, private or link-local \
                               addresses; list the IP itself, or mark the entry private, to allow it";

/// An HTTP/1 connection ready for one request.
pub(crate) struct Connection {
    sender: hyper::client::conn::http1::SendRequest<WasiBody>,
    conn: hyper::client::conn::http1::Connection<TokioIo<Box<dyn Conn>>, WasiBody>,
}

/// Connects to `target` under the address policy and completes the HTTP handshake, all
/// within the connect timeout (one budget for DNS, TCP, TLS and the handshake together, so a
/// request's worst case is connect + first byte + between bytes, as the options say).
pub(crate) async fn open(
    target: &Target,
    allow_private: bool,
    options: &RequestOptions,
) -> Result<Connection, Error> {
    let connect_timeout = options.connect_timeout.unwrap_or(MAX_CONNECT_TIMEOUT);
    tokio::time::timeout(connect_timeout, async {
        let stream = connect(target, allow_private).await?;
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.max_headers(100).max_buf_size(64 * 1024);
        let (sender, conn) = builder
            .handshake::<_, WasiBody>(TokioIo::new(stream))
            .await?;
        Ok::<_, Error>(Connection { sender, conn })
    })
    .await
    .map_err(|_| Error::ConnectionTimeout)?
}

/// Sends `request` on a connection [`open`] made (hyper's header limits), waits for the
/// response head within the first-byte timeout, and holds `slot` until the response is done
/// with; the response body enforces the between-bytes timeout. Adapted from
/// wasmtime-wasi-http's `default_send_request`, which resolves and connects by name.
pub(crate) async fn send_checked(
    mut request: http::Request<WasiBody>,
    Connection { mut sender, conn }: Connection,
    options: RequestOptions,
    slot: InFlight,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let slot = Arc::new(slot);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(MAX_READ_TIMEOUT);
    let between_bytes = options
        .between_bytes_timeout
        .unwrap_or(MAX_READ_TIMEOUT)
        .max(Duration::from_nanos(1));
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
        let connection = open(target, allow_private, &options).await.map_err(|e| {
            if matches!(e, Error::DestinationIpProhibited) {
                REFUSALS.warn(&target.authority(), ADDRESS_REFUSED);
            }
            format!("fetching {url}: {e}")
        })?;
        let (response, io) = send_checked(request, connection, options, slot)
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
