//! What the trigger APIs record: one execution's commands, within its command budget, and
//! why a call is refused ([`CallRefused`]). The calls themselves are checked in
//! [`crate::interfaces::api`].

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use cachet_limits::ExecutionLimits;
use rand::RngCore as _;
use wasmtime::component::HasData;

use crate::clock::Clock;
use crate::event::EventFields;
use crate::result::{Command, ContinueParams};
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

/// One leg of a flow that may redirect (from its start or a continuation to its end or the
/// next redirect), shared by its actions: the event, the `state` a redirect in this leg gets,
/// and, after a continuation, what the user came back with.
pub(crate) struct Leg {
    /// The flow's event (without secrets), for the claims of `redirect.encodeToken`.
    pub(crate) event: Arc<EventFields>,
    /// The runtime's clock, for token times.
    pub(crate) clock: Arc<dyn Clock>,
    /// The state this leg's redirect gets, made when first needed.
    state: OnceLock<String>,
    /// The continuation this leg resumes, if it does.
    pub(crate) resumed: Option<Resumed>,
}

/// What a continued flow came back with.
pub(crate) struct Resumed {
    /// The state that was continued (a session token must name it).
    pub(crate) state: String,
    /// What the user came back with.
    pub(crate) params: ContinueParams,
}

/// Bytes of randomness in a redirect's state.
const STATE_BYTES: usize = 32;

impl Leg {
    pub(crate) fn new(
        event: Arc<EventFields>,
        clock: Arc<dyn Clock>,
        resumed: Option<Resumed>,
    ) -> Self {
        Self {
            event,
            clock,
            state: OnceLock::new(),
            resumed,
        }
    }

    /// The state a redirect in this leg gets: 256 random bits from the operating system,
    /// base64url, so that nobody can guess another flow's.
    pub(crate) fn state(&self) -> &str {
        self.state.get_or_init(|| {
            let mut bytes = [0u8; STATE_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        })
    }
}

/// One execution's recorded commands and what is left of its budget.
pub(crate) struct Commands {
    /// The trigger whose API the action calls.
    pub(crate) trigger: Trigger,
    pub(crate) list: Vec<Command>,
    /// Where `redirect.sendUserTo` sends the user (its URL and query, without the state).
    pub(crate) redirect: Option<String>,
    /// The flow leg, for triggers whose actions can redirect.
    pub(crate) leg: Option<Arc<Leg>>,
    /// Whether this execution is `onContinuePostLogin` (a resumed redirect).
    pub(crate) continuing: bool,
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
            redirect: None,
            leg: None,
            continuing: false,
            bytes: 0,
            max_commands: limits.max_commands,
            max_bytes: limits.max_command_bytes,
            max_name_bytes: limits.max_name_bytes,
        }
    }

    /// These commands for an execution in `leg` (of a trigger whose actions can redirect),
    /// `continuing` when it is the redirecting action's `onContinuePostLogin`.
    pub(crate) fn entered(mut self, leg: Option<Arc<Leg>>, continuing: bool) -> Self {
        self.leg = leg;
        self.continuing = continuing;
        self
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

    /// Counts `payload_bytes` against the budget without recording a command (a redirect).
    pub(crate) fn charge(&mut self, payload_bytes: usize) -> Result<(), CallRefused> {
        self.reserve(payload_bytes)?;
        self.bytes += payload_bytes;
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
