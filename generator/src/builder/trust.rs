//! The cache is trusted as ssh trusts `~/.ssh`: the compiled code in it
//! runs as the user, and the tools in it (componentize-py) are run, so it
//! must be the user's alone. It is created private (`0700`), and a cache
//! folder that another user owns, or that anyone may write to, is refused
//! with what to do. What snakebox reads from it and runs (compiled code,
//! unpacked files, the toolchain) is checked the same way, entry by entry,
//! and never through a symbolic link: a cache that another user could write
//! into once is not trusted because its top folder is private now.

use std::path::{Path, PathBuf};

use super::{BuildError, BuildErrorKind, Result};

/// Creates the cache folder `dir` (private) if it is missing, and checks
/// that only the user (or root) can have put anything in it.
pub fn open_cache(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(untrusted(
            "there is no cache folder: set SNAKEBOX_CACHE_DIR, XDG_CACHE_HOME or HOME \
             (snakebox never falls back to a shared temporary folder)"
                .to_owned(),
        ));
    }
    create_private(dir)
        .map_err(|e| BuildError::io(format!("cannot create the cache {}", dir.display()), e))?;
    check(dir)
}

/// Writes a file of the cache so that readers never see it half-written:
/// the file `0600`, and any folder made on the way `0700`, whatever the
/// process's umask.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other(format!("{} has no folder", path.display())))?;
    create_private(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes));
    written
        .and_then(|()| std::fs::rename(&temp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
}

/// A private folder of the user's in the system's temporary folder
/// (`snakebox-<uid>`), for what a runtime without a cache must still write
/// out: checked as a cache is, since another user may have made it first.
pub fn private_temp_dir() -> Result<PathBuf> {
    #[cfg(unix)]
    let name = format!("snakebox-{}", rustix::process::geteuid().as_raw());
    #[cfg(not(unix))]
    let name = "snakebox".to_owned();
    let dir = std::env::temp_dir().join(name);
    open_cache(&dir)?;
    Ok(dir)
}

/// Marks an entry of the cache as used now (its modification time), which
/// is what `snakebox cache prune` goes by. Best effort: an entry that
/// cannot be marked is only pruned sooner.
pub fn mark_used(path: &Path) {
    let marked =
        std::fs::File::open(path).and_then(|file| file.set_modified(std::time::SystemTime::now()));
    if let Err(error) = marked {
        tracing::debug!("could not mark {} as used: {error}", path.display());
    }
}

fn untrusted(message: String) -> BuildError {
    BuildError::new(BuildErrorKind::UntrustedCache, message)
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Checks one entry of the cache before snakebox trusts what it holds: it
/// must not be a symbolic link, and only the user (or root) may have
/// written it.
pub fn check_entry(path: &Path) -> Result<()> {
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|e| BuildError::io(format!("cannot read {}", path.display()), e))?;
    if metadata.file_type().is_symlink() {
        return Err(untrusted(format!(
            "refusing {}: it is a symbolic link, and snakebox reads its cache only \
             through files and folders it made. Remove it; snakebox makes it again",
            path.display()
        )));
    }
    check_metadata(path, &metadata)
}

/// Checks a folder of the cache and everything under it, as
/// [`check_entry`] checks one entry.
pub fn check_tree(dir: &Path) -> Result<()> {
    check_entry(dir)?;
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| BuildError::io(format!("cannot read {}", dir.display()), e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| BuildError::io(format!("cannot read {}", dir.display()), e))?;
        check_tree(&entry.path())?;
    }
    Ok(())
}

fn check(dir: &Path) -> Result<()> {
    let metadata = std::fs::metadata(dir)
        .map_err(|e| BuildError::io(format!("cannot read the cache {}", dir.display()), e))?;
    check_metadata(dir, &metadata)
}

#[cfg(unix)]
fn check_metadata(path: &Path, metadata: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let me = rustix::process::geteuid().as_raw();
    let shown = path.display();
    let fix = format!(
        "the compiled code the cache holds would run as you. Use a cache of your own \
         that only you can write to (`chmod -R go-w {shown}`), or point SNAKEBOX_CACHE_DIR at one"
    );
    if metadata.uid() != me && metadata.uid() != 0 {
        return Err(untrusted(format!(
            "refusing {shown} in the cache: it belongs to user {}, not to you ({me}), and {fix}",
            metadata.uid()
        )));
    }
    if metadata.mode() & 0o002 != 0 {
        return Err(untrusted(format!(
            "refusing {shown} in the cache: anyone may write to it (mode {:o}), and {fix}",
            metadata.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_metadata(_path: &Path, _metadata: &std::fs::Metadata) -> Result<()> {
    Ok(())
}
