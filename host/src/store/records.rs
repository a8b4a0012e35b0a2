//! The runtime's own records of `wit/runtime.wit`'s `types` interface, as
//! the dynamic values of a call carry them: `python-error`, the error of
//! every export, and `host-error`, the error of every host function. They
//! are read and built here alone, by the field and case names the WIT
//! gives (a test reads the WIT and checks them).

use wasmtime::component::{Type, Val};

use crate::error::PythonError;

/// `python-error`'s fields, in order.
const PYTHON_ERROR: [&str; 3] = ["type-name", "message", "traceback"];

/// `host-failure`'s fields, in order: the case `failed` of `host-error`.
const HOST_FAILURE: [&str; 2] = ["kind", "message"];

/// `host-error`'s cases.
const FAILED: &str = "failed";
const CANCELLED: &str = "cancelled";

/// Whether `ty` is `python-error`: records have no names at run time, so
/// it is recognised by its fields.
pub(crate) fn is_python_error(ty: &Type) -> bool {
    let Type::Record(record) = ty else {
        return false;
    };
    record.fields().map(|field| field.name).eq(PYTHON_ERROR)
}

/// Reads a `python-error` value; `None` for a value of another shape.
pub(crate) fn python_error(value: Val) -> Option<PythonError> {
    let Val::Record(fields) = value else {
        return None;
    };
    if !fields
        .iter()
        .map(|(name, _)| name.as_str())
        .eq(PYTHON_ERROR)
    {
        return None;
    }
    let mut texts = fields.into_iter().map(|(_, value)| match value {
        Val::String(text) => Some(text),
        _ => None,
    });
    Some(PythonError {
        type_name: texts.next()??,
        message: texts.next()??,
        traceback: texts.next()??,
    })
}

/// `host-error.failed`: the host function failed with the exception class
/// `kind` (empty for `HostError` itself) and `message`.
pub(crate) fn host_failed(kind: &str, message: String) -> Val {
    let failure = HOST_FAILURE
        .iter()
        .zip([kind.to_owned(), message])
        .map(|(name, text)| ((*name).to_owned(), Val::String(text)))
        .collect();
    Val::Variant(FAILED.into(), Some(Box::new(Val::Record(failure))))
}

/// `host-error.cancelled`: the host cancelled the call waiting for it.
pub(crate) fn host_cancelled() -> Val {
    Val::Variant(CANCELLED.into(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `record NAME { … }` in `wit`, or the cases of
    /// `variant NAME { … }`, as written there.
    fn declared(wit: &str, keyword: &str, name: &str) -> Vec<String> {
        let start = wit
            .find(&format!("{keyword} {name} {{"))
            .unwrap_or_else(|| panic!("`{keyword} {name}` in the WIT"));
        let body = &wit[start..];
        let body = &body[body.find('{').expect("a body") + 1..body.find('}').expect("its end")];
        body.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .map(|line| {
                let end = line.find([':', '(', ',']).unwrap_or(line.len());
                line[..end].trim().to_owned()
            })
            .collect()
    }

    #[test]
    fn the_names_are_the_wits() {
        let wit = include_str!("../../wit/runtime.wit");
        assert_eq!(declared(wit, "record", "python-error"), PYTHON_ERROR);
        assert_eq!(declared(wit, "record", "host-failure"), HOST_FAILURE);
        assert_eq!(declared(wit, "variant", "host-error"), [FAILED, CANCELLED]);
    }

    #[test]
    fn a_python_error_reads_back_and_other_shapes_do_not() {
        let text = |s: &str| Val::String(s.into());
        let record = |names: [&str; 3]| {
            Val::Record(
                names
                    .iter()
                    .zip([text("ValueError"), text("boom"), text("tb")])
                    .map(|(name, value)| ((*name).to_owned(), value))
                    .collect(),
            )
        };
        assert_eq!(
            python_error(record(PYTHON_ERROR)),
            Some(PythonError {
                type_name: "ValueError".into(),
                message: "boom".into(),
                traceback: "tb".into(),
            })
        );
        assert_eq!(python_error(record(["type", "message", "traceback"])), None);
        assert_eq!(python_error(text("ValueError")), None);
        let Val::Variant(case, Some(failure)) = host_failed("KeyError", "gone".into()) else {
            panic!("a variant with a payload");
        };
        assert_eq!(case, FAILED);
        assert_eq!(
            *failure,
            Val::Record(vec![
                ("kind".into(), text("KeyError")),
                ("message".into(), text("gone")),
            ])
        );
    }
}
