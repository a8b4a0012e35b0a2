//! The on-disk cache: compiled components and built Python components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache directory: `$SNAKEBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/snakebox`,
/// else `~/.cache/snakebox`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SNAKEBOX_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("snakebox");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("snakebox"),
        None => std::env::temp_dir().join("snakebox-cache"),
    }
}

/// The hex SHA-256 of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes a file so that readers never see it half-written.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    std::fs::write(&temp, bytes).with_context(|| format!("failed to write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("failed to move {}", path.display()))?;
    Ok(())
}

/// Loads a component, from its compiled form in `dir` when one is there,
/// compiling and storing it otherwise.
pub(crate) fn load_component(
    engine: &Engine,
    dir: Option<&Path>,
    bytes: &[u8],
) -> anyhow::Result<Component> {
    let Some(dir) = dir else {
        return compile(engine, bytes);
    };
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let key = format!("{}-{:016x}", sha256(bytes), hasher.finish());
    let path = dir.join("compiled").join(format!("{key}.cwasm"));
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
    let component = Component::from_binary(engine, bytes)?;
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
