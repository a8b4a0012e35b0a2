//! Rust values to and from WIT values, for the typed bindings: each call
//! lowers its arguments straight to [`Val`]s and lifts its result back,
//! with no JSON in between.
//!
//! The bindings' own types (records, enums, unions) implement both traits
//! in the generated code, the way the host's JSON reads them.

use std::collections::HashMap;
use std::hash::Hash;

use wasmtime::component::Val;

/// A Rust value that becomes a WIT value.
pub trait Lower {
    /// The WIT value of `self`.
    fn lower(&self) -> Val;
}

/// A Rust value read from a WIT value; the error says what did not fit.
pub trait Lift: Sized {
    /// Reads `val`, or says why it is not of this type.
    fn lift(val: Val) -> Result<Self, String>;
}

/// The error of a value that is not of the expected shape.
pub fn mismatch<T>(expected: &str, val: &Val) -> Result<T, String> {
    Err(format!("expected {expected}, got {val:?}"))
}

macro_rules! scalar {
    ($($ty:ty => $case:ident),* $(,)?) => {$(
        impl Lower for $ty {
            fn lower(&self) -> Val {
                Val::$case(self.clone())
            }
        }
        impl Lift for $ty {
            fn lift(val: Val) -> Result<Self, String> {
                match val {
                    Val::$case(value) => Ok(value),
                    other => mismatch(stringify!($ty), &other),
                }
            }
        }
    )*};
}

scalar!(i64 => S64, u8 => U8, f64 => Float64, bool => Bool, String => String);

impl<T: Lower> Lower for Vec<T> {
    fn lower(&self) -> Val {
        Val::List(self.iter().map(Lower::lower).collect())
    }
}

impl<T: Lift> Lift for Vec<T> {
    fn lift(val: Val) -> Result<Self, String> {
        match val {
            Val::List(items) => items.into_iter().map(T::lift).collect(),
            other => mismatch("a list", &other),
        }
    }
}

impl<T: Lower> Lower for Option<T> {
    fn lower(&self) -> Val {
        Val::Option(self.as_ref().map(|value| Box::new(value.lower())))
    }
}

impl<T: Lift> Lift for Option<T> {
    fn lift(val: Val) -> Result<Self, String> {
        match val {
            Val::Option(value) => value.map(|value| T::lift(*value)).transpose(),
            other => mismatch("an option", &other),
        }
    }
}

/// A dict is WIT's `list<tuple<K, V>>`.
impl<K: Lower, V: Lower> Lower for HashMap<K, V> {
    fn lower(&self) -> Val {
        Val::List(
            self.iter()
                .map(|(key, value)| Val::Tuple(vec![key.lower(), value.lower()]))
                .collect(),
        )
    }
}

impl<K: Lift + Eq + Hash, V: Lift> Lift for HashMap<K, V> {
    fn lift(val: Val) -> Result<Self, String> {
        Vec::<(K, V)>::lift(val).map(|pairs| pairs.into_iter().collect())
    }
}

/// `Any`: WIT's `json-value` record, which carries JSON text.
impl Lower for serde_json::Value {
    fn lower(&self) -> Val {
        Val::Record(vec![(
            snakebox_generator::JSON_FIELD.to_owned(),
            Val::String(self.to_string()),
        )])
    }
}

impl Lift for serde_json::Value {
    fn lift(val: Val) -> Result<Self, String> {
        match val {
            Val::Record(mut fields) if fields.len() == 1 => match fields.pop() {
                Some((_, Val::String(text))) => {
                    serde_json::from_str(&text).map_err(|e| format!("bad JSON text: {e}"))
                }
                other => mismatch("JSON text", &other.map_or(Val::Bool(false), |f| f.1)),
            },
            other => mismatch("a JSON value record", &other),
        }
    }
}

/// `None` inside a type: WIT's empty tuple.
impl Lower for () {
    fn lower(&self) -> Val {
        Val::Tuple(Vec::new())
    }
}

impl Lift for () {
    fn lift(val: Val) -> Result<Self, String> {
        match val {
            Val::Tuple(items) if items.is_empty() => Ok(()),
            other => mismatch("an empty tuple", &other),
        }
    }
}

macro_rules! tuple {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: Lower),+> Lower for ($($name,)+) {
            #[expect(non_snake_case, reason = "the type parameters name the items")]
            fn lower(&self) -> Val {
                let ($($name,)+) = self;
                Val::Tuple(vec![$($name.lower()),+])
            }
        }
        impl<$($name: Lift),+> Lift for ($($name,)+) {
            fn lift(val: Val) -> Result<Self, String> {
                let Val::Tuple(items) = val else {
                    return mismatch("a tuple", &val);
                };
                let mut items = items.into_iter();
                let lifted = ($(
                    $name::lift(items.next().ok_or("a tuple is short of items")?)?,
                )+);
                match items.next() {
                    Some(extra) => mismatch("no more items", &extra),
                    None => Ok(lifted),
                }
            }
        }
    )*};
}

tuple! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
}

/// The field `name` of a record being lifted, for generated code.
pub fn field<T: Lift>(fields: &mut Vec<(String, Val)>, name: &str) -> Result<T, String> {
    let index = fields
        .iter()
        .position(|(field, _)| field == name)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    T::lift(fields.swap_remove(index).1).map_err(|e| format!("field `{name}`: {e}"))
}
