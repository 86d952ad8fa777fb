//! The event a flow runs on, parsed once per flow into its top-level fields without building a
//! DOM: each action's copy (with its own `secrets`) is a cheap splice, a redirect keeps it
//! without secrets, and a continuation puts back what the user came back with.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
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
///
/// One copy of the caller's text and the place of each field in it: the fields are read where
/// they are, not copied one by one into a map of their own strings (two allocations and copies
/// per field). Parsing an event and writing an action's copy took 1.09-1.17 µs for the
/// 612-byte example event and 3.49-3.86 µs for a 3 KB one that way, 0.88-0.94 and 2.88-3.47 µs
/// this way (BENCHMARKS.md, "The event's fields where they are").
pub(crate) struct EventFields {
    /// The caller's JSON text, with the value of any `secrets` field blanked out (spaces), so
    /// that the caller's secrets are not kept for the flow's life.
    text: String,
    /// Each field, in key order, one per key (the last, where the text repeats one, as a map
    /// would keep).
    fields: Vec<(Part, Part)>,
}

/// A key or a value: where it is in the text, or a text of its own.
enum Part {
    /// `text[range]`: a key without its quotes, or a value's JSON.
    At(Range<usize>),
    /// A key the JSON escapes (unescaped here), or a value put in after the parse
    /// (`request` with what the user came back with).
    Own(Box<str>),
}

impl Part {
    /// The part's text, `text` being the event's.
    fn as_str<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            // In range: `parse` made it from a slice of this text.
            Part::At(range) => text.get(range.clone()).unwrap_or_default(),
            Part::Own(own) => own,
        }
    }
}

/// The top-level fields of a JSON object as they are in its text, in the order written.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    fields.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor).map(Fields)
    }
}

/// A key as the text has it when it needs no unescaping, else unescaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl EventFields {
    /// Parses an event: a JSON object.
    pub(crate) fn parse(json: &str) -> Result<Self, EventError> {
        let mut fields = match serde_json::from_str::<Fields<'_>>(json) {
            Ok(Fields(fields)) => fields,
            Err(e) => {
                return match serde_json::from_str::<serde::de::IgnoredAny>(json) {
                    Ok(_) => Err(EventError::NotObject),
                    Err(_) => Err(EventError::NotJson(e.to_string())),
                };
            }
        };
        // Stable: of a repeated key, the last stays last, and is the one kept.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        // Where a slice the parser borrowed from `json` is in it (always there; were it not,
        // a copy of it).
        let at = |part: &str| {
            let start = part.as_ptr().addr().wrapping_sub(json.as_ptr().addr());
            let range = start..start.saturating_add(part.len());
            match json.get(range.clone()) {
                Some(found) if found.as_ptr() == part.as_ptr() => Part::At(range),
                _ => Part::Own(part.into()),
            }
        };
        let mut text = json.to_owned();
        let mut kept: Vec<(Part, Part)> = Vec::with_capacity(fields.len());
        for (key, value) in fields {
            // The caller's `secrets`, if any, never reach an action: each action gets its own
            // configured secrets.
            if key == "secrets" {
                if let Part::At(range) = at(value.get()) {
                    // Spaces for whole characters (the range is on their boundaries): still
                    // UTF-8, and no longer the secrets.
                    text.replace_range(range.clone(), &" ".repeat(range.len()));
                }
                continue;
            }
            let value = at(value.get());
            if let Some((last, kept_value)) = kept.last_mut()
                && last.as_str(json) == key
            {
                *kept_value = value;
                continue;
            }
            let key = match key {
                Cow::Borrowed(key) => at(key),
                Cow::Owned(key) => Part::Own(key.into_boxed_str()),
            };
            kept.push((key, value));
        }
        Ok(Self { text, fields: kept })
    }

    /// The fields, in key order: each key (unescaped) and its value's JSON.
    fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(key, value)| (key.as_str(&self.text), value.as_str(&self.text)))
    }

    /// The index of the field `key` in `self.fields`, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.fields
            .binary_search_by(|(k, _)| k.as_str(&self.text).cmp(key))
    }

    /// The value's JSON of the field `key`.
    fn value(&self, key: &str) -> Option<&str> {
        let i = self.find(key).ok()?;
        Some(self.fields[i].1.as_str(&self.text))
    }

    /// The event as one action sees it: these fields and its `secrets`, in key order (the
    /// caller's `secrets` were removed by [`EventFields::parse`]).
    ///
    /// Written out by hand: this runs for every action of every execution, and the fields are
    /// JSON text already, so all it takes is one buffer; building a sorted map of them and
    /// serializing it was ~3 % of a fresh Rust execution (BENCHMARKS.md).
    pub(crate) fn with_secrets(&self, secrets: &RawValue) -> String {
        self.write(Some(secrets))
    }

    /// The event without any secrets, as a continuation keeps it.
    pub(crate) fn to_json(&self) -> String {
        self.write(None)
    }

    /// The fields, with `secrets` in its place in key order, as one JSON object.
    fn write(&self, mut secrets: Option<&RawValue>) -> String {
        let size = self
            .fields()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            + secrets.map_or(0, |s| s.get().len() + "\"secrets\":,".len())
            + 2;
        let mut out = String::with_capacity(size);
        out.push('{');
        for (key, value) in self.fields() {
            if key > "secrets"
                && let Some(secrets) = secrets.take()
            {
                field(&mut out, "secrets", secrets.get());
            }
            field(&mut out, key, value);
        }
        if let Some(secrets) = secrets {
            field(&mut out, "secrets", secrets.get());
        }
        if out.len() > 1 {
            out.pop(); // the last field's comma
        }
        out.push('}');
        out
    }

    /// The string at `path` (`["user", "user_id"]`), if there is one. Parses only the
    /// top-level field the path starts in.
    pub(crate) fn str_at(&self, path: &[&str]) -> Option<String> {
        let (first, rest) = path.split_first()?;
        let mut value: Value = serde_json::from_str(self.value(first)?).ok()?;
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
            .value("request")
            .and_then(|r| serde_json::from_str::<Map<String, Value>>(r).ok())
            .unwrap_or_default();
        request.insert("query".into(), Value::Object(query.clone()));
        request.insert("body".into(), Value::Object(body.clone()));
        let Ok(raw) = serde_json::to_string(&request) else {
            return;
        };
        let raw = Part::Own(raw.into());
        match self.find("request") {
            Ok(i) => self.fields[i].1 = raw,
            Err(i) => self.fields.insert(i, (Part::Own("request".into()), raw)),
        }
    }
}

/// Appends `"key":value,` to `out`: the key escaped as JSON, the value as the JSON text it is.
fn field(out: &mut String, key: &str, value: &str) {
    if key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Escaping a string into a String cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
    out.push(':');
    out.push_str(value);
    out.push(',');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
            r#"{"secrets":1}"#,
            // A repeated key: the last one counts, as in a map.
            r#"{"b":1,"a":[1],"b":{"c":2},"secrets":{},"a":"x","secrets":3}"#,
            "{ \"spaced\" : [ 1 , 2 ] ,\n\t\"user\":{\"user_id\":\"auth0|\\u00e9\"} }",
        ] {
            let event = EventFields::parse(json).unwrap();
            // What serde makes of the same text: a map of the fields, the caller's secrets out.
            let mut expected: BTreeMap<String, Box<RawValue>> = serde_json::from_str(json).unwrap();
            expected.remove("secrets");
            assert_eq!(
                event.to_json(),
                serde_json::to_string(&expected).unwrap(),
                "{json}"
            );
            expected.insert("secrets".into(), secrets.clone());
            let written = event.with_secrets(&secrets);
            assert_eq!(written, serde_json::to_string(&expected).unwrap(), "{json}");
            let parsed: Value = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed["secrets"]["API_KEY"], "k");
        }
    }

    #[test]
    fn the_callers_secrets_are_not_kept_even_where_the_key_repeats() {
        let event = EventFields::parse(
            r#"{"secrets":{"API_KEY":"s3cr3t-1"},"user":{"user_id":"auth0|1"},"secrets":"s3cr3t-2"}"#,
        )
        .unwrap();
        assert!(!event.text.contains("s3cr3t"), "{}", event.text);
        assert_eq!(event.to_json(), r#"{"user":{"user_id":"auth0|1"}}"#);
    }

    #[test]
    fn an_event_that_is_not_a_json_object_is_refused_saying_which() {
        assert!(matches!(
            EventFields::parse("[1, 2]"),
            Err(EventError::NotObject)
        ));
        assert!(matches!(
            EventFields::parse("\"text\""),
            Err(EventError::NotObject)
        ));
        for scalar in ["1", "null", "true"] {
            assert!(matches!(
                EventFields::parse(scalar),
                Err(EventError::NotObject)
            ));
        }
        assert!(matches!(
            EventFields::parse(r#"{1: "a"}"#),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            EventFields::parse(r#"{"user": }"#),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            EventFields::parse(r#"{"user": 1} trailing"#),
            Err(EventError::NotJson(_))
        ));
    }
}
