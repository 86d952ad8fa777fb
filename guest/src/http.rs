//! A small blocking HTTP client on `wasi:http`, for actions.
//!
//! The host lets a request through only to hosts on the action's allow-list, and bounds its
//! timeouts by the flow deadline; a refused request is [`HttpError::Denied`], naming the host.
//!
//! ```no_run
//! # fn main() -> Result<(), cachet_guest::http::HttpError> {
//! // no_run: a request needs a host, which only a running action has.
//! let resp = cachet_guest::http::Request::get("https://api.example.com/v1/status")
//!     .header("accept", "application/json")
//!     .send()?;
//! assert_eq!(resp.status, 200);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// Largest response body read; the rest is refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// An HTTP request under construction. `Debug` shows the method, URL without its query, and
/// header names, but not header values that carry credentials or the body (a token request's
/// body holds the client secret).
#[derive(Clone)]
pub struct Request {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// Headers whose values are credentials.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url.split('?').next().unwrap_or(""))
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A response: status and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body, at most [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be sent (no scheme or host, unsupported scheme).
    InvalidUrl(String),
    /// The host refused the request: the target is not on the action's allow-list.
    Denied {
        /// The host the action tried to reach.
        host: String,
    },
    /// The host refused the request by another of its rules (the address policy, the
    /// execution's request budget, the body size limit); nothing was sent.
    Refused {
        /// The host the action tried to reach.
        host: String,
        /// Which rule refused it, and what to do.
        rule: &'static str,
        /// The `wasi:http` error code the host answered with.
        code: String,
    },
    /// Connecting or reading took too long.
    Timeout {
        /// The host.
        host: String,
    },
    /// The connection failed (refused, reset, DNS, TLS, ...).
    Connection {
        /// The host.
        host: String,
        /// What the host runtime reported.
        reason: String,
    },
    /// The response body exceeded [`MAX_RESPONSE_BYTES`].
    ResponseTooLarge,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(u) => write!(f, "invalid URL `{u}`: use http(s)://host[:port]/path"),
            Self::Denied { host } => write!(
                f,
                "request to {host} denied: the host is not on this action's allow-list \
                 (add it, e.g. `cachet run --allow-host {host}`)"
            ),
            Self::Refused { host, rule, code } => {
                write!(f, "request to {host} refused ({code}): {rule}")
            }
            Self::Timeout { host } => write!(f, "request to {host} timed out"),
            Self::Connection { host, reason } => write!(f, "request to {host} failed: {reason}"),
            Self::ResponseTooLarge => {
                write!(f, "response body larger than {MAX_RESPONSE_BYTES} bytes")
            }
        }
    }
}

impl std::error::Error for HttpError {}

struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn parse_url(url: &str) -> Result<Url<'_>, HttpError> {
    let invalid = || HttpError::InvalidUrl(url.to_string());
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid());
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    Ok(Url {
        https,
        authority,
        path_and_query: if path.is_empty() { "/" } else { path },
    })
}

impl Request {
    fn new(method: &'static str, url: &str) -> Self {
        Self {
            method,
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the connect and read timeouts (the host may lower them to fit the deadline).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let url = parse_url(&self.url)?;
        let host = url.authority.to_string();
        let connection = |reason: String| HttpError::Connection {
            host: host.clone(),
            reason,
        };

        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        if !self.body.is_empty() {
            headers.push((
                "content-length".into(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let fields = Fields::from_list(&headers)
            .map_err(|e| connection(format!("invalid header: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let method = match self.method {
            "POST" => Method::Post,
            _ => Method::Get,
        };
        let ok = request.set_method(&method).is_ok()
            && request
                .set_scheme(Some(if url.https {
                    &Scheme::Https
                } else {
                    &Scheme::Http
                }))
                .is_ok()
            && request.set_authority(Some(url.authority)).is_ok()
            && request
                .set_path_with_query(Some(url.path_and_query))
                .is_ok();
        if !ok {
            return Err(HttpError::InvalidUrl(self.url));
        }

        let body = request
            .body()
            .map_err(|()| connection("request body unavailable".into()))?;
        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // A host that does not support a timeout keeps its own; that is fine.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let pending =
            outgoing_handler::handle(request, Some(options)).map_err(|e| map_error(e, &host))?;

        let written = (|| {
            let stream = body
                .write()
                .map_err(|()| "request body unavailable".to_string())?;
            // wasi:io streams take at most 4096 bytes per blocking write.
            for chunk in self.body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| format!("writing the body: {e:?}"))?;
            }
            Ok::<(), String>(())
        })();
        let finished =
            written.and_then(|()| OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}")));

        pending.subscribe().block();
        // A body the host cut off (one past the size limit as it streams) fails the write:
        // report the request's own error rather than the write that noticed it.
        if let Err(write_error) = finished {
            return Err(match pending.get() {
                Some(Ok(Err(e))) => map_error(e, &host),
                _ => connection(write_error),
            });
        }
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(map_error(e, &host)),
            Some(Err(())) | None => return Err(connection("no response".into())),
        };
        let status = response.status();
        let incoming = response
            .consume()
            .map_err(|()| connection("response body unavailable".into()))?;
        let mut out = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| connection("response body unavailable".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                            return Err(HttpError::ResponseTooLarge);
                        }
                        out.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(connection(format!(
                            "reading the body: {}",
                            e.to_debug_string()
                        )));
                    }
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response { status, body: out })
    }
}

fn map_error(e: ErrorCode, host: &str) -> HttpError {
    let host = host.to_string();
    let code = format!("{e:?}");
    match e {
        ErrorCode::HttpRequestDenied => HttpError::Denied { host },
        ErrorCode::DestinationIpProhibited => HttpError::Refused {
            host,
            rule: "the name resolves only to loopback, private or link-local addresses (the \
                   operator can list the IP itself, or mark the allow-list entry private)",
            code,
        },
        ErrorCode::ConnectionLimitReached => HttpError::Refused {
            host,
            rule: "this execution's outbound request budget is spent (requests in all, or at \
                   once; refused requests count too)",
            code,
        },
        ErrorCode::HttpRequestBodySize(_) => HttpError::Refused {
            host,
            rule: "the request body is larger than the host allows",
            code,
        },
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout => HttpError::Timeout { host },
        other => HttpError::Connection {
            host,
            reason: format!("{other:?}"),
        },
    }
}

/// Percent-encodes one URL path segment (everything but unreserved characters).
///
/// ```
/// assert_eq!(cachet_guest::http::encode_segment("auth0|64f 1"), "auth0%7C64f%201");
/// ```
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
///
/// ```
/// assert_eq!(
///     cachet_guest::http::form_encode(&[("a", "b c"), ("x", "&=é")]),
///     "a=b+c&x=%26%3D%C3%A9"
/// );
/// ```
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let u = parse_url("https://a.example:8443/x/y?z=1").unwrap();
        assert!(u.https);
        assert_eq!(
            (u.authority, u.path_and_query),
            ("a.example:8443", "/x/y?z=1")
        );
        assert_eq!(parse_url("http://h").unwrap().path_and_query, "/");
        assert!(parse_url("ftp://h/").is_err());
        assert!(parse_url("https:///x").is_err());
        assert!(parse_url("https://user@h/").is_err());
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_hides_credentials_and_the_body() {
        let request = Request::post("https://t.example/oauth/token?code=abc")
            .header("Authorization", "Bearer tok-123")
            .header("accept", "application/json")
            .body("client_secret=s3cr3t");
        let shown = format!("{request:?}");
        assert!(!shown.contains("tok-123") && !shown.contains("s3cr3t") && !shown.contains("abc"));
        assert!(shown.contains("application/json"), "{shown}");
    }
}
