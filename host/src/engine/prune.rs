//! Shrinking the cache (`snakebox cache prune`): every entry snakebox made
//! is marked when it is used (its modification time), and those unused
//! for a while are removed. What is removed is made again when it is next
//! needed: a component is compiled or built again, its files unpacked
//! again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use snakebox_generator::builder::{self, COMPONENTIZE_PY_VERSION};

use crate::error::{Error, Result};

/// The folders of the cache whose entries go by when they were last used:
/// compiled components, the records that find them by path, compiled
/// functions, unpacked files, built components, installed requirements,
/// and what an interrupted build left.
const FOLDERS: &[&str] = &[
    "compiled",
    "identities",
    "functions",
    "files",
    "components",
    "site-packages",
    "build",
];

/// Entries that only a step in progress would still use (a build's work
/// folder, a file being written, files being unpacked) are left for at
/// least this long, whatever the caller asks.
const IN_PROGRESS: Duration = Duration::from_secs(3600);

/// An entry of the cache that [`prune_cache`] removed, or would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Its path.
    pub path: PathBuf,
    /// Its size on disk, in bytes (a folder's files together).
    pub bytes: u64,
}

/// Removes the entries of the cache `dir` unused for `unused_for` (all of
/// them for zero), and componentize-py installs of other versions than
/// the pinned one; with `dry_run`, removes nothing and says what it would.
/// The cache is checked as every use checks it (it must be the user's
/// alone), and a symbolic link in it is removed, never followed.
pub fn prune_cache(dir: &Path, unused_for: Duration, dry_run: bool) -> Result<Vec<Pruned>> {
    builder::open_cache(dir)?;
    let now = SystemTime::now();
    let mut pruned = Vec::new();
    for folder in FOLDERS {
        for entry in entries(&dir.join(folder))? {
            let name = entry
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let in_progress =
                *folder == "build" || name.ends_with(".tmp") || name.contains(".partial-");
            let limit = match in_progress {
                true => unused_for.max(IN_PROGRESS),
                false => unused_for,
            };
            let unused = now
                .duration_since(last_used(&entry))
                .unwrap_or(Duration::ZERO);
            if unused >= limit {
                pruned.push(entry);
            }
        }
    }
    let pinned = format!("componentize-py-{COMPONENTIZE_PY_VERSION}");
    for entry in entries(&dir.join("tools"))? {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("componentize-py-") && name != pinned {
            pruned.push(entry);
        }
    }
    let pruned: Vec<Pruned> = pruned
        .into_iter()
        .map(|path| Pruned {
            bytes: size(&path),
            path,
        })
        .collect();
    if !dry_run {
        for entry in &pruned {
            remove(&entry.path)?;
        }
    }
    Ok(pruned)
}

/// The entries of a folder of the cache; none if it is missing.
fn entries(folder: &Path) -> Result<Vec<PathBuf>> {
    let listed = match std::fs::read_dir(folder) {
        Ok(listed) => listed,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(io_error(
                &format!("cannot read {}", folder.display()),
                error,
            ));
        }
    };
    let mut entries = Vec::new();
    for entry in listed {
        let entry = entry.map_err(|e| io_error(&format!("cannot read {}", folder.display()), e))?;
        entries.push(entry.path());
    }
    entries.sort();
    Ok(entries)
}

/// When an entry was last used: its modification time, or for a folder
/// its marker's (`.snakebox-complete`), which each use marks.
fn last_used(entry: &Path) -> SystemTime {
    let modified = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
    };
    let own = modified(entry).unwrap_or(SystemTime::UNIX_EPOCH);
    match modified(&entry.join(".snakebox-complete")) {
        Some(marked) => own.max(marked),
        None => own,
    }
}

/// The bytes of the files under `path`, links not followed.
fn size(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .map(|listed| listed.flatten().map(|entry| size(&entry.path())).sum())
        .unwrap_or(0)
}

fn remove(path: &Path) -> Result<()> {
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let removed = match is_dir {
        true => std::fs::remove_dir_all(path),
        false => std::fs::remove_file(path),
    };
    match removed {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(
            &format!("cannot remove {}", path.display()),
            error,
        )),
        _ => Ok(()),
    }
}

fn io_error(doing: &str, error: std::io::Error) -> Error {
    Error::Other(anyhow::Error::new(error).context(doing.to_owned()))
}
