//! Limits on one execution of a flow and on one action's configuration, as data with pure
//! checks. The host enforces them (deadline by epoch interruption, memory by its allocator);
//! this module says what the numbers are and how a violation is reported.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{CacheError, ConfigError};

const MIB: usize = 1024 * 1024;

/// Limits on one execution of a flow (all actions bound to one tenant's trigger).
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
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawExecutionLimits")]
pub struct ExecutionLimits {
    /// Wall-clock budget for the whole flow, in milliseconds.
    pub flow_deadline_ms: u64,
    /// Most actions bound to one trigger.
    pub max_actions_per_flow: usize,
    /// Most cache writes (set + delete) one action execution may make.
    pub max_cache_writes: u32,
    /// Most linear memory one action instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Largest event JSON accepted, in bytes.
    pub max_event_bytes: usize,
    /// Most stdout + stderr kept per action execution, in bytes; the rest is cut with a marker.
    pub max_log_bytes: usize,
    /// Largest action module accepted, in bytes.
    pub max_module_bytes: usize,
}

impl Default for ExecutionLimits {
    fn default() -> Self {
        Self {
            flow_deadline_ms: 20_000,
            max_actions_per_flow: 20,
            max_cache_writes: 100,
            max_memory_bytes: 64 * MIB,
            max_event_bytes: MIB,
            max_log_bytes: 256 * 1024,
            max_module_bytes: 16 * MIB,
        }
    }
}

impl ExecutionLimits {
    /// Checks that every limit is positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("flow_deadline_ms", self.flow_deadline_ms),
            ("max_actions_per_flow", self.max_actions_per_flow as u64),
            ("max_cache_writes", u64::from(self.max_cache_writes)),
            ("max_memory_bytes", self.max_memory_bytes as u64),
            ("max_event_bytes", self.max_event_bytes as u64),
            ("max_log_bytes", self.max_log_bytes as u64),
            ("max_module_bytes", self.max_module_bytes as u64),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((field, _)) => Err(ConfigError::Zero { field }),
            None => Ok(()),
        }
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawExecutionLimits {
    flow_deadline_ms: u64,
    max_actions_per_flow: usize,
    max_cache_writes: u32,
    max_memory_bytes: usize,
    max_event_bytes: usize,
    max_log_bytes: usize,
    max_module_bytes: usize,
}

impl Default for RawExecutionLimits {
    fn default() -> Self {
        let d = ExecutionLimits::default();
        Self {
            flow_deadline_ms: d.flow_deadline_ms,
            max_actions_per_flow: d.max_actions_per_flow,
            max_cache_writes: d.max_cache_writes,
            max_memory_bytes: d.max_memory_bytes,
            max_event_bytes: d.max_event_bytes,
            max_log_bytes: d.max_log_bytes,
            max_module_bytes: d.max_module_bytes,
        }
    }
}

impl TryFrom<RawExecutionLimits> for ExecutionLimits {
    type Error = ConfigError;

    fn try_from(r: RawExecutionLimits) -> Result<Self, ConfigError> {
        let limits = ExecutionLimits {
            flow_deadline_ms: r.flow_deadline_ms,
            max_actions_per_flow: r.max_actions_per_flow,
            max_cache_writes: r.max_cache_writes,
            max_memory_bytes: r.max_memory_bytes,
            max_event_bytes: r.max_event_bytes,
            max_log_bytes: r.max_log_bytes,
            max_module_bytes: r.max_module_bytes,
        };
        limits.validate()?;
        Ok(limits)
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
