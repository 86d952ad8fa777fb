//! What the trigger APIs record: one execution's commands, within its command budget.
//!
//! Guest-controlled names and JSON enter here. Sizes are checked against what is left of the
//! budget *before* any JSON is parsed, so an action cannot make the host build a large value
//! only to refuse it (an 8 MB JSON array would otherwise cost the host ~150 MB to parse).

use cachet_limits::ExecutionLimits;
use serde_json::Value;
use wasmtime::component::HasData;

use crate::result::Command;

/// Why the host refused an API call. The action sees the message (the WIT functions return
/// `result<_, string>`), so each says what to do; none echoes the value the action passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallRefused {
    /// The execution made `max_commands` calls already.
    #[error("more than {max} API calls in one execution; the call was refused")]
    TooManyCalls {
        /// `execution_limits.max_commands`.
        max: usize,
    },
    /// The call's payload would exceed what is left of the payload budget.
    #[error(
        "this call's {bytes} bytes would take the execution's API call payloads past {max} \
         bytes; the call was refused (keep claims and metadata small)"
    )]
    PayloadBudget {
        /// The call's payload.
        bytes: usize,
        /// `execution_limits.max_command_bytes`.
        max: usize,
    },
    /// An empty claim name, metadata key or scope.
    #[error("{what} must not be empty")]
    EmptyName {
        /// "claim", "scope", …
        what: &'static str,
    },
    /// A claim name, metadata key or scope over `max_name_bytes`.
    #[error("{what} is {bytes} bytes; at most {max} are allowed")]
    NameTooLong {
        /// "claim", "scope", …
        what: &'static str,
        /// Its length.
        bytes: usize,
        /// `execution_limits.max_name_bytes`.
        max: usize,
    },
    /// A value that should be JSON is not.
    #[error("the value for {what} `{name}` is not valid JSON: {reason}")]
    NotJson {
        /// "claim", "metadata key", …
        what: &'static str,
        /// The claim or key it was for (checked for length already).
        name: String,
        /// The parser's message (a position, never the text).
        reason: String,
    },
}

/// The WIT boundary: the action receives the message.
impl From<CallRefused> for String {
    fn from(refused: CallRefused) -> Self {
        refused.to_string()
    }
}

/// Lets the generated `add_to_linker` of each trigger API reach the [`Commands`] it records
/// into.
pub(crate) struct HasCommands;

impl HasData for HasCommands {
    type Data<'a> = &'a mut Commands;
}

/// One execution's recorded commands and what is left of its budget.
pub(crate) struct Commands {
    pub(crate) list: Vec<Command>,
    bytes: usize,
    max_commands: usize,
    max_bytes: usize,
    max_name_bytes: usize,
}

impl Commands {
    pub(crate) fn new(limits: &ExecutionLimits) -> Self {
        Self {
            list: Vec::new(),
            bytes: 0,
            max_commands: limits.max_commands,
            max_bytes: limits.max_command_bytes,
            max_name_bytes: limits.max_name_bytes,
        }
    }

    /// Reserves room for one command of `payload_bytes`, or says why there is none.
    fn reserve(&mut self, payload_bytes: usize) -> Result<(), CallRefused> {
        if self.list.len() >= self.max_commands {
            return Err(CallRefused::TooManyCalls {
                max: self.max_commands,
            });
        }
        if self.bytes.saturating_add(payload_bytes) > self.max_bytes {
            return Err(CallRefused::PayloadBudget {
                bytes: payload_bytes,
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Records `command`, whose payload is `payload_bytes`, if the budget allows it.
    pub(crate) fn record(
        &mut self,
        command: Command,
        payload_bytes: usize,
    ) -> Result<(), CallRefused> {
        self.reserve(payload_bytes)?;
        self.bytes += payload_bytes;
        self.list.push(command);
        Ok(())
    }

    /// Checks a claim name, metadata key or scope.
    pub(crate) fn check_name(&self, what: &'static str, name: &str) -> Result<(), CallRefused> {
        if name.is_empty() {
            return Err(CallRefused::EmptyName { what });
        }
        if name.len() > self.max_name_bytes {
            return Err(CallRefused::NameTooLong {
                what,
                bytes: name.len(),
                max: self.max_name_bytes,
            });
        }
        Ok(())
    }

    /// Records a command carrying a name and a JSON value: checks the name and the size, then
    /// parses the JSON (never echoing it in errors), then records.
    pub(crate) fn record_json(
        &mut self,
        what: &'static str,
        name: String,
        json: &str,
        make: impl FnOnce(String, Value) -> Command,
    ) -> Result<(), CallRefused> {
        self.check_name(what, &name)?;
        let bytes = name.len().saturating_add(json.len());
        self.reserve(bytes)?;
        let value: Value = match serde_json::from_str(json) {
            Ok(value) => value,
            Err(e) => {
                return Err(CallRefused::NotJson {
                    what,
                    name,
                    reason: e.to_string(),
                });
            }
        };
        self.record(make(name, value), bytes)
    }

    /// Whether a denial was recorded.
    pub(crate) fn denied(&self) -> bool {
        self.list.iter().any(|c| matches!(c, Command::Deny { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ExecutionLimits {
        ExecutionLimits {
            max_commands: 3,
            max_command_bytes: 32,
            max_name_bytes: 8,
            ..ExecutionLimits::default()
        }
    }

    #[test]
    fn an_oversized_json_value_is_refused_before_it_is_parsed() {
        let mut c = Commands::new(&limits());
        // Not valid JSON either: a parse would have reported that instead.
        let err = c
            .record_json("claim", "n".into(), &"[".repeat(64), |name, value| {
                Command::SetIdTokenClaim { name, value }
            })
            .unwrap_err();
        assert!(err.to_string().contains("past 32 bytes"), "{err}");
        assert!(c.list.is_empty());
    }

    #[test]
    fn the_command_count_and_name_length_are_bounded() {
        let mut c = Commands::new(&limits());
        for _ in 0..3 {
            c.record_json("claim", "n".into(), "1", |name, value| {
                Command::SetIdTokenClaim { name, value }
            })
            .unwrap();
        }
        assert!(
            c.record(
                Command::Deny {
                    code: None,
                    reason: String::new()
                },
                0
            )
            .is_err()
        );
        assert!(c.check_name("claim name", "123456789").is_err());
        assert!(c.check_name("claim name", "").is_err());
        assert!(!c.denied());
    }
}
