//! The allow-list an operator gives each action, and the address policy every outbound
//! request meets after DNS: which names an action may reach, and which addresses those names
//! may resolve to.

use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Lower-case name or IP literal, without brackets.
    host: String,
    port: Option<u16>,
    /// The entry is an IP literal: that exact address is allowed, whatever kind it is.
    literal: bool,
    /// The operator allows this name to resolve to non-public addresses.
    private_ok: bool,
    /// `https://` URLs to this (loopback) entry go over plain HTTP.
    plain_http: bool,
}

/// Hosts an action may reach: `HOST` (any port), `HOST:PORT`, or `[IPv6]:PORT`, compared
/// case-insensitively. Built with [`AllowList::parse`], which refuses malformed entries.
///
/// ```
/// use cachet_runtime::AllowList;
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
    ) -> Result<Self, AllowListError> {
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
                .ok_or_else(|| AllowListError::PrivateNotAllowed(p.host.clone()))?;
            entry.private_ok = true;
        }
        Ok(Self(list.into()))
    }

    /// Marks `hosts`, each an entry of the list and a loopback IP address (`127.0.0.1`,
    /// `[::1]`, with or without a port), as reached over plain HTTP even by `https://` URLs:
    /// for a local server standing in for a real one in tests. Names, `localhost` included, are
    /// refused: a name could resolve to another machine, which would then get plain text.
    ///
    /// ```
    /// use cachet_runtime::AllowList;
    /// let allow = AllowList::parse(&["127.0.0.1:8080"], &[] as &[&str]).unwrap();
    /// assert!(allow.clone().with_plain_http(&["127.0.0.1:8080"]).is_ok());
    /// assert!(allow.with_plain_http(&["127.0.0.1:9090"]).is_err()); // not on the list
    /// let public = AllowList::parse(&["api.example.com"], &[] as &[&str]).unwrap();
    /// assert!(public.with_plain_http(&["api.example.com"]).is_err()); // not loopback
    /// let named = AllowList::parse(&["localhost:8080"], &[] as &[&str]).unwrap();
    /// assert!(named.with_plain_http(&["localhost:8080"]).is_err()); // a name, not an address
    /// ```
    pub fn with_plain_http<P: AsRef<str>>(self, hosts: &[P]) -> Result<Self, AllowListError> {
        if hosts.is_empty() {
            return Ok(self);
        }
        let mut list = self.0.to_vec();
        for raw in hosts {
            let p = parse_entry(raw.as_ref())?;
            let loopback_ip = p
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
            if !loopback_ip {
                return Err(AllowListError::PlainHttpNotLoopback(
                    raw.as_ref().to_string(),
                ));
            }
            let entry = list
                .iter_mut()
                .find(|e| e.host == p.host && e.port == p.port)
                .ok_or_else(|| AllowListError::PlainHttpNotAllowed(p.host.clone()))?;
            entry.plain_http = true;
        }
        Ok(Self(list.into()))
    }

    /// Whether an `https://` URL to `host:port` goes over plain HTTP (see
    /// [`AllowList::with_plain_http`]).
    pub(crate) fn plain_http(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().any(|e| {
            e.plain_http && e.host.eq_ignore_ascii_case(host) && e.port.is_none_or(|p| p == port)
        })
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
    pub(crate) fn private_allowed(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().any(|e| {
            e.host.eq_ignore_ascii_case(host)
                && e.port.is_none_or(|p| p == port)
                && (e.literal || e.private_ok)
        })
    }
}

/// Why an allow-list entry was refused. Each names the entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AllowListError {
    /// The entry is empty.
    #[error("allow-list entry `{0}` is empty")]
    Empty(String),
    /// The entry has a scheme, path, user, query or space.
    #[error(
        "allow-list entry `{0}` is not HOST or HOST:PORT (no scheme, path or user; e.g. \
         `api.example.com:443`)"
    )]
    NotHostPort(String),
    /// The port is not a number from 1 to 65535.
    #[error("allow-list entry `{entry}` has port `{port}`; a port is 1 to 65535")]
    BadPort {
        /// The entry.
        entry: String,
        /// What stood where the port goes.
        port: String,
    },
    /// `[` is never closed.
    #[error("allow-list entry `{0}` opens `[` without closing it")]
    UnclosedBracket(String),
    /// The brackets hold something other than an IPv6 address.
    #[error("allow-list entry `{0}` has brackets around something that is not an IPv6 address")]
    NotIpv6InBrackets(String),
    /// Something other than `:PORT` follows `]`.
    #[error("allow-list entry `{0}` has text after `]` that is not `:PORT`")]
    TextAfterBracket(String),
    /// An IPv6 address with a port, without brackets.
    #[error(
        "allow-list entry `{0}` looks like an IPv6 address with a port; write it as `[ADDR]:PORT`"
    )]
    Ipv6NeedsBrackets(String),
    /// The host is not a host name.
    #[error("allow-list entry `{0}` is not a host name (letters, digits, `.`, `-`)")]
    NotAHostName(String),
    /// A host marked private is not on the allow-list itself.
    #[error("private host `{0}` is not on the allow-list; add it to the allowed hosts too")]
    PrivateNotAllowed(String),
    /// A host marked plain-HTTP is not on the allow-list itself.
    #[error("plain-HTTP host `{0}` is not on the allow-list; add it to the allowed hosts too")]
    PlainHttpNotAllowed(String),
    /// A host marked plain-HTTP is not a loopback IP address.
    #[error(
        "plain-HTTP host `{0}` is not a loopback IP address: only 127.0.0.0/8 and [::1] (a local \
         test server; a name could resolve elsewhere) may take https:// URLs over plain HTTP"
    )]
    PlainHttpNotLoopback(String),
}

fn parse_entry(raw: &str) -> Result<Entry, AllowListError> {
    let entry = raw.trim();
    let named = || raw.to_string();
    if entry.is_empty() {
        return Err(AllowListError::Empty(named()));
    }
    if entry.contains("://") || entry.contains(['/', '@', '?', '#', ' ']) {
        return Err(AllowListError::NotHostPort(named()));
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(AllowListError::BadPort {
            entry: named(),
            port: p.to_string(),
        }),
    };
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            return Err(AllowListError::UnclosedBracket(named()));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(AllowListError::NotIpv6InBrackets(named()));
        }
        match tail {
            "" => (host, None),
            _ => match tail.strip_prefix(':') {
                Some(p) => (host, Some(port(p)?)),
                None => return Err(AllowListError::TextAfterBracket(named())),
            },
        }
    } else if entry.parse::<std::net::Ipv6Addr>().is_ok() {
        (entry, None)
    } else {
        match entry.rsplit_once(':') {
            Some((_, _)) if entry.matches(':').count() > 1 => {
                return Err(AllowListError::Ipv6NeedsBrackets(named()));
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
        return Err(AllowListError::NotAHostName(named()));
    }
    Ok(Entry {
        host: host.to_ascii_lowercase(),
        port,
        literal,
        private_ok: false,
        plain_http: false,
    })
}

/// Whether `ip` is a publicly routable unicast address: not loopback, private, link-local
/// (which includes cloud metadata services), shared, documentation, multicast, reserved, or an
/// IPv6 form that embeds one of those. IPv6 is judged by allowing global unicast only.
pub(super) fn is_public(ip: IpAddr) -> bool {
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

pub(super) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_only_for_loopback_addresses_on_the_list_and_only_their_ports() {
        let list = [
            "127.0.0.1:8484",
            "127.0.0.1",
            "[::1]:9",
            "10.0.0.1:80",
            "localhost:80",
        ];
        let allow = || AllowList::parse(&list, none()).unwrap();
        let marked = allow()
            .with_plain_http(&["127.0.0.1:8484", "[::1]:9"])
            .unwrap();
        assert!(marked.plain_http("127.0.0.1", 8484));
        assert!(marked.plain_http("[::1]", 9));
        // Another port of the same address (its own entry, unmarked) keeps TLS.
        assert!(!marked.plain_http("127.0.0.1", 443));
        assert!(!marked.plain_http("10.0.0.1", 80));
        for refused in ["10.0.0.1:80", "localhost:80", "[::ffff:10.0.0.1]:80"] {
            assert!(allow().with_plain_http(&[refused]).is_err(), "{refused}");
        }
        // An IPv4-mapped loopback address is loopback; an entry must still be on the list.
        let mapped = AllowList::parse(&["[::ffff:127.0.0.1]:5"], none()).unwrap();
        assert!(mapped.with_plain_http(&["[::ffff:127.0.0.1]:5"]).is_ok());
        assert!(allow().with_plain_http(&["127.0.0.2:1"]).is_err());
    }

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
            assert!(
                err.to_string().contains(&format!("`{bad}`")),
                "{bad}: {err}"
            );
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
        assert_eq!(
            AllowList::parse(&["a.example"], &["b.example"]),
            Err(AllowListError::PrivateNotAllowed("b.example".into()))
        );
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
}
