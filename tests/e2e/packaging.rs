//! The published crates carry every file they compile in: each
//! `include_str!`/`include_bytes!` path, and the WIT that `bindgen!` reads,
//! lies inside its own crate (symlinks there point at `wit/` and
//! `guest-python/` at the top, and `cargo package` follows them).

use std::path::{Component, Path, PathBuf};

use crate::util::root;

/// `path` with `.` and `..` taken away, without following symlinks.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_included_file_lies_inside_its_crate() {
    let mut checked = 0;
    for krate in ["generator", "host"] {
        let krate = root().join(krate);
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for macro_name in ["include_str!(\"", "include_bytes!(\""] {
                for (at, _) in text.match_indices(macro_name) {
                    let rest = &text[at + macro_name.len()..];
                    let literal = &rest[..rest.find('"').expect("a closing quote")];
                    let included = normalize(&file.parent().expect("a folder").join(literal));
                    assert!(
                        included.starts_with(&krate),
                        "{} includes {literal}, outside its crate",
                        file.display()
                    );
                    assert!(included.is_file(), "{} is missing", included.display());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 6, "found only {checked} includes");
    // `bindgen!` reads `wit/` relative to the host crate.
    let bindings =
        std::fs::read_to_string(root().join("host/src/store/bindings.rs")).expect("read");
    assert!(
        bindings.contains("path: \"wit\""),
        "bindgen! reads the crate's own wit/"
    );
    assert!(root().join("host/wit/runtime.wit").is_file());
}

#[test]
fn the_crates_carry_the_same_guest_runtime_and_wit_as_the_repository() {
    let guest = root().join("guest-python/snakebox_guest");
    let builder = std::fs::read_to_string(root().join("generator/src/builder.rs")).expect("read");
    let mut files = 0;
    for entry in std::fs::read_dir(&guest).expect("guest-python").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".py") {
            continue;
        }
        let carried = root().join("generator/guest/snakebox_guest").join(&name);
        assert_eq!(
            std::fs::read(&carried).unwrap_or_default(),
            std::fs::read(entry.path()).expect("read"),
            "generator/guest/snakebox_guest/{name} must be the guest's own file (a symlink to it)"
        );
        assert!(
            builder.contains(&format!("\"{name}\"")),
            "the builder bundles {name}"
        );
        files += 1;
    }
    assert!(files >= 5, "found {files} guest files");
    let wit = std::fs::read(root().join("wit/runtime.wit")).expect("read");
    for copy in ["generator/wit/runtime.wit", "host/wit/runtime.wit"] {
        assert_eq!(
            std::fs::read(root().join(copy)).unwrap_or_default(),
            wit,
            "{copy}"
        );
    }
}

#[test]
fn version_names_the_pinned_toolchain() {
    let output = crate::util::snakebox(&["--version"]);
    assert!(output.status.success());
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let locked = lock
        .split("[[package]]")
        .find(|entry| entry.contains("\nname = \"wasmtime\"\n"))
        .and_then(|entry| entry.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("wasmtime in Cargo.lock");
    assert_eq!(
        snakebox::WASMTIME_VERSION,
        locked,
        "the constant follows the lock file"
    );
    assert_eq!(
        crate::util::stdout(&output),
        format!(
            "snakebox {} (componentize-py {}, wasmtime {locked})",
            env!("CARGO_PKG_VERSION"),
            snakebox::builder::COMPONENTIZE_PY_VERSION
        )
    );
}
