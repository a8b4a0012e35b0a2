//! Pure-Python dependencies from PyPI, installed once per requirements set.
//!
//! The guest is CPython 3.14 on wasm32-wasi, so only pure-Python wheels can
//! run in it. pip is asked for wheels of the platform `any` only; a package
//! that has only native builds fails here, at build time, with its name,
//! never as an `ImportError` in production.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::toolchain::{pip_install, python};
use super::{BuildError, Result};

/// The Python version of the guest interpreter.
const GUEST_PYTHON: &str = "3.14";

/// Reads the requirements of a `requirements.txt` or a `pyproject.toml`.
pub(crate) fn read_requirements(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| BuildError(format!("cannot read {}: {e}", file.display())))?;
    if file
        .file_name()
        .is_some_and(|name| name == "pyproject.toml")
    {
        return pyproject_dependencies(&text, file);
    }
    let mut requirements = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('-') {
            return Err(BuildError(format!(
                "{}: pip options such as `{line}` are not supported; list packages only",
                file.display()
            )));
        }
        requirements.push(line.to_owned());
    }
    Ok(requirements)
}

fn pyproject_dependencies(text: &str, file: &Path) -> Result<Vec<String>> {
    let document: toml::Table = text
        .parse()
        .map_err(|e| BuildError(format!("{} is not valid TOML: {e}", file.display())))?;
    let dependencies = document
        .get("project")
        .and_then(|project| project.get("dependencies"))
        .and_then(|deps| deps.as_array());
    let Some(dependencies) = dependencies else {
        return Ok(Vec::new());
    };
    dependencies
        .iter()
        .map(|dep| {
            dep.as_str().map(str::to_owned).ok_or_else(|| {
                BuildError(format!(
                    "{}: every [project] dependency must be a string",
                    file.display()
                ))
            })
        })
        .collect()
}

/// Installs `requirements` into the cache (once per set) and returns the folder.
pub(crate) fn install(requirements: &[String], cache_dir: &Path) -> Result<PathBuf> {
    let key = super::sha256(format!("{GUEST_PYTHON}\0{}", requirements.join("\0")).as_bytes());
    let dir = cache_dir.join("site-packages").join(&key[..16]);
    let complete = dir.join(".snakebox-complete");
    if complete.is_file() {
        return Ok(dir);
    }
    tracing::info!(
        "installing {} from PyPI (once): {}",
        plural(requirements.len()),
        requirements.join(", ")
    );
    let _step = tracing::info_span!("step", step = "installing packages from PyPI").entered();
    let staging = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let output = pip_install(&python(), &staging)
        .args([
            "--no-compile",
            "--progress-bar",
            "off",
            "--only-binary=:all:",
        ])
        .args([
            "--platform",
            "any",
            "--implementation",
            "py",
            "--abi",
            "none",
        ])
        .args(["--python-version", GUEST_PYTHON])
        .args(requirements)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError(format!("cannot run pip: {e}")))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return Err(BuildError(explain_failure(&log)));
    }
    std::fs::write(staging.join(".snakebox-complete"), requirements.join("\n"))
        .map_err(|e| BuildError(format!("cannot finish {}: {e}", staging.display())))?;
    if std::fs::rename(&staging, &dir).is_err() && !complete.is_file() {
        return Err(BuildError(format!(
            "cannot move packages into {}",
            dir.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(dir)
}

/// Names the package that has no pure-Python build, when pip says so.
fn explain_failure(log: &str) -> String {
    let missing = log
        .lines()
        .find_map(|line| line.split("No matching distribution found for ").nth(1))
        .map(|rest| rest.trim().to_owned());
    match missing {
        Some(package) => format!(
            "`{package}` has no pure-Python wheel on PyPI. The sandbox runs CPython on \
             wasm32-wasi, so packages with native extensions cannot be bundled; use a \
             pure-Python alternative.\npip said:\n{}",
            log.trim()
        ),
        None => format!("pip could not install the requirements:\n{}", log.trim()),
    }
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 requirement".into()
    } else {
        format!("{count} requirements")
    }
}
