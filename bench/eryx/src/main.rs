//! Measures Eryx 0.5.0 on the rows of snakebox's benchmark it has: sandbox
//! creation, a fresh execution, pure-Python speed, memory per sandbox.
//! Eryx runs code strings, not typed calls, so call-overhead rows don't apply.

use std::time::Instant;

use anyhow::Context as _;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[(samples.len() - 1) / 2]
}

fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stdlib = std::env::args()
        .nth(1)
        .context("usage: snakebox-bench-eryx STDLIB_DIR")?;
    let start = Instant::now();
    let wasm = eryx_runtime::linker::link_with_extensions(&[])?;
    println!(
        "link runtime.wasm: {:.3} s ({} bytes)",
        start.elapsed().as_secs_f64(),
        wasm.len()
    );

    let start = Instant::now();
    let sandbox = eryx::Sandbox::builder()
        .with_wasm_bytes(wasm.clone())
        .with_python_stdlib(&stdlib)
        .build()?;
    println!(
        "sandbox, compiled with an empty cache: {:.3} s",
        start.elapsed().as_secs_f64()
    );

    let mut samples = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let outcome = sandbox.execute("result = 2 + 40").await?;
        samples.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            outcome.result.as_deref() == Some("42"),
            "unexpected {:?}",
            outcome.result
        );
    }
    println!(
        "execute `2 + 40` in a fresh interpreter: {:.3} ms",
        median(samples) * 1e3
    );

    let fib = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nresult = fib(25)";
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let outcome = sandbox.execute(fib).await?;
        samples.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            outcome.result.as_deref() == Some("75025"),
            "unexpected {:?}",
            outcome.result
        );
    }
    println!(
        "execute fib(25), including a fresh interpreter: {:.3} ms",
        median(samples) * 1e3
    );

    let before = rss_bytes()?;
    let mut sandboxes = Vec::new();
    for _ in 0..10 {
        sandboxes.push(
            eryx::Sandbox::builder()
                .with_wasm_bytes(wasm.clone())
                .with_python_stdlib(&stdlib)
                .build()?,
        );
    }
    let grown = rss_bytes()?.saturating_sub(before);
    println!(
        "resident per extra sandbox (10): {:.2} MiB",
        grown as f64 / 10.0 / 1048576.0
    );
    Ok(())
}
