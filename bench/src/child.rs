//! Measurements that need a fresh process: first-call latency and memory.
//! The parent re-runs this binary as `child …` and reads one number from
//! its stdout.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use snakebox::Val;

use crate::measure;
use crate::plain::{self, Plain};
use crate::pyo3_peer::Pyo3;

#[derive(clap::Args)]
pub struct Args {
    /// `first-call` or `memory`.
    kind: String,
    /// `snakebox`, `wasmtime` or `pyo3`.
    peer: String,
    /// The number of stores, for `memory`.
    #[arg(long, default_value_t = 1)]
    stores: usize,
    #[arg(long)]
    wasm: PathBuf,
    #[arg(long)]
    cache: PathBuf,
    #[arg(long)]
    compiled: PathBuf,
    #[arg(long)]
    python: PathBuf,
}

/// Runs `child` in a new process; gives its wall time and its printed number.
pub fn spawn(
    kind: &str,
    peer: &str,
    stores: usize,
    paths: &crate::Paths,
) -> anyhow::Result<(f64, f64)> {
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
        .trim()
        .parse::<f64>()
        .context("child printed no number")?;
    Ok((wall, printed))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let value = match args.kind.as_str() {
        "first-call" => runtime.block_on(first_call(&args))?,
        "memory" => runtime.block_on(memory(&args))?,
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

/// Resident memory per idle store, after each store took one call.
async fn memory(args: &Args) -> anyhow::Result<f64> {
    let stores = args.stores.max(1);
    let grown = match args.peer.as_str() {
        "snakebox" => {
            let runtime = snakebox::Runtime::with_cache_dir(Some(args.cache.clone()))?;
            let app = runtime.load(&args.wasm)?;
            let before = measure::rss_bytes()?;
            let sessions = (0..stores)
                .map(|_| app.session())
                .collect::<Result<Vec<_>, _>>()?;
            let calls = sessions
                .iter()
                .map(|session| session.call("add", add_args()));
            futures::future::try_join_all(calls).await?;
            let after = measure::rss_bytes()?;
            drop(sessions);
            after.saturating_sub(before)
        }
        "wasmtime" => {
            let plain = Plain::deserialize(&plain::engine()?, &args.compiled)?;
            let before = measure::rss_bytes()?;
            let mut live = Vec::with_capacity(stores);
            for _ in 0..stores {
                let (mut store, instance) = plain.instantiate().await?;
                plain
                    .call(&mut store, &instance, "add", &add_args())
                    .await?;
                live.push((store, instance));
            }
            let after = measure::rss_bytes()?;
            drop(live);
            after.saturating_sub(before)
        }
        "pyo3" => {
            let before = measure::rss_bytes()?;
            Pyo3::load(&args.python)?.add(2, 40)?;
            measure::rss_bytes()?.saturating_sub(before)
        }
        other => anyhow::bail!("unknown peer `{other}`"),
    };
    Ok(grown as f64 / stores as f64)
}
