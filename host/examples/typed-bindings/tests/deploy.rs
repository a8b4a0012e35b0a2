//! The bindings embed their component: the program runs where neither the
//! Python source nor componentize-py is, and refuses a component whose
//! signatures are not the ones it was generated for.

use std::path::{Path, PathBuf};
use std::process::Command;

include!(concat!(env!("OUT_DIR"), "/inventory.rs"));

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

#[test]
fn the_program_runs_without_the_source_or_componentize_py() {
    let dir = scratch("deployed");
    let output = Command::new(env!("CARGO_BIN_EXE_typed-bindings-example"))
        .env_clear()
        // No python3, no componentize-py, an empty cache: only the binary.
        .env("PATH", dir.join("no-tools"))
        .env("HOME", &dir)
        .env("SNAKEBOX_CACHE_DIR", dir.join("empty-cache"))
        .current_dir(&dir)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("restock(apple) -> 1\n"), "{stdout}");
    assert!(stdout.contains("unpack(boxed) -> 24"), "{stdout}");
}

#[test]
fn a_component_with_other_signatures_is_refused_at_load() {
    let dir = scratch("mismatch");
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/inventory.py"))
            .expect("the module");
    let changed = source.replace(
        "def restock(item: str, count: int = 1) -> int:",
        "def restock(item: str, count: str = \"1\") -> int:",
    );
    assert_ne!(changed, source, "the module still has this signature");
    let module = dir.join("inventory.py");
    std::fs::write(&module, changed).expect("write the changed module");
    let built = snakebox::builder::build(&module, &snakebox::default_cache_dir()).expect("builds");
    let runtime = snakebox::Runtime::new().expect("runtime");
    let app = runtime.load(&built.wasm).expect("loads as a component");
    let error = match Inventory::new(app) {
        Ok(_) => panic!("bindings for another signature accepted the component"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("does not match the bindings")
            && error.contains("`restock`")
            && error.contains("parameter `count`"),
        "{error}"
    );
}
