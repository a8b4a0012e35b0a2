//! The build-script helper: Python module in, typed Rust bindings out.
//!
//! In `build.rs`:
//! ```no_run
//! snakebox_generator::bindings::Bindings::new("python/app.py")
//!     .generate()
//!     .expect("bindings for python/app.py");
//! ```
//!
//! ```ignore
//! // src/main.rs
//! include!(concat!(env!("OUT_DIR"), "/app.rs"));
//! ```
//!
//! The file holds one struct named after the module, with an async method
//! per function, and a Rust type per dataclass, `TypedDict`, `NamedTuple`,
//! `Enum`, `Literal` and union the functions use. It needs no dependency but
//! `snakebox`: serde is reached through `snakebox::serde`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use crate::{python, rust};

/// Generates typed bindings for one Python module, in the manner of
/// `prost-build`: from a build script, into `OUT_DIR`.
#[derive(Debug, Clone)]
pub struct Bindings {
    python: PathBuf,
    out_dir: Option<PathBuf>,
}

/// Why bindings could not be generated.
#[derive(Debug)]
pub struct BindingsError(String);

impl fmt::Display for BindingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindingsError {}

impl Bindings {
    /// Bindings for the module at `python` (relative to the crate's root).
    pub fn new(python: impl Into<PathBuf>) -> Self {
        Bindings {
            python: python.into(),
            out_dir: None,
        }
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Writes `{module}.rs` and returns its path. Diagnostics become cargo
    /// warnings; a module with nothing to export is an error.
    pub fn generate(self) -> Result<PathBuf, BindingsError> {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let python = match (&manifest, self.python.is_relative()) {
            (Some(root), true) => root.join(&self.python),
            _ => self.python.clone(),
        };
        println!("cargo::rerun-if-changed={}", python.display());
        let source = std::fs::read_to_string(&python)
            .map_err(|e| BindingsError(format!("cannot read {}: {e}", python.display())))?;
        let module_name = python
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| BindingsError(format!("{} has no module name", python.display())))?;
        let analysis = python::analyze(&source, &module_name);
        let file = python.display().to_string();
        for diagnostic in &analysis.diagnostics {
            let rendered = diagnostic.render(&file).replace('\n', " ");
            println!("cargo::warning={rendered}");
        }
        let usable = analysis.is_usable();
        let module = analysis.module.filter(|_| usable).ok_or_else(|| {
            let errors: Vec<String> = analysis
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.render(&file))
                .collect();
            BindingsError(format!("no bindings for {file}:\n{}", errors.join("\n")))
        })?;
        let out_dir = match self
            .out_dir
            .or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from))
        {
            Some(dir) => dir,
            None => {
                return Err(BindingsError(
                    "OUT_DIR is not set; call from a build script".into(),
                ));
            }
        };
        let absolute = std::fs::canonicalize(&python).unwrap_or(python);
        let code = rust::emit(&module, &absolute.display().to_string());
        let target = out_dir.join(format!("{module_name}.rs"));
        write(&target, &code)?;
        Ok(target)
    }
}

fn write(path: &Path, code: &str) -> Result<(), BindingsError> {
    std::fs::write(path, code)
        .map_err(|e| BindingsError(format!("cannot write {}: {e}", path.display())))
}
