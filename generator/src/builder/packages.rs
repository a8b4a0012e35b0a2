//! Pure-Python dependencies from PyPI, installed once per requirements set.
//!
//! The guest is CPython 3.14 on wasm32-wasi, so only pure-Python wheels can
//! run in it. pip is asked for wheels of the platform `any` only; a package
//! that has only native builds fails here, at build time, with its name,
//! never as an `ImportError` in production.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::toolchain::{pip_install, python};
use super::{BuildError, BuildErrorKind, Result};

/// The Python version of the guest interpreter.
const GUEST_PYTHON: &str = "3.14";

/// Reads the requirements of a `requirements.txt` or a `pyproject.toml`.
pub(crate) fn read_requirements(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| BuildError::io(format!("cannot read {}", file.display()), e))?;
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
            return Err(BuildError::input(format!(
                "{}: pip options such as `{line}` are not supported; list packages only",
                file.display()
            )));
        }
        requirements.push(line.to_owned());
    }
    Ok(requirements)
}

fn pyproject_dependencies(text: &str, file: &Path) -> Result<Vec<String>> {
    let document: toml::Table = text.parse().map_err(|e| {
        BuildError::input(format!("{} is not valid TOML", file.display())).with_source(e)
    })?;
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
                BuildError::input(format!(
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
        super::mark_used(&complete);
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
    // Wheels made here, of packages that run without their native speedups.
    let pure = dir.with_extension(format!("pure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&pure);
    let mut repacked: Vec<String> = Vec::new();
    let outcome = loop {
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
            .args(match repacked.is_empty() {
                true => vec![],
                false => vec!["--find-links".into(), pure.display().to_string()],
            })
            .args(requirements)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BuildError::toolchain("cannot run pip").with_source(e))?;
        if output.status.success() {
            break Ok(());
        }
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let fallback = missing(&log).filter(|spec| {
            let name = project_name(spec);
            PURE_FALLBACK.contains(&name.as_str()) && !repacked.contains(&name)
        });
        let Some(spec) = fallback else {
            break Err(BuildError::toolchain(explain_failure(&log)));
        };
        if let Err(error) = repack_pure(&spec, &pure) {
            break Err(error);
        }
        repacked.push(project_name(&spec));
    };
    let _ = std::fs::remove_dir_all(&pure);
    if let Err(error) = outcome {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    std::fs::write(staging.join(".snakebox-complete"), requirements.join("\n"))
        .map_err(|e| BuildError::io(format!("cannot finish {}", staging.display()), e))?;
    if std::fs::rename(&staging, &dir).is_err() && !complete.is_file() {
        return Err(BuildError::new(
            BuildErrorKind::Io,
            format!("cannot move packages into {}", dir.display()),
        ));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(dir)
}

/// Folders of an installed distribution that are never imported at build
/// time: its tests, and what pip installs besides modules.
const NOT_IMPORTED: &[&str] = &["tests", "test", "testing", "__pycache__", "bin"];

/// Every module the installed requirements ship, by dotted name, so that
/// the build imports them all: a module imported lazily (`import tabulate`
/// inside a function, `importlib.import_module` by name) is then in the
/// component too. Tests, `__main__` modules and names that are not Python
/// identifiers are left out.
pub(crate) fn modules(site: &Path) -> Vec<String> {
    let mut modules = Vec::new();
    collect_modules(site, &mut Vec::new(), &mut modules);
    modules.sort();
    modules
}

fn collect_modules(dir: &Path, package: &mut Vec<String>, modules: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let Some(name) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if entry.is_dir() {
            if NOT_IMPORTED.contains(&name.as_str())
                || !is_identifier(&name)
                || !entry.join("__init__.py").is_file()
            {
                continue;
            }
            package.push(name);
            collect_modules(&entry, package, modules);
            package.pop();
        } else if let Some(stem) = name.strip_suffix(".py") {
            if !is_identifier(stem)
                || stem == "__main__"
                || (package.is_empty() && stem == "__init__")
            {
                continue;
            }
            let mut dotted = package.clone();
            if stem != "__init__" {
                dotted.push(stem.to_owned());
            }
            if !dotted.is_empty() {
                modules.push(dotted.join("."));
            }
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Packages with native speedups that work without them: their pure-Python
/// half is installed when PyPI has no pure wheel of them (MarkupSafe falls
/// back to `_native`, PyYAML to its pure loader, msgpack to `fallback`).
const PURE_FALLBACK: &[&str] = &["markupsafe", "pyyaml", "msgpack"];

/// The requirement pip found no pure wheel for, as pip wrote it.
fn missing(log: &str) -> Option<String> {
    log.lines()
        .find_map(|line| line.split("No matching distribution found for ").nth(1))
        .map(|rest| rest.trim().to_owned())
}

/// A requirement's project name, normalized as PyPI does (`MarkupSafe>=2`
/// is `markupsafe`).
fn project_name(spec: &str) -> String {
    spec.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The CPython versions whose Linux wheels may give a package's pure
/// half, newest first: the guest's own, then older ones, for a pinned
/// version released before CPython 3.14 (PyYAML 6.0.2, msgpack 1.1.0).
/// The Python modules of a wheel do not depend on the CPython it was
/// built for; only its native modules, which are left out, do.
const WHEEL_PYTHONS: &[(&str, &str)] = &[
    ("3.14", "cp314"),
    ("3.13", "cp313"),
    ("3.12", "cp312"),
    ("3.11", "cp311"),
    ("3.10", "cp310"),
    ("3.9", "cp39"),
];

/// Takes a CPython wheel of `spec` for Linux (the guest's CPython's, or the
/// newest older one there is), leaves its native modules out, and writes
/// what is left to `into` as a pure wheel, which the next pip run finds
/// there.
fn repack_pure(spec: &str, into: &Path) -> Result<()> {
    tracing::info!("`{spec}` has no pure-Python wheel; installing it without its native speedups");
    let download = into.join("download");
    let mut refusals = Vec::new();
    for (version, abi) in WHEEL_PYTHONS {
        let output = std::process::Command::new(python())
            .args([
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .args(["--no-deps", "--only-binary=:all:", "--progress-bar", "off"])
            .args([
                "--platform",
                "manylinux_2_17_x86_64",
                "--platform",
                "manylinux2014_x86_64",
            ])
            .args(["--python-version", version, "--implementation", "cp"])
            .args(["--abi", abi, "--dest"])
            .arg(&download)
            .arg(spec)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BuildError::toolchain("cannot run pip").with_source(e))?;
        if output.status.success() {
            refusals.clear();
            break;
        }
        refusals.push(format!(
            "for CPython {version}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if !refusals.is_empty() {
        return Err(BuildError::toolchain(format!(
            "cannot download a CPython wheel of `{spec}` to install its pure-Python half:\n{}",
            refusals.join("\n")
        )));
    }
    let output = std::process::Command::new(python())
        .args(["-c", REPACK])
        .arg(&download)
        .arg(into)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::toolchain("cannot run python3").with_source(e))?;
    let _ = std::fs::remove_dir_all(&download);
    match output.status.success() {
        true => Ok(()),
        false => Err(BuildError::toolchain(format!(
            "cannot repack `{spec}` without its native modules:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// Copies each wheel in argv[1] to argv[2] as `py3-none-any`, without its
/// native modules, and with its metadata saying so.
const REPACK: &str = r#"
import pathlib, sys, zipfile
source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
native = (".so", ".pyd", ".dylib", ".dll")
for wheel in source.glob("*.whl"):
    name, version = wheel.name.split("-")[:2]
    out = target / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename.endswith(native):
                continue
            data = src.read(item.filename)
            if item.filename.endswith(".dist-info/WHEEL"):
                lines = [l for l in data.decode().splitlines() if not l.startswith(("Tag:", "Root-Is-Purelib:"))]
                data = ("\n".join(lines + ["Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n").encode()
            elif item.filename.endswith(".dist-info/RECORD"):
                rows = [r for r in data.decode().splitlines() if not r.split(",")[0].endswith(native)]
                data = ("\n".join(rows) + "\n").encode()
            dst.writestr(item.filename, data)
"#;

/// Names the package that has no pure-Python build, when pip says so.
fn explain_failure(log: &str) -> String {
    match missing(log) {
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

#[cfg(test)]
mod tests {
    use super::modules;

    #[test]
    fn every_module_of_a_site_folder_but_tests_and_scripts() {
        let site = std::env::temp_dir().join(format!("snakebox-site-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&site);
        for file in [
            "six.py",
            "tabulate/__init__.py",
            "tabulate/version.py",
            "tabulate/__main__.py",
            "tabulate/tests/__init__.py",
            "tabulate/tests/test_api.py",
            "tabulate/data/not_a_package.py",
            "tabulate-0.9.0.dist-info/METADATA",
            "bin/tabulate",
            "not-a-name.py",
        ] {
            let path = site.join(file);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folders");
            std::fs::write(&path, "").expect("a file");
        }
        let found = modules(&site);
        let _ = std::fs::remove_dir_all(&site);
        assert_eq!(found, ["six", "tabulate", "tabulate.version"]);
    }
}
