//! JSON with one meaning. RFC 8259 §4 leaves an object with a repeated name to each
//! parser ("names SHOULD be unique"): serde_json keeps the last value, other parsers the
//! first, so `{"client_name":"a","client_name":"b"}` could mean one thing to a proxy or
//! an audit log and another to us. Such a body is refused instead, at any depth.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as JSON, refusing an object that names a member twice.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Unambiguous>(bytes).map(|parsed| parsed.0)
}

/// Whether a [`parse`] error is about a repeated name rather than the JSON syntax.
pub(crate) fn is_ambiguity(error: &serde_json::Error) -> bool {
    error.classify() == serde_json::error::Category::Data
}

struct Unambiguous(Value);

impl<'de> Deserialize<'de> for Unambiguous {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UnambiguousVisitor)
            .map(Unambiguous)
    }
}

struct UnambiguousVisitor;

impl<'de> Visitor<'de> for UnambiguousVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity, so this is never Null in practice.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unambiguous(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "the member `{}` appears more than once",
                    thetasecure_core::text::shown(&name)
                )));
            }
            let Unambiguous(value) = map.next_value()?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x",{"b":{}}],"c":{"d":"é\u00e9"},"e":18446744073709551615}"#;
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(parse(b"[]").unwrap(), json!([]));
    }

    #[test]
    fn refuses_a_repeated_member_at_any_depth_and_names_it() {
        for (text, name) in [
            (r#"{"client_name":"a","client_name":"b"}"#, "client_name"),
            (r#"{"x":{"y":1,"y":1}}"#, "y"),
            (r#"{"x":[{"z":1},{"z":2,"z":3}]}"#, "z"),
            // Quoted without the control character itself.
            (r#"{"a\u0000":1,"a\u0000":2}"#, "a\\u{0000}"),
        ] {
            let error = parse(text.as_bytes()).unwrap_err();
            assert!(is_ambiguity(&error), "{text}");
            assert!(error.to_string().contains(&format!("`{name}`")), "{error}");
        }
    }

    #[test]
    fn syntax_errors_are_not_ambiguities() {
        for text in [r#"{"a":1"#, r#"{"a" 1}"#, r#""\ud800""#] {
            let error = parse(text.as_bytes()).unwrap_err();
            assert!(!is_ambiguity(&error), "{text}: {error}");
        }
    }
}
