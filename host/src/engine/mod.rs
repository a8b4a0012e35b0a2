//! The wasmtime engines snakebox runs on: one flavour with epoch checks
//! compiled in (for apps with a time limit) and one without, each with the
//! linker of the imports snakebox provides; and the on-disk caches of
//! compiled components and compiled functions.

pub(crate) mod cache;
pub(crate) mod files;
pub(crate) mod function_cache;
pub(crate) mod prune;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::component::Linker;
use wasmtime::{CacheStore, Config, Engine};

use crate::engine::function_cache::FunctionCache;
use crate::error::Result;
use crate::limits::epoch::EpochClock;
use crate::store::StoreData;
use crate::store::imports;

/// One wasmtime engine and the linker of the imports snakebox provides.
pub(crate) struct Flavor {
    pub(crate) engine: Engine,
    /// The machine code of functions compiled before, when there is a cache.
    pub(crate) functions: Option<Arc<FunctionCache>>,
    pub(crate) linker: Linker<StoreData>,
    /// The clock that advances the epoch, when the engine's code checks it.
    pub(crate) clock: Option<Arc<EpochClock>>,
}

impl Flavor {
    /// An engine whose compiled code checks the epoch (`epoch`), or not,
    /// and keeps the functions it compiles in `cache_dir`.
    pub(crate) fn new(epoch: bool, cache_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        config.epoch_interruption(epoch);
        let name = match epoch {
            true => "epoch-checks",
            false => "plain",
        };
        let functions =
            cache_dir.map(|dir| Arc::new(FunctionCache::new(dir.join("functions").join(name))));
        if let Some(functions) = &functions {
            config
                .enable_incremental_compilation(Arc::clone(functions) as Arc<dyn CacheStore>)
                .map_err(anyhow::Error::from)
                .context("failed to enable the compiled-function cache")?;
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("failed to create the wasmtime engine")?;
        let linker = imports::linker(&engine)?;
        let clock = match epoch {
            true => Some(EpochClock::start(&engine)?),
            false => None,
        };
        Ok(Flavor {
            engine,
            functions,
            linker,
            clock,
        })
    }
}
