//! Measurements that need a fresh process: first-call latency and memory.
//! The parent re-runs this binary as `child …` and reads one number from
//! its stdout.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use snakebox::Calls as _;
use snakebox::Val;

use crate::measure;
use crate::plain::{self, Plain};
use crate::pyo3_peer::Pyo3;

#[derive(clap::Args)]
pub struct Args {
    /// `first-call`, `memory`, or, to profile, `calls` (a loop of `add`
    /// calls), `naps` (concurrent `nap()` calls on one store) or `ticks`
    /// (`tick()` calls one after another), after
    /// `precompile` wrote the hand-wired peer's compiled component.
    kind: String,
    /// `snakebox`, `wasmtime` or `pyo3`.
    peer: String,
    /// The number of stores, for `memory`; of calls, for `calls`.
    #[arg(long, default_value_t = 1)]
    stores: usize,
    /// For `calls`: call `fib(25)` instead of `add(2, 40)`.
    #[arg(long)]
    fib: bool,
    #[arg(long)]
    wasm: PathBuf,
    #[arg(long)]
    cache: PathBuf,
    #[arg(long)]
    compiled: PathBuf,
    #[arg(long)]
    python: PathBuf,
}

/// Runs `child` in a new process; gives its wall time and the numbers it printed.
pub fn spawn(
    kind: &str,
    peer: &str,
    stores: usize,
    paths: &crate::Paths,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let start = Instant::now();
    let output = Command::new(exe)
        .args(["child", kind, peer, "--stores", &stores.to_string()])
        .arg("--wasm")
        .arg(&paths.wasm)
        .arg("--cache")
        .arg(&paths.cache)
        .arg("--compiled")
        .arg(&paths.compiled)
        .arg("--python")
        .arg(&paths.python)
        .output()
        .context("failed to start a child process")?;
    let wall = measure::since(start);
    anyhow::ensure!(
        output.status.success(),
        "child {kind} {peer} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<Vec<_>, _>>()
        .context("child printed something other than numbers")?;
    anyhow::ensure!(!printed.is_empty(), "child {kind} {peer} printed no number");
    Ok((wall, printed))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let value = match args.kind.as_str() {
        "first-call" => runtime.block_on(first_call(&args))?,
        "memory" => {
            let (rss, pss) = runtime.block_on(memory(&args))?;
            println!("{rss} {pss}");
            return Ok(());
        }
        "calls" => runtime.block_on(calls(&args))?,
        "precompile" => {
            // Writes the hand-wired peer's compiled component to `--compiled`,
            // for the profiling loops; prints the compile time.
            let start = Instant::now();
            let compiled = plain::engine()?.precompile_component(&std::fs::read(&args.wasm)?)?;
            std::fs::write(&args.compiled, compiled)?;
            measure::since(start)
        }
        "naps" => runtime.block_on(naps(&args))?,
        "ticks" => runtime.block_on(ticks(&args))?,
        "fresh" => {
            let split = runtime.block_on(fresh(&args))?;
            let line: Vec<String> = split.iter().map(f64::to_string).collect();
            println!("{}", line.join(" "));
            return Ok(());
        }
        other => anyhow::bail!("unknown child measurement `{other}`"),
    };
    println!("{value}");
    Ok(())
}

fn add_args() -> Vec<Val> {
    vec![Val::S64(2), Val::S64(40)]
}

/// Loads and calls `add` once; prints the in-process time.
async fn first_call(args: &Args) -> anyhow::Result<f64> {
    let start = Instant::now();
    match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let app = runtime.load(&args.wasm)?;
            app.call("add", add_args()).await?;
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let (mut store, instance) = plain.instantiate().await?;
            plain
                .call(&mut store, &instance, "add", &add_args())
                .await?;
        }
        "pyo3" => {
            Pyo3::load(&args.python)?.add(2, 40)?;
        }
        other => anyhow::bail!("unknown peer `{other}`"),
    }
    Ok(measure::since(start))
}

/// Seconds per `add` call over a loop of `--stores` calls, on one store
/// that took a call already; for `perf record`.
async fn calls(args: &Args) -> anyhow::Result<f64> {
    let count = args.stores.max(1);
    let (name, call_args) = if args.fib {
        ("fib", vec![Val::S64(25)])
    } else {
        ("add", add_args())
    };
    match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let app = runtime.load(&args.wasm)?;
            app.call("add", add_args()).await?;
            let start = Instant::now();
            for _ in 0..count {
                app.call(name, call_args.clone()).await?;
            }
            Ok(measure::since(start) / count as f64)
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let (mut store, instance) = plain.instantiate().await?;
            plain
                .call(&mut store, &instance, "add", &add_args())
                .await?;
            let start = Instant::now();
            for _ in 0..count {
                plain.call(&mut store, &instance, name, &call_args).await?;
            }
            Ok(measure::since(start) / count as f64)
        }
        other => anyhow::bail!("no call loop for peer `{other}`"),
    }
}

/// Where a fresh interpreter's time goes, as medians over `--stores`
/// samples with 200 ms between them: [taking a store from the warm reserve,
/// its first call, making a new session, its first call]. For the
/// hand-wired peer: [instantiating a store, its first call].
async fn fresh(args: &Args) -> anyhow::Result<Vec<f64>> {
    let samples = args.stores.max(1);
    if args.peer == "wasmtime" {
        let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
        let mut split = [const { Vec::new() }; 2];
        for _ in 0..samples {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let start = Instant::now();
            let (mut store, instance) = plain.instantiate().await?;
            split[0].push(measure::since(start));
            let start = Instant::now();
            plain
                .call(&mut store, &instance, "add", &add_args())
                .await?;
            split[1].push(measure::since(start));
        }
        return Ok(split.map(measure::median).to_vec());
    }
    let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
    let app = runtime.load(&args.wasm)?;
    let mut split = [const { Vec::new() }; 4];
    for reserve in [true, false] {
        app.keep_fresh(if reserve { 2 } else { 0 })?;
        for _ in 0..samples {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let start = Instant::now();
            let session = if reserve {
                app.fresh()?
            } else {
                app.session()?
            };
            let taken = measure::since(start);
            let start = Instant::now();
            session.call("add", add_args()).await?;
            let first = measure::since(start);
            let base = if reserve { 0 } else { 2 };
            split[base].push(taken);
            split[base + 1].push(first);
        }
    }
    Ok(split.map(measure::median).to_vec())
}

/// Seconds for `--stores` concurrent `nap()` calls on one store; for `perf record`.
async fn naps(args: &Args) -> anyhow::Result<f64> {
    let count = args.stores.max(1);
    match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let app = runtime.load(&args.wasm)?;
            let session = app.session()?;
            session.call("add", add_args()).await?;
            let start = Instant::now();
            futures::future::try_join_all((0..count).map(|_| session.call("nap", Vec::new())))
                .await?;
            Ok(measure::since(start))
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let (mut store, instance) = plain.instantiate().await?;
            let start = Instant::now();
            plain
                .call_many_concurrent(&mut store, &instance, "nap", count)
                .await?;
            Ok(measure::since(start))
        }
        other => anyhow::bail!("no nap loop for peer `{other}`"),
    }
}

/// Seconds per `tick()` call, `--stores` of them one after another on one
/// store; for `perf record`.
async fn ticks(args: &Args) -> anyhow::Result<f64> {
    let count = args.stores.max(1);
    let start = match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let session = runtime.load(&args.wasm)?.session()?;
            session.call("tick", Vec::new()).await?;
            let start = Instant::now();
            for _ in 0..count {
                session.call("tick", Vec::new()).await?;
            }
            start
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let (mut store, instance) = plain.instantiate().await?;
            let start = Instant::now();
            plain
                .call_in_turn(&mut store, &instance, "tick", count)
                .await?;
            start
        }
        other => anyhow::bail!("no tick loop for peer `{other}`"),
    };
    Ok(measure::since(start) / count as f64)
}

/// Resident and proportional memory per idle store, after each store took
/// one call. PSS counts a page mapped by several stores (the compiled code,
/// the copy-on-write heap image) once; RSS counts it for each.
async fn memory(args: &Args) -> anyhow::Result<(f64, f64)> {
    let stores = args.stores.max(1);
    let grown = match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let app = runtime.load(&args.wasm)?;
            let before = (measure::rss_bytes()?, measure::pss_bytes()?);
            let kinds_before = measure::rss_by_kind()?;
            let sessions = (0..stores)
                .map(|_| app.session())
                .collect::<Result<Vec<_>, _>>()?;
            let calls = sessions
                .iter()
                .map(|session| session.call("add", add_args()));
            futures::future::try_join_all(calls).await?;
            let after = (measure::rss_bytes()?, measure::pss_bytes()?);
            report_kinds(kinds_before, stores)?;
            drop(sessions);
            grown(before, after)
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let before = (measure::rss_bytes()?, measure::pss_bytes()?);
            let kinds_before = measure::rss_by_kind()?;
            let mut live = Vec::with_capacity(stores);
            for _ in 0..stores {
                let (mut store, instance) = plain.instantiate().await?;
                plain
                    .call(&mut store, &instance, "add", &add_args())
                    .await?;
                live.push((store, instance));
            }
            let after = (measure::rss_bytes()?, measure::pss_bytes()?);
            report_kinds(kinds_before, stores)?;
            drop(live);
            grown(before, after)
        }
        "pyo3" => {
            let before = (measure::rss_bytes()?, measure::pss_bytes()?);
            Pyo3::load(&args.python)?.add(2, 40)?;
            grown(before, (measure::rss_bytes()?, measure::pss_bytes()?))
        }
        other => anyhow::bail!("unknown peer `{other}`"),
    };
    Ok((grown.0 / stores as f64, grown.1 / stores as f64))
}

fn grown(before: (u64, u64), after: (u64, u64)) -> (f64, f64) {
    (
        after.0.saturating_sub(before.0) as f64,
        after.1.saturating_sub(before.1) as f64,
    )
}

/// With `SNAKEBOX_BENCH_SMAPS` set, tells on stderr how the growth per store
/// splits between anonymous memory and file-backed (compiled code) pages.
fn report_kinds(before: (u64, u64), stores: usize) -> anyhow::Result<()> {
    if std::env::var_os("SNAKEBOX_BENCH_SMAPS").is_none() {
        return Ok(());
    }
    let after = measure::rss_by_kind()?;
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / stores as f64 / 1048576.0;
    eprintln!(
        "per store: {:.2} MiB anonymous, {:.2} MiB file-backed",
        per(after.0, before.0),
        per(after.1, before.1)
    );
    Ok(())
}
