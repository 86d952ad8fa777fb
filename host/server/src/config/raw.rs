//! The config file's shape as serde reads it: every field spanned where an error may have to
//! name its line, every table closed to unknown fields. [`super::Config::parse`] turns this
//! into the validated [`super::Config`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use cachet_limits::{CacheLimits, ExecutionLimits, OverflowPolicy};
use cachet_runtime::Trigger;
use serde::Deserialize;
use toml::Spanned;

pub(super) fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8787".to_owned())
}

pub(super) fn default_store() -> Spanned<String> {
    Spanned::new(0..0, "memory:".to_owned())
}

pub(super) fn default_max_inflight() -> Spanned<usize> {
    Spanned::new(0..0, 256)
}

pub(super) fn default_function_cache_mb() -> Spanned<u64> {
    Spanned::new(0..0, super::DEFAULT_FUNCTION_CACHE_MB)
}

pub(super) fn default_store_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 100)
}

pub(super) fn default_max_connections() -> Spanned<usize> {
    Spanned::new(0..0, 4096)
}

pub(super) fn default_header_read_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 10_000)
}

pub(super) fn default_retry_after() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default = "default_listen")]
    pub(super) listen: Spanned<String>,
    #[serde(default = "default_store")]
    pub(super) store: Spanned<String>,
    #[serde(default = "default_store_timeout")]
    pub(super) store_timeout_ms: Spanned<u64>,
    #[serde(default)]
    pub(super) policy: OverflowPolicy,
    pub(super) compiled_cache_dir: Option<Spanned<PathBuf>>,
    pub(super) js_cache_dir: Option<Spanned<PathBuf>>,
    #[serde(default = "default_function_cache_mb")]
    pub(super) function_cache_mb: Spanned<u64>,
    #[serde(default = "default_max_inflight")]
    pub(super) max_inflight: Spanned<usize>,
    #[serde(default = "default_retry_after")]
    pub(super) retry_after_secs: u32,
    #[serde(default = "default_max_connections")]
    pub(super) max_connections: Spanned<usize>,
    #[serde(default = "default_header_read_timeout")]
    pub(super) header_read_timeout_ms: Spanned<u64>,
    pub(super) auth: Option<RawAuth>,
    #[serde(default)]
    pub(super) cache_limits: CacheLimits,
    #[serde(default)]
    pub(super) execution_limits: ExecutionLimits,
    #[serde(default)]
    pub(super) actions: Vec<Spanned<RawAction>>,
    #[serde(default)]
    pub(super) deploy: RawDeploy,
}

pub(super) fn default_poll_ms() -> Spanned<u64> {
    Spanned::new(0..0, 500)
}

/// `[deploy]`: actions deployed through the API.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeploy {
    #[serde(default = "default_poll_ms")]
    pub(super) poll_ms: Spanned<u64>,
    pub(super) dir: Option<Spanned<PathBuf>>,
    /// Tenant → what its deployed actions may use.
    #[serde(default)]
    pub(super) tenants: BTreeMap<String, Spanned<RawDeployTenant>>,
}

/// `[deploy.tenants.NAME]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeployTenant {
    /// Secret name → value or `env:VAR`.
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) private_hosts: Vec<String>,
    #[serde(default)]
    pub(super) plain_http_hosts: Vec<String>,
}

impl Default for RawDeploy {
    fn default() -> Self {
        Self {
            poll_ms: default_poll_ms(),
            dir: None,
            tenants: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) tokens_env: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tokens: Vec<Spanned<RawToken>>,
}

/// One `[[auth.tokens]]` entry: a named token with roles on tenants.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) name: Spanned<String>,
    pub(super) env: Spanned<String>,
    pub(super) roles: Spanned<Vec<String>>,
    pub(super) tenants: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    pub(super) tenant: Spanned<String>,
    pub(super) trigger: Trigger,
    pub(super) name: Spanned<String>,
    pub(super) path: Spanned<PathBuf>,
    #[serde(default)]
    pub(super) allow_hosts: Vec<String>,
    #[serde(default)]
    pub(super) allow_private_hosts: Vec<String>,
    #[serde(default)]
    pub(super) plain_http_hosts: Vec<String>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) instance: RawInstance,
}

/// `instance = "fresh"` (the default) or `"warm"`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawInstance {
    #[default]
    Fresh,
    Warm,
}
