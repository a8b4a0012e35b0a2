//! The sandbox policy: what a store may touch, and how much it may use.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::host_functions::HostFunctions;

/// A directory of the host made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it, for example `/data`.
    pub guest: String,
    /// The guest may read it but not change it.
    pub read_only: bool,
}

/// What each store may do. Nothing is granted by default: no filesystem,
/// no network, no environment. Clocks and randomness are always available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The most linear memory one store may hold, in bytes.
    pub memory: Option<u64>,
    /// The longest one call may run. With a limit, the component is
    /// compiled with epoch checks, which stop a guest busy on the CPU and
    /// cost pure Python about a quarter of its speed (BENCHMARKS.md). With
    /// none, it runs without them, and a guest busy on the CPU keeps its
    /// store until it returns or awaits.
    pub timeout: Option<Duration>,
    /// The directories the guest can see.
    pub dirs: Vec<DirGrant>,
    /// Environment variables the guest can read.
    pub env: Vec<(String, String)>,
    /// The host functions the guest may call (see the `--imports` of a
    /// build); every one the component imports must be bound.
    pub host: HostFunctions,
}

impl Policy {
    /// The smallest memory limit that lets CPython start (about 13.4 MiB of
    /// linear memory at start-up), with room for the first calls.
    pub const MIN_MEMORY: u64 = 16 << 20;

    /// A WASI context with exactly what this policy grants.
    pub(crate) fn wasi(&self) -> anyhow::Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        // The guest's own stderr carries componentize-py's panic messages;
        // show it only when asked, for debugging.
        if std::env::var_os("SNAKEBOX_GUEST_STDERR").is_some() {
            builder.inherit_stderr();
        }
        for (name, value) in &self.env {
            builder.env(name, value);
        }
        for dir in &self.dirs {
            let perms = if dir.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("failed to grant directory {}", dir.host.display()))?;
        }
        Ok(builder.build())
    }
}
