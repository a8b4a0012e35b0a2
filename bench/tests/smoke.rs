//! Runs the benchmark in its smoke mode, so that it cannot rot: every
//! measurement once, small, on the real component and every peer.

use std::process::Command;

#[test]
fn smoke_run_measures_every_row_on_every_peer() {
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("snakebox-cache");
    let output = Command::new(env!("CARGO_BIN_EXE_snakebox-bench"))
        .arg("--smoke")
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .expect("the benchmark starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the smoke run failed:\n{stderr}");
    for row in [
        "| compile, empty cache |",
        "| fresh isolated interpreter: create + first call |",
        "| new process, first call (compiled code on disk) |",
        "| fresh isolated interpreter from a warm reserve: take + first call |",
        "| sync add(int, int) |",
        "| str echo, 1 KiB |",
        "| list[float], 10,000 in and out |",
        "| method Counter.add(int), on its object |",
        "| method Counter.add(int), on a session's object |",
        "| create and drop an object, on a session |",
        "| N = 10, one store |",
        "| N = 10, 2 workers |",
        "| 1 store, RSS |",
        "| 2 stores, PSS |",
        "| 2 workers ÷ 1 worker |",
        "| fib(10) |",
        "| words(100) |",
        "| sync host call, per call |",
        "| async host call, awaited in turn, per call |",
        "| 10 concurrent 10 ms host awaits, total ÷ 10 ms |",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(row))
            .unwrap_or_else(|| panic!("no row `{row}` in:\n{stdout}"));
        let figures: Vec<&str> = line.split('|').map(str::trim).collect();
        // | name | snakebox | wasmtime | PyO3 | python3 | ratios…
        // The hand-wired peer has no reserve and no objects.
        if !row.contains("warm reserve") && !row.contains("object") {
            assert!(
                !figures[3].contains('—'),
                "the hand-wired peer has no figure: {line}"
            );
        }
        if row != "| compile, empty cache |" {
            assert!(!figures[2].contains('—'), "snakebox has no figure: {line}");
        }
        assert!(
            !line.contains("NaN") && !line.contains("inf"),
            "a broken figure: {line}"
        );
    }
}
