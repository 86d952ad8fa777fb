//! The `api` interface: Auth0's `api` object of every trigger, as one host function. Each
//! trigger's methods are a table (`post_login.rs`, `credentials_exchange.rs`, …): Auth0's name
//! for the method and a function that checks its arguments as Auth0 does and records a typed
//! [`Command`]. Which table a call reads is the execution's trigger, so the per-trigger API is
//! data and every world imports the same interface.
//!
//! Guest-controlled JSON enters here. The argument list's size is checked against what is left
//! of the execution's command budget *before* it is parsed, so an action cannot make the host
//! build a large value only to refuse it (an 8 MB JSON array would otherwise cost the host
//! ~150 MB to parse). A refused call records nothing.

pub(crate) mod credentials_exchange;
pub(crate) mod custom_token_exchange;
pub(crate) mod notification;
pub(crate) mod password_reset;
pub(crate) mod post_login;
pub(crate) mod pre_user_registration;
pub(crate) mod redirect;

use serde_json::{Map, Value};
use wasmtime::component::Linker;

use crate::bindings::api as wit;
use crate::interfaces::commands::{CallRefused, Commands, HasCommands};
use crate::result::{Command, Factor};
use crate::trigger::Trigger;

/// Bytes an argument list may take beyond the payload it carries: brackets, commas and the
/// quotes around strings, which the payload does not count.
const SYNTAX_SLACK_BYTES: usize = 64;

/// One method of a trigger's `api`.
pub(crate) struct Method {
    /// Auth0's name without `api.`, e.g. `accessToken.setCustomClaim`.
    pub(crate) name: &'static str,
    /// Checks the call's arguments and records its command; returns the method's value.
    pub(crate) run: fn(&mut Call<'_>) -> Result<Value, CallRefused>,
}

/// The methods of `trigger`'s `api` (besides `cache`, which has its own interface): the one
/// place that pairs a trigger with its API table.
pub(crate) fn methods(trigger: Trigger) -> &'static [Method] {
    match trigger {
        Trigger::PostLogin => post_login::METHODS,
        Trigger::CredentialsExchange => credentials_exchange::METHODS,
        Trigger::PreUserRegistration => pre_user_registration::METHODS,
        Trigger::CustomEmailProvider | Trigger::CustomPhoneProvider => notification::METHODS,
        Trigger::CustomTokenExchange => custom_token_exchange::METHODS,
        Trigger::PasswordResetPostChallenge => password_reset::METHODS,
        // Auth0 gives these triggers `api.cache` only.
        Trigger::PostUserRegistration
        | Trigger::PostChangePassword
        | Trigger::SendPhoneMessage
        | Trigger::EventStream => &[],
    }
}

/// Adds `cachet:action/api` to `linker`, reaching the commands through `get`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Commands,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCommands>(linker, get)
}

impl wit::Host for Commands {
    fn call(&mut self, method: String, args_json: String) -> Result<String, String> {
        match self.call(&method, &args_json)? {
            // What every recording method answers, without a serializer.
            Value::Null => Ok("null".to_owned()),
            value => Ok(value.to_string()),
        }
    }

    fn perform(&mut self, method: String, args_json: String) -> Result<(), String> {
        // The value, if the method has one, is not wanted.
        self.call(&method, &args_json)?;
        Ok(())
    }
}

impl Commands {
    /// Runs one call of the trigger's API: finds the method, bounds and parses the argument
    /// list, checks it, records the command.
    pub(crate) fn call(&mut self, method: &str, args_json: &str) -> Result<Value, CallRefused> {
        let table = methods(self.trigger);
        let Some(found) = table.iter().find(|m| m.name == method) else {
            return Err(CallRefused::UnknownMethod {
                trigger: self.trigger.as_str(),
                method: cut(method, 64).to_owned(),
                methods: table
                    .iter()
                    .map(|m| m.name)
                    .chain(["cache.get", "cache.set", "cache.delete"])
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        // Before parsing: the list cannot be much larger than the payload it carries.
        let free = self.free_bytes();
        if args_json.len() > free.saturating_add(SYNTAX_SLACK_BYTES) {
            self.reserve(args_json.len())?;
        }
        // Before anything is allocated for the call, so a call past the count cap costs
        // nothing either.
        self.reserve(0)?;
        let args: Vec<Value> = match serde_json::from_str(args_json) {
            Ok(args) => args,
            // Only a list that failed to parse is looked at again, so the usual call pays
            // nothing for this.
            Err(e) => replace_lone_surrogates(args_json)
                .and_then(|repaired| serde_json::from_str(&repaired).ok())
                .ok_or_else(|| CallRefused::ArgsNotJson {
                    method: found.name,
                    reason: e.to_string(),
                })?,
        };
        let mut call = Call {
            payload: payload(&args),
            args,
            commands: self,
        };
        (found.run)(&mut call)
    }
}

/// `json` with each escaped lone surrogate (`\ud800` without the low half after it, or a low
/// half alone) written as `\ufffd`, or `None` if it has none.
///
/// JavaScript strings may hold lone surrogates, and `JSON.stringify` writes them as such
/// escapes; Node, so Auth0, reads them back, but serde_json's strings are UTF-8 and it refuses
/// them, which would fail an action Auth0 runs. U+FFFD is what `TextEncoder` writes for a lone
/// surrogate everywhere else a string crosses to the host (the cache's keys and values). The
/// result is as long as `json`, whose size the caller has already bounded.
fn replace_lone_surrogates(json: &str) -> Option<String> {
    /// The code unit of the four hex digits at `at`, if there are four.
    fn unit(bytes: &[u8], at: usize) -> Option<u16> {
        let digits = bytes.get(at..at + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `json` before this are in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        // An escape: `\uXXXX`, or a backslash and the one character it escapes (which may be
        // a backslash: `\\ud800` is no escape of a surrogate).
        let escaped = match (bytes.get(i + 1), unit(bytes, i + 2)) {
            (Some(b'u'), Some(unit)) => unit,
            _ => {
                i += 2;
                continue;
            }
        };
        let paired = (0xD800..0xDC00).contains(&escaped)
            && bytes.get(i + 6..i + 8) == Some(&b"\\u"[..])
            && unit(bytes, i + 8).is_some_and(|low| (0xDC00..0xE000).contains(&low));
        if paired {
            i += 12;
        } else if (0xD800..0xE000).contains(&escaped) {
            // `i` and `copied` are at ASCII bytes, so on character boundaries.
            let out = out.get_or_insert_with(|| String::with_capacity(json.len()));
            out.push_str(&json[copied..i]);
            out.push_str("\\ufffd");
            i += 6;
            copied = i;
        } else {
            i += 6;
        }
    }
    out.map(|mut out| {
        out.push_str(&json[copied..]);
        out
    })
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What a JSON value is, for messages (never the value itself).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One call being checked: its arguments, and the execution's commands. Refusals do not name
/// the method: the SDKs put `api.<method>: ` before them, as Auth0's errors read.
pub(crate) struct Call<'a> {
    args: Vec<Value>,
    /// The payload the arguments carry, counted before any is taken out.
    payload: usize,
    commands: &'a mut Commands,
}

/// The payload of an argument list: strings count their bytes, other values their JSON text
/// (a claim of name `n` and value `1` is 2 bytes).
fn payload(args: &[Value]) -> usize {
    args.iter()
        .map(|a| match a {
            Value::String(s) => s.len(),
            other => json_len(other),
        })
        .fold(0, usize::saturating_add)
}

/// The length of `value`'s compact JSON text, counted without building it.
fn json_len(value: &Value) -> usize {
    /// Counts what is written to it.
    struct Count(usize);

    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(bytes.len());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let mut count = Count(0);
    // Writing a `Value` to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

impl Call<'_> {
    /// A refusal of an argument.
    pub(crate) fn bad(&self, message: impl std::fmt::Display) -> CallRefused {
        CallRefused::BadArgument {
            message: format!("{message}"),
        }
    }

    /// Argument `i` (`null` when the action passed fewer: JavaScript's `undefined`).
    pub(crate) fn arg(&self, i: usize) -> &Value {
        self.args.get(i).unwrap_or(&Value::Null)
    }

    /// Argument `i` taken out (`null` when absent).
    pub(crate) fn take(&mut self, i: usize) -> Value {
        self.args.get_mut(i).map(Value::take).unwrap_or(Value::Null)
    }

    /// Argument `i`, which must be a string.
    pub(crate) fn string(&self, i: usize, what: &str) -> Result<String, CallRefused> {
        match self.arg(i) {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.bad(format!("{what} must be a string, not {}", kind(other)))),
        }
    }

    /// Argument `i`, a non-empty string of at most `max_name_bytes` (a claim name, a key, a
    /// scope, an id).
    pub(crate) fn name(&self, i: usize, what: &'static str) -> Result<String, CallRefused> {
        let name = self.string(i, what)?;
        self.commands.check_name(what, &name)?;
        Ok(name)
    }

    /// Argument `i`, a string among `allowed`.
    pub(crate) fn one_of(
        &self,
        i: usize,
        what: &str,
        allowed: &[&str],
    ) -> Result<String, CallRefused> {
        let value = self.arg(i);
        match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.to_owned()),
            _ => Err(self.bad(format!(
                "{what} must be one of {}, not {}",
                allowed.join(", "),
                shown(value)
            ))),
        }
    }

    /// Argument `i`, a time in milliseconds since the Unix epoch (a non-negative finite
    /// number; a fraction is cut).
    pub(crate) fn millis(&self, i: usize, what: &str) -> Result<u64, CallRefused> {
        let value = self.arg(i);
        match value.as_f64() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(ms) if (0.0..1.8e19).contains(&ms) => Ok(ms as u64),
            _ => Err(self.bad(format!(
                "{what} must be a time in milliseconds since the Unix epoch, not {}",
                kind(value)
            ))),
        }
    }

    /// Argument `i`, an options object, or none (`undefined` or `null`).
    pub(crate) fn options(&self, i: usize, what: &str) -> Result<Map<String, Value>, CallRefused> {
        match self.arg(i) {
            Value::Null => Ok(Map::new()),
            Value::Object(map) => Ok(map.clone()),
            other => Err(self.bad(format!("{what} must be an object, not {}", kind(other)))),
        }
    }

    /// A factor (`{ type, options? }`) whose type is among `allowed`.
    pub(crate) fn factor(
        &self,
        value: &Value,
        what: &str,
        allowed: &[&str],
    ) -> Result<Factor, CallRefused> {
        let Value::Object(map) = value else {
            return Err(self.bad(format!(
                "{what} must be an object {{ type, options? }}, not {}",
                kind(value)
            )));
        };
        let kind_name = match map.get("type").and_then(Value::as_str) {
            Some(t) if allowed.contains(&t) => t.to_owned(),
            other => {
                return Err(self.bad(format!(
                    "{what}.type must be one of {}, not {}",
                    allowed.join(", "),
                    other.map_or_else(|| "missing".to_owned(), |t| format!("{t:?}"))
                )));
            }
        };
        let options = match map.get("options") {
            None | Some(Value::Null) => None,
            Some(Value::Object(options)) => {
                if kind_name == "phone"
                    && let Some(method) = options.get("preferredMethod")
                    && !matches!(method.as_str(), Some("voice" | "sms" | "both"))
                {
                    return Err(self.bad(format!(
                        "{what}.options.preferredMethod must be one of voice, sms, both, not {}",
                        shown(method)
                    )));
                }
                if kind_name == "push-notification"
                    && let Some(fallback) = options.get("otpFallback")
                    && !fallback.is_boolean()
                {
                    return Err(self.bad(format!(
                        "{what}.options.otpFallback must be a boolean, not {}",
                        kind(fallback)
                    )));
                }
                Some(Value::Object(options.clone()))
            }
            Some(other) => {
                return Err(self.bad(format!(
                    "{what}.options must be an object, not {}",
                    kind(other)
                )));
            }
        };
        Ok(Factor {
            kind: kind_name,
            options,
        })
    }

    /// A non-empty list of factors (argument `i`).
    pub(crate) fn factors(
        &self,
        value: &Value,
        what: &str,
        allowed: &[&str],
    ) -> Result<Vec<Factor>, CallRefused> {
        let Value::Array(items) = value else {
            return Err(self.bad(format!(
                "{what} must be an array of factors, not {}",
                kind(value)
            )));
        };
        items
            .iter()
            .enumerate()
            .map(|(n, f)| self.factor(f, &format!("{what}[{n}]"), allowed))
            .collect()
    }

    /// Whether this execution already recorded a command `matches` accepts.
    pub(crate) fn recorded(&self, matches: impl Fn(&Command) -> bool) -> bool {
        self.commands.list.iter().any(matches)
    }

    /// Records `command`, its payload counted from the call's arguments. Returns `null`, the
    /// value of every method that records.
    pub(crate) fn record(&mut self, command: Command) -> Result<Value, CallRefused> {
        self.commands.record(command, self.payload)?;
        Ok(Value::Null)
    }
}

/// A short rendering of a value an action passed where a word was expected: strings quoted
/// and cut, other values by kind.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", cut(s, 64)),
        other => kind(other).to_owned(),
    }
}

/// Shared methods several triggers have with the same checks.
pub(crate) mod common {
    use serde_json::Value;

    use super::Call;
    use crate::interfaces::commands::CallRefused;
    use crate::result::Command;

    /// `access.deny(code, reason)` of the token triggers: `code` among `codes`, or any
    /// non-empty code when `codes` is `None`; the reason may be left out.
    pub(crate) fn deny_with_code(
        call: &mut Call<'_>,
        codes: Option<&[&str]>,
    ) -> Result<Value, CallRefused> {
        let code = match codes {
            Some(codes) => call.one_of(0, "the code", codes)?,
            None => call.name(0, "the code")?,
        };
        let reason = match call.arg(1) {
            Value::Null => String::new(),
            _ => call.string(1, "the reason")?,
        };
        call.record(Command::Deny {
            code: Some(code),
            reason,
            user_message: None,
        })
    }

    /// `accessToken.setCustomClaim(name, value)`.
    pub(crate) fn set_access_token_claim(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let name = call.name(0, "claim")?;
        let value = call.take(1);
        call.record(Command::SetAccessTokenClaim { name, value })
    }

    /// `user.setAppMetadata(key, value)`.
    pub(crate) fn set_app_metadata(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let key = call.name(0, "metadata key")?;
        let value = call.take(1);
        call.record(Command::SetAppMetadata { key, value })
    }

    /// `user.setUserMetadata(key, value)`.
    pub(crate) fn set_user_metadata(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let key = call.name(0, "metadata key")?;
        let value = call.take(1);
        call.record(Command::SetUserMetadata { key, value })
    }

    /// `transaction.addTargetScope(scope)`.
    pub(crate) fn add_target_scope(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let scope = call.name(0, "scope")?;
        call.record(Command::AddTargetScope { scope })
    }

    /// `transaction.removeTargetScope(scope)`.
    pub(crate) fn remove_target_scope(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let scope = call.name(0, "scope")?;
        call.record(Command::RemoveTargetScope { scope })
    }

    /// `transaction.setTargetScopes(scopes)`.
    pub(crate) fn set_target_scopes(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        let Value::Array(items) = call.arg(0).clone() else {
            return Err(call.bad("the scopes must be an array of strings"));
        };
        let mut scopes = Vec::with_capacity(items.len());
        for item in &items {
            let Some(scope) = item.as_str() else {
                return Err(call.bad("the scopes must be an array of strings"));
            };
            if scope.is_empty() {
                return Err(call.bad("a scope must not be empty"));
            }
            scopes.push(scope.to_owned());
        }
        call.record(Command::SetTargetScopes { scopes })
    }

    /// `transaction.clearTargetScopes()`.
    pub(crate) fn clear_target_scopes(call: &mut Call<'_>) -> Result<Value, CallRefused> {
        call.record(Command::ClearTargetScopes)
    }
}

#[cfg(test)]
mod tests {
    use cachet_limits::ExecutionLimits;
    use serde_json::json;

    use super::*;

    fn commands() -> Commands {
        Commands::new(
            Trigger::PostLogin,
            &ExecutionLimits {
                max_commands: 3,
                max_command_bytes: 32,
                max_name_bytes: 8,
                ..ExecutionLimits::default()
            },
        )
    }

    #[test]
    fn an_oversized_argument_list_is_refused_before_it_is_parsed() {
        let mut c = commands();
        // Not valid JSON either: a parse would have reported that instead.
        let err = c
            .call("idToken.setCustomClaim", &"[".repeat(128))
            .unwrap_err();
        assert!(err.to_string().contains("past 32 bytes"), "{err}");
        assert!(c.list.is_empty());
    }

    #[test]
    fn a_claim_counts_its_name_and_the_json_of_its_value() {
        let mut c = commands();
        c.call("idToken.setCustomClaim", r#"["n", 1]"#).unwrap();
        c.call("idToken.setCustomClaim", r#"["n", "ab"]"#).unwrap();
        assert_eq!(c.free_bytes(), 32 - 2 - 3);
    }

    #[test]
    fn an_unknown_method_is_refused_with_the_triggers_methods() {
        let mut c = commands();
        let err = c.call("redirect.nowhere", "[]").unwrap_err().to_string();
        assert!(
            err.contains("post-login actions have no api.redirect.nowhere"),
            "{err}"
        );
        assert!(err.contains("accessToken.setCustomClaim"), "{err}");
        let long = "m".repeat(10_000);
        assert!(c.call(&long, "[]").unwrap_err().to_string().len() < 4_000);
    }

    #[test]
    fn a_lone_surrogate_in_the_arguments_is_recorded_as_the_replacement_character() {
        // What JSON.stringify writes for `['n\ud800', 'a\udc00b\ud83d\ude00c\ud800']`.
        let mut c = commands();
        c.call(
            "idToken.setCustomClaim",
            r#"["n\ud800","a\udc00b\ud83d\ude00c\uD800"]"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&c.list).unwrap(),
            json!([{ "type": "set-id-token-claim", "name": "n\u{FFFD}", "value": "a\u{FFFD}b😀c\u{FFFD}" }])
        );
        // Still refused: a list that is not JSON for another reason, with the parser's reason.
        let err = c
            .call("idToken.setCustomClaim", r#"["n\ud800", ]"#)
            .unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn only_escaped_lone_surrogates_are_replaced() {
        assert_eq!(
            replace_lone_surrogates(r#"["plain", "\u00e9\ud83d\ude00"]"#),
            None
        );
        // An escaped backslash before `ud800` is no escape of a surrogate.
        assert_eq!(replace_lone_surrogates(r#"["\\ud800"]"#), None);
        assert_eq!(
            replace_lone_surrogates(r#"["\ud800\ud800\udc00", "\\\udfff", "\ud800"]"#).as_deref(),
            Some(r#"["\ufffd\ud800\udc00", "\\\ufffd", "\ufffd"]"#)
        );
        // Cut short: left for the parser to refuse.
        assert_eq!(replace_lone_surrogates(r#"["\ud8"#), None);
    }

    /// `units` as `JSON.stringify` writes a string: lone surrogates as `\udxxx` escapes, and
    /// characters past U+FFFF as themselves or, with `escape_pairs`, as their two escaped halves.
    fn stringified(units: &[u16], escape_pairs: bool) -> String {
        let mut out = String::from("\"");
        for unit in char::decode_utf16(units.iter().copied()) {
            match unit {
                Ok(c) if escape_pairs && u32::from(c) > 0xFFFF => {
                    for half in c.encode_utf16(&mut [0; 2]) {
                        out.push_str(&format!("\\u{half:04x}"));
                    }
                }
                Ok(c) => {
                    let quoted = serde_json::to_string(&c).unwrap();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                Err(lone) => out.push_str(&format!("\\u{:04x}", lone.unpaired_surrogate())),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        /// The reference is Rust's own lossy UTF-16 decoding: a lone surrogate becomes U+FFFD,
        /// pairs and every other unit stay what they are.
        #[test]
        fn strings_with_lone_surrogates_read_as_lossy_utf16_decoding_reads_them(
            units in proptest::collection::vec(
                proptest::prop_oneof![0xD7F0u16..0xE010, proptest::prelude::any::<u16>(), 0x20u16..0x80],
                0..48,
            ),
            escape_pairs in proptest::prelude::any::<bool>(),
        ) {
            let json = stringified(&units, escape_pairs);
            let lone = char::decode_utf16(units.iter().copied()).any(|u| u.is_err());
            let repaired = replace_lone_surrogates(&json);
            proptest::prop_assert_eq!(repaired.is_some(), lone);
            let read: String = serde_json::from_str(repaired.as_deref().unwrap_or(&json)).unwrap();
            proptest::prop_assert_eq!(read, String::from_utf16_lossy(&units));
        }
    }

    #[test]
    fn a_refused_call_records_nothing() {
        let mut c = commands();
        assert!(c.call("multifactor.enable", r#"["sms"]"#).is_err());
        assert!(c.call("idToken.setCustomClaim", r#"["", 1]"#).is_err());
        assert!(c.list.is_empty());
        c.call("multifactor.enable", r#"["any"]"#).unwrap();
        assert_eq!(
            serde_json::to_value(&c.list).unwrap(),
            json!([{ "type": "enable-multifactor", "provider": "any", "allow_remember_browser": false }])
        );
    }
}
