//! The runtime: its wasmtime engines and their linkers, the epoch clock
//! and the cache. It loads components into [`App`]s, which own their stores.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use snakebox_generator::description::Description;
use wasmtime::component::Component;

use crate::app::App;
use crate::component::bundle;
use crate::engine::Flavor;
use crate::error::{Detail, Error, Result};
use crate::exec::worker::Shared;
use crate::policy::Policy;
use crate::{component::described, component::signature, engine::cache, host_functions};

/// The wasmtime release snakebox runs components on, as the workspace
/// manifest pins it (a test compares the two).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Loads components and hands out [`App`]s. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    /// For apps whose policy sets a time limit: the guest's code checks the
    /// epoch, which the flavor's clock advances, at every loop and call.
    /// Made on first use, as is `unlimited`: a process pays for the one it
    /// uses.
    limited: OnceLock<Flavor>,
    /// For apps with no time limit: the same code without those checks,
    /// which cost pure Python about a quarter of its speed (BENCHMARKS.md).
    unlimited: OnceLock<Flavor>,
    cache_dir: Option<PathBuf>,
    /// Components compiled rather than found in the cache.
    compilations: AtomicU64,
}

impl Runtime {
    /// A runtime that caches compiled components in [`default_cache_dir`](crate::default_cache_dir).
    pub fn new() -> Result<Self> {
        Self::with_cache_dir(Some(crate::default_cache_dir()))
    }

    /// A runtime with the given cache directory, or none. The folder is
    /// created private if it is missing; one that another user owns, or
    /// that anyone may write to, is refused
    /// ([`BuildErrorKind::UntrustedCache`](crate::builder::BuildErrorKind)):
    /// the compiled code in it runs as the user.
    pub fn with_cache_dir(cache_dir: Option<PathBuf>) -> Result<Self> {
        if let Some(dir) = &cache_dir {
            snakebox_generator::builder::open_cache(dir)?;
        }
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                limited: OnceLock::new(),
                unlimited: OnceLock::new(),
                cache_dir,
                compilations: AtomicU64::new(0),
            }),
        })
    }

    /// The engine and linker for apps that follow `policy`: the one rule
    /// that decides whether a component is compiled with epoch checks.
    fn flavor(&self, policy: &Policy) -> Result<&Flavor> {
        self.flavor_with(policy.timeout.is_some())
    }

    /// The flavor whose code checks the epoch (`epoch`), or the other;
    /// made now if this is its first use.
    fn flavor_with(&self, epoch: bool) -> Result<&Flavor> {
        let cell = match epoch {
            true => &self.inner.limited,
            false => &self.inner.unlimited,
        };
        if let Some(flavor) = cell.get() {
            return Ok(flavor);
        }
        // Two threads may both make one; the one not kept is dropped, and
        // its clock stops.
        let made = Flavor::new(epoch, self.cache_dir())?;
        Ok(cell.get_or_init(|| made))
    }

    /// The cache directory, if caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache_dir.as_deref()
    }

    /// How many components this runtime has compiled, rather than found
    /// compiled in its cache.
    pub fn compilations(&self) -> u64 {
        self.inner.compilations.load(Ordering::Relaxed)
    }

    /// Loads a component file with the default (empty) policy.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<App> {
        self.load_with(path, Policy::default())
    }

    /// Loads a component file; each of its stores follows `policy`.
    ///
    /// A file seen before (same path, size and modification time) is loaded
    /// from its compiled form without reading or hashing it again.
    pub fn load_with(&self, path: impl AsRef<Path>, policy: Policy) -> Result<App> {
        self.load_on(self.flavor(&policy)?, path.as_ref(), policy)
    }

    /// Compiles a component file into the cache in both of its compiled
    /// forms, with the epoch checks a time limit needs and without, so
    /// that no later load on this machine compiles whatever its policy.
    /// Gives how many of the two were compiled now, not found compiled.
    /// Its host functions need no binding: nothing is called.
    pub fn precompile(&self, path: impl AsRef<Path>) -> Result<u64> {
        let before = self.compilations();
        for epoch in [true, false] {
            let mut policy = Policy::default();
            policy.host.allow_unbound();
            self.load_on(self.flavor_with(epoch)?, path.as_ref(), policy)?;
        }
        Ok(self.compilations() - before)
    }

    fn load_on(&self, flavor: &Flavor, path: &Path, policy: Policy) -> Result<App> {
        let engine = &flavor.engine;
        let identity = cache::FileIdentity::of(path);
        if let (Some(dir), Some(identity)) = (self.cache_dir(), &identity)
            && let Some(component) = cache::load_by_identity(engine, dir, identity)?
        {
            // Only the description's section is read, not the whole file.
            let description = described::read_file(path)?;
            let policy = self.with_bundle(policy, bundle::read_file(path)?)?;
            return self
                .instantiate_pre(flavor, component, description, policy)
                .map_err(|e| e.in_file(path));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            Error::BadComponent(Detail::caused_by(
                format!("cannot read {}", path.display()),
                e,
            ))
        })?;
        // Its sections are read first: a malformed one fails before the
        // long compile.
        check_magic(&bytes)?;
        let description = described::read_bytes(&bytes, &path.display().to_string())?;
        let policy = self.with_bundle(policy, bundle::read_bytes(&bytes)?)?;
        let component = self.compile_or_load(flavor, &bytes)?;
        if let (Some(dir), Some(identity)) = (self.cache_dir(), &identity) {
            cache::remember_identity(engine, dir, identity, &bytes);
        }
        self.instantiate_pre(flavor, component, description, policy)
            .map_err(|e| e.in_file(path))
    }

    /// Loads a component from its bytes.
    pub fn load_bytes(&self, bytes: &[u8], policy: Policy) -> Result<App> {
        let flavor = self.flavor(&policy)?;
        check_magic(bytes)?;
        let description = described::read_bytes(bytes, "the component")?;
        let policy = self.with_bundle(policy, bundle::read_bytes(bytes)?)?;
        let component = self.compile_or_load(flavor, bytes)?;
        self.instantiate_pre(flavor, component, description, policy)
    }

    /// `policy`, plus read-only grants of the files the component carries.
    fn with_bundle(&self, mut policy: Policy, section: Option<Vec<u8>>) -> Result<Policy> {
        if let Some(section) = section {
            policy
                .dirs
                .extend(bundle::grants(&section, self.cache_dir())?);
        }
        Ok(policy)
    }

    fn compile_or_load(&self, flavor: &Flavor, bytes: &[u8]) -> Result<Component> {
        let compilations = &self.inner.compilations;
        cache::load_component(flavor, self.cache_dir(), bytes, compilations)
    }

    fn instantiate_pre(
        &self,
        flavor: &Flavor,
        component: Component,
        description: Option<Description>,
        policy: Policy,
    ) -> Result<App> {
        let engine = &flavor.engine;
        let mut functions = signature::exports(engine, &component)?;
        if functions.iter().any(|f| {
            f.interface
                .as_deref()
                .is_some_and(|i| i.starts_with("wasi:http/incoming-handler"))
        }) {
            return Err(Error::BadComponent(
                "a wasi:http component (as `snakebox build --http` makes) serves HTTP by itself: run it with `wasmtime serve` or another wasi:http engine, or build the module without --http to run it here".into(),
            ));
        }
        let imports = description
            .as_ref()
            .map(|d| d.imports.clone())
            .unwrap_or_default();
        if let Some(description) = description {
            described::attach(&mut functions, description)?;
        }
        signature::name_calls(&mut functions);
        let linker = match imports.is_empty() {
            true => std::borrow::Cow::Borrowed(&flavor.linker),
            false => {
                let mut linker = flavor.linker.clone();
                host_functions::link(&mut linker, engine, &component, &imports, &policy.host)?;
                std::borrow::Cow::Owned(linker)
            }
        };
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            Error::BadComponent(Detail::caused_by(
                "the component needs imports snakebox does not provide",
                e,
            ))
        })?;
        let shared = Shared {
            engine: engine.clone(),
            warm: signature::warm_export(&component),
            pre,
            host_modules: imports,
            clock: flavor.clock.clone(),
            policy,
        };
        Ok(App::new(Arc::new(shared), functions))
    }
}

/// Checks the preamble: `\0asm`, then a component's version and layer.
/// Refuses bytes that are not a component before anything reads them.
fn check_magic(bytes: &[u8]) -> Result<()> {
    match wasmparser_is_component(bytes) {
        true => Ok(()),
        false => Err(Error::BadComponent(
            "not a WebAssembly component (wrong magic number or layer)".into(),
        )),
    }
}

fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}
