//! The subcommands, one file each, and what they share: building a Python
//! module, and turning the sandbox flags into a [`Policy`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use snakebox::{HttpOptions, Policy, builder};

use crate::flags::{BuildArgs, SandboxArgs};
use crate::parse;

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

/// Whether a `--bind-header` target (a function, or a module of them)
/// covers the bound function `name`.
fn covers(target: &str, name: &str) -> bool {
    name.strip_prefix(target)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
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
    for (target, header, _) in &args.bind_headers {
        if !args.binds.iter().any(|(name, _)| covers(target, name)) {
            anyhow::bail!(
                "--bind-header {target}={header}: no --bind names `{target}` or a function of it"
            );
        }
    }
    for (name, url) in &args.binds {
        let mut options = HttpOptions {
            max_in_flight: args.bind_max_in_flight as usize,
            connect_timeout: args.bind_connect_timeout,
            headers: Vec::new(),
        };
        for (target, header, value) in &args.bind_headers {
            if covers(target, name) {
                let value = parse::expand_secret(value)
                    .map_err(|e| anyhow::anyhow!("--bind-header {target}={header}: {e}"))?;
                options.headers.push((header.clone(), value));
            }
        }
        policy
            .host
            .add_http_with(name, url, &options)
            .with_context(|| format!("--bind {name}={url}"))?;
    }
    Ok(policy)
}
