//! The event a flow runs on, parsed once per flow into its top-level fields without building a
//! DOM: each action's copy (with its own `secrets`) is a cheap splice, a redirect keeps it
//! without secrets, and a continuation puts back what the user came back with.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why an event was refused (the runtime's [`ExecuteError`](crate::ExecuteError) carries it).
#[derive(Debug)]
pub(crate) enum EventError {
    /// Not JSON: the parser's message.
    NotJson(String),
    /// JSON, but not an object.
    NotObject,
}

/// An event's top-level fields, the caller's `secrets` removed.
pub(crate) struct EventFields(BTreeMap<String, Box<RawValue>>);

impl EventFields {
    /// Parses an event: a JSON object.
    pub(crate) fn parse(json: &str) -> Result<Self, EventError> {
        match serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(json) {
            Ok(mut fields) => {
                // The caller's `secrets`, if any, never reach an action: each action gets its
                // own configured secrets.
                fields.remove("secrets");
                Ok(Self(fields))
            }
            Err(e) => match serde_json::from_str::<serde::de::IgnoredAny>(json) {
                Ok(_) => Err(EventError::NotObject),
                Err(_) => Err(EventError::NotJson(e.to_string())),
            },
        }
    }

    /// The event as one action sees it: these fields and its `secrets`, in key order (the
    /// caller's `secrets` were removed by [`EventFields::parse`]).
    ///
    /// Written out by hand: this runs for every action of every execution, and the fields are
    /// JSON text already, so all it takes is one buffer; building a sorted map of them and
    /// serializing it was ~3 % of a fresh Rust execution (BENCHMARKS.md).
    pub(crate) fn with_secrets(&self, secrets: &RawValue) -> String {
        let size = self
            .0
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>()
            + secrets.get().len()
            + "{\"secrets\":}".len();
        let mut out = String::with_capacity(size);
        let mut secrets = Some(secrets);
        out.push('{');
        for (key, value) in &self.0 {
            if key.as_str() > "secrets"
                && let Some(secrets) = secrets.take()
            {
                field(&mut out, "secrets", secrets);
            }
            field(&mut out, key, value);
        }
        if let Some(secrets) = secrets {
            field(&mut out, "secrets", secrets);
        }
        out.pop(); // the last field's comma
        out.push('}');
        out
    }

    /// The event without any secrets, as a continuation keeps it.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// The string at `path` (`["user", "user_id"]`), if there is one. Parses only the
    /// top-level field the path starts in.
    pub(crate) fn str_at(&self, path: &[&str]) -> Option<String> {
        let (first, rest) = path.split_first()?;
        let mut value: Value = serde_json::from_str(self.0.get(*first)?.get()).ok()?;
        for key in rest {
            value = value.get_mut(*key)?.take();
        }
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Puts what the user came back with into `event.request`: `query` and `body` replace
    /// the ones of the request that started the flow, as Auth0's `/continue` request does.
    pub(crate) fn set_request_params(
        &mut self,
        query: &Map<String, Value>,
        body: &Map<String, Value>,
    ) {
        let mut request = self
            .0
            .get("request")
            .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.get()).ok())
            .unwrap_or_default();
        request.insert("query".into(), Value::Object(query.clone()));
        request.insert("body".into(), Value::Object(body.clone()));
        if let Ok(raw) = serde_json::value::to_raw_value(&request) {
            self.0.insert("request".into(), raw);
        }
    }
}

/// Appends `"key":value,` to `out`: the key escaped as JSON, the value as the JSON text it is.
fn field(out: &mut String, key: &str, value: &RawValue) {
    if key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Escaping a string into a String cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
    out.push(':');
    out.push_str(value.get());
    out.push(',');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_no_callers_secrets_and_takes_back_the_users_parameters() {
        let mut event = EventFields::parse(
            r#"{"user":{"user_id":"auth0|1"},"request":{"ip":"1.2.3.4","query":{"a":"1"}},"secrets":{"x":"y"}}"#,
        )
        .unwrap();
        assert!(!event.to_json().contains("secrets"));
        assert_eq!(
            event.str_at(&["user", "user_id"]).as_deref(),
            Some("auth0|1")
        );
        assert_eq!(event.str_at(&["user", "nothing"]), None);
        let mut query = Map::new();
        query.insert("state".into(), Value::from("s"));
        event.set_request_params(&query, &Map::new());
        let json: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(json["request"]["query"]["state"], "s");
        assert_eq!(json["request"]["ip"], "1.2.3.4");
        assert_eq!(json["request"]["body"], serde_json::json!({}));
    }

    #[test]
    fn each_actions_event_is_the_fields_and_its_secrets_as_serde_writes_them() {
        let secrets = RawValue::from_string(r#"{"API_KEY":"k"}"#.into()).unwrap();
        for json in [
            r#"{"user":{"user_id":"auth0|1"},"request":{"ip":"1.2.3.4"},"secrets":{"x":"y"}}"#,
            r#"{"tenant":{"id":"acme"},"a\"quote":1,"tab\there":[1,2],"\u00e9t\u00e9":"été","zz":null}"#,
            r#"{}"#,
            r#"{"secret":1,"secrets!":2,"Secrets":3}"#,
        ] {
            let event = EventFields::parse(json).unwrap();
            let written = event.with_secrets(&secrets);
            let mut expected: BTreeMap<&str, &RawValue> = event
                .0
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_ref()))
                .collect();
            expected.insert("secrets", &secrets);
            assert_eq!(written, serde_json::to_string(&expected).unwrap(), "{json}");
            let parsed: Value = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed["secrets"]["API_KEY"], "k");
        }
    }
}
