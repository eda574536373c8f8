//! JSON parsing for untrusted JOSE input: objects only, duplicate member names rejected.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 allow a parser to reject duplicate member names, and RFC 8725
//! §3.4 recommends it: two parsers that keep different duplicates disagree on what a token says.
//! Nesting depth is bounded by serde_json's recursion limit (128), so hostile input errors
//! instead of exhausting the stack.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object with unique member names at every level.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("expected a JSON object".to_owned()),
    }
}

/// Parses `bytes` as one JSON object and builds only the members `index` knows (`len` slots,
/// by index); every other member is checked as strictly (valid JSON, unique names at every
/// level, bounded depth) but not built. For a JWS payload whose few registered claims are
/// all that a verification reads.
pub(crate) fn parse_registered(
    bytes: &[u8],
    len: usize,
    index: fn(&str) -> Option<usize>,
) -> Result<Vec<Option<Value>>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let values = Registered { len, index }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(values)
}

struct Registered {
    len: usize,
    index: fn(&str) -> Option<usize>,
}

impl<'de> DeserializeSeed<'de> for Registered {
    type Value = Vec<Option<Value>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Registered {
    type Value = Vec<Option<Value>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<Option<Value>> = (0..self.len).map(|_| None).collect();
        let mut others = Vec::new();
        while let Some(key) = access.next_key_seed(Key)? {
            match (self.index)(&key) {
                Some(i) => {
                    if values[i].is_some() {
                        return Err(de::Error::custom("duplicate JSON member name"));
                    }
                    values[i] = Some(access.next_value_seed(StrictValue)?);
                }
                None => {
                    others.push(key);
                    access.next_value_seed(StrictIgnore)?;
                }
            }
        }
        unique(&mut others)?;
        Ok(values)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

fn unique<E: de::Error>(names: &mut [Cow<'_, str>]) -> Result<(), E> {
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(E::custom("duplicate JSON member name"));
    }
    Ok(())
}

/// Checks a value without building it: the same rules as [`StrictValue`].
struct StrictIgnore;

impl<'de> DeserializeSeed<'de> for StrictIgnore {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictIgnore {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(StrictIgnore)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut names = Vec::new();
        while let Some(key) = access.next_key_seed(Key)? {
            names.push(key);
            access.next_value_seed(StrictIgnore)?;
        }
        unique(&mut names)
    }
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
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
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate JSON member name"));
            }
            let value = access.next_value_seed(StrictValue)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_and_no_duplicates() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[1,2]}}"#).is_ok());
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse_object(br#"[1]"#).is_err());
        assert!(parse_object(br#"{"a":1} x"#).is_err());
        assert!(parse_object(b"").is_err());
    }

    #[test]
    fn registered_members_are_built_and_the_others_checked() {
        let index = |name: &str| ["iss", "act"].iter().position(|n| *n == name);
        let v = parse_registered(
            br#"{"iss":"a","x":{"y":[1,{"z":2}]},"act":{"sub":"b"}}"#,
            2,
            index,
        )
        .unwrap();
        assert_eq!(v[0], Some(Value::String("a".into())));
        assert!(v[1].as_ref().unwrap().is_object());
        for bad in [
            &br#"{"iss":"a","iss":"b"}"#[..],
            br#"{"x":1,"x":2}"#,
            br#"{"\u0078":1,"x":2}"#,
            br#"{"x":{"y":1,"y":2}}"#,
            br#"{"x":[{"y":1,"y":2}]}"#,
            br#"{"act":{"sub":"a","sub":"b"}}"#,
            br#"[1]"#,
            br#"{"x":1} x"#,
            b"",
        ] {
            assert!(
                parse_registered(bad, 2, index).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{}{}", r#"{"x":"#.repeat(10_000), "}".repeat(10_000));
        assert!(parse_registered(deep.as_bytes(), 2, index).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", r#"{"act":"#.repeat(10_000), "}".repeat(10_000));
        assert!(parse_object(deep.as_bytes()).is_err());
    }
}
