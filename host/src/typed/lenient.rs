//! Reads the host's JSON into the bindings' Rust types with serde.
//!
//! It reads as the host does (`json.rs`, whose helpers it calls), where
//! serde_json's own reading would differ:
//! - floats that JSON cannot hold are the strings `"NaN"`, `"Infinity"` and
//!   `"-Infinity"`; they are read wherever a float is asked for;
//! - an integral float below 2^53 in size is an integer;
//! - a list of string-keyed pairs with no repeated key is an object; it is
//!   read as its pairs wherever a sequence is asked for, and an array of
//!   pairs is read wherever a map is;
//! - a string is its UTF-8 bytes where a sequence of `u8` is asked for;
//! - a record (a struct) is an object, never an array.
//!
//! Everything else defers to serde_json's own reading. The value contract's
//! table (`tests/fixtures/contract.json`) holds it to the host.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, SeqAccess, Visitor,
};
use serde_json::Value;

use crate::values::json::{float_name, integer};

/// Deserializes `value` as `T`, reading the host's float strings as floats.
pub fn from_json<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(Lenient(value))
}

/// Reads each integer type as `deserialize_i64` does; the visitor checks
/// the range.
macro_rules! forward_integers_to_i64 {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.deserialize_i64(visitor)
        }
    )*};
}

#[derive(Clone, Copy)]
struct Lenient<'a>(&'a Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Lenient<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Lenient<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(Lenient));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(object) => {
                let entries = object
                    .iter()
                    .map(|(key, value)| (key.as_str(), Lenient(value)));
                let mut map = MapDeserializer::new(entries);
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(text) => match float_name(text) {
                Some(x) => visitor.visit_f64(x),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    /// Integers as the host reads them: an integral float is its integer.
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match integer(self.0) {
            // Below 2^53 in size, so it always fits.
            Some(n) if self.0.is_f64() => match i64::try_from(n) {
                Ok(n) => visitor.visit_i64(n),
                Err(_) => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    forward_integers_to_i64! {
        deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(object) => {
                let mut seq = SeqDeserializer::new(object.iter().map(|(k, v)| Pair(k, v)));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            // Each byte reads only as a `u8`: a list of anything else refuses it.
            Value::String(text) => {
                let mut seq = SeqDeserializer::new(text.bytes().map(Byte));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let pairs = items
                    .iter()
                    .map(|item| match item.as_array().map(Vec::as_slice) {
                        Some([key, value]) => Ok((Lenient(key), Lenient(value))),
                        _ => Err(serde::de::Error::invalid_type(
                            serde::de::Unexpected::Other("an item that is not a pair"),
                            &"a [key, value] pair",
                        )),
                    })
                    .collect::<Result<Vec<_>, Self::Error>>()?;
                let mut map = MapDeserializer::new(pairs.into_iter());
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            _ => Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Other("a value that is not an object"),
                &visitor,
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

/// One byte of a string read as bytes: a `u8`, and nothing else.
struct Byte(u8);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Byte {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Byte {
    type Error = serde_json::Error;

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_u8(self.0)
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::invalid_type(
            serde::de::Unexpected::Other("a string"),
            &visitor,
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// One entry of an object read as a pair: `[key, value]`.
struct Pair<'a>(&'a str, &'a Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Pair<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Pair<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_seq(PairItems {
            key: Some(self.0),
            value: Some(self.1),
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct PairItems<'a> {
    key: Option<&'a str>,
    value: Option<&'a Value>,
}

impl<'de> SeqAccess<'de> for PairItems<'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        if let Some(key) = self.key.take() {
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        match self.value.take() {
            Some(value) => seed.deserialize(Lenient(value)).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::from_json;

    #[test]
    fn floats_are_read_from_the_host_strings_at_any_depth() {
        let read: Vec<f64> = from_json(&json!([1, 2.5, "Infinity", "-Infinity"])).expect("floats");
        assert_eq!(read, [1.0, 2.5, f64::INFINITY, f64::NEG_INFINITY]);
        let nan: f64 = from_json(&json!("NaN")).expect("NaN");
        assert!(nan.is_nan());
        let nested: HashMap<String, Option<(f64, String)>> =
            from_json(&json!({"a": ["Infinity", "Infinity"], "b": null})).expect("nested");
        assert_eq!(nested["a"], Some((f64::INFINITY, "Infinity".to_owned())));
        assert_eq!(nested["b"], None);
    }

    #[test]
    fn an_object_is_read_as_pairs_where_a_sequence_is_wanted() {
        let pairs: Vec<(String, f64)> = from_json(&json!({"a": 1, "b": "NaN"})).expect("pairs");
        assert_eq!(pairs[0], ("a".to_owned(), 1.0));
        assert!(pairs[1].1.is_nan());
        let map: HashMap<String, i64> = from_json(&json!({"a": 1})).expect("a map");
        assert_eq!(map["a"], 1);
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_not() {
        let read: Vec<i64> = from_json(&json!([3.0, -0.0, 2376015.0, 7])).expect("integers");
        assert_eq!(read, [3, 0, 2376015, 7]);
        let small: u8 = from_json(&json!(255.0)).expect("a u8");
        assert_eq!(small, 255);
        from_json::<i64>(&json!(1.5)).expect_err("a fraction is not an integer");
        from_json::<u8>(&json!(256.0)).expect_err("out of range");
        from_json::<i64>(&json!(1e19)).expect_err("past s64");
        from_json::<i64>(&json!(1e17)).expect_err("a float past 2^53 may have been rounded");
    }

    #[test]
    fn a_string_is_bytes_only_where_bytes_are_asked_for() {
        let bytes: Vec<u8> = from_json(&json!("aé")).expect("bytes");
        assert_eq!(bytes, [97, 195, 169]);
        from_json::<Vec<i64>>(&json!("ab")).expect_err("not a list of integers");
        from_json::<Vec<f64>>(&json!("ab")).expect_err("not a list of floats");
    }

    #[test]
    fn pairs_are_read_where_a_map_is_wanted_and_a_struct_is_an_object() {
        let map: HashMap<String, i64> =
            from_json(&json!([["a", 1], ["a", 2], ["b", 3]])).expect("pairs");
        assert_eq!(
            map,
            HashMap::from([("a".to_owned(), 2), ("b".to_owned(), 3)])
        );
        from_json::<HashMap<String, i64>>(&json!([["a"]])).expect_err("not a pair");
        #[derive(serde::Deserialize, Debug)]
        #[expect(dead_code, reason = "only whether it reads matters")]
        struct Pair {
            left: i64,
            right: String,
        }
        from_json::<Pair>(&json!({"left": 1, "right": "r"})).expect("an object");
        from_json::<Pair>(&json!([1, "r"])).expect_err("an array is no record");
    }

    #[test]
    fn other_strings_are_not_floats() {
        let error = from_json::<f64>(&json!("inf")).expect_err("not the host's spelling");
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
