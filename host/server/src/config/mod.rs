//! The service's configuration file (`cachet.toml`): parsing, validation with the file and
//! line of every mistake, and the secrets and tokens it names from the environment.
//!
//! This module holds the validated [`Config`] and the checks; `raw` is the file's shape as
//! serde reads it, `locate` turns byte offsets into the lines errors name.
//!
//! Every table refuses unknown fields, so a typo fails at start-up instead of silently
//! keeping a default. Secret values never appear in errors or `Debug` output: a secret
//! written `env:NAME` is reported by the variable's name only.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cachet_limits::{CacheLimits, ExecutionLimits, OverflowPolicy};
use cachet_runtime::{ActionConfig, InstanceMode, StoreUrl, Trigger, WarmOptions};
use thiserror::Error;
use toml::Spanned;

use crate::auth::{Grant, MIN_TOKEN_CHARS, Tokens};
use locate::Locator;
use raw::{RawAction, RawAuth, RawConfig, RawDeploy, RawInstance};

mod locate;
mod raw;

/// A commented configuration that starts as it is: `cachet serve --print-example-config`.
pub const EXAMPLE_CONFIG: &str = include_str!("../example.toml");

/// The most executions `max_inflight` may allow at once: each reserves an instance slot of
/// address space in the engine's pool.
pub const MAX_INFLIGHT: usize = 65_536;

/// `function_cache_mb` when the file does not set it: the runtime library's
/// [`DEFAULT_FUNCTION_CACHE_BYTES`](cachet_runtime::DEFAULT_FUNCTION_CACHE_BYTES), in MiB.
pub const DEFAULT_FUNCTION_CACHE_MB: u64 =
    (cachet_runtime::DEFAULT_FUNCTION_CACHE_BYTES >> 20) as u64;

/// The largest `function_cache_mb` accepted (16 GiB): a bound on a typo, far above what every
/// compiled function of hundreds of JavaScript actions takes (each new engine is ~45 MB).
pub const MAX_FUNCTION_CACHE_MB: u64 = 16 * 1024;

/// Why a configuration could not be used. Each message names the file, the line when there
/// is one, and what to change.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a field has the wrong type, an unknown name or a bad
    /// value.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the mistake.
        line: usize,
        /// 1-based column of the mistake.
        column: usize,
        /// What is wrong, and what is accepted instead.
        message: String,
    },
    /// A value parsed but cannot be used (a missing action file, an unset variable, ...).
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the mistake.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A validated configuration: everything resolved (paths absolute, `env:` secrets read), ready
/// to start or reload a server.
#[derive(Clone)]
pub struct Config {
    /// Where the file was read from.
    pub path: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where the cache lives.
    pub store: StoreUrl,
    /// How long one store operation may take before it fails (a read is then a miss).
    pub store_timeout_ms: u64,
    /// What a write into a full partition does.
    pub policy: OverflowPolicy,
    /// Where compiled components are kept between restarts.
    pub compiled_cache_dir: Option<PathBuf>,
    /// Where JavaScript actions' tooling and built components are kept (`None`: the default
    /// cache directory, `$CACHET_CACHE_DIR` or `~/.cache/cachet`).
    pub js_cache_dir: Option<PathBuf>,
    /// MiB of compiled functions kept in memory for later compilations to reuse (see
    /// [`cachet_runtime::FunctionCache`]): every JavaScript action embeds the same engine, so a
    /// second one compiles in about a third of the time. `0` keeps none. Default 128.
    pub function_cache_mb: u64,
    /// Executions allowed at once; beyond, 503 with `Retry-After`.
    pub max_inflight: usize,
    /// Seconds a client is told to wait when the service is at `max_inflight`.
    pub retry_after_secs: u32,
    /// Connections open at once; beyond, new ones wait in the listen backlog. Default 4096.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (or idle between
    /// requests) before it is closed, in ms. Default 10 000.
    pub header_read_timeout_ms: u64,
    /// The bearer tokens, or `None` when `[auth]` is absent (loopback only).
    pub auth: Option<Tokens>,
    /// Quotas of every partition.
    pub cache_limits: CacheLimits,
    /// Deadline, memory and size limits of every execution.
    pub execution_limits: ExecutionLimits,
    /// The actions, in file order (the flow order per tenant and trigger).
    pub actions: Vec<ActionSpec>,
    /// Actions deployed through the API: where they are kept, how often replicas look for
    /// changes, the secrets each tenant's deployed actions may use.
    pub deploy: DeployConfig,
}

/// `[deploy]`, resolved.
#[derive(Clone, Debug)]
pub struct DeployConfig {
    /// How often (ms) a replica checks the deployment store for a change. Default 500.
    pub poll_ms: u64,
    /// Where deployments are kept when the store is not Redis (default: beside a snapshot
    /// file, `FILE.deployments/`; in memory for `memory:`).
    pub dir: Option<PathBuf>,
    /// What each tenant's deployed actions may use, granted by the operator: a tenant's
    /// actions can use its own grants only, and a tenant without an entry none.
    pub tenants: BTreeMap<String, TenantGrants>,
}

/// `[deploy.tenants.NAME]`: what one tenant's deployed actions may use besides public hosts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TenantGrants {
    /// Secret name → value: what a deployed action's secret references name.
    pub secrets: BTreeMap<String, String>,
    /// Hosts with private addresses an upload may allow-list (none by default: a deploy
    /// token must not open the service's own network to an action).
    pub private_hosts: Vec<String>,
    /// Loopback addresses whose `https://` URLs an upload may send over plain HTTP.
    pub plain_http_hosts: Vec<String>,
}

impl fmt::Debug for TenantGrants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret names only, never values.
        f.debug_struct("TenantGrants")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("private_hosts", &self.private_hosts)
            .field("plain_http_hosts", &self.plain_http_hosts)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens and secret values stay out: ActionConfig and Tokens redact themselves.
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("listen", &self.listen)
            .field("store", &self.store)
            .field("policy", &self.policy)
            .field("max_inflight", &self.max_inflight)
            .field("auth", &self.auth)
            .field("actions", &self.actions)
            .field("deploy", &self.deploy)
            .finish_non_exhaustive()
    }
}

/// One `[[actions]]` entry, resolved.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// The tenant whose flow it joins.
    pub tenant: String,
    /// The trigger whose flow it joins.
    pub trigger: Trigger,
    /// Its name in results, logs and metrics.
    pub name: String,
    /// The component file (absolute).
    pub path: PathBuf,
    /// Secrets and allow-list.
    pub config: ActionConfig,
    /// Its line in the config file, for errors found when it is loaded.
    pub line: usize,
}

impl Config {
    /// Reads and validates the file at `path`, reading `env:` secrets and the bearer tokens
    /// from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, &|name| std::env::var(name).ok())
    }

    /// [`Config::load`] with the environment given as a function (tests).
    pub fn load_with_env(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, env)
    }

    /// Validates `text` as if read from `path` (relative action paths resolve against its
    /// directory).
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let at = Locator { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| at.line_col(s.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;

        let listen: SocketAddr = raw.listen.get_ref().parse().map_err(|_| {
            at.invalid(
                &raw.listen,
                format!(
                    "listen = {:?} is not an address; write IP:PORT, e.g. \"127.0.0.1:8787\"",
                    raw.listen.get_ref()
                ),
            )
        })?;
        // `env:NAME` keeps a Redis password out of the file.
        let store_text = match raw.store.get_ref().strip_prefix("env:") {
            Some(var) => env(var).ok_or_else(|| {
                at.invalid(
                    &raw.store,
                    format!(
                        "store is read from ${var}, which is not set; export it or write the URL"
                    ),
                )
            })?,
            None => raw.store.get_ref().clone(),
        };
        let store: StoreUrl = store_text
            .parse()
            .map_err(|e| at.invalid(&raw.store, format!("store: {e}")))?;
        if *raw.function_cache_mb.get_ref() > MAX_FUNCTION_CACHE_MB {
            return Err(at.invalid(
                &raw.function_cache_mb,
                format!(
                    "function_cache_mb must be between 0 (keep no compiled functions) and \
                     {MAX_FUNCTION_CACHE_MB} (MiB of memory)"
                ),
            ));
        }
        if !(1..=MAX_INFLIGHT).contains(raw.max_inflight.get_ref()) {
            return Err(at.invalid(
                &raw.max_inflight,
                format!(
                    "max_inflight must be between 1 and {MAX_INFLIGHT} (executions at once; each \
                     reserves an instance slot)"
                ),
            ));
        }
        if !(1..=1_048_576).contains(raw.max_connections.get_ref()) {
            return Err(at.invalid(
                &raw.max_connections,
                "max_connections must be between 1 and 1048576 (connections open at once)".into(),
            ));
        }
        if !(100..=600_000).contains(raw.header_read_timeout_ms.get_ref()) {
            return Err(at.invalid(
                &raw.header_read_timeout_ms,
                "header_read_timeout_ms must be between 100 and 600000".into(),
            ));
        }
        if !(1..=60_000).contains(raw.store_timeout_ms.get_ref()) {
            return Err(at.invalid(
                &raw.store_timeout_ms,
                "store_timeout_ms must be between 1 and 60000".into(),
            ));
        }
        let auth = match &raw.auth {
            None => {
                if !listen.ip().is_loopback() {
                    return Err(at.invalid(
                        &raw.listen,
                        format!(
                            "listen = \"{listen}\" is reachable from other machines, but there is \
                             no [auth] table: add [auth] with tokens_env = \"CACHET_API_TOKENS\", \
                             or listen on 127.0.0.1"
                        ),
                    ));
                }
                None
            }
            Some(auth) => Some(tokens(&at, auth, env)?),
        };
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let compiled_cache_dir = raw
            .compiled_cache_dir
            .as_ref()
            .map(|d| base.join(d.get_ref()));
        let js_cache_dir = raw.js_cache_dir.as_ref().map(|d| base.join(d.get_ref()));
        let mut actions = Vec::with_capacity(raw.actions.len());
        for entry in &raw.actions {
            actions.push(action(&at, entry, base, env)?);
        }
        // Two actions with one name in one flow would be indistinguishable in results.
        let mut seen = BTreeMap::new();
        for a in &actions {
            if let Some(first) = seen.insert((&a.tenant, a.trigger, &a.name), a.line) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: a.line,
                    message: format!(
                        "a second action named `{}` in tenant `{}`'s {} flow (the first is on \
                         line {first}); give each action of a flow its own name",
                        a.name, a.tenant, a.trigger
                    ),
                });
            }
        }
        let deploy = deploy_config(&at, &raw.deploy, base, env)?;
        Ok(Self {
            path: path.to_path_buf(),
            deploy,
            listen,
            store,
            store_timeout_ms: *raw.store_timeout_ms.get_ref(),
            policy: raw.policy,
            compiled_cache_dir,
            js_cache_dir,
            function_cache_mb: *raw.function_cache_mb.get_ref(),
            max_inflight: *raw.max_inflight.get_ref(),
            retry_after_secs: raw.retry_after_secs,
            max_connections: *raw.max_connections.get_ref(),
            header_read_timeout_ms: *raw.header_read_timeout_ms.get_ref(),
            auth,
            cache_limits: raw.cache_limits,
            execution_limits: raw.execution_limits,
            actions,
        })
    }

    /// The settings a reload cannot apply (they shape the listener, the store or the engine)
    /// that differ between `self` and `new`. The store URL is compared whole, password
    /// included, so a changed password is not silently ignored.
    pub(crate) fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut check = |name: &'static str, same: bool| {
            if !same {
                changed.push(name);
            }
        };
        check("listen", self.listen == new.listen);
        check("store", self.store == new.store);
        check(
            "store_timeout_ms",
            self.store_timeout_ms == new.store_timeout_ms,
        );
        check("policy", self.policy == new.policy);
        check(
            "compiled_cache_dir",
            self.compiled_cache_dir == new.compiled_cache_dir,
        );
        check("js_cache_dir", self.js_cache_dir == new.js_cache_dir);
        check(
            "function_cache_mb",
            self.function_cache_mb == new.function_cache_mb,
        );
        check("deploy.dir", self.deploy.dir == new.deploy.dir);
        check("max_inflight", self.max_inflight == new.max_inflight);
        check(
            "max_connections",
            self.max_connections == new.max_connections,
        );
        check(
            "header_read_timeout_ms",
            self.header_read_timeout_ms == new.header_read_timeout_ms,
        );
        check("cache_limits", self.cache_limits == new.cache_limits);
        check(
            "execution_limits",
            self.execution_limits == new.execution_limits,
        );
        changed
    }
}

/// The bearer tokens `[auth]` names, read from the environment: `tokens_env`'s with every role
/// on every tenant, and each `[[auth.tokens]]` entry's with its roles and tenants.
fn tokens(
    at: &Locator<'_>,
    auth: &RawAuth,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Tokens, ConfigError> {
    let unset = |var: &str, what: &str| {
        format!(
            "{what} names ${var}, which is not set; set it to one or more bearer tokens \
             separated by commas (at least {MIN_TOKEN_CHARS} characters each)"
        )
    };
    let mut all = Tokens::empty(match &auth.tokens_env {
        Some(var) => var.get_ref().clone(),
        None => "[auth.tokens]".to_owned(),
    });
    if auth.tokens_env.is_none() && auth.tokens.is_empty() {
        return Err(ConfigError::Invalid {
            path: at.path.to_path_buf(),
            line: 1,
            message: "[auth] names no token: add tokens_env = \"CACHET_API_TOKENS\" (every role \
                      on every tenant) or [[auth.tokens]] entries with name, env, roles and \
                      tenants"
                .into(),
        });
    }
    if let Some(name) = &auth.tokens_env {
        let var = name.get_ref();
        let value = env(var).ok_or_else(|| at.invalid(name, unset(var, "[auth] tokens_env")))?;
        all = Tokens::parse(var, &value).map_err(|e| at.invalid(name, e.to_string()))?;
    }
    let mut names = std::collections::BTreeSet::new();
    for entry in &auth.tokens {
        let raw = entry.get_ref();
        let name = raw.name.get_ref();
        if !valid_name(name) {
            return Err(at.invalid(
                &raw.name,
                format!("token name {name:?}: use 1 to 128 ASCII letters, digits, `-`, `_` or `.`"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(at.invalid(&raw.name, format!("a second token named `{name}`; names must differ (logs say who did what by them)")));
        }
        let mut roles = Vec::new();
        for role in raw.roles.get_ref() {
            roles.push(
                role.parse()
                    .map_err(|e: String| at.invalid(&raw.roles, format!("token `{name}`: {e}")))?,
            );
        }
        if roles.is_empty() {
            return Err(at.invalid(
                &raw.roles,
                format!("token `{name}` has no role; give some of execute, read, deploy, admin"),
            ));
        }
        let listed = raw.tenants.get_ref();
        let tenants = if listed.iter().any(|t| t == "*") {
            if listed.len() > 1 {
                return Err(at.invalid(
                    &raw.tenants,
                    format!("token `{name}`: `*` (every tenant) cannot be listed with tenants"),
                ));
            }
            None
        } else {
            if listed.is_empty() {
                return Err(at.invalid(
                    &raw.tenants,
                    format!(
                        "token `{name}` may touch no tenant; list some, or `*` for every tenant"
                    ),
                ));
            }
            if let Some(bad) = listed.iter().find(|t| !valid_name(t)) {
                return Err(at.invalid(
                    &raw.tenants,
                    format!("token `{name}`: tenant {bad:?} is not a tenant name"),
                ));
            }
            Some(listed.clone())
        };
        let var = raw.env.get_ref();
        let value =
            env(var).ok_or_else(|| at.invalid(&raw.env, unset(var, &format!("token `{name}`"))))?;
        let grant = Grant {
            name: name.clone(),
            roles,
            tenants,
        };
        all.add_from(var, &value, grant)
            .map_err(|e| at.invalid(&raw.env, e.to_string()))?;
    }
    Ok(all)
}

/// `[deploy]`, checked: the poll interval bounded, the directory resolved, tenant secrets read.
fn deploy_config(
    at: &Locator<'_>,
    raw: &RawDeploy,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DeployConfig, ConfigError> {
    if !(50..=60_000).contains(raw.poll_ms.get_ref()) {
        return Err(at.invalid(
            &raw.poll_ms,
            "[deploy] poll_ms must be between 50 and 60000 (how often replicas look for a new \
             deployment)"
                .into(),
        ));
    }
    let mut tenants = BTreeMap::new();
    for (tenant, entry) in &raw.tenants {
        if !valid_name(tenant) {
            return Err(at.invalid(
                entry,
                format!("[deploy.tenants] {tenant:?} is not a tenant name"),
            ));
        }
        let raw_tenant = entry.get_ref();
        let mut secrets = BTreeMap::new();
        for (name, value) in &raw_tenant.secrets {
            let v = match value.get_ref().strip_prefix("env:") {
                Some(var) => env(var).ok_or_else(|| {
                    at.invalid(
                        value,
                        format!(
                            "tenant `{tenant}`'s secret `{name}` is read from ${var}, which is \
                             not set; export it before starting"
                        ),
                    )
                })?,
                None => value.get_ref().clone(),
            };
            secrets.insert(name.clone(), v);
        }
        tenants.insert(
            tenant.clone(),
            TenantGrants {
                secrets,
                private_hosts: raw_tenant.private_hosts.clone(),
                plain_http_hosts: raw_tenant.plain_http_hosts.clone(),
            },
        );
    }
    Ok(DeployConfig {
        poll_ms: *raw.poll_ms.get_ref(),
        dir: raw.dir.as_ref().map(|d| base.join(d.get_ref())),
        tenants,
    })
}

/// Whether `name` is usable as a tenant, action or token name (it appears in URLs, metric
/// labels and Redis keys).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One `[[actions]]` entry, checked and resolved: names usable in URLs and labels, the file
/// present, `env:` secrets read.
fn action(
    at: &Locator<'_>,
    entry: &Spanned<RawAction>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ActionSpec, ConfigError> {
    let line = at.line_col(entry.span().start).0;
    let raw = entry.get_ref();
    for (field, value) in [("tenant", &raw.tenant), ("name", &raw.name)] {
        let v = value.get_ref();
        if !valid_name(v) {
            return Err(at.invalid(
                value,
                format!(
                    "{field} = {v:?}: use 1 to 128 ASCII letters, digits, `-`, `_` or `.` \
                     (it appears in URLs and metric labels)"
                ),
            ));
        }
    }
    let path = base.join(raw.path.get_ref());
    if !path.is_file() {
        return Err(at.invalid(
            &raw.path,
            format!(
                "action `{}`: {} is not a file; give a component (.wasm, built for \
                 wasm32-wasip2) or a JavaScript action (.js or .ts, built on first use), \
                 or fix the path (relative paths start at the config file's directory)",
                raw.name.get_ref(),
                path.display()
            ),
        ));
    }
    let mut secrets = BTreeMap::new();
    for (name, value) in &raw.secrets {
        let resolved = match value.get_ref().strip_prefix("env:") {
            Some(var) => env(var).ok_or_else(|| {
                at.invalid(
                    value,
                    format!(
                        "action `{}`: secret `{name}` is read from ${var}, which is not set; \
                         export it before starting",
                        raw.name.get_ref()
                    ),
                )
            })?,
            None => value.get_ref().clone(),
        };
        secrets.insert(name.clone(), resolved);
    }
    Ok(ActionSpec {
        tenant: raw.tenant.get_ref().clone(),
        trigger: raw.trigger,
        name: raw.name.get_ref().clone(),
        path,
        config: ActionConfig {
            secrets,
            allowed_hosts: raw
                .allow_hosts
                .iter()
                .chain(&raw.allow_private_hosts)
                .cloned()
                .collect(),
            allowed_private_hosts: raw.allow_private_hosts.clone(),
            plain_http_hosts: raw.plain_http_hosts.clone(),
            instance: match raw.instance {
                RawInstance::Fresh => InstanceMode::Fresh,
                RawInstance::Warm => InstanceMode::Warm(WarmOptions::default()),
            },
        },
        line,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/cachet/cachet.toml"), text, &no_env)
    }

    #[test]
    fn the_example_config_starts_as_it_is() {
        let config = parse(EXAMPLE_CONFIG).unwrap();
        assert!(config.listen.ip().is_loopback());
        assert!(config.auth.is_none());
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line_and_the_accepted_names() {
        let e = parse("listen = \"127.0.0.1:1\"\nmax_inflite = 3\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("/etc/cachet/cachet.toml:2:1:"), "{text}");
        assert!(text.contains("max_inflight"), "{text}");
    }

    #[test]
    fn a_bad_policy_names_the_accepted_values() {
        let text = parse("\n\npolicy = \"lru\"\n").unwrap_err().to_string();
        assert!(text.contains(":3:"), "{text}");
        assert!(text.contains("evict") && text.contains("strict"), "{text}");
    }

    #[test]
    fn a_bad_limit_is_refused_with_the_table_line() {
        let text = parse("[cache_limits]\nmax_key_bytes = 999999\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("max_key_bytes"), "{text}");
    }

    #[test]
    fn a_public_listen_address_without_auth_is_refused() {
        let text = parse("listen = \"0.0.0.0:8787\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains(":1:") && text.contains("[auth]"), "{text}");
    }

    #[test]
    fn tokens_come_from_the_named_variable_and_must_be_long() {
        let text = "listen = \"0.0.0.0:8787\"\n[auth]\ntokens_env = \"T\"\n";
        let env = |v: &str| (v == "T").then(|| "short".to_owned());
        let e = Config::parse(Path::new("c.toml"), text, &env).unwrap_err();
        assert!(e.to_string().contains("shorter than 16"), "{e}");
        assert!(!e.to_string().contains("short,"), "{e}");

        let env = |v: &str| (v == "T").then(|| "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb".to_owned());
        let config = Config::parse(Path::new("c.toml"), text, &env).unwrap();
        let tokens = config.auth.unwrap();
        assert!(tokens.accepts("aaaaaaaaaaaaaaaa") && tokens.accepts("bbbbbbbbbbbbbbbb"));
        assert!(!tokens.accepts("aaaaaaaaaaaaaaab") && !tokens.accepts(""));
        assert!(!format!("{tokens:?}").contains("aaaa"));

        let e = Config::parse(Path::new("c.toml"), text, &no_env).unwrap_err();
        assert!(e.to_string().contains("$T, which is not set"), "{e}");
    }

    #[test]
    fn a_missing_action_file_and_a_missing_secret_variable_are_named_with_their_lines() {
        let dir = std::env::temp_dir().join(format!("cachet-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.wasm"), b"\0asm").unwrap();
        let path = dir.join("cachet.toml");
        let text = "[[actions]]\ntenant = \"acme\"\ntrigger = \"post-login\"\nname = \"a\"\n\
                    path = \"missing.wasm\"\n";
        let e = Config::parse(&path, text, &no_env).unwrap_err().to_string();
        assert!(e.contains(":5:") && e.contains("missing.wasm"), "{e}");

        let text = "[[actions]]\ntenant = \"acme\"\ntrigger = \"post-login\"\nname = \"a\"\n\
                    path = \"a.wasm\"\nsecrets = { id = \"env:NOPE_ID\" }\n";
        let e = Config::parse(&path, text, &no_env).unwrap_err().to_string();
        assert!(e.contains(":6:") && e.contains("$NOPE_ID"), "{e}");

        let env = |v: &str| (v == "NOPE_ID").then(|| "s3cr3t-value".to_owned());
        let config = Config::parse(&path, text, &env).unwrap();
        assert_eq!(config.actions[0].config.secrets["id"], "s3cr3t-value");
        assert_eq!(config.actions[0].config.instance, InstanceMode::Fresh);
        let warm = format!("{text}instance = \"warm\"\n");
        let config = Config::parse(&path, &warm, &env).unwrap();
        let expected = InstanceMode::Warm(WarmOptions::default());
        assert_eq!(config.actions[0].config.instance, expected);
        assert!(!format!("{config:?}").contains("s3cr3t"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_and_columns_count_characters_and_never_split_one() {
        let at = Locator {
            path: Path::new("c.toml"),
            text: "a = 1\nnamé = \"x\"\n",
        };
        assert_eq!(at.line_col(0), (1, 1));
        assert_eq!(at.line_col(6), (2, 1));
        // Inside the two bytes of `é`: moved back to its start.
        assert_eq!(at.line_col(10), (2, 4));
        assert_eq!(at.line_col(11), (2, 5));
        assert_eq!(at.line_col(usize::MAX).0, 3);
    }

    #[test]
    fn function_cache_mb_defaults_to_the_runtime_default_accepts_zero_and_refuses_a_typo() {
        assert_eq!(parse("").unwrap().function_cache_mb, 128);
        assert_eq!(DEFAULT_FUNCTION_CACHE_MB << 20, 128 << 20);
        assert_eq!(
            parse("function_cache_mb = 0\n").unwrap().function_cache_mb,
            0
        );
        let e = parse("\nfunction_cache_mb = 1000000\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:") && e.contains("16384"), "{e}");
        // The engine is built once: a reload cannot change it.
        let old = parse("").unwrap();
        let new = parse("function_cache_mb = 64\n").unwrap();
        assert_eq!(old.restart_only_changes(&new), ["function_cache_mb"]);
    }

    #[test]
    fn max_inflight_is_bounded_and_the_store_can_come_from_the_environment() {
        let e = parse("max_inflight = 100000000000\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":1:") && e.contains("65536"), "{e}");
        let env = |v: &str| (v == "STORE").then(|| "redis://:pw@127.0.0.1:6379".to_owned());
        let config = Config::parse(Path::new("c.toml"), "store = \"env:STORE\"\n", &env).unwrap();
        assert!(matches!(config.store, StoreUrl::Redis(_)));
        assert!(!format!("{config:?}").contains("pw"));
        let e = parse("store = \"env:STORE\"\n").unwrap_err().to_string();
        assert!(e.contains("$STORE"), "{e}");
    }

    #[test]
    fn an_unknown_trigger_names_the_triggers() {
        let text = "[[actions]]\ntenant = \"acme\"\ntrigger = \"pre-login\"\nname = \"a\"\n\
                    path = \"a.wasm\"\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains("post-login"), "{e}");
    }
}
