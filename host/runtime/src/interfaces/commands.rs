//! What the trigger APIs record: one execution's commands, within its command budget, and
//! why a call is refused ([`CallRefused`]). The calls themselves are checked in
//! [`crate::interfaces::api`].

use cachet_limits::ExecutionLimits;
use wasmtime::component::HasData;

use crate::result::Command;
use crate::trigger::Trigger;

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
    /// The arguments are not a JSON array (only a raw `api.call` can send that).
    #[error("the argument list of {method} is not valid JSON: {reason}")]
    ArgsNotJson {
        /// The method.
        method: &'static str,
        /// The parser's message (a position, never the text).
        reason: String,
    },
    /// The trigger's API has no such method.
    #[error("{trigger} actions have no api.{method}; the methods are: {methods}")]
    UnknownMethod {
        /// The trigger.
        trigger: &'static str,
        /// What was called (cut to 64 bytes).
        method: String,
        /// The trigger's methods, comma-separated.
        methods: String,
    },
    /// An argument is missing or not what Auth0's method takes.
    #[error("{message}")]
    BadArgument {
        /// What is wrong and what is accepted, naming the argument.
        message: String,
    },
    /// The method exists, but not where it was called.
    #[error("{message}")]
    NotHere {
        /// Where it can be called.
        message: String,
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
    /// The trigger whose API the action calls.
    pub(crate) trigger: Trigger,
    pub(crate) list: Vec<Command>,
    bytes: usize,
    max_commands: usize,
    max_bytes: usize,
    max_name_bytes: usize,
}

impl Commands {
    pub(crate) fn new(trigger: Trigger, limits: &ExecutionLimits) -> Self {
        Self {
            trigger,
            list: Vec::new(),
            bytes: 0,
            max_commands: limits.max_commands,
            max_bytes: limits.max_command_bytes,
            max_name_bytes: limits.max_name_bytes,
        }
    }

    /// Reserves room for one command of `payload_bytes`, or says why there is none.
    pub(crate) fn reserve(&self, payload_bytes: usize) -> Result<(), CallRefused> {
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

    /// Whether a command that ends the flow was recorded (a denial, a validation error, a
    /// revoked session or refresh token).
    pub(crate) fn denied(&self) -> bool {
        self.list.iter().any(Command::ends_flow)
    }

    /// Bytes of the payload budget still free.
    pub(crate) fn free_bytes(&self) -> usize {
        self.max_bytes.saturating_sub(self.bytes)
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
    fn the_command_count_and_name_length_are_bounded() {
        let mut c = Commands::new(Trigger::PostLogin, &limits());
        for _ in 0..3 {
            c.record(Command::AddAccessTokenScope { scope: "s".into() }, 1)
                .unwrap();
        }
        assert!(
            c.record(
                Command::Deny {
                    code: None,
                    reason: String::new(),
                    user_message: None,
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
