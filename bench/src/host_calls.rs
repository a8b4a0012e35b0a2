//! Guest → host calls: `bench/python/host_calls.py` calling the functions
//! of `hostfns.pyi`, on snakebox (bound with `HostFunctions`), on the same
//! component hand-wired on wasmtime (dynamic `func_new` definitions), and
//! on PyO3 (Python calling a Rust `#[pyfunction]`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use pyo3::prelude::*;
use snakebox::Calls as _;
use snakebox::serde_json::json;
use snakebox::{App, HostFunctions, Policy, Val};
use tokio::runtime::Runtime as Tokio;
use wasmtime::component::{Component, Func, Instance, InstancePre, Linker};
use wasmtime::{Engine, Store};

use crate::measure::{median_of, since};
use crate::plain::{self, Host};
use crate::report::{Table, Unit};

const SECTION: &str = "Host functions (guest → host)";
/// The interface of host functions, as the generator names it.
const HOSTFNS: &str = "snakebox-py:host-calls/hostfns";
const EXPORTS: &str = "snakebox-py:host-calls/host-calls";

/// Builds the component, with `hostfns.pyi` as its host module.
pub fn build(python: &Path, cache: &Path) -> anyhow::Result<std::path::PathBuf> {
    let options = snakebox::builder::BuildOptions {
        imports: vec![python.join("hostfns.pyi")],
        ..Default::default()
    };
    let built = snakebox::builder::build_with(&python.join("host_calls.py"), cache, &options)
        .context("failed to build host_calls.py")?;
    Ok(built.wasm)
}

/// snakebox's side: the app with every host function bound.
pub fn load(runtime: &snakebox::Runtime, wasm: &Path) -> anyhow::Result<App> {
    let mut host = HostFunctions::new();
    host.add_sync("hostfns.bump", |_caller, args| {
        Ok(json!(args[0].as_i64().unwrap_or(0) + 1))
    });
    host.add_async("hostfns.bump_async", |_caller, args| async move {
        Ok(json!(args[0].as_i64().unwrap_or(0) + 1))
    });
    host.add_async("hostfns.nap", |_caller, args| async move {
        let ms = args[0].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(json!(ms))
    });
    let policy = Policy {
        host,
        ..Policy::default()
    };
    Ok(runtime.load_with(wasm, policy)?)
}

/// The hand-wired side: the least host code for `hostfns`, on the plain
/// peer's engine and runtime imports.
pub struct Wired {
    pre: InstancePre<Host>,
    engine: Engine,
}

fn ok_s64(value: i64) -> Val {
    Val::Result(Ok(Some(Box::new(Val::S64(value)))))
}

fn first_s64(params: &[Val]) -> i64 {
    match params.first() {
        Some(Val::S64(x)) => *x,
        _ => 0,
    }
}

impl Wired {
    pub fn new(wasm: &Path) -> anyhow::Result<Self> {
        let engine = plain::engine()?;
        let component = Component::from_file(&engine, wasm)?;
        let mut linker: Linker<Host> = plain::linker(&engine)?;
        let mut hostfns = linker.instance(HOSTFNS)?;
        hostfns.func_new("bump", |_store, _ty, params, results| {
            results[0] = ok_s64(first_s64(params) + 1);
            Ok(())
        })?;
        hostfns.func_new_concurrent("bump-async", |_accessor, _ty, params, results| {
            Box::pin(async move {
                results[0] = ok_s64(first_s64(params) + 1);
                Ok(())
            })
        })?;
        hostfns.func_new_concurrent("nap", |_accessor, _ty, params, results| {
            Box::pin(async move {
                let ms = first_s64(params);
                tokio::time::sleep(Duration::from_millis(ms.unsigned_abs())).await;
                results[0] = ok_s64(ms);
                Ok(())
            })
        })?;
        let pre = linker.instantiate_pre(&component)?;
        Ok(Wired { pre, engine })
    }

    async fn instantiate(&self) -> anyhow::Result<(Store<Host>, Instance)> {
        let mut store = Store::new(&self.engine, plain::host());
        store.set_epoch_deadline(u64::MAX);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }

    fn func(store: &mut Store<Host>, instance: &Instance, name: &str) -> anyhow::Result<Func> {
        let (_, interface) = instance
            .get_export(&mut *store, None, EXPORTS)
            .context("no exports")?;
        let (_, index) = instance
            .get_export(&mut *store, Some(&interface), name)
            .with_context(|| format!("no export `{name}`"))?;
        instance
            .get_func(&mut *store, index)
            .with_context(|| format!("`{name}` is not a function"))
    }

    /// One call of export `name`, sync or async, inside `run_concurrent`.
    async fn call(
        store: &mut Store<Host>,
        instance: &Instance,
        name: &str,
        args: Vec<Val>,
    ) -> anyhow::Result<()> {
        let func = Self::func(store, instance, &name.replace('_', "-"))?;
        store
            .run_concurrent(async |accessor| {
                let mut results = [Val::Bool(false)];
                func.call_concurrent(accessor, &args, &mut results).await?;
                match &results[0] {
                    Val::Result(Ok(_)) => Ok(()),
                    other => anyhow::bail!("the call failed: {other:?}"),
                }
            })
            .await?
    }
}

/// PyO3's side: `host_calls.py` on native CPython, with `hostfns` a module
/// of Rust functions.
#[pyfunction]
fn bump(x: i64) -> i64 {
    x + 1
}

fn pyo3_module(dir: &Path) -> anyhow::Result<Py<PyModule>> {
    let dir = dir.to_str().context("the path is not UTF-8")?.to_owned();
    Python::attach(|py| -> PyResult<Py<PyModule>> {
        let hostfns = PyModule::new(py, "hostfns")?;
        hostfns.add_function(wrap_pyfunction!(bump, &hostfns)?)?;
        py.import("sys")?
            .getattr("modules")?
            .set_item("hostfns", hostfns)?;
        py.import("sys")?
            .getattr("path")?
            .call_method1("insert", (0, dir))?;
        Ok(py.import("host_calls")?.unbind())
    })
    .map_err(|e| anyhow::anyhow!("Python raised: {e}"))
}

/// The rows: per host call, sync and async, and 1,000 concurrent host naps.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    table: &mut Table,
    tokio: &Tokio,
    app: &App,
    wired: &Wired,
    python: &Path,
    samples: usize,
    calls: usize,
    naps: usize,
) -> anyhow::Result<()> {
    eprintln!("host functions");
    let session = app.session()?;
    let (mut store, instance) = tokio.block_on(wired.instantiate())?;
    let module = pyo3_module(python)?;
    let n = |count: usize| vec![Val::S64(i64::try_from(count).unwrap_or(i64::MAX))];
    // Per host call: one export call making `calls` host calls, less one
    // making none, over `calls`.
    for (row, export) in [
        ("sync host call, per call", "sync_calls"),
        ("async host call, awaited in turn, per call", "async_calls"),
    ] {
        let per_call = |with: f64, without: f64| (with - without).max(0.0) / calls as f64;
        // Each peer's first calls are its slowest (imports, caches): made
        // once beforehand, they would otherwise count against `without`.
        tokio.block_on(async {
            session.call(export, n(calls)).await?;
            Wired::call(&mut store, &instance, export, n(calls)).await?;
            anyhow::Ok(())
        })?;
        if export == "sync_calls" {
            Python::attach(|py| module.bind(py).getattr(export)?.call1((calls,)).map(drop))
                .map_err(|e: PyErr| anyhow::anyhow!("Python raised: {e}"))?;
        }
        let ours = median_of(samples, || {
            tokio.block_on(async {
                let start = Instant::now();
                session.call(export, n(0)).await?;
                let without = since(start);
                let start = Instant::now();
                session.call(export, n(calls)).await?;
                Ok(per_call(since(start), without))
            })
        })?;
        let theirs = median_of(samples, || {
            tokio.block_on(async {
                let start = Instant::now();
                Wired::call(&mut store, &instance, export, n(0)).await?;
                let without = since(start);
                let start = Instant::now();
                Wired::call(&mut store, &instance, export, n(calls)).await?;
                Ok(per_call(since(start), without))
            })
        })?;
        // PyO3 has no async host call without an extra runtime crate.
        let pyo3 = match export {
            "sync_calls" => Some(median_of(samples, || {
                Python::attach(|py| {
                    let f = module.bind(py).getattr(export)?;
                    let start = Instant::now();
                    f.call1((0,))?;
                    let without = since(start);
                    let start = Instant::now();
                    f.call1((calls,))?;
                    Ok(per_call(since(start), without))
                })
                .map_err(|e: PyErr| anyhow::anyhow!("Python raised: {e}"))
            })?),
            _ => None,
        };
        table.push(
            SECTION,
            row,
            Unit::Micros,
            [Some(ours), Some(theirs), pyo3, None],
        );
    }
    let ms = 10;
    let nap_args = || vec![Val::S64(i64::try_from(naps).unwrap_or(0)), Val::S64(ms)];
    let sleep = ms as f64 / 1000.0;
    let ours = median_of(samples.min(5), || {
        tokio.block_on(async {
            let start = Instant::now();
            session.call("host_naps", nap_args()).await?;
            Ok(since(start) / sleep)
        })
    })?;
    let theirs = median_of(samples.min(5), || {
        tokio.block_on(async {
            let start = Instant::now();
            Wired::call(&mut store, &instance, "host_naps", nap_args()).await?;
            Ok(since(start) / sleep)
        })
    })?;
    table.push(
        SECTION,
        format!("{naps} concurrent 10 ms host awaits, total ÷ 10 ms"),
        Unit::Times,
        [Some(ours), Some(theirs), None, None],
    );
    Ok(())
}
