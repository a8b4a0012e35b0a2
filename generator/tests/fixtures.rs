//! One snapshot per fixture file: `tests/fixtures/{valid,invalid}/*.py`.
//!
//! Each snapshot (`tests/snapshots/{valid,invalid}__NAME.snap`) holds the
//! diagnostics, the WIT and the glue generated for the file. A valid fixture
//! must produce no diagnostic at all, an invalid one at least one. Every WIT
//! the generator produces must also be accepted by componentize-py's own WIT
//! parser (its `bindings` command), when componentize-py is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use snakebox_generator::{Module, analyze, binding_name, glue, wit};

/// The componentize-py release snakebox builds with.
const COMPONENTIZE_PY: &str = "componentize-py-0.25.1";

fn fixture(path: &Path, source: String) -> datatest_stable::Result<()> {
    let kind = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .ok_or("a fixture lives in valid/ or invalid/")?;
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("a UTF-8 file name")?;
    let file = format!(
        "{kind}/{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or(stem)
    );
    let analysis = analyze(&source, stem);
    let mut snapshot = String::new();
    for diagnostic in &analysis.diagnostics {
        snapshot.push_str(&diagnostic.render(&file));
        snapshot.push('\n');
    }
    match kind {
        "valid" if !analysis.diagnostics.is_empty() => {
            return Err(format!("{file} is valid but has diagnostics:\n{snapshot}").into());
        }
        "invalid" if analysis.diagnostics.is_empty() => {
            return Err(format!("{file} is invalid but has no diagnostic").into());
        }
        _ => {}
    }
    if let Some(module) = &analysis.module {
        let world = wit::emit(module);
        snapshot.push_str("----- WIT -----\n");
        snapshot.push_str(&world);
        snapshot.push_str("----- glue -----\n");
        snapshot.push_str(&glue::emit(module));
        if analysis.is_usable() {
            componentize_py_accepts(module, &world)?;
        }
    }
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => file.as_str(),
    }, {
        insta::assert_snapshot!(format!("{kind}__{stem}"), snapshot);
    });
    Ok(())
}

/// Runs componentize-py's `bindings` on the world, which parses and
/// resolves the WIT exactly as a build would, then checks that every class
/// the glue names exists in the generated bindings.
fn componentize_py_accepts(module: &Module, world: &str) -> datatest_stable::Result<()> {
    let world_name = wit::world_name(module);
    let Some(tool) = componentize_py() else {
        eprintln!(
            "skipped: {COMPONENTIZE_PY} is not installed in snakebox's cache, so the WIT was \
             not checked by its parser (the e2e tests install it)"
        );
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let wit_dir = dir.path().join("wit");
    std::fs::create_dir_all(wit_dir.join("deps/runtime"))?;
    std::fs::write(wit_dir.join("world.wit"), world)?;
    std::fs::write(wit_dir.join("deps/runtime/runtime.wit"), wit::RUNTIME_WIT)?;
    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys; sys.argv[0] = 'componentize-py'; \
             from componentize_py import script; sys.exit(script())",
        )
        .arg("-d")
        .arg(&wit_dir)
        .arg("-w")
        .arg(&world_name)
        .arg("bindings")
        .arg(dir.path().join("out"))
        .env("PYTHONPATH", &tool)
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().take(12).collect::<Vec<_>>().join("\n");
        return Err(format!("componentize-py rejected the WIT:\n{first}\n\n{world}").into());
    }
    let exports = dir.path().join("out/wit_world/exports");
    let classes = std::fs::read_to_string(exports.join("__init__.py"))?;
    let types_file = exports.join(format!("{}.py", binding_name(&module.wit_name)));
    let types = std::fs::read_to_string(&types_file).unwrap_or_default();
    let glue = glue::emit(module);
    for (prefix, bindings) in [("_exports.", &classes), ("_w.", &types)] {
        for name in referenced(&glue, prefix) {
            let defined = bindings.contains(&format!("class {name}("))
                || bindings.contains(&format!("class {name}:"))
                || bindings.contains(&format!("\n{name} = "));
            if !defined {
                return Err(
                    format!("the glue uses `{prefix}{name}`, which the bindings lack").into(),
                );
            }
        }
    }
    Ok(())
}

/// The names the glue takes from a module alias, such as `_w.Point`.
fn referenced(glue: &str, prefix: &str) -> Vec<String> {
    glue.match_indices(prefix)
        .map(|(at, _)| {
            glue[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Where the snakebox cache holds componentize-py, if it does.
fn componentize_py() -> Option<PathBuf> {
    let mut caches = Vec::new();
    if let Some(dir) = std::env::var_os("SNAKEBOX_CACHE_DIR") {
        caches.push(PathBuf::from(dir));
    }
    caches.push(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("snakebox-cache"));
    if let Some(home) = std::env::var_os("HOME") {
        caches.push(PathBuf::from(home).join(".cache/snakebox"));
    }
    caches
        .into_iter()
        .map(|cache| cache.join("tools").join(COMPONENTIZE_PY))
        .find(|tool| tool.join("componentize_py").is_dir())
}

datatest_stable::harness! {
    { test = fixture, root = "tests/fixtures", pattern = r"^(valid|invalid)/[^/]+\.pyi?$" },
}
