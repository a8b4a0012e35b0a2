//! Cranelift's incremental cache of compiled functions, on disk.
//!
//! Every component componentize-py builds carries the same interpreter, so
//! most of the functions of a new component (another module, or the same
//! module after an edit) were compiled before, for another component. With
//! this cache, wasmtime finds their machine code by a hash of each
//! function's code instead of compiling it again.
//!
//! The entries of one engine live in one file, read when a compile first
//! asks and written back after it, then let go: a runtime that compiled
//! once does not keep them in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use wasmtime::CacheStore;

use crate::engine::files::write_atomic;

/// The first bytes of the file; another format, or a file cut short, is
/// read as empty.
const MAGIC: &[u8] = b"snakebox-functions-1\n";

/// Machine code by the key wasmtime gives a function.
type Entries = HashMap<Vec<u8>, Vec<u8>>;

/// The cache of one engine's compiled functions, in `path`.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    path: PathBuf,
    /// The entries while a compile runs.
    loaded: Mutex<Option<Loaded>>,
}

/// The entries of the file, and those a compile added.
#[derive(Debug)]
struct Loaded {
    entries: Entries,
    /// `true` once a compile added one.
    added: bool,
}

impl FunctionCache {
    pub(crate) fn new(path: PathBuf) -> Self {
        FunctionCache {
            path,
            loaded: Mutex::new(None),
        }
    }

    /// The file the entries live in.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn with<R>(&self, f: impl FnOnce(&mut Loaded) -> R) -> R {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        f(loaded.get_or_insert_with(|| Loaded {
            entries: read(&self.path),
            added: false,
        }))
    }

    /// Writes the entries a compile added, merged with any that another
    /// process wrote meanwhile, and lets them all go.
    pub(crate) fn finish(&self) {
        let taken = self
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(Loaded {
            entries: mine,
            added: true,
        }) = taken
        else {
            // Read and nothing added: still in use, for `cache prune`.
            if self.path.exists() {
                snakebox_generator::builder::mark_used(&self.path);
            }
            return;
        };
        let mut merged = read(&self.path);
        merged.extend(mine);
        if let Err(error) = write_atomic(&self.path, &encode(&merged)) {
            tracing::debug!("could not keep the compiled functions: {error:#}");
        }
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        self.with(|loaded| loaded.entries.get(key).cloned().map(Cow::Owned))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.with(|loaded| {
            loaded.entries.insert(key.to_vec(), value);
            loaded.added = true;
        });
        true
    }
}

/// The entries of the file at `path`; none if it is missing or unreadable.
fn read(path: &Path) -> Entries {
    let bytes = std::fs::read(path).unwrap_or_default();
    decode(&bytes).unwrap_or_default()
}

fn encode(entries: &Entries) -> Vec<u8> {
    let size: usize = entries.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + size);
    out.extend_from_slice(MAGIC);
    for (key, value) in entries {
        for part in [key, value] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// The entries of a file's bytes, or `None` unless all of it reads: a
/// function's code is used only from a file written whole.
fn decode(bytes: &[u8]) -> Option<Entries> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let mut entries = HashMap::new();
    while !rest.is_empty() {
        let key = take(&mut rest)?;
        entries.insert(key, take(&mut rest)?);
    }
    Some(entries)
}

/// One length-prefixed part from the front of `rest`.
fn take(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let part = tail.get(..len)?;
    *rest = &tail[len..];
    Some(part.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_the_file_and_a_cut_file_reads_as_empty() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("functions");
        let cache = FunctionCache::new(path.clone());
        assert!(cache.get(b"key").is_none());
        assert!(cache.insert(b"key", b"machine code".to_vec()));
        cache.finish();
        let again = FunctionCache::new(path.clone());
        assert_eq!(again.get(b"key").as_deref(), Some(&b"machine code"[..]));
        let bytes = std::fs::read(&path).expect("written");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("cut");
        assert!(FunctionCache::new(path).get(b"key").is_none());
    }
}
