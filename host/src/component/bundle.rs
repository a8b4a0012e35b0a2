//! The files a component carries (package data, distribution metadata; see
//! `snakebox_generator::bundle`), unpacked once into the cache and shown to
//! each store read-only, where the build had them.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use snakebox_generator::bundle;
use snakebox_generator::description;

use crate::error::{Detail, Error, Result};
use crate::policy::DirGrant;

/// The files section of the component file at `path`, if it has one.
pub(crate) fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = File::open(path).map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot read {}", path.display()),
            e,
        ))
    })?;
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

/// Unpacks `section` (once per content) under `cache_dir`, or the system's
/// temporary folder without one, and returns one read-only grant per
/// Python path folder it holds: host `…/0` as guest `/0`, and so on.
pub(crate) fn grants(section: &[u8], cache_dir: Option<&Path>) -> Result<Vec<DirGrant>> {
    let root = cache_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::temp_dir().join("snakebox"))
        .join("files")
        .join(&crate::engine::files::sha256(section)[..16]);
    let done = root.join(".snakebox-complete");
    if !done.is_file() {
        unpack(section, &root)?;
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| {
            Error::BadComponent(Detail::caused_by(
                format!("cannot read {}", root.display()),
                e,
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    Ok(folders
        .into_iter()
        .filter_map(|host| {
            let index = host.file_name()?.to_str()?.to_owned();
            Some(DirGrant {
                host,
                guest: format!("/{index}"),
                read_only: true,
            })
        })
        .collect())
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
    let files = bundle::decode(&section)
        .map_err(|e| Error::BadComponent(Detail::caused_by("its files cannot be read", e)))?;
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

fn unpack(section: &[u8], root: &Path) -> Result<()> {
    let files = bundle::decode(section)
        .map_err(|e| Error::BadComponent(Detail::caused_by("its files cannot be read", e)))?;
    let failed = |e: std::io::Error| {
        Error::Other(anyhow::Error::new(e).context(format!(
            "cannot unpack the component's files into {}",
            root.display()
        )))
    };
    let staging = root.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (path, bytes) in &files {
        let target = staging.join(path);
        std::fs::create_dir_all(target.parent().unwrap_or(&staging)).map_err(failed)?;
        std::fs::write(&target, bytes).map_err(failed)?;
    }
    std::fs::write(staging.join(".snakebox-complete"), "").map_err(failed)?;
    // Another process may have unpacked the same files meanwhile.
    if std::fs::rename(&staging, root).is_err() && !root.join(".snakebox-complete").is_file() {
        return Err(failed(std::io::Error::other(
            "the folder could not be moved into place",
        )));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}
