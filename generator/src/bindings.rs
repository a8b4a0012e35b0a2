//! The build-script helper: Python module in, a component and typed Rust
//! bindings out.
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
//!
//! The build script also builds the module into a component (with
//! componentize-py, cached by content as `snakebox build` does) and the
//! bindings embed it with `include_bytes!`. The program is then one file
//! that needs neither the `.py` source nor componentize-py where it runs.
//! Embedding was chosen over a file beside the binary: nothing can go
//! missing or out of step with the bindings when the binary is deployed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use crate::{builder, python, rust};

/// Generates typed bindings for one Python module, in the manner of
/// `prost-build`: from a build script, into `OUT_DIR`.
#[derive(Debug, Clone)]
pub struct Bindings {
    python: PathBuf,
    out_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    strict: bool,
    imports: Vec<PathBuf>,
}

/// Why bindings could not be generated: a message, and the error
/// underneath (a `std::io::Error`, the build's error), if any, as its
/// source.
#[derive(Debug)]
pub struct BindingsError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl BindingsError {
    fn new(message: String) -> Self {
        Self {
            message,
            source: None,
        }
    }

    fn caused_by(message: String, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message,
            source: Some(Box::new(source)),
        }
    }

    /// The message and every error under it, one per line, as a build
    /// script reports them (`cargo::error=` takes one line).
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.message.lines().map(str::to_owned).collect();
        let mut next = std::error::Error::source(self);
        while let Some(source) = next {
            lines.extend(source.to_string().lines().map(|line| format!("  {line}")));
            next = source.source();
        }
        lines
    }
}

impl fmt::Display for BindingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BindingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl Bindings {
    /// Bindings for the module at `python` (relative to the crate's root).
    pub fn new(python: impl Into<PathBuf>) -> Self {
        Bindings {
            python: python.into(),
            out_dir: None,
            cache_dir: None,
            strict: false,
            imports: Vec::new(),
        }
    }

    /// The module calls the host functions of `stub` (relative to the
    /// crate's root): the bindings get a trait to implement for it.
    pub fn import(mut self, stub: impl Into<PathBuf>) -> Self {
        self.imports.push(stub.into());
        self
    }

    /// Refuses unannotated values instead of carrying them as `Any`
    /// (`serde_json::Value` in the bindings).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Builds in `dir` instead of [`builder::default_cache_dir`].
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Builds `{module}.wasm` and writes `{module}.rs` beside it; returns
    /// the path of the bindings. Diagnostics become cargo warnings; a module
    /// with nothing to export, or one that does not build, is an error.
    pub fn generate(self) -> Result<PathBuf, BindingsError> {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let python = match (&manifest, self.python.is_relative()) {
            (Some(root), true) => root.join(&self.python),
            _ => self.python.clone(),
        };
        // The component bundles the module's folder, not just the module.
        let folder = python.parent().unwrap_or(Path::new("."));
        println!("cargo::rerun-if-changed={}", folder.display());
        println!("cargo::rerun-if-env-changed=SNAKEBOX_CACHE_DIR");
        let source = std::fs::read_to_string(&python).map_err(|e| {
            BindingsError::caused_by(format!("cannot read {}", python.display()), e)
        })?;
        let module_name = python
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                BindingsError::new(format!("{} has no module name", python.display()))
            })?;
        let options = python::Options {
            strict: self.strict,
        };
        let analysis = python::analyze_with(&source, &module_name, options);
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
            BindingsError::new(format!("no bindings for {file}:\n{}", errors.join("\n")))
        })?;
        let out_dir = match self
            .out_dir
            .or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from))
        {
            Some(dir) => dir,
            None => {
                return Err(BindingsError::new(
                    "OUT_DIR is not set; call from a build script".into(),
                ));
            }
        };
        let cache_dir = self.cache_dir.unwrap_or_else(builder::default_cache_dir);
        let imports: Vec<PathBuf> = self
            .imports
            .iter()
            .map(|stub| match (&manifest, stub.is_relative()) {
                (Some(root), true) => root.join(stub),
                _ => stub.clone(),
            })
            .collect();
        let mut host_modules = Vec::new();
        for stub in &imports {
            println!("cargo::rerun-if-changed={}", stub.display());
            let stub_file = stub.display().to_string();
            let source = std::fs::read_to_string(stub)
                .map_err(|e| BindingsError::caused_by(format!("cannot read {stub_file}"), e))?;
            let name = stub
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let analysis = crate::analyze_stub(&source, name, options);
            for diagnostic in &analysis.diagnostics {
                let rendered = diagnostic.render(&stub_file).replace('\n', " ");
                println!("cargo::warning={rendered}");
            }
            let module = analysis
                .module
                .ok_or_else(|| BindingsError::new(format!("cannot read the stub {stub_file}")))?;
            host_modules.push(module);
        }
        let build = builder::BuildOptions {
            strict: self.strict,
            imports,
            ..builder::BuildOptions::default()
        };
        let built = builder::build_with(&python, &cache_dir, &build)
            .map_err(|e| BindingsError::caused_by(format!("cannot build {file}"), e))?;
        let component = out_dir.join(format!("{module_name}.wasm"));
        std::fs::copy(&built.wasm, &component).map_err(|e| {
            BindingsError::caused_by(format!("cannot write {}", component.display()), e)
        })?;
        let code =
            rust::emit_with_imports(&module, &host_modules, &component.display().to_string());
        let target = out_dir.join(format!("{module_name}.rs"));
        write(&target, &code)?;
        Ok(target)
    }
}

fn write(path: &Path, code: &str) -> Result<(), BindingsError> {
    std::fs::write(path, code)
        .map_err(|e| BindingsError::caused_by(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod strict_tests {
    use super::Bindings;

    #[test]
    fn strict_bindings_refuse_unannotated_code() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let module = dir.path().join("loose.py");
        std::fs::write(&module, "def echo(value):\n    return value\n").expect("written");
        let bindings = || {
            Bindings::new(&module)
                .out_dir(dir.path())
                .cache_dir(dir.path())
        };
        // Refused before anything is built: with `echo` skipped, nothing is
        // left to export.
        let refused = bindings().strict(true).generate().expect_err("strict");
        assert!(refused.to_string().contains("error[SB107]"), "{refused}");
        // Without it, `echo` is exported, its value as `Any`.
        let source = std::fs::read_to_string(&module).expect("read");
        let lenient =
            crate::python::analyze_with(&source, "loose", crate::python::Options::default());
        assert!(lenient.is_usable(), "{:?}", lenient.diagnostics);
        assert!(!dir.path().join("loose.rs").exists());
    }
}
