//! Reads type-annotated Python and emits what snakebox needs to run it as a
//! WebAssembly component: a WIT world and the Python glue for componentize-py.
//!
//! ```text
//! app.py ──analyze──▶ Module (IR) ──wit::emit──▶ app.wit
//!                                 └─glue::emit─▶ snakebox_glue.py
//! ```
//!
//! - [`analyze`] parses one module with ruff's parser into a [`Module`], and
//!   reports everything it cannot carry as a [`Diagnostic`] with a stable code.
//!   One bad function is skipped with a warning; the rest is still generated.
//!   Classes of the module (dataclasses, `TypedDict`, `NamedTuple`, `Enum`),
//!   `Literal[...]`, unions and `Any` become named WIT types ([`TypeDef`]).
//! - [`wit::emit`] writes the package, interface and world, all named after
//!   the module. Every export returns `result<T, python-error>`; `async def`
//!   becomes an `async func`.
//! - [`glue::emit`] writes the export class that componentize-py binds.
//!
//! ```
//! let source = "async def answer() -> int:\n    return 42\n";
//! let analysis = snakebox_generator::analyze(source, "demo");
//! let module = analysis.module.expect("the source parses");
//! let wit = snakebox_generator::wit::emit(&module);
//! assert!(wit.contains("answer: async func() -> result<s64, python-error>;"));
//! ```

#[cfg(feature = "rust")]
pub mod bindings;
pub mod builder;
pub mod bundle;
pub mod description;
mod diagnostic;
pub mod glue;
pub mod http;
mod imports;
mod ir;
mod names;
pub mod openapi;
mod python;
mod python_signature;
pub mod replies;
#[cfg(feature = "rust")]
pub mod rust;
pub mod wit;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use imports::analyze_stub;
pub use ir::{
    Case, Class, Field, Function, JSON_FIELD, JSON_TYPE, Method, MethodKind, Module, Param,
    ParamKind, RecordStyle, Type, TypeDef, TypeDefKind, VariantCase, keyword_names,
};
pub use names::{binding_name, call_name, class_name, kebab, wit_ident};
pub use python::{Analysis, Options, analyze, analyze_with};
