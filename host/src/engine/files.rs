//! Small file helpers that the caches share: content hashes and writes
//! that readers never see half-done.

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

/// The hex SHA-256 of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes a file of the cache so that readers never see it half-written,
/// private whatever the umask (see [`write_private`](snakebox_generator::builder::write_private)).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    snakebox_generator::builder::write_private(path, bytes)
        .with_context(|| format!("failed to write {}", path.display()))
}
