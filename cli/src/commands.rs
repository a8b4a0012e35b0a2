//! The subcommands, one file each, and what they share: building a Python
//! module, and turning the sandbox flags into a [`Policy`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use snakebox::{Policy, builder};

use crate::flags::{BuildArgs, SandboxArgs};

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod call;
pub(crate) mod inspect;
pub(crate) mod mcp;
pub(crate) mod serve;
pub(crate) mod wit;

/// A Python module, stub or package folder, to build before loading.
pub(crate) fn is_python(path: &Path) -> bool {
    path.is_dir() || path.extension().is_some_and(|e| e == "py" || e == "pyi")
}

/// The component at `path`: built first when it is Python.
pub(crate) fn component(path: &Path, args: &BuildArgs) -> anyhow::Result<PathBuf> {
    match is_python(path) {
        true => build_for(path, args, false),
        false => Ok(path.to_owned()),
    }
}

/// Builds `file` for the snakebox host, or with `http` for `wasi:http` engines.
pub(crate) fn build_for(file: &Path, args: &BuildArgs, http: bool) -> anyhow::Result<PathBuf> {
    let options = builder::BuildOptions {
        requirements: args.requirements.clone(),
        verbose: args.verbose,
        strict: args.strict,
        imports: args.imports.clone(),
        http,
    };
    let built = builder::build_with(file, &snakebox::default_cache_dir(), &options)?;
    for diagnostic in &built.diagnostics {
        eprintln!("{}", diagnostic.render());
    }
    Ok(built.wasm)
}

/// The sandbox the flags grant; nothing unless granted.
pub(crate) fn policy(args: &SandboxArgs) -> anyhow::Result<Policy> {
    let mut policy = Policy {
        memory: args.memory,
        timeout: args.timeout,
        env: args.env.clone(),
        dirs: args.dirs.clone(),
        ..Policy::default()
    };
    for (name, url) in &args.binds {
        policy
            .host
            .add_http(name, url)
            .with_context(|| format!("--bind {name}={url}"))?;
    }
    Ok(policy)
}
