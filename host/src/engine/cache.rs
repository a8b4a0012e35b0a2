//! The on-disk cache: compiled components and built Python components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::engine::Flavor;
use crate::engine::files::{sha256, write_atomic};
use crate::error::{Detail, Error, Result};

/// Where the compiled form of a component's bytes lives in `dir`.
fn compiled_path(engine: &Engine, dir: &Path, bytes: &[u8]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let key = format!("{}-{:016x}", sha256(bytes), hasher.finish());
    dir.join("compiled").join(format!("{key}.cwasm"))
}

/// A component file as the file system describes it: path, size,
/// modification time, and (on Unix) inode and status-change time, which no
/// user can set back: a file replaced by a deploy that keeps modification
/// times (`rsync -t`, `tar`) is a new identity. Seen again unchanged, its
/// compiled form is found without reading and hashing its 20-odd
/// megabytes.
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
        #[cfg(unix)]
        let changed = {
            use std::os::unix::fs::MetadataExt as _;
            format!(
                "{}\0{}.{}",
                metadata.ino(),
                metadata.ctime(),
                metadata.ctime_nsec()
            )
        };
        #[cfg(not(unix))]
        let changed = String::new();
        Some(FileIdentity(format!(
            "{}\0{}\0{}\0{changed}",
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

/// Checks an entry of the cache folder `dir` (and the folders between) as
/// [`check_entry`](snakebox_generator::builder::check_entry) does, before
/// snakebox reads and trusts it.
pub(crate) fn check_in_cache(dir: &Path, entry: &Path) -> Result<()> {
    let inside = entry.strip_prefix(dir).unwrap_or(entry);
    let mut path = dir.to_path_buf();
    for part in inside.components() {
        path.push(part);
        snakebox_generator::builder::check_entry(&path)?;
    }
    Ok(())
}

/// The compiled component recorded for a file identity, if any.
pub(crate) fn load_by_identity(
    engine: &Engine,
    dir: &Path,
    identity: &FileIdentity,
) -> Result<Option<Component>> {
    let record = identity.record(engine, dir);
    let Ok(compiled) = std::fs::read_to_string(&record) else {
        return Ok(None);
    };
    check_in_cache(dir, &record)?;
    // A record names a file of `compiled/` by its content key, nothing
    // else: not a path, which could lead out of the cache.
    let name = compiled.trim();
    if !is_compiled_name(name) {
        tracing::warn!("ignoring an identity record that names `{name}`, not a compiled component");
        return Ok(None);
    }
    let path = dir.join("compiled").join(name);
    if !path.exists() {
        return Ok(None);
    }
    check_in_cache(dir, &path)?;
    let component = deserialize(engine, &path).ok();
    if component.is_some() {
        snakebox_generator::builder::mark_used(&record);
    }
    Ok(component)
}

/// Whether `name` is a file name [`compiled_path`] makes:
/// `<64 hex>-<16 hex>.cwasm`.
fn is_compiled_name(name: &str) -> bool {
    let Some(key) = name.strip_suffix(".cwasm") else {
        return false;
    };
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    key.split_once('-')
        .is_some_and(|(content, engine)| hex(content, 64) && hex(engine, 16))
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
) -> Result<Component> {
    let engine = &flavor.engine;
    let compile = |engine, bytes| -> Result<Component> {
        if let (Some(dir), Some(functions)) = (dir, &flavor.functions) {
            // The functions' machine code is used as it is found.
            if functions.path().exists() {
                check_in_cache(dir, functions.path())?;
            }
        }
        compilations.fetch_add(1, Ordering::Relaxed);
        let compiled = compile(engine, bytes);
        if let Some(functions) = &flavor.functions {
            functions.finish();
        }
        compiled
            .map_err(|e| Error::BadComponent(Detail::caused_by("wasmtime cannot compile it", e)))
    };
    let Some(dir) = dir else {
        return compile(engine, bytes);
    };
    let path = compiled_path(engine, dir, bytes);
    if path.exists() {
        check_in_cache(dir, &path)?;
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
    // SAFETY: the file was written by `serialize` into snakebox's own
    // cache, under a name that includes the engine's compatibility hash;
    // the cache is the user's alone (`open_cache`), and the file and its
    // folders were checked to be the user's and no link (`check_in_cache`).
    let component = unsafe { Component::deserialize_file(engine, path) }?;
    snakebox_generator::builder::mark_used(path);
    Ok(component)
}

#[cfg(test)]
mod tests {
    use super::is_compiled_name;

    #[test]
    fn an_identity_record_names_only_a_compiled_file() {
        let good = format!("{}-{}.cwasm", "a1".repeat(32), "0f".repeat(8));
        assert!(is_compiled_name(&good));
        for bad in [
            "/tmp/x.cwasm".to_owned(),
            format!("../../{good}"),
            format!("{}-{}.cwasm", "A1".repeat(32), "0f".repeat(8)),
            format!("{}-{}.wasm", "a1".repeat(32), "0f".repeat(8)),
            format!("{}.cwasm", "a1".repeat(32)),
            String::new(),
        ] {
            assert!(!is_compiled_name(&bad), "{bad}");
        }
    }
}
