//! Builds each Python fixture once and shares one runtime between tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use snakebox::Calls as _;
use snakebox::{App, Policy, Runtime};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package folder has a parent")
        .to_owned()
}

/// An error and every error under it, as a reporter prints them: `a: b: c`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        text.push_str(": ");
        text.push_str(&source.to_string());
        next = source.source();
    }
    text
}

/// The cache shared by every test (and by the CLI under test):
/// `$SNAKEBOX_CACHE_DIR` when set (CI shares one cache between the test
/// binaries and the doc tests), else one under cargo's target directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("SNAKEBOX_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("snakebox-cache"),
    }
}

/// One runtime for the whole test binary, so each component compiles once.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::with_cache_dir(Some(cache_dir())).expect("runtime starts"))
}

/// The component built from `tests/fixtures/{name}.py` (or another path
/// relative to the repository root), built at most once per run.
pub fn component(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Holding the lock while building keeps two tests from building one fixture twice.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let source = fixture(name);
    // A fixture folder with stubs of host functions builds the module of
    // the folder's name, importing every stub in it.
    let (source, options) = match source.is_dir() && !source.join("__init__.py").exists() {
        true => {
            let mut imports: Vec<PathBuf> = std::fs::read_dir(&source)
                .expect("the fixture folder reads")
                .map(|entry| entry.expect("an entry").path())
                .filter(|path| path.extension().is_some_and(|e| e == "pyi"))
                .collect();
            imports.sort();
            let module = source.join(format!("{}.py", host_module(name)));
            let options = snakebox::builder::BuildOptions {
                imports,
                ..Default::default()
            };
            (module, options)
        }
        false => (source, Default::default()),
    };
    let outcome = snakebox::builder::build_with(&source, &cache_dir(), &options)
        .unwrap_or_else(|e| panic!("building {} failed: {e}", source.display()));
    built.insert(name.to_owned(), outcome.wasm.clone());
    outcome.wasm
}

/// The module of a fixture folder of host functions: `host` → `host_calls`.
fn host_module(name: &str) -> String {
    format!("{name}_calls")
}

/// The path of a fixture by name (a module, or a package folder), or of a
/// file relative to the root.
pub fn fixture(name: &str) -> PathBuf {
    let folder = root().join("tests/fixtures").join(name);
    if name.ends_with(".py") {
        root().join(name)
    } else if folder.is_dir() {
        folder
    } else {
        root().join("tests/fixtures").join(format!("{name}.py"))
    }
}

/// The fixture loaded with the default policy, shared by every test.
pub fn app(name: &str) -> App {
    static APPS: OnceLock<Mutex<HashMap<String, App>>> = OnceLock::new();
    let wasm = component(name);
    let apps = APPS.get_or_init(Default::default);
    let mut apps = apps.lock().unwrap_or_else(|e| e.into_inner());
    apps.entry(name.to_owned())
        .or_insert_with(|| runtime().load(&wasm).expect("fixture loads"))
        .clone()
}

/// The fixture loaded with its own policy.
pub fn app_with(name: &str, policy: Policy) -> App {
    runtime()
        .load_with(component(name), policy)
        .expect("fixture loads")
}

/// Runs the `snakebox` binary with the shared cache.
pub fn snakebox(args: &[&str]) -> Output {
    snakebox_with_env(args, &[])
}

/// Runs the `snakebox` binary with the shared cache and more environment.
pub fn snakebox_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    snakebox_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("snakebox runs")
}

/// The `snakebox` binary as every test starts it: the shared cache, in the
/// repository's root; the caller adds the rest.
pub fn snakebox_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_snakebox"));
    command
        .env("SNAKEBOX_CACHE_DIR", cache_dir())
        .current_dir(root());
    command
}

/// The result of a call to a fixture's function, which must succeed.
pub async fn echo_in(fixture: &str, name: &str, args: &[serde_json::Value]) -> serde_json::Value {
    call(&app(fixture), name, args)
        .await
        .unwrap_or_else(|e| panic!("{name}({args:?}): {e}"))
}

/// The items of a fixture's generator, which must end without an error.
pub async fn items_of(
    fixture: &str,
    name: &str,
    args: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    use futures::StreamExt as _;
    let mut stream = app(fixture).stream_json(name, args, &[]);
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item.unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    items
}

/// Stdout of a run, trimmed.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Stderr of a run.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Calls with JSON on the current thread's store.
pub async fn call(
    app: &App,
    name: &str,
    args: &[serde_json::Value],
) -> snakebox::Result<serde_json::Value> {
    app.call_json(name, args, &[]).await
}

/// A folder holding the PyPI package `requirement` (and its dependencies)
/// for the Python that builds use, installed on first use into the shared
/// cache. A test that needs a Python tool fails with pip's output when it
/// cannot be installed; it never skips.
pub fn python_tool(requirement: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let name: String = requirement
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = cache_dir().join("python-tools").join(name);
    let done = dir.join(".installed");
    if done.is_file() {
        return dir;
    }
    let python = snakebox::builder::python();
    let output = snakebox::builder::pip_install(&python, &dir)
        .arg(requirement)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "cannot install {requirement} (run `python3 -m pip install {requirement}` to see why):\n{}",
        stderr(&output)
    );
    std::fs::write(&done, "").expect("mark the install");
    dir
}

/// Polls `check` every 10 ms until it gives `Ok`, and returns what it gave;
/// past `limit` (a bound that only catches a hang), panics with `what`
/// and the state `check` last reported.
pub fn eventually<T>(
    limit: std::time::Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = std::time::Instant::now();
    loop {
        match check() {
            Ok(done) => return done,
            Err(state) if started.elapsed() >= limit => {
                panic!("{what} (after {limit:?}): {state}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// [`eventually`] for a check that awaits, without blocking its executor.
pub async fn eventually_async<T, F: std::future::Future<Output = Result<T, String>>>(
    limit: std::time::Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let started = std::time::Instant::now();
    loop {
        match check().await {
            Ok(done) => return done,
            Err(state) if started.elapsed() >= limit => {
                panic!("{what} (after {limit:?}): {state}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// The default `--max-stores` of a server with `workers` stores whose
/// stores may each grow to `memory` bytes: what this machine's memory (or
/// its cgroup's limit) holds, from 16 to 256, or twice the workers if more.
pub fn default_max_stores(workers: usize, memory: u64) -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .expect("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("MemTotal")
        * 1024;
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let fit = usize::try_from(total.min(limit) / memory).expect("a count");
    fit.clamp(16, 256).max(workers * 2)
}
