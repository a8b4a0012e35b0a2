//! Builds a component from a Python module: generate, then componentize.
//!
//! ```text
//! app.py ─▶ snakebox-generator ─▶ wit/ + snakebox_glue.py ─▶ componentize-py ─▶ app.wasm
//! ```
//!
//! Built components are cached by content: the module and its sibling `.py`
//! files, the guest runtime, the generated files and the toolchain version.

mod layout;
mod packages;
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

/// Options of a build beyond the module itself.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// A `requirements.txt` or `pyproject.toml` whose pure-Python
    /// dependencies are installed from PyPI and bundled into the component.
    pub requirements: Option<PathBuf>,
}

/// Builds `path` into a component in `cache_dir`, or finds it there.
pub fn build(path: &Path, cache_dir: &Path) -> Result<Built> {
    build_with(path, cache_dir, &BuildOptions::default())
}

/// Builds `path` with `options` into a component in `cache_dir`, or finds it there.
pub fn build_with(path: &Path, cache_dir: &Path, options: &BuildOptions) -> Result<Built> {
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
    let layout = layout::Layout::of(path)?;
    let mut module = module.clone();
    module.name = layout.import_name.clone();
    let mut glue_source = glue::emit(&module);
    let others = layout.other_modules();
    if !others.is_empty() {
        glue_source.push_str(&format!("\n_g.preload({others:?})\n"));
    }
    let requirements = match &options.requirements {
        Some(file) => packages::read_requirements(file)?,
        None => Vec::new(),
    };

    let mut key_material = Vec::new();
    let versions = [
        env!("CARGO_PKG_VERSION"),
        COMPONENTIZE_PY_VERSION,
        wit::RUNTIME_WIT,
    ];
    for part in versions.into_iter().chain([world.as_str(), &glue_source]) {
        key_material.extend_from_slice(part.as_bytes());
        key_material.push(0);
    }
    for (name, source) in GUEST_FILES {
        key_material.extend_from_slice(name.as_bytes());
        key_material.extend_from_slice(source.as_bytes());
    }
    for (name, bytes) in &layout.files {
        key_material.extend_from_slice(name.as_bytes());
        key_material.extend_from_slice(bytes);
    }
    for requirement in &requirements {
        key_material.extend_from_slice(requirement.as_bytes());
        key_material.push(0);
    }
    let key = cache::sha256(&key_material);
    let stem = layout.import_name.replace('.', "_");
    let wasm = cache_dir
        .join("components")
        .join(format!("{stem}-{}.wasm", &key[..16]));
    let diagnostics = generated.analysis.diagnostics.clone();
    if wasm.exists() {
        return Ok(Built {
            wasm,
            cached: true,
            diagnostics,
        });
    }

    let toolchain = Toolchain::find_or_install(cache_dir)?;
    let site = match requirements.is_empty() {
        true => None,
        false => Some(packages::install(&requirements, cache_dir)?),
    };
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
    for (name, bytes) in &layout.files {
        let target = app_dir.join(name);
        std::fs::create_dir_all(target.parent().unwrap_or(&app_dir))
            .and_then(|()| std::fs::write(&target, bytes))
            .map_err(|e| Error::Build(format!("cannot stage {name}: {e}")))?;
    }

    tracing::info!(
        "building {} with componentize-py {COMPONENTIZE_PY_VERSION}",
        path.display()
    );
    let started = Instant::now();
    let output = work.join("component.wasm");
    let mut python_path: Vec<&Path> = vec![&app_dir, &py_dir];
    if let Some(site) = &site {
        python_path.push(site);
    }
    let outcome = toolchain.componentize(
        &wit_dir,
        &wit::world_name(&module),
        &python_path,
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
