//! Builds a component from a Python module: generate, then componentize.
//!
//! ```text
//! app.py ─▶ snakebox-generator ─▶ wit/ + snakebox_glue.py ─▶ componentize-py ─▶ app.wasm
//! ```
//!
//! Built components are cached by content: the module and its sibling `.py`
//! files, the guest runtime, the generated files and the toolchain version.

mod toolchain;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use snakebox_generator::{Analysis, Diagnostic, Severity, glue, wit};

use crate::cache;
use crate::error::{Error, Result};

pub use toolchain::{COMPONENTIZE_PY_VERSION, Toolchain};

/// The guest runtime's files, bundled into every component.
const GUEST_FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../guest-python/snakebox_guest/__init__.py"),
    ),
    (
        "calls.py",
        include_str!("../../guest-python/snakebox_guest/calls.py"),
    ),
    (
        "convert.py",
        include_str!("../../guest-python/snakebox_guest/convert.py"),
    ),
    (
        "output.py",
        include_str!("../../guest-python/snakebox_guest/output.py"),
    ),
    (
        "timers.py",
        include_str!("../../guest-python/snakebox_guest/timers.py"),
    ),
];

/// What the generator made of a Python module.
pub struct Generated {
    /// The Python module name.
    pub module_name: String,
    pub analysis: Analysis,
    /// The WIT world, when anything could be generated.
    pub wit: Option<String>,
}

impl Generated {
    /// The diagnostics, rendered with the file name, one per entry.
    pub fn rendered_diagnostics(&self, file: &str) -> Vec<String> {
        self.analysis
            .diagnostics
            .iter()
            .map(|d| d.render(file))
            .collect()
    }

    /// `true` when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.analysis
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Reads a `.py` or `.pyi` file and generates its WIT.
pub fn generate(path: &Path) -> Result<Generated> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Error::Build(format!("cannot read {}: {e}", path.display())))?;
    let module_name = module_name(path)?;
    let analysis = snakebox_generator::analyze(&source, &module_name);
    let wit = analysis
        .is_usable()
        .then(|| analysis.module.as_ref().map(wit::emit))
        .flatten();
    Ok(Generated {
        module_name,
        analysis,
        wit,
    })
}

/// The import name of a module file: its stem, or its folder for `__init__.py`.
fn module_name(path: &Path) -> Result<String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let name = if stem == "__init__" {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    } else {
        stem
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(Error::Build(format!(
            "`{}` is not an importable Python module name; rename the file",
            path.display()
        )))
    }
}

/// The outcome of a build.
pub struct Built {
    /// The component file (inside the cache).
    pub wasm: PathBuf,
    /// `true` when the cache already had it.
    pub cached: bool,
    /// What the generator reported, rendered with the file name.
    pub diagnostics: Vec<Diagnostic>,
}

/// Builds `path` into a component in `cache_dir`, or finds it there.
pub fn build(path: &Path, cache_dir: &Path) -> Result<Built> {
    let generated = generate(path)?;
    let file = path.display().to_string();
    let (Some(world), Some(module)) = (&generated.wit, &generated.analysis.module) else {
        let rendered = generated.rendered_diagnostics(&file).join("\n");
        return Err(Error::Build(format!(
            "nothing to build from {file}:\n{rendered}"
        )));
    };
    if path.extension().is_some_and(|ext| ext == "pyi") {
        return Err(Error::Build(format!(
            "{file} is a stub: it has no implementation to build; build from the .py file"
        )));
    }
    let glue_source = glue::emit(module);
    let siblings = sibling_modules(path)?;

    let mut key_material = Vec::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        COMPONENTIZE_PY_VERSION,
        wit::RUNTIME_WIT,
        world,
        &glue_source,
    ] {
        key_material.extend_from_slice(part.as_bytes());
        key_material.push(0);
    }
    for (name, source) in GUEST_FILES {
        key_material.extend_from_slice(name.as_bytes());
        key_material.extend_from_slice(source.as_bytes());
    }
    for (name, bytes) in &siblings {
        key_material.extend_from_slice(name.as_bytes());
        key_material.extend_from_slice(bytes);
    }
    let key = cache::sha256(&key_material);
    let wasm = cache_dir
        .join("components")
        .join(format!("{}-{}.wasm", module.name, &key[..16]));
    let diagnostics = generated.analysis.diagnostics.clone();
    if wasm.exists() {
        return Ok(Built {
            wasm,
            cached: true,
            diagnostics,
        });
    }

    let toolchain = Toolchain::find_or_install(cache_dir)?;
    let work = tempdir_in(&cache_dir.join("build"))?;
    let wit_dir = work.join("wit");
    let py_dir = work.join("py");
    write(&wit_dir.join("world.wit"), world)?;
    write(
        &wit_dir
            .join("deps")
            .join("snakebox-runtime")
            .join("runtime.wit"),
        wit::RUNTIME_WIT,
    )?;
    write(
        &py_dir.join(format!("{}.py", glue::GLUE_MODULE)),
        &glue_source,
    )?;
    for (name, source) in GUEST_FILES {
        write(&py_dir.join("snakebox_guest").join(name), source)?;
    }
    let app_dir = work.join("app");
    for (name, bytes) in &siblings {
        std::fs::create_dir_all(&app_dir).map_err(|e| Error::Build(e.to_string()))?;
        std::fs::write(app_dir.join(name), bytes).map_err(|e| Error::Build(e.to_string()))?;
    }

    tracing::info!(
        "building {} with componentize-py {COMPONENTIZE_PY_VERSION}",
        path.display()
    );
    let started = Instant::now();
    let output = work.join("component.wasm");
    let outcome = toolchain.componentize(
        &wit_dir,
        &wit::world_name(module),
        &[&app_dir, &py_dir],
        glue::GLUE_MODULE,
        &output,
    );
    let finished = outcome.and_then(|()| {
        std::fs::create_dir_all(wasm.parent().unwrap_or(cache_dir))
            .and_then(|()| std::fs::rename(&output, &wasm))
            .map_err(|e| Error::Build(format!("failed to store the component: {e}")))
    });
    let _ = std::fs::remove_dir_all(&work);
    finished?;
    tracing::info!("built {} in {:.1?}", wasm.display(), started.elapsed());
    Ok(Built {
        wasm,
        cached: false,
        diagnostics,
    })
}

/// The `.py` files beside the module (itself included), which it may import.
fn sibling_modules(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Build(format!("cannot list {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let entry_path = entry.path();
        let is_module = entry_path.extension().is_some_and(|ext| ext == "py")
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !is_module {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(&entry_path)
            .map_err(|e| Error::Build(format!("cannot read {}: {e}", entry_path.display())))?;
        files.push((name, bytes));
    }
    files.sort();
    Ok(files)
}

fn write(path: &Path, contents: &str) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .and_then(|()| std::fs::write(path, contents))
        .with_context(|| format!("failed to write {}", path.display()))
        .map_err(|e| Error::Build(format!("{e:#}")))
}

fn tempdir_in(parent: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::Build(format!("cannot create {}: {e}", parent.display())))?;
    for attempt in 0..100u32 {
        let dir = parent.join(format!("{}-{attempt}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    Err(Error::Build(format!(
        "cannot create a build directory in {}",
        parent.display()
    )))
}
