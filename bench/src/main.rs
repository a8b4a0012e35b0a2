//! Benchmarks snakebox against its peers, side by side in one run:
//! the same Python functions on snakebox, on the same component hand-wired
//! on wasmtime, on native CPython embedded with PyO3, and on native `python3`.
//!
//! `cargo run --release -p snakebox-bench` prints the full Markdown table
//! (see `BENCHMARKS.md`); `--smoke` runs every measurement once, small.

mod child;
mod measure;
mod plain;
mod pyo3_peer;
mod report;
mod suite;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks snakebox against PyO3, hand-wired wasmtime and python3")]
struct Cli {
    /// Run each measurement once with tiny sizes, to check that it works.
    #[arg(long)]
    smoke: bool,
    /// snakebox's cache (componentize-py, built and compiled components).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Run only these sections (repeatable): startup, calls, concurrency,
    /// memory, scaling, speed.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(suite::SECTIONS))]
    only: Vec<String>,
    #[command(subcommand)]
    child: Option<ChildCommand>,
}

#[derive(Subcommand)]
enum ChildCommand {
    /// One measurement in a fresh process (used by the benchmark itself).
    #[command(hide = true)]
    Child(child::Args),
}

/// Where the benchmark's inputs live.
pub struct Paths {
    /// The built component of `bench/python/peers.py`.
    pub wasm: PathBuf,
    /// snakebox's cache directory.
    pub cache: PathBuf,
    /// The folder holding `peers.py`, for PyO3 and python3.
    pub python: PathBuf,
    /// The hand-wired peer's compiled component.
    pub compiled: PathBuf,
}

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The cache the end-to-end tests use too, so componentize-py is installed once.
fn default_cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("tmp")
        .join("snakebox-cache")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(ChildCommand::Child(args)) = cli.child {
        return child::run(args);
    }
    let cache = cli.cache_dir.unwrap_or_else(default_cache);
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("failed to create {}", cache.display()))?;
    // Tools given this path (componentize-py's Python) must not see `..`.
    let cache = std::fs::canonicalize(&cache)
        .with_context(|| format!("cannot resolve {}", cache.display()))?;
    let python = python_dir();
    eprintln!("building bench/python/peers.py into a component");
    let built = snakebox::builder::build(&python.join("peers.py"), &cache)
        .context("failed to build the benchmark's component")?;
    let scratch = tempfile::tempdir().context("failed to make a scratch folder")?;
    let paths = Paths {
        wasm: built.wasm,
        cache,
        python,
        compiled: scratch.path().join("plain.cwasm"),
    };
    let settings = if cli.smoke {
        suite::Settings::smoke()
    } else {
        suite::Settings::full()
    };
    let table = suite::run(&settings, &paths, scratch.path(), &cli.only)?;
    println!("Machine: {}", measure::machine());
    println!(
        "Mode: {}",
        if cli.smoke {
            "smoke (one tiny run each; not figures)"
        } else {
            "full"
        }
    );
    print!("{}", table.markdown());
    Ok(())
}
