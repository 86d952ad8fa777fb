//! [`StoreUrl`]: one way to name a store, everywhere (library, `cachet run --store`, service
//! configuration).
//!
//! - `memory:` — partitions in this process (the default).
//! - `file:PATH` — memory plus a snapshot file at `PATH` ([`FileStore`](super::FileStore)).
//!   `file:///abs/path` is accepted too.
//! - `redis://[user:password@]host[:port][/db]` and `rediss://…` (TLS) — a Redis or
//!   Redis-compatible server shared by many hosts (the `cachet-store-redis` crate).
//! - `redis-cluster://[user:password@]host:port` and `rediss-cluster://…` — a Redis Cluster,
//!   reached through any one of its nodes (the client discovers the rest).
//!
//! A Redis URL can carry a password, so [`StoreUrl`]'s `Display` and `Debug` and every parse
//! error print it as `***`; only [`RedisUrl::connection_string`] gives the real one, for the
//! client that connects.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

/// Where a host's cache partitions live. Parse one with [`str::parse`].
///
/// ```
/// use cachet_runtime::StoreUrl;
///
/// assert_eq!("memory:".parse::<StoreUrl>().unwrap(), StoreUrl::Memory);
/// let file: StoreUrl = "file:/var/lib/cachet/cache.json".parse().unwrap();
/// assert_eq!(file, StoreUrl::File("/var/lib/cachet/cache.json".into()));
///
/// let redis: StoreUrl = "redis://cachet:hunter2@10.0.0.5:6380/2".parse().unwrap();
/// assert_eq!(redis.to_string(), "redis://cachet:***@10.0.0.5:6380/2");
/// assert!(!format!("{redis:?}").contains("hunter2"));
///
/// let err = "redis://:hunter2@".parse::<StoreUrl>().unwrap_err();
/// assert!(!err.to_string().contains("hunter2"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory:`: partitions in this process, lost when it exits (the default).
    #[default]
    Memory,
    /// `file:PATH`: partitions in memory, snapshotted to `PATH`.
    File(PathBuf),
    /// `redis://…` or `rediss://…`: partitions in a Redis server.
    Redis(RedisUrl),
}

/// A Redis server's (or Cluster's) URL, with its password kept out of every printed form.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// With the `redis`/`rediss` scheme the client understands, also for a Cluster.
    url: url::Url,
    cluster: bool,
}

impl RedisUrl {
    /// The full URL, password included, as `redis://` or `rediss://` (for a Cluster: the node
    /// to start from): pass it to the Redis client, never to a log.
    pub fn connection_string(&self) -> &str {
        self.url.as_str()
    }

    /// Whether this names a Redis Cluster (`redis-cluster://`, `rediss-cluster://`).
    pub fn cluster(&self) -> bool {
        self.cluster
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn tls(&self) -> bool {
        self.url.scheme() == "rediss"
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The port (6379 when the URL names none).
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(6379)
    }

    /// The database number (0 when the URL names none).
    pub fn db(&self) -> u32 {
        db_of(&self.url).ok().flatten().unwrap_or(0)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            // Cannot fail: a URL with a password has a host.
            let _ = shown.set_password(Some("***"));
        }
        let text = shown.as_str();
        if self.cluster {
            let scheme = shown.scheme();
            write!(f, "{scheme}-cluster{}", &text[scheme.len()..])
        } else {
            f.write_str(text)
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory:"),
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Redis(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// A store URL that could not be parsed. The URL in the message has its password replaced by
/// `***`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid store URL `{url}`: {reason}; use memory:, file:PATH, redis://[user:password@]host[:port][/db], rediss://…, or redis-cluster://host:port"
)]
pub struct StoreUrlError {
    /// The URL as given, password redacted.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for StoreUrl {
    type Err = StoreUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| StoreUrlError {
            url: redact(s),
            reason: reason.to_owned(),
        };
        let s = s.trim();
        if s == "memory:" || s == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(rest) = s.strip_prefix("file:") {
            // `file:///abs` is the URL spelling of `file:/abs`.
            let path = match rest.strip_prefix("//") {
                Some(abs) if abs.starts_with('/') => abs,
                Some(_) => return Err(fail("a file: URL with // must be file:///absolute/path")),
                None => rest,
            };
            if path.is_empty() {
                return Err(fail(
                    "file: needs a path, as in file:/var/lib/cachet/cache.json",
                ));
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        let (s, cluster) = match s.strip_prefix("redis-cluster://") {
            Some(rest) => (format!("redis://{rest}"), true),
            None => match s.strip_prefix("rediss-cluster://") {
                Some(rest) => (format!("rediss://{rest}"), true),
                None => (s.to_owned(), false),
            },
        };
        if s.starts_with("redis://") || s.starts_with("rediss://") {
            let url = url::Url::parse(&s).map_err(|e| fail(&e.to_string()))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(fail("the URL names no host"));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(fail("query parameters and fragments are not supported"));
            }
            let db = db_of(&url).map_err(|e| fail(&e))?;
            if cluster && db.is_some_and(|db| db != 0) {
                return Err(fail("a Redis Cluster has only database 0"));
            }
            return Ok(Self::Redis(RedisUrl { url, cluster }));
        }
        Err(fail("unknown scheme"))
    }
}

/// The database number in a Redis URL's path: `None` for no path, an error for anything but a
/// non-negative integer.
fn db_of(url: &url::Url) -> Result<Option<u32>, String> {
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return Ok(None);
    }
    // The path is not echoed: a password with a `/` in it would end up there.
    path.parse::<u32>()
        .map(Some)
        .map_err(|_| "the path must be a database number, as in /0".to_owned())
}

/// `s` with any password replaced by `***`, for error messages about strings that did not
/// parse. Deliberately blunt: everything between the start of the user info and the *last* `@`
/// in the whole string is treated as `user:password`, so a password containing `/`, `?`, `#`
/// or `@` is still hidden, and so is one in a string with no `://` at all.
fn redact(s: &str) -> String {
    let Some(at) = s.rfind('@') else {
        return s.to_owned();
    };
    let start = match s.find("://") {
        Some(i) if i + 3 <= at => i + 3,
        _ => s.find(':').map_or(0, |i| i + 1).min(at),
    };
    let userinfo = &s[start..at];
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &s[..start], &s[at..]),
        // No `:` before the `@`, but maybe the password is what follows `scheme:`: hide all.
        None if start > 0 && !s[..start].ends_with("://") => {
            format!("{}***{}", &s[..start], &s[at..])
        }
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_kind_parses_with_its_parts() {
        assert_eq!(StoreUrl::from_str("memory").unwrap(), StoreUrl::Memory);
        assert_eq!(
            StoreUrl::from_str("file:state.json").unwrap(),
            StoreUrl::File("state.json".into())
        );
        assert_eq!(
            StoreUrl::from_str("file:///tmp/x.json").unwrap(),
            StoreUrl::File("/tmp/x.json".into())
        );
        let StoreUrl::Redis(r) = StoreUrl::from_str("rediss://u:p@cache.internal/3").unwrap()
        else {
            panic!("not redis");
        };
        assert!(r.tls());
        assert_eq!((r.host(), r.port(), r.db()), ("cache.internal", 6379, 3));
        assert_eq!(r.connection_string(), "rediss://u:p@cache.internal/3");
        assert!(!r.cluster());

        let StoreUrl::Redis(c) = StoreUrl::from_str("rediss-cluster://u:p@node-1:7000").unwrap()
        else {
            panic!("not redis");
        };
        assert!(c.cluster() && c.tls());
        assert_eq!(c.connection_string(), "rediss://u:p@node-1:7000");
        assert_eq!(c.to_string(), "rediss-cluster://u:***@node-1:7000");
        assert!(StoreUrl::from_str("redis-cluster://node-1:7000/2").is_err());
    }

    #[test]
    fn malformed_urls_are_refused_with_the_password_redacted() {
        for bad in [
            "redis://user:s3cret@",
            "redis://user:s3cret@host/x",
            "redis://user:s3cret@host?timeout=1",
            "redis://user:s3cret@host:99999",
            "redis://user:ab/s3cret@host",
            "redis://user:123/s3cret@host",
            "redis://user:s3cret?x@host",
            "redis://user:s3cret#x@host",
            "user:s3cret@host:6379",
            "redis:/user:s3cret@host",
            "postgres://user:s3cret@host",
            "file:",
            "file://relative",
        ] {
            let err = StoreUrl::from_str(bad).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("invalid store URL"), "{text}");
        }
        assert_eq!(
            StoreUrl::from_str("redis://u:pw@h/x").unwrap_err().url,
            "redis://u:***@h/x"
        );
    }

    #[test]
    fn a_user_without_a_password_is_shown_as_is() {
        let url = StoreUrl::from_str("redis://reader@h:1/0").unwrap();
        assert_eq!(url.to_string(), "redis://reader@h:1/0");
    }
}
