//! The runtime: one wasmtime engine, its linker, the epoch clock and the cache.
//! It loads components into [`App`]s, which own their stores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use snakebox_generator::description::Description;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::app::App;
use crate::bundle;
use crate::epoch::EpochClock;
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::store::StoreData;
use crate::worker::Shared;
use crate::{cache, described, host_functions, imports, signature};

/// The wasmtime release snakebox runs components on, as the workspace
/// manifest pins it (a test compares the two).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Loads components and hands out [`App`]s. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<StoreData>,
    cache_dir: Option<PathBuf>,
    clock: Arc<EpochClock>,
    /// Components compiled rather than found in the cache.
    compilations: AtomicU64,
}

impl Runtime {
    /// A runtime that caches compiled components in [`default_cache_dir`](crate::default_cache_dir).
    pub fn new() -> Result<Self> {
        Self::with_cache_dir(Some(crate::default_cache_dir()))
    }

    /// A runtime with the given cache directory, or none.
    pub fn with_cache_dir(cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("failed to create the wasmtime engine")?;
        let linker = imports::linker(&engine)?;
        let clock = EpochClock::start(&engine)?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache_dir,
                clock,
                compilations: AtomicU64::new(0),
            }),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
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
        let path = path.as_ref();
        let engine = &self.inner.engine;
        let identity = cache::FileIdentity::of(path);
        if let (Some(dir), Some(identity)) = (self.cache_dir(), &identity)
            && let Some(component) = cache::load_by_identity(engine, dir, identity)
        {
            // Only the description's section is read, not the whole file.
            let description = described::read_file(path)?;
            let policy = self.with_bundle(policy, bundle::read_file(path)?)?;
            return self
                .instantiate_pre(component, description, policy)
                .map_err(|e| e.in_file(path));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Error::BadComponent(format!("cannot read {}: {e}", path.display())))?;
        let component = self.compile_or_load(&bytes)?;
        let description = described::read_bytes(&bytes, &path.display().to_string())?;
        if let (Some(dir), Some(identity)) = (self.cache_dir(), &identity) {
            cache::remember_identity(engine, dir, identity, &bytes);
        }
        let policy = self.with_bundle(policy, bundle::read_bytes(&bytes)?)?;
        self.instantiate_pre(component, description, policy)
            .map_err(|e| e.in_file(path))
    }

    /// Loads a component from its bytes.
    pub fn load_bytes(&self, bytes: &[u8], policy: Policy) -> Result<App> {
        let component = self.compile_or_load(bytes)?;
        let description = described::read_bytes(bytes, "the component")?;
        let policy = self.with_bundle(policy, bundle::read_bytes(bytes)?)?;
        self.instantiate_pre(component, description, policy)
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

    fn compile_or_load(&self, bytes: &[u8]) -> Result<Component> {
        if !wasmparser_is_component(bytes) {
            return Err(Error::BadComponent(
                "not a WebAssembly component (wrong magic number or layer)".into(),
            ));
        }
        let compilations = &self.inner.compilations;
        cache::load_component(&self.inner.engine, self.cache_dir(), bytes, compilations)
            .map_err(|e| Error::BadComponent(format!("{e:#}")))
    }

    fn instantiate_pre(
        &self,
        component: Component,
        description: Option<Description>,
        policy: Policy,
    ) -> Result<App> {
        let engine = &self.inner.engine;
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
            true => std::borrow::Cow::Borrowed(&self.inner.linker),
            false => {
                let mut linker = self.inner.linker.clone();
                host_functions::link(&mut linker, engine, &component, &imports, &policy.host)?;
                std::borrow::Cow::Owned(linker)
            }
        };
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            Error::BadComponent(format!(
                "the component needs imports snakebox does not provide: {e:#}"
            ))
        })?;
        let shared = Shared {
            engine: engine.clone(),
            warm: signature::warm_export(&component),
            pre,
            policy,
            host_modules: imports,
            _clock: Arc::clone(&self.inner.clock),
        };
        Ok(App::new(Arc::new(shared), functions))
    }
}

/// Checks the preamble: `\0asm`, then a component's version and layer.
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}
