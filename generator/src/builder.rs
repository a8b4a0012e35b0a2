//! Builds a component from a Python module: generate, then componentize.
//!
//! ```text
//! app.py ─▶ snakebox-generator ─▶ wit/ + snakebox_glue.py ─▶ componentize-py ─▶ app.wasm
//! ```
//!
//! Each component carries the generator's description of its exports in a
//! custom section (see [`crate::description`]).
//!
//! Built components are cached by content: the module and its sibling `.py`
//! files, the guest runtime, the generated files, the description and the
//! toolchain version.

mod failure;
mod layout;
mod packages;
mod toolchain;
mod trust;

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::description::{self, Description};
use crate::{Analysis, Diagnostic, Module, Options, Severity, glue, wit};

pub use toolchain::{COMPONENTIZE_PY_VERSION, Toolchain, pip_install, python};
pub use trust::{check_entry, check_tree, mark_used, open_cache, private_temp_dir, write_private};

/// Why a build failed: its [kind](BuildErrorKind), a message in words for
/// the user, and the error underneath (a `std::io::Error`), if any, as its
/// [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What a build failure asks the user to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildErrorKind {
    /// The Python given cannot be built as it is: nothing to export, a
    /// stub, a name with no WIT form, a bad requirements file.
    Input,
    /// The module raised while componentize-py imported it. The message is
    /// a diagnostic that leads with the position in the user's code
    /// (`app.py:8:9: error: KeyError: 'missing'`), then the traceback.
    ModuleRaised,
    /// A tool the build runs (python3, pip, componentize-py) could not be
    /// run, installed, or failed.
    Toolchain,
    /// A file or folder could not be read or written; the source is the
    /// `std::io::Error`.
    Io,
    /// The cache folder is not the user's alone (another user owns it, or
    /// anyone may write to it), or there is none: its compiled code would
    /// run as the user, so it is not used.
    UntrustedCache,
}

impl BuildError {
    /// An error of `kind`, with nothing underneath.
    pub fn new(kind: BuildErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The Python given cannot be built as it is.
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::new(BuildErrorKind::Input, message)
    }

    /// A tool the build runs failed.
    pub(crate) fn toolchain(message: impl Into<String>) -> Self {
        Self::new(BuildErrorKind::Toolchain, message)
    }

    /// `doing` (`cannot read app.py`) failed with `source`.
    pub(crate) fn io(doing: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(BuildErrorKind::Io, doing).with_source(source)
    }

    /// The same error, with `source` underneath.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The same error, with a line of `note` after the message.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message.push('\n');
        self.message.push_str(note);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }

    /// The message, without the error underneath.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Shorthand for results of a build.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

/// The file, beside the runtime's package on the build's Python path, in
/// which the guest writes what the build log should say (modules left
/// out): componentize-py shows the guest's output only when a build fails.
const BUILD_NOTES: &str = ".snakebox-build-notes";

/// The cache snakebox keeps built components (and its toolchain) in:
/// `$SNAKEBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/snakebox`, else
/// `~/.cache/snakebox`; with none of them set, an empty path, which
/// [`open_cache`] refuses. It must be the user's alone (see `open_cache`).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SNAKEBOX_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("snakebox");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("snakebox"),
        // No shared temporary folder, which another user could create
        // first: [`open_cache`] refuses the empty path and says why.
        None => PathBuf::new(),
    }
}

/// The hex SHA-256 of `bytes`, which names cached builds.
fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How a build lays out what it writes besides componentize-py's output
/// (the custom sections, which files go where). Part of every cache key:
/// changing the form must not reuse components built the old way.
const BUILD_FORM: &str = "files-before-description";

/// The guest runtime's files, bundled into every component. They live in
/// `guest-python/` at the top of the repository; `guest/` in this crate
/// holds symlinks to them, which `cargo package` follows, so that the
/// published crate carries the files themselves.
const GUEST_FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../guest/snakebox_guest/__init__.py"),
    ),
    ("calls.py", include_str!("../guest/snakebox_guest/calls.py")),
    (
        "convert.py",
        include_str!("../guest/snakebox_guest/convert.py"),
    ),
    ("http.py", include_str!("../guest/snakebox_guest/http.py")),
    (
        "internals.py",
        include_str!("../guest/snakebox_guest/internals.py"),
    ),
    (
        "host_functions.py",
        include_str!("../guest/snakebox_guest/host_functions.py"),
    ),
    (
        "output.py",
        include_str!("../guest/snakebox_guest/output.py"),
    ),
    (
        "standins.py",
        include_str!("../guest/snakebox_guest/standins.py"),
    ),
    (
        "subtasks.py",
        include_str!("../guest/snakebox_guest/subtasks.py"),
    ),
    (
        "timers.py",
        include_str!("../guest/snakebox_guest/timers.py"),
    ),
    ("world.py", include_str!("../guest/snakebox_guest/world.py")),
];

/// One Python module as the generator read it.
pub struct ModuleAnalysis {
    /// The file read: the `.py`, or its `.pyi` stub when there is one.
    pub path: PathBuf,
    /// What the generator made of it.
    pub analysis: Analysis,
}

/// A diagnostic with the file it is about.
#[derive(Debug, Clone)]
pub struct FileDiagnostic {
    /// The file it is about.
    pub file: PathBuf,
    /// What is wrong there.
    pub diagnostic: Diagnostic,
}

impl FileDiagnostic {
    /// `FILE:LINE:COL: severity[CODE]: message`, then the help line.
    pub fn render(&self) -> String {
        self.diagnostic.render(&self.file.display().to_string())
    }
}

/// What the generator made of a Python module or package.
pub struct Generated {
    /// Every module read, in order; for a package, those without an export
    /// are here too, with nothing to say unless something was wrong.
    pub modules: Vec<ModuleAnalysis>,
    /// The WIT world, when anything could be generated.
    pub wit: Option<String>,
    /// The world's name.
    pub world: String,
    /// The stubs of the host functions the module calls, in order.
    pub imports: Vec<ModuleAnalysis>,
    /// The Python and WIT names of the package the world is emitted in.
    naming: (String, String),
    /// What the build bundles, for a package (read while generating).
    layout: Option<layout::Layout>,
}

impl Generated {
    /// Every diagnostic, with its file.
    pub fn diagnostics(&self) -> Vec<FileDiagnostic> {
        self.modules
            .iter()
            .chain(&self.imports)
            .flat_map(|module| {
                module
                    .analysis
                    .diagnostics
                    .iter()
                    .map(|diagnostic| FileDiagnostic {
                        file: module.path.clone(),
                        diagnostic: diagnostic.clone(),
                    })
            })
            .collect()
    }

    /// The diagnostics, rendered with their file names, one per entry.
    pub fn rendered_diagnostics(&self) -> Vec<String> {
        self.diagnostics()
            .iter()
            .map(FileDiagnostic::render)
            .collect()
    }

    /// `true` when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.modules.iter().chain(&self.imports).any(|module| {
            module
                .analysis
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
        })
    }

    /// The exported modules' IR, in order.
    pub fn exported(&self) -> impl Iterator<Item = &Module> {
        self.modules
            .iter()
            .filter(|module| module.analysis.is_usable())
            .filter_map(|module| module.analysis.module.as_ref())
    }

    /// The host modules' IR, in order: each stub's functions that a host
    /// can provide.
    pub fn imported(&self) -> impl Iterator<Item = &Module> {
        self.imports
            .iter()
            .filter_map(|module| module.analysis.module.as_ref())
    }
}

/// Reads a `.py` or `.pyi` file, or a package folder, and generates its WIT.
///
/// A package (a folder with `__init__.py`) gives one WIT interface per
/// module that exports anything, all in one world; a module's `.pyi` stub
/// is read in place of its `.py` when there is one.
pub fn generate(path: &Path) -> Result<Generated> {
    generate_with(path, Options::default())
}

/// [`generate`], reading annotations with `options` (strictly, or not).
pub fn generate_with(path: &Path, options: Options) -> Result<Generated> {
    if path.is_dir() {
        return generate_package(path, options);
    }
    let source = read_source(path)?;
    let module_name = module_name(path)?;
    let analysis = crate::analyze_with(&source, &module_name, options);
    let module = analysis.module.clone().filter(|_| analysis.is_usable());
    let world = wit::package_world_name(
        &analysis
            .module
            .as_ref()
            .map_or_else(|| module_name.clone(), |m| m.wit_name.clone()),
    );
    let naming = module.as_ref().map_or_else(
        || (module_name.clone(), module_name.clone()),
        |m| (m.name.clone(), m.wit_name.clone()),
    );
    Ok(Generated {
        wit: module.as_ref().map(wit::emit),
        world,
        modules: vec![ModuleAnalysis {
            path: path.to_owned(),
            analysis,
        }],
        imports: Vec::new(),
        naming,
        layout: None,
    })
}

/// [`generate_with`] for a module that calls host functions: each of
/// `imports` is a stub (`.pyi` or `.py`) whose functions the host
/// provides, named in Python by the stub's file name.
pub fn generate_with_imports(
    path: &Path,
    options: Options,
    imports: &[PathBuf],
) -> Result<Generated> {
    let mut generated = generate_with(path, options)?;
    if imports.is_empty() {
        return Ok(generated);
    }
    for stub in imports {
        let source = read_source(stub)?;
        let name = module_name(stub)?;
        let analysis = crate::imports::analyze_stub(&source, &name, options);
        if analysis.module.is_none() {
            let file = stub.display().to_string();
            let rendered: Vec<String> = analysis
                .diagnostics
                .iter()
                .map(|d| d.render(&file))
                .collect();
            return Err(BuildError::input(format!(
                "cannot read the host functions of {file}:\n{}",
                rendered.join("\n")
            )));
        }
        generated.imports.push(ModuleAnalysis {
            path: stub.clone(),
            analysis,
        });
    }
    let exported: Vec<Module> = generated.exported().cloned().collect();
    let imported: Vec<Module> = generated.imported().cloned().collect();
    crate::imports::check_names(&imported, &exported).map_err(BuildError::input)?;
    let (python_name, wit_name) = &generated.naming;
    generated.wit = (!exported.is_empty())
        .then(|| wit::emit_package(python_name, wit_name, &exported, &imported));
    Ok(generated)
}

fn generate_package(dir: &Path, options: Options) -> Result<Generated> {
    let init = dir.join("__init__.py");
    if !init.is_file() {
        return Err(BuildError::input(format!(
            "{} is a folder without `__init__.py`: name a module file, or a package folder",
            dir.display()
        )));
    }
    let layout = layout::Layout::of(&init)?;
    let package = layout.import_name.clone();
    let short = package.rsplit('.').next().unwrap_or(&package).to_owned();
    let package_wit = crate::kebab(&short).ok_or_else(|| {
        BuildError::input(format!(
            "the package name `{short}` has no WIT form; rename the folder"
        ))
    })?;
    let mut modules = Vec::new();
    let mut exported: Vec<Module> = Vec::new();
    for (import_name, inner) in layout.package_modules(&package) {
        // `inner` is the module's file in the package folder, without `.py`.
        let stub = layout.file(&format!("{inner}.pyi"));
        let (file, bytes) = match stub {
            Some(bytes) => (format!("{inner}.pyi"), bytes),
            None => {
                let file = format!("{inner}.py");
                let bytes = layout.file(&file).unwrap_or_default();
                (file, bytes)
            }
        };
        let path = dir.join(file.strip_prefix('/').unwrap_or(&file));
        let source = String::from_utf8(bytes.to_vec()).map_err(|e| {
            BuildError::input(format!("{} is not UTF-8", path.display())).with_source(e)
        })?;
        let interface = match inner.trim_end_matches("__init__").trim_matches('/') {
            "" => short.clone(),
            relative => relative.replace('/', "_"),
        };
        let mut analysis = crate::analyze_with(&source, &interface, options);
        if analysis.is_usable() {
            if let Some(module) = &mut analysis.module {
                module.name = import_name.clone();
                if let Some(other) = exported.iter().find(|m| m.wit_name == module.wit_name) {
                    return Err(BuildError::input(format!(
                        "`{}` and `{}` would both be the WIT interface `{}`; rename one",
                        other.name, module.name, module.wit_name
                    )));
                }
                exported.push(module.clone());
            }
        } else {
            // A helper module with nothing to export is normal in a package.
            analysis
                .diagnostics
                .retain(|d| d.code != crate::Code::NothingExported);
        }
        modules.push(ModuleAnalysis { path, analysis });
    }
    Ok(Generated {
        wit: (!exported.is_empty())
            .then(|| wit::emit_package(&package, &package_wit, &exported, &[])),
        world: wit::package_world_name(&package_wit),
        modules,
        imports: Vec::new(),
        naming: (package, package_wit),
        layout: Some(layout),
    })
}

fn read_source(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| BuildError::io(format!("cannot read {}", path.display()), e))
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
        Err(BuildError::input(format!(
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
    /// What the generator reported.
    pub diagnostics: Vec<FileDiagnostic>,
}

/// Options of a build beyond the module itself.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// A `requirements.txt` or `pyproject.toml` whose pure-Python
    /// dependencies are installed from PyPI and bundled into the component.
    pub requirements: Option<PathBuf>,
    /// On a failed build, give componentize-py's whole log, not only the
    /// Python traceback.
    pub verbose: bool,
    /// Refuse unannotated values instead of carrying them as `Any`.
    pub strict: bool,
    /// Stubs of the host functions the module calls, one host module each.
    pub imports: Vec<PathBuf>,
    /// Build a component that serves the module over `wasi:http` on its
    /// own, for engines such as `wasmtime serve` (see [`crate::http`]),
    /// instead of one for the snakebox host.
    pub http: bool,
}

/// Builds `path` (a module, or a package folder) into a component in
/// `cache_dir`, or finds it there.
pub fn build(path: &Path, cache_dir: &Path) -> Result<Built> {
    build_with(path, cache_dir, &BuildOptions::default())
}

/// Builds `path` with `options` into a component in `cache_dir`, or finds it there.
pub fn build_with(path: &Path, cache_dir: &Path, options: &BuildOptions) -> Result<Built> {
    open_cache(cache_dir)?;
    let strict = Options {
        strict: options.strict,
    };
    let mut generated = generate_with_imports(path, strict, &options.imports)?;
    let file = path.display().to_string();
    if options.http && !options.imports.is_empty() {
        return Err(BuildError::input(format!(
            "{file}: a component built with --http runs with no snakebox host, so nothing can bind its host functions; leave out --imports, or build without --http"
        )));
    }
    let Some(mut world) = generated.wit.clone() else {
        let rendered = generated.rendered_diagnostics().join("\n");
        return Err(BuildError::input(format!(
            "nothing to build from {file}:\n{rendered}"
        )));
    };
    if path.extension().is_some_and(|ext| ext == "pyi") {
        return Err(BuildError::input(format!(
            "{file} is a stub: it has no implementation to build; build from the .py file"
        )));
    }
    let (layout, exported, mut glue_files) = match generated.layout.take() {
        Some(layout) => {
            let exported: Vec<Module> = generated.exported().cloned().collect();
            let glue = glue::emit_package(&layout.import_name, &exported);
            (layout, exported, glue)
        }
        None => {
            // A single module is imported by its name in its package, if any.
            let layout = layout::Layout::of(path)?;
            let mut module = generated
                .exported()
                .next()
                .cloned()
                .ok_or_else(|| BuildError::input(format!("nothing to build from {file}")))?;
            module.name = layout.import_name.clone();
            let glue = glue::emit_package(&layout.import_name, std::slice::from_ref(&module));
            (layout, vec![module], glue)
        }
    };
    let top = layout.import_name.split('.').next().unwrap_or_default();
    if glue::is_runtime_module(top) {
        return Err(BuildError::input(format!(
            "{file}: the module name `{top}` is taken by snakebox's runtime inside the component; rename the {}",
            if path.is_dir() { "folder" } else { "file" }
        )));
    }
    let mut world_name = generated.world.clone();
    if options.http {
        let (python_name, wit_name) = &generated.naming;
        glue_files = glue::emit_http(python_name, wit_name, &exported);
        world = crate::http::world(python_name, wit_name);
        world_name = crate::http::world_name(wit_name);
    }
    if !options.http
        && let Some(main) = main_glue(&mut glue_files)
    {
        main.push_str(&glue::lifecycle());
    }
    let imported: Vec<Module> = generated.imported().cloned().collect();
    for (stub, module) in generated.imports.iter().zip(&imported) {
        let source = read_source(&stub.path)?;
        glue_files.push((module.name.clone(), glue::emit_import(module, &source)));
    }
    let description = Description::new(exported.clone()).with_imports(imported);
    let others = layout.other_modules();
    if let (false, Some(main)) = (others.is_empty(), main_glue(&mut glue_files)) {
        main.push_str(&format!(
            "\nimport snakebox_guest as _g\n_g.preload({others:?}, notes={BUILD_NOTES:?})\n"
        ));
    }
    let requirements = match &options.requirements {
        Some(file) => packages::read_requirements(file)?,
        None => Vec::new(),
    };

    let mut key_material = Vec::new();
    let description_bytes = description.to_bytes();
    let versions = [
        env!("CARGO_PKG_VERSION"),
        BUILD_FORM,
        if options.http { "http" } else { "host" },
        COMPONENTIZE_PY_VERSION,
        wit::RUNTIME_WIT,
    ];
    key_material.extend_from_slice(&description_bytes);
    key_material.push(0);
    let glue_parts = glue_files
        .iter()
        .flat_map(|(name, source)| [name.as_str(), source.as_str()]);
    for part in versions
        .into_iter()
        .chain([world.as_str()])
        .chain(glue_parts)
    {
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
    let key = sha256(&key_material);
    let stem = layout.import_name.replace('.', "_");
    let wasm = cache_dir
        .join("components")
        .join(format!("{stem}-{}.wasm", &key[..16]));
    let diagnostics = generated.diagnostics();
    if wasm.exists() {
        mark_used(&wasm);
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
    if let (Some(site), Some(main)) = (&site, main_glue(&mut glue_files)) {
        // Every module the requirements ship, not only those imported so far.
        let modules = packages::modules(site);
        main.push_str(&format!(
            "\nimport snakebox_guest as _g\n_g.bundle_metadata()\n_g.preload({modules:?}, what=\"the requirements\", notes={BUILD_NOTES:?})\n"
        ));
    }
    let work = tempdir_in(&cache_dir.join("build"))?;
    let wit_dir = work.join("wit");
    let py_dir = work.join("py");
    match options.http {
        true => write_http_wit_dir(&world, &wit_dir)?,
        false => write_wit_dir(&world, &wit_dir)?,
    }
    for (name, source) in &glue_files {
        write(&py_dir.join(format!("{name}.py")), source)?;
    }
    for (name, source) in GUEST_FILES {
        write(&py_dir.join("snakebox_guest").join(name), source)?;
    }
    let app_dir = work.join("app");
    for (name, bytes) in &layout.files {
        let target = app_dir.join(name);
        std::fs::create_dir_all(target.parent().unwrap_or(&app_dir))
            .and_then(|()| std::fs::write(&target, bytes))
            .map_err(|e| BuildError::io(format!("cannot stage {name}"), e))?;
    }

    tracing::info!(
        "building {} with componentize-py {COMPONENTIZE_PY_VERSION}",
        path.display()
    );
    let step =
        tracing::info_span!("step", step = %format!("building {}", path.display())).entered();
    let started = Instant::now();
    let output = work.join("component.wasm");
    let mut python_path: Vec<&Path> = vec![&app_dir, &py_dir];
    if let Some(site) = &site {
        python_path.push(site);
    }
    // Each module's interface takes its glue's name on componentize-py's
    // side: that is where it looks for the classes of the interface's
    // resources (see `glue::module_glue`).
    let interface_names = match options.http {
        true => Vec::new(),
        false => glue::interface_names(&generated.naming.1, &exported),
    };
    let notes = py_dir.join(BUILD_NOTES);
    // Counted first: files over the limits are refused before the long step.
    let files = data_files(&python_path).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&work);
    })?;
    let outcome = toolchain
        .componentize_log(
            &wit_dir,
            &world_name,
            &interface_names,
            &python_path,
            glue::GLUE_MODULE,
            &output,
        )
        .and_then(|failed| match failed {
            None => Ok(()),
            Some(log) => {
                let explained = failure::explain(&log, &layout.root);
                Err(match options.verbose {
                    true => explained.with_note(&format!("\ncomponentize-py's log:\n{log}")),
                    false => explained.with_note("(--verbose shows componentize-py's whole log)"),
                })
            }
        });
    // What the guest said while it was built, for the log, one line each.
    if let Ok(said) = std::fs::read_to_string(&notes) {
        for line in said.lines() {
            tracing::warn!("{line}");
        }
    }
    let finished = outcome.and_then(|()| {
        // The generator's description travels inside the component, for
        // the host that loads it, and so do the files Python reads with
        // `open` (package data, distribution metadata).
        std::fs::read(&output)
            .and_then(|mut bytes| {
                if !files.is_empty() {
                    let packed = crate::bundle::encode(&files);
                    description::append_section(&mut bytes, crate::bundle::SECTION, &packed);
                }
                description::append(&mut bytes, &description);
                trust::write_private(&wasm, &bytes)
            })
            .map_err(|e| BuildError::io("failed to store the component", e))
    });
    let _ = std::fs::remove_dir_all(&work);
    finished?;
    drop(step);
    tracing::info!("built {} in {:.1?}", wasm.display(), started.elapsed());
    Ok(Built {
        wasm,
        cached: false,
        diagnostics,
    })
}

/// Every file of the Python path that is not a module (modules are in the
/// component's snapshot already), as `{index}/{path}`: what the host shows
/// the guest at `/{index}`, where the build had it.
/// The source of [`glue::GLUE_MODULE`], the module componentize-py runs
/// first, among the glue files; a build appends its start-up lines to it.
fn main_glue(files: &mut [(String, String)]) -> Option<&mut String> {
    files
        .iter_mut()
        .find(|(name, _)| name == glue::GLUE_MODULE)
        .map(|(_, source)| source)
}

fn data_files(python_path: &[&Path]) -> Result<Vec<(String, Vec<u8>)>> {
    /// The files found so far, and their bytes together.
    #[derive(Default)]
    struct Found {
        files: Vec<(String, Vec<u8>)>,
        bytes: u64,
    }
    fn walk(dir: &Path, prefix: &str, found: &mut Found) -> Result<()> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| BuildError::io(format!("cannot read {}", dir.display()), e))?;
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            let name = entry
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let path = format!("{prefix}/{name}");
            if entry.is_dir() {
                if name != "__pycache__" && name != "bin" {
                    walk(&entry, &path, found)?;
                }
            } else if entry.is_file()
                && !name.ends_with(".py")
                && !name.ends_with(".pyi")
                && !name.ends_with(".pyc")
                && !name.starts_with(".snakebox")
            {
                let unreadable = |e| BuildError::io(format!("cannot read {}", entry.display()), e);
                // Counted before it is read: one huge file is refused unread.
                found.bytes += entry.metadata().map_err(unreadable)?.len();
                if let Some(over) = crate::bundle::over_limits(found.files.len() + 1, found.bytes) {
                    return Err(BuildError::new(
                        BuildErrorKind::Input,
                        format!(
                            "the Python path holds {over} (package data beside the modules, \
                             reached at {}). Move what the module does not read out of its folder",
                            entry.display()
                        ),
                    ));
                }
                let bytes = std::fs::read(&entry).map_err(unreadable)?;
                found.files.push((path, bytes));
            }
        }
        Ok(())
    }
    let mut found = Found::default();
    for (index, dir) in python_path.iter().enumerate() {
        walk(dir, &index.to_string(), &mut found)?;
    }
    Ok(found.files)
}

/// Writes a whole WIT folder that other tools take as it is: the world as
/// `world.wit`, and the `snakebox:runtime` package it uses in `deps/`.
pub fn write_wit_dir(world: &str, dir: &Path) -> Result<()> {
    write(&dir.join("world.wit"), world)?;
    write(
        &dir.join("deps")
            .join("snakebox-runtime")
            .join("runtime.wit"),
        wit::RUNTIME_WIT,
    )
}

/// Writes the WIT folder of an `--http` build: the world, and the WASI
/// packages it includes in `deps/`.
fn write_http_wit_dir(world: &str, dir: &Path) -> Result<()> {
    write(&dir.join("world.wit"), world)?;
    for (name, source) in crate::http::WASI_WIT {
        write(&dir.join("deps").join(name), source)?;
    }
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .and_then(|()| std::fs::write(path, contents))
        .map_err(|e| BuildError::io(format!("failed to write {}", path.display()), e))
}

fn tempdir_in(parent: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(parent)
        .map_err(|e| BuildError::io(format!("cannot create {}", parent.display()), e))?;
    for attempt in 0..100u32 {
        let dir = parent.join(format!("{}-{attempt}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    Err(BuildError::new(
        BuildErrorKind::Io,
        format!("cannot create a build directory in {}", parent.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_may_not_take_a_name_of_the_runtime() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for name in ["snakebox_glue", "snakebox_guest", "wit_world"] {
            let path = dir.path().join(format!("{name}.py"));
            std::fs::write(&path, "def f() -> int:\n    return 1\n").expect("written");
            let error = build(&path, dir.path()).err().expect("refused");
            assert_eq!(error.kind(), BuildErrorKind::Input);
            assert!(
                error.message().contains(&format!("`{name}` is taken")),
                "{error}"
            );
        }
        // A name that only starts like the runtime's is the user's to take.
        assert!(!glue::is_runtime_module("snakebox_demo"));
        assert!(!glue::is_runtime_module("glue"));
    }
}
