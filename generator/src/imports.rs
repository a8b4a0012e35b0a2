//! Host functions: the stubs (`.pyi` or `.py`) that declare what the host
//! provides, read into the same IR as the exports.
//!
//! Each stub is one WIT interface that the world imports. Its functions
//! return `result<T, host-error>`; its classes are named types of that
//! interface. Inside the component, `import <stub>` gives a module built
//! from the stub's own source, whose functions call the host (see
//! [`crate::glue::emit_import`]).

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::ir::{Module, ParamKind};
use crate::python::{Analysis, Options};

/// Reads the stub of host module `name`, keeping the functions a host can
/// provide and reporting the others where they are written.
pub fn analyze_stub(source: &str, name: &str, options: Options) -> Analysis {
    let mut analysis = crate::analyze_with(source, name, options);
    let Some(module) = &mut analysis.module else {
        return analysis;
    };
    let mut refused = Vec::new();
    module.functions.retain(|function| {
        let refusal = if function.stream {
            Some((
                format!("host function `{}` is a generator", function.name),
                "a host function returns one value; return a list instead",
            ))
        } else {
            function
                .params
                .iter()
                .find(|p| matches!(p.kind, ParamKind::VarPositional | ParamKind::VarKeyword))
                .map(|param| {
                    (
                        format!(
                            "host function `{}` takes `{}{}`",
                            function.name,
                            if param.kind == ParamKind::VarPositional {
                                "*"
                            } else {
                                "**"
                            },
                            param.name
                        ),
                        "declare each parameter of a host function by name",
                    )
                })
        };
        match refusal {
            Some((message, help)) => {
                refused.push(Diagnostic {
                    severity: Severity::Error,
                    code: Code::Unsupported,
                    line: function.line,
                    column: function.column,
                    message: format!("{message}; it is skipped"),
                    help: help.to_owned(),
                });
                false
            }
            None => true,
        }
    });
    analysis.diagnostics.extend(refused);
    analysis
}

/// `true` for the name of a host module that would hide a module of the
/// component itself, or of the guest runtime, or that would take the name
/// of a runtime interface in the bindings (`wit_world.imports.host`).
pub(crate) fn is_reserved(module: &Module) -> bool {
    let name = module.name.as_str();
    name.starts_with("snakebox_")
        || crate::glue::is_runtime_module(name)
        || ["host", "types"].contains(&module.wit_name.as_str())
}

/// The modules of `imports`, refusing two that would be one WIT interface,
/// or one that would be the same interface as an export.
pub(crate) fn check_names(imports: &[Module], exports: &[Module]) -> Result<(), String> {
    for (i, module) in imports.iter().enumerate() {
        if is_reserved(module) {
            return Err(format!(
                "`{}` cannot name a host module: the name is the runtime's own; rename the stub",
                module.name
            ));
        }
        let clash = imports[..i]
            .iter()
            .chain(exports)
            .find(|other| other.wit_name == module.wit_name);
        if let Some(other) = clash {
            return Err(format!(
                "the host module `{}` and the module `{}` would both be the WIT interface `{}`; rename one",
                module.name, other.name, module.wit_name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_and_variadics_are_refused_where_written() {
        let source = "def ok(x: int) -> int: ...\n\
                      def each(n: int) -> Iterator[int]: ...\n\
                      def many(*xs: int) -> int: ...\n";
        let source = format!("from typing import Iterator\n{source}");
        let analysis = analyze_stub(&source, "host", Options::default());
        let module = analysis.module.expect("the stub parses");
        let names: Vec<&str> = module.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ok"]);
        let lines: Vec<(u32, Code)> = analysis
            .diagnostics
            .iter()
            .map(|d| (d.line, d.code))
            .collect();
        assert!(lines.contains(&(3, Code::Unsupported)), "{lines:?}");
        assert!(lines.contains(&(4, Code::Unsupported)), "{lines:?}");
    }

    #[test]
    fn a_host_module_may_not_take_an_exports_interface() {
        let module = |name: &str| {
            crate::analyze("def f() -> int: ...\n", name)
                .module
                .expect("parses")
        };
        let exports = [module("app")];
        assert!(check_names(&[module("directory")], &exports).is_ok());
        let error = check_names(&[module("app")], &exports).expect_err("refused");
        assert!(error.contains("WIT interface `app`"), "{error}");
        for reserved in ["snakebox_guest", "host", "types"] {
            let error = check_names(&[module(reserved)], &exports).expect_err("refused");
            assert!(error.contains("runtime's own"), "{error}");
        }
    }
}
