//! Limits on one execution of a flow and on one action's configuration, as data with pure
//! checks. The host enforces them (deadline by epoch interruption, memory by its allocator);
//! this module says what the numbers are and how a violation is reported.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{CacheError, ConfigError};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Declares [`ExecutionLimits`] once: the struct, its defaults, the list validation walks, and
/// the deserializer (unknown fields refused, missing ones defaulted, zeros refused). One list,
/// so a new limit cannot be added to one of them and forgotten in another.
macro_rules! execution_limits {
    ($( $(#[doc = $doc:literal])* $field:ident : $ty:ty = $default:expr; )*) => {
        /// Limits on one execution of a flow (all actions bound to one tenant's trigger), on
        /// what one action may make the host hold while it runs, and on the shape of each
        /// instance. Every field must be positive. Guest-controlled input is checked against
        /// these before the host parses or buffers it.
        ///
        /// ```
        /// use cachet_limits::{ExecutionLimits, LimitError};
        ///
        /// let limits = ExecutionLimits::default();
        /// assert_eq!(limits.flow_deadline_ms, 20_000);
        /// assert!(limits.check_actions(20).is_ok());
        /// assert_eq!(
        ///     limits.check_actions(21),
        ///     Err(LimitError::TooManyActions { count: 21, max: 20 })
        /// );
        /// assert!(limits.check_event_bytes(1024 * 1024).is_ok());
        /// assert!(limits.check_event_bytes(1024 * 1024 + 1).is_err());
        /// // Overrides come from configuration files; zeros and unknown names are refused.
        /// let custom: ExecutionLimits = serde_json::from_str(r#"{"max_token_bytes": 4096}"#).unwrap();
        /// assert_eq!(custom.max_token_bytes, 4096);
        /// assert!(serde_json::from_str::<ExecutionLimits>(r#"{"max_token_bytes": 0}"#).is_err());
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "RawExecutionLimits")]
        pub struct ExecutionLimits {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for ExecutionLimits {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl ExecutionLimits {
            /// Every limit with its name, for validation and messages.
            fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($field), self.$field as u64), )*]
            }
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct RawExecutionLimits {
            $( $field: $ty, )*
        }

        impl Default for RawExecutionLimits {
            fn default() -> Self {
                let d = ExecutionLimits::default();
                Self { $( $field: d.$field, )* }
            }
        }

        impl TryFrom<RawExecutionLimits> for ExecutionLimits {
            type Error = ConfigError;

            fn try_from(r: RawExecutionLimits) -> Result<Self, ConfigError> {
                let limits = ExecutionLimits { $( $field: r.$field, )* };
                limits.validate()?;
                Ok(limits)
            }
        }
    };
}

execution_limits! {
    /// Wall-clock budget for the whole flow, in milliseconds.
    flow_deadline_ms: u64 = 20_000;
    /// Most actions bound to one trigger.
    max_actions_per_flow: usize = 20;
    /// Most cache writes (set + delete) one action execution may make.
    max_cache_writes: u32 = 100;
    /// Most linear memory one action instance may grow to, in bytes.
    max_memory_bytes: usize = 64 * MIB;
    /// Largest event JSON accepted, in bytes.
    max_event_bytes: usize = MIB;
    /// Most stdout + stderr kept per action execution, in bytes; the rest is cut with a marker.
    max_log_bytes: usize = 256 * KIB;
    /// Largest action module accepted, in bytes. A JavaScript component carries the engine
    /// (~12 MB) and a snapshot of its heap after loading the bundle (about 8 bytes per byte
    /// of JavaScript: with `jsonwebtoken` and the Node `crypto` polyfill, ~25 MB), so this is
    /// the instance memory limit: a larger module could not start anyway.
    max_module_bytes: usize = 64 * MIB;
    /// Most trigger-API calls (commands) one action execution may record.
    max_commands: usize = 1_000;
    /// Most bytes of command payload (names, reasons, JSON) one action execution may record.
    /// A call's size is checked against what is left before its JSON is parsed.
    max_command_bytes: usize = MIB;
    /// Longest claim name, metadata key or scope, in bytes.
    max_name_bytes: usize = 256;
    /// Longest token `jwt.decode` and `jwt.verify` accept, in bytes (checked before parsing).
    max_token_bytes: usize = 16 * KIB;
    /// Most host resources (streams, requests, header fields, pollables) one instance may hold
    /// at once. An HTTP request uses about ten; what each resource may hold is bounded too
    /// (header fields by `max_header_bytes`, body buffers by two 16 KiB chunks), so this also
    /// bounds what the resources of one execution can cost the host.
    max_resources: usize = 256;
    /// Most elements a table of one instance may grow to.
    max_table_elements: usize = 20_000;
    /// Most core module instances one action component may create (a Rust component needs a
    /// few; a JavaScript engine more).
    max_core_instances_per_component: u32 = 16;
    /// Most tables one action component may define.
    max_tables_per_component: u32 = 8;
    /// Most linear memories one action component may define.
    max_memories_per_component: u32 = 1;
    /// Most outbound HTTP requests one action execution may start (allowed or not).
    max_outbound_requests: u32 = 50;
    /// Most outbound HTTP requests of one action execution in flight at once.
    max_concurrent_outbound_requests: u32 = 8;
    /// Largest outbound request body, in bytes; a longer body fails the request.
    max_request_body_bytes: usize = MIB;
    /// Size of the chunks an outbound request body streams through the host in (one being
    /// written and one queued, per body). At least 4096: one wasi:io blocking write.
    request_body_chunk_bytes: usize = 16 * KIB;
    /// Most bytes of one header `fields` resource an action builds (names + values, plus a
    /// fixed overhead per field, so it also bounds the number of fields). Response headers are
    /// bounded by the HTTP client: 100 fields, 64 KiB.
    max_header_bytes: usize = 16 * KIB;
    /// Most bytes the host copies out of an action's memory in one call (strings and lists
    /// passed to a host function). Calls within it that break a narrower limit get a typed
    /// error; beyond it the action traps.
    max_host_call_bytes: usize = 16 * MIB;
    /// Largest JWKS document the host fetches for `jwt.verify`, in bytes.
    max_jwks_bytes: usize = 256 * KIB;
    /// Most key sets the runtime keeps (least recently used dropped first).
    jwks_cache_entries: usize = 64;
    /// Most key sets one tenant's actions may have in that cache: a tenant that churns URLs
    /// pushes out its own sets, not other tenants'.
    jwks_cache_entries_per_tenant: usize = 8;
    /// Most bytes of fetched JWKS documents the runtime keeps.
    jwks_cache_bytes: usize = 4 * MIB;
    /// How long a redirected flow waits for the user to come back, in milliseconds: its
    /// continuation (the `state` of `api.redirect.sendUserTo`) expires after this.
    continuation_ttl_ms: u64 = 10 * 60 * 1000;
    /// Largest continuation a redirect may leave in the store (the event without secrets and
    /// the commands recorded before the redirect, as JSON), in bytes. A redirect past it
    /// fails the action that asked for it.
    max_continuation_bytes: usize = 256 * KIB;
}

impl ExecutionLimits {
    /// Checks that every limit is positive, and the body chunk holds one blocking write.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some((field, _)) = self.named().into_iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Zero { field });
        }
        if self.request_body_chunk_bytes < 4096 {
            return Err(ConfigError::TooSmall {
                field: "request_body_chunk_bytes",
                value: self.request_body_chunk_bytes as u64,
                min: 4096,
                why: "wasi:io lets a guest write 4096 bytes at once",
            });
        }
        Ok(())
    }

    /// A flow of `count` actions is allowed.
    pub fn check_actions(&self, count: usize) -> Result<(), LimitError> {
        if count > self.max_actions_per_flow {
            return Err(LimitError::TooManyActions {
                count,
                max: self.max_actions_per_flow,
            });
        }
        Ok(())
    }

    /// An event of `bytes` bytes is accepted.
    pub fn check_event_bytes(&self, bytes: usize) -> Result<(), LimitError> {
        if bytes > self.max_event_bytes {
            return Err(LimitError::EventTooLarge {
                bytes,
                max: self.max_event_bytes,
            });
        }
        Ok(())
    }

    /// A module of `bytes` bytes is accepted.
    pub fn check_module_bytes(&self, bytes: usize) -> Result<(), LimitError> {
        if bytes > self.max_module_bytes {
            return Err(LimitError::ModuleTooLarge {
                bytes,
                max: self.max_module_bytes,
            });
        }
        Ok(())
    }

    /// A fresh write budget for one action execution.
    pub fn write_budget(&self) -> WriteBudget {
        WriteBudget::new(self.max_cache_writes)
    }
}

/// Limits on one action's configuration.
///
/// Lengths are counted in characters (Unicode scalar values), as Auth0 documents them.
///
/// ```
/// use cachet_limits::{ActionLimits, LimitError};
///
/// let limits = ActionLimits::default();
/// assert!(limits.check_secrets([("CLIENT_SECRET", "s3cr3t")]).is_ok());
/// let long_name = "N".repeat(129);
/// assert!(matches!(
///     limits.check_secrets([(long_name.as_str(), "v")]),
///     Err(LimitError::SecretNameTooLong { chars: 129, max: 128, .. })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionLimits {
    /// Most secrets one action may have.
    pub max_secrets: usize,
    /// Longest secret name, in characters.
    pub max_secret_name_chars: usize,
    /// Longest secret value, in characters.
    pub max_secret_value_chars: usize,
}

impl Default for ActionLimits {
    fn default() -> Self {
        Self {
            max_secrets: 30,
            max_secret_name_chars: 128,
            max_secret_value_chars: 4096,
        }
    }
}

impl ActionLimits {
    /// Checks an action's secrets as `(name, value)` pairs. Errors name the secret, never show
    /// its value.
    pub fn check_secrets<'a>(
        &self,
        secrets: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), LimitError> {
        let mut count = 0;
        for (name, value) in secrets {
            count += 1;
            if name.is_empty() {
                return Err(LimitError::SecretNameEmpty);
            }
            let name_chars = name.chars().count();
            if name_chars > self.max_secret_name_chars {
                return Err(LimitError::SecretNameTooLong {
                    name: name.chars().take(32).collect(),
                    chars: name_chars,
                    max: self.max_secret_name_chars,
                });
            }
            let value_chars = value.chars().count();
            if value_chars > self.max_secret_value_chars {
                return Err(LimitError::SecretValueTooLong {
                    name: name.to_owned(),
                    chars: value_chars,
                    max: self.max_secret_value_chars,
                });
            }
        }
        if count > self.max_secrets {
            return Err(LimitError::TooManySecrets {
                count,
                max: self.max_secrets,
            });
        }
        Ok(())
    }
}

/// A limit of [`ExecutionLimits`] or [`ActionLimits`] was exceeded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitError {
    /// More actions bound to a trigger than allowed.
    #[error("{count} actions are bound to this trigger; at most {max} may run in one flow")]
    TooManyActions {
        /// Actions in the flow.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The event JSON is too large.
    #[error("the event is {bytes} bytes; at most {max} bytes are accepted")]
    EventTooLarge {
        /// Event size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The action module is too large.
    #[error(
        "the action module is {bytes} bytes; at most {max} bytes are accepted (build with --release and strip it)"
    )]
    ModuleTooLarge {
        /// Module size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The action has too many secrets.
    #[error("the action has {count} secrets; at most {max} are allowed")]
    TooManySecrets {
        /// Secrets configured.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A secret has an empty name.
    #[error("a secret has an empty name; give every secret a name")]
    SecretNameEmpty,
    /// A secret name is too long.
    #[error("secret name `{name}…` is {chars} characters; at most {max} are allowed")]
    SecretNameTooLong {
        /// The first 32 characters of the name.
        name: String,
        /// Name length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A secret value is too long. The value itself is never included.
    #[error("secret `{name}` has a value of {chars} characters; at most {max} are allowed")]
    SecretValueTooLong {
        /// The secret's name.
        name: String,
        /// Value length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
}

/// Counts one action execution's cache writes (set and delete) against its allowance.
///
/// Every attempted write is charged, successful or not: the budget bounds the work an action
/// can make the store do, and a failed write costs the store as much as a successful one.
///
/// ```
/// use cachet_limits::WriteBudget;
/// let mut budget = WriteBudget::new(2);
/// assert!(budget.charge().is_ok());
/// assert!(budget.charge().is_ok());
/// assert_eq!(budget.charge().unwrap_err().code(), "MaxSideEffectsExceeded");
/// assert_eq!(budget.used(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBudget {
    used: u32,
    max: u32,
}

impl WriteBudget {
    /// A budget of `max` writes.
    pub fn new(max: u32) -> Self {
        Self { used: 0, max }
    }

    /// Takes one write from the budget, or fails with `MaxSideEffectsExceeded` once it is spent
    /// (a refused write is not counted).
    pub fn charge(&mut self) -> Result<(), CacheError> {
        if self.used >= self.max {
            return Err(CacheError::MaxSideEffectsExceeded { max: self.max });
        }
        self.used += 1;
        Ok(())
    }

    /// Writes charged so far.
    pub fn used(&self) -> u32 {
        self.used
    }

    /// Writes left.
    pub fn remaining(&self) -> u32 {
        self.max - self.used
    }
}
