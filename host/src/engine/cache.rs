//! The on-disk cache: compiled components and built Python components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::engine::Flavor;
use crate::engine::files::{sha256, write_atomic};

/// Where the compiled form of a component's bytes lives in `dir`.
fn compiled_path(engine: &Engine, dir: &Path, bytes: &[u8]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let key = format!("{}-{:016x}", sha256(bytes), hasher.finish());
    dir.join("compiled").join(format!("{key}.cwasm"))
}

/// A component file as the file system describes it: path, size and
/// modification time. Seen again unchanged, its compiled form is found
/// without reading and hashing its 20-odd megabytes.
pub(crate) struct FileIdentity(String);

impl FileIdentity {
    pub(crate) fn of(path: &Path) -> Option<FileIdentity> {
        let canonical = std::fs::canonicalize(path).ok()?;
        let metadata = std::fs::metadata(&canonical).ok()?;
        let modified = metadata
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(FileIdentity(format!(
            "{}\0{}\0{}",
            canonical.display(),
            metadata.len(),
            modified.as_nanos()
        )))
    }

    fn record(&self, engine: &Engine, dir: &Path) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let key = sha256(format!("{}\0{:016x}", self.0, hasher.finish()).as_bytes());
        dir.join("identities").join(&key[..32])
    }
}

/// The compiled component recorded for a file identity, if any.
pub(crate) fn load_by_identity(
    engine: &Engine,
    dir: &Path,
    identity: &FileIdentity,
) -> Option<Component> {
    let compiled = std::fs::read_to_string(identity.record(engine, dir)).ok()?;
    let path = dir.join("compiled").join(compiled.trim());
    deserialize(engine, &path).ok()
}

/// Records which compiled component a file identity stands for.
pub(crate) fn remember_identity(
    engine: &Engine,
    dir: &Path,
    identity: &FileIdentity,
    bytes: &[u8],
) {
    let compiled = compiled_path(engine, dir, bytes);
    let Some(name) = compiled.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    if compiled.exists()
        && let Err(error) = write_atomic(&identity.record(engine, dir), name.as_bytes())
    {
        tracing::debug!("could not record the component's identity: {error:#}");
    }
}

/// Loads a component, from its compiled form in `dir` when one is there,
/// compiling and storing it otherwise.
pub(crate) fn load_component(
    flavor: &Flavor,
    dir: Option<&Path>,
    bytes: &[u8],
    compilations: &AtomicU64,
) -> anyhow::Result<Component> {
    let engine = &flavor.engine;
    let compile = |engine, bytes| {
        compilations.fetch_add(1, Ordering::Relaxed);
        let compiled = compile(engine, bytes);
        if let Some(functions) = &flavor.functions {
            functions.finish();
        }
        compiled
    };
    let Some(dir) = dir else {
        return compile(engine, bytes);
    };
    let path = compiled_path(engine, dir, bytes);
    if path.exists() {
        match deserialize(engine, &path) {
            Ok(component) => return Ok(component),
            Err(error) => tracing::warn!(
                "ignoring unreadable cache entry {}: {error:#}",
                path.display()
            ),
        }
    }
    let component = compile(engine, bytes)?;
    match component.serialize() {
        Ok(compiled) => {
            if let Err(error) = write_atomic(&path, &compiled) {
                tracing::warn!("could not cache the compiled component: {error:#}");
            }
        }
        Err(error) => tracing::warn!("could not serialize the compiled component: {error:#}"),
    }
    Ok(component)
}

fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    tracing::info!("compiling the component (once; cached afterwards)");
    let started = Instant::now();
    let step = tracing::info_span!("step", step = "compiling the component").entered();
    let component = Component::from_binary(engine, bytes)?;
    drop(step);
    tracing::info!("compiled in {:.1?}", started.elapsed());
    Ok(component)
}

#[expect(
    unsafe_code,
    reason = "wasmtime requires trusting the bytes of a compiled component"
)]
fn deserialize(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: the file was written by `serialize` into snakebox's own cache,
    // under a name that includes the engine's compatibility hash.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}
