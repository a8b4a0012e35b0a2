//! The generator's description of a component, matched to what the
//! component exports.
//!
//! A component that snakebox built carries its description (see
//! `snakebox_generator::description`). When it is loaded, every export is
//! paired with its described function, and the two must agree on every
//! name and type: a description that says something the WIT does not is
//! refused, naming the first difference, since it would change how
//! arguments are bound and results read.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::Path;
use std::sync::Arc;

use snakebox_generator::description::{self, Description};
use snakebox_generator::{Module, Param, Type as PyType, TypeDefKind, wit};
use wasmtime::component::types::Type;

use crate::component::signature::{Described, Function, Member, MemberKind, wit_type};
use crate::error::{Detail, Error, Result};
use crate::store::records::is_python_error;

/// Reads the description of the component file at `path`, if it has one.
pub(crate) fn read_file(path: &Path) -> Result<Option<Description>> {
    let file = File::open(path).map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot read {}", path.display()),
            e,
        ))
    })?;
    let section = description::find(&mut BufReader::new(file));
    decode(section, &path.display().to_string())
}

/// Reads the description of a component's bytes, if it has one.
/// `source` names it in errors.
pub(crate) fn read_bytes(bytes: &[u8], source: &str) -> Result<Option<Description>> {
    decode(description::find(&mut Cursor::new(bytes)), source)
}

fn decode(section: std::io::Result<Option<Vec<u8>>>, source: &str) -> Result<Option<Description>> {
    let section = section.map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot read the sections of {source}"),
            e,
        ))
    })?;
    section
        .map(|bytes| Description::from_bytes(&bytes))
        .transpose()
        .map_err(|e| {
            Error::BadComponent(Detail::caused_by(
                format!("the description of {source} cannot be read"),
                e,
            ))
        })
}

/// Pairs every export with its described function, checking that the two
/// agree; the first difference is the error.
pub(crate) fn attach(functions: &mut [Function], description: Description) -> Result<()> {
    let modules: Vec<Arc<Module>> = description.modules.into_iter().map(Arc::new).collect();
    let disagree = |what: String| {
        Error::BadComponent(Detail::new(format!(
            "its description and its WIT types disagree: {what}; rebuild the component"
        )))
    };
    for function in functions.iter_mut() {
        if function.is_release() {
            // The runtime's own method, on every resource.
            continue;
        }
        let interface = function.interface_name().unwrap_or_default();
        let module = modules
            .iter()
            .find(|m| m.wit_name == interface)
            .ok_or_else(|| disagree(format!("the interface `{interface}` is not described")))?;
        let described = match &function.member {
            None => module
                .functions
                .iter()
                .position(|f| f.wit_name == function.name)
                .map(|index| Described::new(Arc::clone(module), index)),
            Some(member) => member_of(module, member, &function.name),
        }
        .ok_or_else(|| {
            disagree(format!(
                "`{}` is exported but not described",
                function.qualified_name()
            ))
        })?;
        check(function, module, described.function()).map_err(|what| {
            let name = &described.function().name;
            disagree(format!("`{name}` ({}): {what}", function.qualified_name()))
        })?;
        function.python_name = described.function().name.clone();
        function.described = Some(described);
    }
    for module in &modules {
        let members = module.classes.iter().flat_map(|class| {
            std::iter::once(&class.constructor)
                .chain(class.methods.iter().map(|m| &m.function))
                .map(move |f| (Some(class), f))
        });
        let free = module.functions.iter().map(|f| (None, f));
        for (class, described) in free.chain(members) {
            let exported = functions.iter().any(|f| {
                f.interface_name() == Some(module.wit_name.as_str())
                    && f.name == described.wit_name
                    && f.member.as_ref().map(|m| m.class.as_str())
                        == class.map(|c| c.wit_name.as_str())
            });
            if !exported {
                let name = match class {
                    Some(class) => format!("{}.{}", class.wit_name, described.wit_name),
                    None => described.wit_name.clone(),
                };
                return Err(disagree(format!(
                    "`{}#{name}` is described but not exported",
                    module.wit_name
                )));
            }
        }
    }
    Ok(())
}

/// The described member of a class that an export is, if any.
fn member_of(module: &Arc<Module>, member: &Member, name: &str) -> Option<Described> {
    let class = module
        .classes
        .iter()
        .position(|class| class.wit_name == member.class)?;
    let methods = &module.classes[class].methods;
    let found = match member.kind {
        MemberKind::Constructor => None,
        MemberKind::Method => Some(methods.iter().position(|m| {
            m.function.wit_name == name && m.kind == snakebox_generator::MethodKind::Instance
        })?),
        MemberKind::Static => Some(methods.iter().position(|m| {
            m.function.wit_name == name && m.kind != snakebox_generator::MethodKind::Instance
        })?),
    };
    Some(Described::member(Arc::clone(module), class, found))
}

/// Checks one function's parameters and result against its description.
pub(crate) fn check(
    function: &Function,
    module: &Module,
    described: &snakebox_generator::Function,
) -> std::result::Result<(), String> {
    if function.is_async != (described.is_async || described.stream) {
        return Err(format!(
            "the description says {}, the component says {}",
            if described.is_async { "async" } else { "sync" },
            if function.is_async { "async" } else { "sync" }
        ));
    }
    if function.params.len() != described.params.len() {
        return Err(format!(
            "the description has {} parameters, the component {}",
            described.params.len(),
            function.params.len()
        ));
    }
    for ((name, ty), param) in function.params.iter().zip(&described.params) {
        check_param(name, ty, param, module)?;
    }
    let Some(Type::Result(result)) = &function.result else {
        return Err("the component's result is not `result<T, python-error>`".into());
    };
    if !result.err().as_ref().is_some_and(is_python_error) {
        return Err("the component's error type is not `python-error`".into());
    }
    let ok = result.ok();
    match (&described.result, ok) {
        _ if described.stream => match result.ok() {
            Some(Type::Stream(stream)) if stream.ty() == Some(Type::String) => Ok(()),
            other => Err(format!(
                "the description says a stream, the component returns {}",
                other.map_or("nothing".into(), |t| wit_type(&t))
            )),
        },
        (PyType::None, None) => Ok(()),
        (expected, Some(found)) => {
            agree(expected, module, &found).map_err(|e| format!("result: {e}"))
        }
        (expected, None) => Err(format!(
            "the description returns {}, the component nothing",
            wit::type_name(expected)
        )),
    }
}

fn check_param(
    name: &str,
    ty: &Type,
    param: &Param,
    module: &Module,
) -> std::result::Result<(), String> {
    if name != param.wit_name {
        return Err(format!(
            "the description names parameter `{}`, the component `{name}`",
            param.wit_name
        ));
    }
    agree(&param.wit_type(), module, ty).map_err(|e| format!("parameter `{name}`: {e}"))
}

/// Checks that a described type has the shape of the component's type.
fn agree(expected: &PyType, module: &Module, found: &Type) -> std::result::Result<(), String> {
    let mismatch = || {
        Err(format!(
            "the description says {}, the component {}",
            wit::type_name(expected),
            wit_type(found)
        ))
    };
    match (expected, found) {
        (PyType::Int, Type::S64)
        | (PyType::Float, Type::Float64)
        | (PyType::Bool, Type::Bool)
        | (PyType::Str, Type::String) => Ok(()),
        (PyType::Bytes | PyType::ByteArray, Type::List(list)) if list.ty() == Type::U8 => Ok(()),
        (PyType::None, Type::Tuple(tuple)) if tuple.types().len() == 0 => Ok(()),
        (PyType::List(item), Type::List(list)) => agree(item, module, &list.ty()),
        (PyType::Option(item), Type::Option(option)) => agree(item, module, &option.ty()),
        (PyType::Tuple(items), Type::Tuple(tuple)) if items.len() == tuple.types().len() => items
            .iter()
            .zip(tuple.types())
            .try_for_each(|(item, ty)| agree(item, module, &ty)),
        (PyType::Dict(key, value), Type::List(list)) => match list.ty() {
            Type::Tuple(pair) if pair.types().len() == 2 => {
                let types: Vec<Type> = pair.types().collect();
                agree(key, module, &types[0])?;
                agree(value, module, &types[1])
            }
            _ => mismatch(),
        },
        (PyType::Object(_), Type::Own(_) | Type::Borrow(_)) => Ok(()),
        (PyType::Named(name), _) => {
            let Some(def) = module.type_def(name) else {
                return Err(format!("the type `{name}` is not described"));
            };
            agree_named(name, &def.kind, module, found)
        }
        _ => mismatch(),
    }
}

fn agree_named(
    name: &str,
    kind: &TypeDefKind,
    module: &Module,
    found: &Type,
) -> std::result::Result<(), String> {
    let differ = |what: &str| Err(format!("the type `{name}` differs: {what}"));
    match (kind, found) {
        (TypeDefKind::Record { fields, .. }, Type::Record(record)) => {
            let actual: Vec<_> = record.fields().collect();
            if actual.len() != fields.len() {
                return differ("another number of fields");
            }
            for (field, actual) in fields.iter().zip(actual) {
                if field.wit_name != actual.name {
                    return differ(&format!("field `{}` is `{}`", field.wit_name, actual.name));
                }
                agree(&field.ty, module, &actual.ty)
                    .map_err(|e| format!("field `{}` of `{name}`: {e}", field.wit_name))?;
            }
            Ok(())
        }
        (TypeDefKind::Enum { cases, .. } | TypeDefKind::Literal { cases }, Type::Enum(actual)) => {
            if actual.names().eq(cases.iter().map(|c| c.wit_name.as_str())) {
                Ok(())
            } else {
                differ("other cases")
            }
        }
        (TypeDefKind::Variant { cases }, Type::Variant(variant)) => {
            let actual: Vec<_> = variant.cases().collect();
            if actual.len() != cases.len() {
                return differ("another number of cases");
            }
            for (case, actual) in cases.iter().zip(actual) {
                let Some(ty) = actual.ty.filter(|_| case.wit_name == actual.name) else {
                    return differ(&format!("case `{}` is `{}`", case.wit_name, actual.name));
                };
                agree(&case.ty, module, &ty)
                    .map_err(|e| format!("case `{}` of `{name}`: {e}", case.wit_name))?;
            }
            Ok(())
        }
        (TypeDefKind::Json, Type::Record(record)) => {
            let fields: Vec<_> = record.fields().collect();
            match fields.as_slice() {
                [field]
                    if field.name == snakebox_generator::JSON_FIELD && field.ty == Type::String =>
                {
                    Ok(())
                }
                _ => differ("it is not a JSON text record"),
            }
        }
        _ => Err(format!(
            "the description says `{name}`, the component {}",
            wit_type(found)
        )),
    }
}
