//! Shared by the generator's test binaries: componentize-py's own check of
//! the WIT and glue the generator emits.

use std::path::PathBuf;
use std::process::Command;

use snakebox_generator::{Module, binding_name, glue, wit};

/// The componentize-py release snakebox builds with.
pub const COMPONENTIZE_PY: &str = "componentize-py-0.25.1";

/// Runs componentize-py's `bindings` on the world, which parses and
/// resolves the WIT exactly as a build would, then checks that every class
/// the glue names exists in the generated bindings.
pub fn componentize_py_accepts(
    module: &Module,
    world: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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
pub fn componentize_py() -> Option<PathBuf> {
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
