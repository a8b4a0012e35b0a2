//! Values to and from JSON, typed by the component's own signatures.
//!
//! | WIT | JSON |
//! |---|---|
//! | integers | numbers; an integral float (`3.0`, `-0.0`) below 2^53 in size is its integer, as in JSON Schema |
//! | `f32`, `f64` | numbers; `"NaN"`, `"Infinity"` and `"-Infinity"` as strings (these spellings only, as Python's `json` writes them) |
//! | `string`, `char` | strings |
//! | `list<u8>` | an array of numbers (a string is accepted as its UTF-8 bytes) |
//! | `list<tuple<K, V>>`, K a `string` or an `enum` | an object, unless a key repeats (then an array of pairs, which is always accepted) |
//! | `list`, `tuple` | arrays |
//! | `option<T>` | `null` or the value |
//! | `record` | an object by field name |
//! | `record json-value { json-text: string }` | any JSON value (the record carries it as JSON text) |
//! | `enum` | the case name |
//! | `variant` | the payload alone when the first case that accepts it is its own case (untagged; an integer prefers an integer case to a float one, a float such as `3.0` a float case to an integer one, a string a string case to `list<u8>`), else `{"case": payload}`; a case without payload is its name |
//! | `result` | `{"ok": value}` or `{"err": value}` |
//! | `flags` | an array of names |

use serde_json::{Map, Number, Value};
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use snakebox_generator::JSON_FIELD;

use crate::component::signature::wit_type;

/// Converts JSON to a value of type `ty`; the error says what was expected.
pub fn to_val(ty: &Type, json: &Value) -> Result<Val, String> {
    let mismatch = || format!("expected {}, got {}", wit_type(ty), describe(json));
    let int = |min: i128, max: i128| -> Result<i128, String> {
        match integer(json) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(n) => Err(format!("{n} does not fit in {}", wit_type(ty))),
            None => Err(mismatch()),
        }
    };
    let val = match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or_else(mismatch)?),
        Type::S8 => Val::S8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        Type::U8 => Val::U8(int(0, u8::MAX.into())? as u8),
        Type::S16 => Val::S16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        Type::U16 => Val::U16(int(0, u16::MAX.into())? as u16),
        Type::S32 => Val::S32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        Type::U32 => Val::U32(int(0, u32::MAX.into())? as u32),
        Type::S64 => Val::S64(int(i64::MIN.into(), i64::MAX.into())? as i64),
        Type::U64 => Val::U64(int(0, u64::MAX.into())? as u64),
        Type::Float32 => Val::Float32(float(json).ok_or_else(mismatch)? as f32),
        Type::Float64 => Val::Float64(float(json).ok_or_else(mismatch)?),
        Type::Char => {
            let text = json.as_str().ok_or_else(mismatch)?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => {
                    return Err(format!(
                        "expected a single character, got {}",
                        describe(json)
                    ));
                }
            }
        }
        Type::String => Val::String(json.as_str().ok_or_else(mismatch)?.to_owned()),
        Type::List(list) => {
            let item = list.ty();
            match (json, &item) {
                (Value::String(text), Type::U8) => Val::List(text.bytes().map(Val::U8).collect()),
                (Value::Object(object), Type::Tuple(pair)) if is_string_keyed(pair) => {
                    let types: Vec<Type> = pair.types().collect();
                    let entries = object
                        .iter()
                        .map(|(key, value)| {
                            let key_val = to_val(&types[0], &Value::String(key.clone()))
                                .map_err(|e| at(key, e))?;
                            let value = to_val(&types[1], value).map_err(|e| at(key, e))?;
                            Ok(Val::Tuple(vec![key_val, value]))
                        })
                        .collect::<Result<_, String>>()?;
                    Val::List(entries)
                }
                (Value::Array(items), _) => Val::List(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, value)| to_val(&item, value).map_err(|e| at(i, e)))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(mismatch()),
            }
        }
        Type::FixedLengthList(list) => {
            let items = json.as_array().ok_or_else(mismatch)?;
            if items.len() != list.len() as usize {
                return Err(format!(
                    "expected {} items, got {}",
                    list.len(),
                    items.len()
                ));
            }
            let item = list.ty();
            Val::FixedLengthList(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, value)| to_val(&item, value).map_err(|e| at(i, e)))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(map) => {
            let (key_ty, value_ty) = (map.key(), map.value());
            let pairs: Vec<(Val, Val)> = match json {
                Value::Object(object) => object
                    .iter()
                    .map(|(key, value)| {
                        Ok((
                            to_val(&key_ty, &Value::String(key.clone()))?,
                            to_val(&value_ty, value).map_err(|e| at(key, e))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
                _ => return Err(mismatch()),
            };
            Val::Map(pairs)
        }
        Type::Record(record) if is_json_record(record) => {
            Val::Record(vec![(JSON_FIELD.to_owned(), Val::String(json.to_string()))])
        }
        Type::Record(record) => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let mut fields = Vec::new();
            for field in record.fields() {
                let value = match object.get(field.name) {
                    Some(value) => to_val(&field.ty, value).map_err(|e| at(field.name, e))?,
                    None if matches!(field.ty, Type::Option(_)) => Val::Option(None),
                    None => return Err(format!("missing field `{}`", field.name)),
                };
                fields.push((field.name.to_owned(), value));
            }
            if let Some(unknown) = object
                .keys()
                .find(|key| record.fields().all(|f| f.name != *key))
            {
                return Err(format!("unknown field `{unknown}`"));
            }
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            let items = json.as_array().ok_or_else(mismatch)?;
            if items.len() != tuple.types().len() {
                return Err(format!(
                    "expected {} with {} items, got {} items",
                    wit_type(ty),
                    tuple.types().len(),
                    items.len()
                ));
            }
            Val::Tuple(
                tuple
                    .types()
                    .zip(items)
                    .enumerate()
                    .map(|(i, (ty, value))| to_val(&ty, value).map_err(|e| at(i, e)))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Variant(variant) => {
            let (name, payload) = variant_case(variant, json).map_err(|error| match error {
                Some(error) => error,
                None => mismatch(),
            })?;
            Val::Variant(name, payload.map(Box::new))
        }
        Type::Enum(enumeration) => {
            let name = json.as_str().ok_or_else(mismatch)?;
            if !enumeration.names().any(|n| n == name) {
                return Err(format!("unknown case `{name}` for {}", wit_type(ty)));
            }
            Val::Enum(name.to_owned())
        }
        Type::Option(option) => {
            let inner = option.ty();
            match json {
                // `null` is the innermost `none` that fits: `option<option<T>>`
                // is how an omittable `Optional[T]` travels, and `null` there
                // means an explicit `None`; leaving the argument out omits it.
                Value::Null => match &inner {
                    Type::Option(_) => Val::Option(Some(Box::new(to_val(&inner, json)?))),
                    _ => Val::Option(None),
                },
                value => Val::Option(Some(Box::new(to_val(&inner, value)?))),
            }
        }
        Type::Result(result) => {
            let (name, payload) = case(json).ok_or_else(mismatch)?;
            let side = match name {
                "ok" => result.ok(),
                "err" => result.err(),
                _ => {
                    return Err(format!(
                        "expected {{\"ok\": …}} or {{\"err\": …}}, got `{name}`"
                    ));
                }
            };
            let payload = match (side, payload) {
                (Some(ty), Some(value)) => {
                    Some(Box::new(to_val(&ty, value).map_err(|e| at(name, e))?))
                }
                (None, _) => None,
                (Some(_), None) => return Err(format!("`{name}` needs a value")),
            };
            Val::Result(if name == "ok" {
                Ok(payload)
            } else {
                Err(payload)
            })
        }
        Type::Flags(flags) => {
            let names = json.as_array().ok_or_else(mismatch)?;
            let mut set = Vec::new();
            for name in names {
                let name = name.as_str().ok_or_else(mismatch)?;
                if !flags.names().any(|n| n == name) {
                    return Err(format!("unknown flag `{name}`"));
                }
                set.push(name.to_owned());
            }
            Val::Flags(set)
        }
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(format!("{} values cannot be given as JSON", wit_type(ty)));
        }
    };
    Ok(val)
}

/// Converts a value of type `ty` to JSON.
pub fn from_val(ty: &Type, val: &Val) -> Value {
    match (ty, val) {
        (_, Val::Bool(b)) => Value::Bool(*b),
        (_, Val::S8(n)) => (*n).into(),
        (_, Val::U8(n)) => (*n).into(),
        (_, Val::S16(n)) => (*n).into(),
        (_, Val::U16(n)) => (*n).into(),
        (_, Val::S32(n)) => (*n).into(),
        (_, Val::U32(n)) => (*n).into(),
        (_, Val::S64(n)) => (*n).into(),
        (_, Val::U64(n)) => (*n).into(),
        (_, Val::Float32(x)) => float_json(f64::from(*x)),
        (_, Val::Float64(x)) => float_json(*x),
        (_, Val::Char(c)) => Value::String(c.to_string()),
        (_, Val::String(s)) => Value::String(s.clone()),
        (Type::List(list), Val::List(items)) => {
            let item = list.ty();
            match &item {
                Type::Tuple(pair) if is_string_keyed(pair) => {
                    let value_ty = pair.types().nth(1).unwrap_or(Type::Bool);
                    let mut object = Map::new();
                    for entry in items {
                        if let Val::Tuple(kv) = entry
                            && let [Val::String(key) | Val::Enum(key), value] = kv.as_slice()
                        {
                            object.insert(key.clone(), from_val(&value_ty, value));
                        }
                    }
                    // A list of pairs (not a dict) may repeat a key: keep every pair.
                    if object.len() == items.len() {
                        Value::Object(object)
                    } else {
                        Value::Array(items.iter().map(|v| from_val(&item, v)).collect())
                    }
                }
                _ => Value::Array(items.iter().map(|v| from_val(&item, v)).collect()),
            }
        }
        (Type::FixedLengthList(list), Val::FixedLengthList(items)) => {
            let item = list.ty();
            Value::Array(items.iter().map(|v| from_val(&item, v)).collect())
        }
        (Type::Map(map), Val::Map(pairs)) => {
            let (key_ty, value_ty) = (map.key(), map.value());
            let mut object = Map::new();
            for (key, value) in pairs {
                let key = match from_val(&key_ty, key) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, from_val(&value_ty, value));
            }
            Value::Object(object)
        }
        (Type::Record(record), Val::Record(fields)) if is_json_record(record) => {
            match fields.as_slice() {
                [(_, Val::String(text))] => {
                    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
                }
                _ => Value::Null,
            }
        }
        (Type::Record(record), Val::Record(fields)) => Value::Object(
            record
                .fields()
                .zip(fields)
                .map(|(field, (name, value))| (name.clone(), from_val(&field.ty, value)))
                .collect(),
        ),
        (Type::Tuple(tuple), Val::Tuple(items)) => Value::Array(
            tuple
                .types()
                .zip(items)
                .map(|(ty, v)| from_val(&ty, v))
                .collect(),
        ),
        (Type::Variant(variant), Val::Variant(name, payload)) => {
            let case_ty = variant.cases().find(|c| c.name == name).and_then(|c| c.ty);
            match (case_ty, payload) {
                (Some(ty), Some(value)) => {
                    let untagged = from_val(&ty, value);
                    // Untagged only when reading it back picks this very case.
                    match variant_case(variant, &untagged) {
                        Ok((chosen, _)) if chosen == *name => untagged,
                        _ => Value::Object(Map::from_iter([(name.clone(), untagged)])),
                    }
                }
                _ => Value::String(name.clone()),
            }
        }
        (_, Val::Enum(name)) => Value::String(name.clone()),
        (Type::Option(option), Val::Option(value)) => match value {
            Some(value) => from_val(&option.ty(), value),
            None => Value::Null,
        },
        (Type::Result(result), Val::Result(value)) => {
            let (name, ty, payload) = match value {
                Ok(payload) => ("ok", result.ok(), payload),
                Err(payload) => ("err", result.err(), payload),
            };
            let payload = match (ty, payload) {
                (Some(ty), Some(value)) => from_val(&ty, value),
                _ => Value::Null,
            };
            Value::Object(Map::from_iter([(name.to_owned(), payload)]))
        }
        (_, Val::Flags(names)) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        (_, other) => Value::String(format!("<{other:?}>")),
    }
}

/// `true` for a record with the one string field `json-text`.
fn is_json_record(record: &wasmtime::component::types::Record) -> bool {
    let mut fields = record.fields();
    matches!(
        (fields.next(), fields.next()),
        (Some(field), None) if field.name == JSON_FIELD && matches!(field.ty, Type::String)
    )
}

/// Reads a variant value: `{"case": payload}` when `case` names a case and
/// the payload fits it, the case name alone for a case without payload, and
/// otherwise the first case (in order) whose type accepts the JSON as is.
/// `Err(None)` means nothing matched and the caller says what was expected.
fn variant_case(
    variant: &wasmtime::component::types::Variant,
    json: &Value,
) -> Result<(String, Option<Val>), Option<String>> {
    let mut tagged_error = None;
    if let Some((name, payload)) = case(json)
        && let Some(case) = variant.cases().find(|case| case.name == name)
    {
        match (&case.ty, payload) {
            (Some(ty), Some(value)) => match to_val(ty, value) {
                Ok(val) => return Ok((name.to_owned(), Some(val))),
                Err(error) => tagged_error = Some(at(name, error)),
            },
            (None, None | Some(Value::Null)) => return Ok((name.to_owned(), None)),
            (Some(_), None) => tagged_error = Some(format!("case `{name}` needs a payload")),
            (None, Some(_)) => tagged_error = Some(format!("case `{name}` takes no payload")),
        }
    }
    // An integer goes to an integer case before a float case, a float (even
    // an integral one, `3.0`) to a float case before an integer case, and a
    // string to a string case before a bytes case, whatever the order.
    let integer = json.is_i64() || json.is_u64();
    let float = json.is_f64();
    let loose = |ty: &Type| match ty {
        Type::Float32 | Type::Float64 => integer,
        Type::S8
        | Type::U8
        | Type::S16
        | Type::U16
        | Type::S32
        | Type::U32
        | Type::S64
        | Type::U64 => float,
        Type::List(list) => json.is_string() && matches!(list.ty(), Type::U8),
        _ => false,
    };
    for strict in [true, false] {
        for case in variant.cases() {
            if let Some(ty) = &case.ty
                && !(strict && loose(ty))
                && let Ok(val) = to_val(ty, json)
            {
                return Ok((case.name.to_owned(), Some(val)));
            }
        }
    }
    Err(tagged_error)
}

/// A pair whose key is a string or an enum case: a dict that JSON can
/// write as an object.
fn is_string_keyed(pair: &wasmtime::component::types::Tuple) -> bool {
    let types: Vec<Type> = pair.types().collect();
    matches!(types.as_slice(), [Type::String | Type::Enum(_), _])
}

/// The integer a JSON number stands for: an integer, or a float with no
/// fraction (JSON Schema's `integer` takes `3.0`) below 2^53 in size, where every
/// integer is a float. Past that a float may be an integer literal that
/// was rounded on the way in (`-9223372036854775809` reads as -2^63), so it
/// is no integer. `None` for anything else.
pub(crate) fn integer(json: &Value) -> Option<i128> {
    let Value::Number(n) = json else {
        return None;
    };
    if let Some(n) = n.as_i64() {
        return Some(n.into());
    }
    if let Some(n) = n.as_u64() {
        return Some(n.into());
    }
    n.as_f64()
        .filter(|x| x.fract() == 0.0 && x.abs() < EXACT_FLOAT_INTEGERS)
        .map(|x| x as i128)
}

/// 2^53: every integer below it is exactly one float; past it, floats stand for several.
const EXACT_FLOAT_INTEGERS: f64 = 9_007_199_254_740_992.0;

fn float(json: &Value) -> Option<f64> {
    match json {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => float_name(s),
        _ => None,
    }
}

/// The float a string stands for: the spellings Python's `json` module and
/// JavaScript write for the floats JSON cannot hold, and no others.
pub(crate) fn float_name(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn float_json(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// `{"name": payload}` or `"name"`.
fn case(json: &Value) -> Option<(&str, Option<&Value>)> {
    match json {
        Value::String(name) => Some((name, None)),
        Value::Object(object) if object.len() == 1 => object
            .iter()
            .next()
            .map(|(name, value)| (name.as_str(), Some(value))),
        _ => None,
    }
}

fn at(place: impl std::fmt::Display, error: String) -> String {
    format!("at [{place}]: {error}")
}

fn describe(json: &Value) -> String {
    let text = json.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.floor_char_boundary(60)])
    } else {
        text
    }
}
