//! Whether WIT values given to `call` are of the function's types: checked
//! before the call reaches its store, so that a wrong value is the
//! caller's `BadArguments`, not an error inside the store.

use wasmtime::component::{Type, Val};

use crate::component::signature::Function;
use crate::error::{Error, Result};

/// `Ok` when `args` are as many as `function`'s parameters, each of its
/// type; else `BadArguments` naming the first that is not.
pub(crate) fn check_args(function: &Function, args: &[Val]) -> Result<()> {
    if args.len() != function.params.len() {
        return Err(Error::BadArguments(format!(
            "{}() takes {} arguments, got {}",
            function.call_name,
            function.params.len(),
            args.len()
        )));
    }
    for ((name, ty), arg) in function.params.iter().zip(args) {
        check(ty, arg).map_err(|why| {
            Error::BadArguments(format!(
                "argument `{name}` of {}(): {why}",
                function.call_name
            ))
        })?;
    }
    Ok(())
}

/// `Ok` when `val` is a value of `ty`; else what is wrong, and where
/// (`at [1].name: expected s64, found a string`).
pub(crate) fn check(ty: &Type, val: &Val) -> std::result::Result<(), String> {
    check_at(ty, val, &mut String::new())
}

fn check_at(ty: &Type, val: &Val, at: &mut String) -> std::result::Result<(), String> {
    let inside = |at: &mut String, step: String, ty: &Type, val: &Val| {
        let len = at.len();
        at.push_str(&step);
        let checked = check_at(ty, val, at);
        at.truncate(len);
        checked
    };
    let each = |at: &mut String, ty: &Type, items: &[Val]| {
        items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| inside(at, format!("[{i}]"), ty, item))
    };
    let fits = match (ty, val) {
        (Type::Bool, Val::Bool(_))
        | (Type::S8, Val::S8(_))
        | (Type::U8, Val::U8(_))
        | (Type::S16, Val::S16(_))
        | (Type::U16, Val::U16(_))
        | (Type::S32, Val::S32(_))
        | (Type::U32, Val::U32(_))
        | (Type::S64, Val::S64(_))
        | (Type::U64, Val::U64(_))
        | (Type::Float32, Val::Float32(_))
        | (Type::Float64, Val::Float64(_))
        | (Type::Char, Val::Char(_))
        | (Type::String, Val::String(_))
        | (Type::Own(_) | Type::Borrow(_), Val::Resource(_))
        | (Type::Future(_), Val::Future(_))
        | (Type::Stream(_), Val::Stream(_))
        | (Type::ErrorContext, Val::ErrorContext(_)) => true,
        (Type::List(list), Val::List(items)) => return each(at, &list.ty(), items),
        (Type::FixedLengthList(list), Val::FixedLengthList(items))
            if items.len() == list.len() as usize =>
        {
            return each(at, &list.ty(), items);
        }
        (Type::Map(map), Val::Map(pairs)) => {
            return pairs.iter().enumerate().try_for_each(|(i, (key, value))| {
                inside(at, format!("[{i}].key"), &map.key(), key)?;
                inside(at, format!("[{i}].value"), &map.value(), value)
            });
        }
        (Type::Tuple(tuple), Val::Tuple(items)) if tuple.types().len() == items.len() => {
            return tuple
                .types()
                .zip(items)
                .enumerate()
                .try_for_each(|(i, (ty, item))| inside(at, format!("[{i}]"), &ty, item));
        }
        (Type::Record(record), Val::Record(fields))
            if record.fields().len() == fields.len()
                && record
                    .fields()
                    .zip(fields)
                    .all(|(f, (name, _))| f.name == name) =>
        {
            return record
                .fields()
                .zip(fields)
                .try_for_each(|(field, (name, value))| {
                    inside(at, format!(".{name}"), &field.ty, value)
                });
        }
        (Type::Variant(variant), Val::Variant(name, payload)) => {
            match variant.cases().find(|case| case.name == name) {
                Some(case) => match (&case.ty, payload) {
                    (Some(ty), Some(payload)) => {
                        return inside(at, format!("({name})"), ty, payload);
                    }
                    (None, None) => true,
                    _ => false,
                },
                None => false,
            }
        }
        (Type::Enum(enumeration), Val::Enum(name)) => enumeration.names().any(|n| n == name),
        (Type::Flags(flags), Val::Flags(names)) => {
            names.iter().all(|name| flags.names().any(|n| n == name))
        }
        (Type::Option(option), Val::Option(value)) => match value {
            Some(value) => return inside(at, "?".to_owned(), &option.ty(), value),
            None => true,
        },
        (Type::Result(result), Val::Result(value)) => {
            let (ty, payload, step) = match value {
                Ok(payload) => (result.ok(), payload, "(ok)"),
                Err(payload) => (result.err(), payload, "(err)"),
            };
            match (ty, payload) {
                (Some(ty), Some(payload)) => return inside(at, step.to_owned(), &ty, payload),
                (None, None) => true,
                _ => false,
            }
        }
        _ => false,
    };
    match fits {
        true => Ok(()),
        false => Err(format!(
            "{}expected {}, found {}",
            match at.is_empty() {
                true => String::new(),
                false => format!("at {at}: "),
            },
            crate::component::signature::wit_type(ty),
            found(val)
        )),
    }
}

/// What kind of value `val` is, in words.
fn found(val: &Val) -> String {
    let kind = match val {
        Val::Bool(_) => "a bool",
        Val::S8(_) => "an s8",
        Val::U8(_) => "a u8",
        Val::S16(_) => "an s16",
        Val::U16(_) => "a u16",
        Val::S32(_) => "an s32",
        Val::U32(_) => "a u32",
        Val::S64(_) => "an s64",
        Val::U64(_) => "a u64",
        Val::Float32(_) => "an f32",
        Val::Float64(_) => "an f64",
        Val::Char(_) => "a char",
        Val::String(_) => "a string",
        Val::List(_) => "a list",
        Val::Map(_) => "a map",
        Val::Record(_) => "a record",
        Val::Tuple(_) => "a tuple",
        Val::Variant(name, _) => return format!("the variant case `{name}`"),
        Val::Enum(name) => return format!("the enum case `{name}`"),
        Val::Option(_) => "an option",
        Val::Result(_) => "a result",
        Val::Flags(_) => "flags",
        Val::Resource(_) => "a resource",
        Val::Future(_) => "a future",
        Val::Stream(_) => "a stream",
        Val::ErrorContext(_) => "an error context",
        Val::FixedLengthList(items) => return format!("a list of {} items", items.len()),
    };
    kind.to_owned()
}
