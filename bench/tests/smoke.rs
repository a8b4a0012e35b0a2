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
        // Each figure is a number with a known unit, and each
        // ratio is snakebox's figure over the peer's, as they are printed
        // (within the rounding of the three).
        // A run this small is mostly noise: a figure may round to zero (a
        // host call's cost is a difference of two timings; a scaling ratio
        // of two tiny runs), but it is a number all the same.
        let cells: Vec<Option<Figure>> = figures[2..figures.len() - 1]
            .iter()
            .map(|cell| Figure::read(cell).unwrap_or_else(|| panic!("`{cell}` in: {line}")))
            .collect();
        for peer in 0..3 {
            let (Some(ours), Some(theirs), Some(ratio)) =
                (&cells[0], &cells[1 + peer], &cells[4 + peer])
            else {
                continue;
            };
            let lowest = (ours.value - ours.half_step) / (theirs.value + theirs.half_step);
            // A peer's figure that rounds to zero bounds the ratio from below only.
            let highest = match theirs.value - theirs.half_step {
                low if low > 0.0 => (ours.value + ours.half_step) / low,
                _ => f64::INFINITY,
            };
            assert!(
                ratio.value + ratio.half_step >= lowest && ratio.value - ratio.half_step <= highest,
                "ratio {} is not {} over {}: {line}",
                ratio.value,
                ours.value,
                theirs.value
            );
        }
    }
}

/// A printed figure: its value in base units (seconds, bytes, or none),
/// and half the step of its last printed digit, in the same units.
struct Figure {
    value: f64,
    half_step: f64,
}

impl Figure {
    /// `None` inside for a dash (no figure); `None` outside for anything
    /// that is not a number (zero or more) with a known unit.
    fn read(cell: &str) -> Option<Option<Figure>> {
        if cell == "—" {
            return Some(None);
        }
        let split = cell
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(cell.len());
        let (number, unit) = cell.split_at(split);
        let scale = match unit.trim() {
            "" | "×" => 1.0,
            "ns" => 1e-9,
            "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            _ => return None,
        };
        let value: f64 = number.parse().ok()?;
        let decimals = number.split_once('.').map_or(0, |(_, tail)| tail.len());
        let half_step = 0.5 * 10f64.powi(-i32::try_from(decimals).ok()?);
        (value.is_finite() && value >= 0.0).then_some(Some(Figure {
            value: value * scale,
            half_step: half_step * scale,
        }))
    }
}
