//! Where a request goes: the scheme, host and port of a URL, checked, and its normal form.

use thiserror::Error;

use super::policy::is_loopback_host;

/// Why a URL is not somewhere the host sends requests. The message is what the action's log
/// and error show.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum TargetError {
    /// Not a URL at all.
    #[error("invalid URL: {0}")]
    Invalid(String),
    /// A scheme other than `https` or `http`, or none.
    #[error("the URL must start with https:// (or http:// for loopback)")]
    Scheme,
    /// No host.
    #[error("the URL has no host")]
    NoHost,
    /// `user:password@` in the URL.
    #[error("the URL must not carry user info")]
    UserInfo,
    /// Plain `http` to a host that is not loopback.
    #[error("{what} {url} must use https (plain http is accepted only for loopback hosts)")]
    PlainHttp {
        /// What the URL is for ("JWKS URL").
        what: &'static str,
        /// The URL, normalised.
        url: String,
    },
}

/// Where a host-side fetch goes: scheme, host and port of a URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Lower-case host without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    /// The original URI (absolute form).
    pub(super) uri: http::Uri,
}

impl Target {
    /// Parses an absolute `http` or `https` URL without user info.
    pub(crate) fn parse(url: &str) -> Result<Self, TargetError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| TargetError::Invalid(e.to_string()))?;
        Self::from_uri(uri)
    }

    /// [`Target::parse`] for a URI already parsed (a `wasi:http` request's).
    pub(crate) fn from_uri(uri: http::Uri) -> Result<Self, TargetError> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(TargetError::Scheme),
        };
        let authority = uri.authority().ok_or(TargetError::NoHost)?;
        if authority.as_str().contains('@') {
            return Err(TargetError::UserInfo);
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
    pub(crate) fn require_https_unless_loopback(
        &self,
        what: &'static str,
    ) -> Result<(), TargetError> {
        if self.tls || is_loopback_host(&self.host) {
            return Ok(());
        }
        Err(TargetError::PlainHttp {
            what,
            url: self.normalised_url(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
