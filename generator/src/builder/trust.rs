//! The cache is trusted as ssh trusts `~/.ssh`: the compiled code in it
//! runs as the user, and the tools in it (componentize-py) are run, so it
//! must be the user's alone. It is created private (`0700`), and a cache
//! folder that another user owns, or that anyone may write to, is refused
//! with what to do.

use std::path::Path;

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

#[cfg(unix)]
fn check(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = std::fs::metadata(dir)
        .map_err(|e| BuildError::io(format!("cannot read the cache {}", dir.display()), e))?;
    let me = rustix::process::geteuid().as_raw();
    let shown = dir.display();
    let fix = format!(
        "the compiled code it holds would run as you. Use a folder of your own \
         that only you can write to (`chmod 700 {shown}`), or point SNAKEBOX_CACHE_DIR at one"
    );
    if metadata.uid() != me && metadata.uid() != 0 {
        return Err(untrusted(format!(
            "refusing the cache {shown}: it belongs to user {}, not to you ({me}), and {fix}",
            metadata.uid()
        )));
    }
    if metadata.mode() & 0o002 != 0 {
        return Err(untrusted(format!(
            "refusing the cache {shown}: anyone may write to it (mode {:o}), and {fix}",
            metadata.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check(_dir: &Path) -> Result<()> {
    Ok(())
}
