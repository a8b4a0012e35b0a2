//! Shared by the generator's test binaries: componentize-py's own check of
//! the WIT and glue the generator emits. componentize-py is installed into
//! snakebox's cache on first use, as a build does; a check never skips.

use std::path::PathBuf;
use std::sync::OnceLock;

use snakebox_generator::builder::{self, Toolchain};
use snakebox_generator::{Module, glue, wit};

/// componentize-py, installed once per test binary into the cache the
/// other tests use (`$SNAKEBOX_CACHE_DIR`, else snakebox's default).
pub fn toolchain() -> &'static Toolchain {
    static TOOLCHAIN: OnceLock<Toolchain> = OnceLock::new();
    TOOLCHAIN.get_or_init(|| {
        let cache = std::env::var_os("SNAKEBOX_CACHE_DIR")
            .map_or_else(builder::default_cache_dir, PathBuf::from);
        Toolchain::find_or_install(&cache).unwrap_or_else(|e| {
            panic!("componentize-py is needed to check the WIT, and cannot be installed: {e}")
        })
    })
}

/// Runs componentize-py's `bindings` on the world, which parses and
/// resolves the WIT exactly as a build would, then checks that every class
/// the glue names exists in the generated bindings.
pub fn componentize_py_accepts(
    module: &Module,
    world: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let wit_dir = dir.path().join("wit");
    builder::write_wit_dir(world, &wit_dir)?;
    let names = glue::interface_names(&module.wit_name, std::slice::from_ref(module));
    toolchain()
        .bindings(
            &wit_dir,
            &wit::world_name(module),
            &names,
            &dir.path().join("out"),
        )
        .map_err(|e| format!("componentize-py rejected the WIT: {e}\n\n{world}"))?;
    let exports = dir.path().join("out/wit_world/exports");
    let classes = std::fs::read_to_string(exports.join("__init__.py"))?;
    let types_file = exports.join(format!("{}.py", glue::module_glue(module)));
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
