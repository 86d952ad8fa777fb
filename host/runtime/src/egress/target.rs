//! Where a request goes: the scheme, host and port of a URL, checked, and its normal form.

use super::policy::is_loopback_host;

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
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
        Self::from_uri(uri)
    }

    pub(crate) fn from_uri(uri: http::Uri) -> Result<Self, String> {
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
