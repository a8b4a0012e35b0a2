//! The files a component carries (package data, distribution metadata; see
//! `snakebox_generator::bundle`), unpacked once into the cache and shown to
//! each store read-only, where the build had them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use snakebox_generator::builder::{self, BuildError, BuildErrorKind};
use snakebox_generator::bundle;
use snakebox_generator::description;

use crate::error::{Detail, Error, Result};
use crate::policy::DirGrant;

/// The files section of the component file at `path`, if it has one.
pub(crate) fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = File::open(path).map_err(unreadable(path))?;
    description::find_section(&mut BufReader::new(file), bundle::SECTION).map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot read the sections of {}", path.display()),
            e,
        ))
    })
}

/// The files section of a component's bytes, if it has one.
pub(crate) fn read_bytes(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    description::find_section(&mut Cursor::new(bytes), bundle::SECTION).map_err(|e| {
        Error::BadComponent(Detail::caused_by("cannot read the component's sections", e))
    })
}

/// Unpacks `section` (once per content) under `cache_dir`, or a private
/// folder of the user's in the system's temporary folder without one, and
/// returns one read-only grant per Python path folder it holds: host `…/0`
/// as guest `/0`, and so on. What is found unpacked is granted only if it
/// is what the section holds, file for file, with no link among it.
pub(crate) fn grants(section: &[u8], cache_dir: Option<&Path>) -> Result<Vec<DirGrant>> {
    let files = decode(section)?;
    let base = match cache_dir {
        Some(dir) => dir.to_path_buf(),
        None => builder::private_temp_dir()?,
    };
    let root = base
        .join("files")
        .join(&crate::engine::files::sha256(section)[..16]);
    if std::fs::symlink_metadata(root.join(COMPLETE)).is_err() {
        unpack(&files, &root)?;
    }
    crate::engine::cache::check_in_cache(&base, &root)?;
    check_unpacked(&root, &files)?;
    builder::mark_used(&root.join(COMPLETE));
    let mut indices: Vec<&str> = files
        .iter()
        .filter_map(|(path, _)| path.split('/').next())
        .collect();
    indices.sort_unstable();
    indices.dedup();
    Ok(indices
        .into_iter()
        .map(|index| DirGrant {
            host: root.join(index),
            guest: format!("/{index}"),
            read_only: true,
        })
        .collect())
}

/// The marker of a folder unpacked whole.
const COMPLETE: &str = ".snakebox-complete";

/// Checks that the folder `root` holds `files` and nothing else: every
/// entry the user's (see [`builder::check_entry`]), no link, every file's
/// bytes as the section has them.
fn check_unpacked(root: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let mut expected: HashMap<PathBuf, &[u8]> = files
        .iter()
        .map(|(path, bytes)| (root.join(path), bytes.as_slice()))
        .collect();
    let changed = |what: String| {
        Error::Build(BuildError::new(
            BuildErrorKind::UntrustedCache,
            format!(
                "refusing the unpacked files of the component in {}: {what}. \
                 Remove that folder; snakebox unpacks it again",
                root.display()
            ),
        ))
    };
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(unreadable(&folder))?;
        for entry in entries {
            let path = entry.map_err(unreadable(&folder))?.path();
            builder::check_entry(&path)?;
            let metadata = std::fs::symlink_metadata(&path).map_err(unreadable(&path))?;
            if metadata.is_dir() {
                folders.push(path);
            } else if path == root.join(COMPLETE) {
                continue;
            } else {
                let Some(bytes) = expected.remove(&path) else {
                    return Err(changed(format!(
                        "{} is not one of its files",
                        path.display()
                    )));
                };
                let found = std::fs::read(&path).map_err(unreadable(&path))?;
                if found != bytes {
                    return Err(changed(format!("{} was changed", path.display())));
                }
            }
        }
    }
    match expected.into_keys().next() {
        Some(missing) => Err(changed(format!("{} is missing", missing.display()))),
        None => Ok(()),
    }
}

/// The error for a file or folder of the component's that cannot be read.
fn unreadable(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot read {}", path.display()),
            error,
        ))
    }
}

fn decode(section: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    bundle::decode(section)
        .map_err(|e| Error::BadComponent(Detail::caused_by("its files cannot be read", e)))
}

/// Writes the files the component at `component` carries into `dir`, one
/// folder per Python path entry (`dir/0`, `dir/1`, …), for an engine that
/// is not snakebox to grant: each folder must be seen by the guest as
/// `/0`, `/1`, …, as the returned grants say. A component without files
/// gives none.
pub fn extract(component: &Path, dir: &Path) -> Result<Vec<DirGrant>> {
    let Some(section) = read_file(component)? else {
        return Ok(Vec::new());
    };
    let files = decode(&section)?;
    let mut grants: Vec<DirGrant> = Vec::new();
    for (path, bytes) in &files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap_or(dir))
            .and_then(|()| std::fs::write(&target, bytes))
            .map_err(|e| {
                Error::Other(
                    anyhow::Error::new(e).context(format!("cannot write {}", target.display())),
                )
            })?;
        let index = path.split('/').next().unwrap_or_default();
        if !grants.iter().any(|g| g.guest == format!("/{index}")) {
            grants.push(DirGrant {
                host: dir.join(index),
                guest: format!("/{index}"),
                read_only: true,
            });
        }
    }
    Ok(grants)
}

fn unpack(files: &[(String, Vec<u8>)], root: &Path) -> Result<()> {
    let failed = |e: std::io::Error| {
        Error::Other(anyhow::Error::new(e).context(format!(
            "cannot unpack the component's files into {}",
            root.display()
        )))
    };
    let staging = root.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (path, bytes) in files {
        builder::write_private(&staging.join(path), bytes).map_err(failed)?;
    }
    builder::write_private(&staging.join(COMPLETE), b"").map_err(failed)?;
    // Another process may have unpacked the same files meanwhile.
    if std::fs::rename(&staging, root).is_err() && !root.join(COMPLETE).is_file() {
        return Err(failed(std::io::Error::other(
            "the folder could not be moved into place",
        )));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}
