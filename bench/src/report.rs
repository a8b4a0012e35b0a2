//! The result table, printed as Markdown.

use std::fmt::Write as _;

/// The peers, in column order.
pub const PEERS: [&str; 4] = [
    "snakebox",
    "wasmtime, hand-wired",
    "PyO3 (CPython 3.11)",
    "python3 (CPython 3.11)",
];

/// How a row's figures are shown.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Seconds, shown in µs.
    Micros,
    /// Seconds, shown in ms.
    Millis,
    /// Seconds, shown in s.
    Seconds,
    /// Bytes, shown in MiB.
    Mib,
    /// A plain ratio, shown with ×.
    Times,
    /// Calls per second.
    PerSecond,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Micros => format!("{:.2} µs", value * 1e6),
            Unit::Millis => format!("{:.2} ms", value * 1e3),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Mib => format!("{:.2} MiB", value / 1048576.0),
            Unit::Times => format!("{value:.2}×"),
            Unit::PerSecond => format!("{value:.1}/s"),
        }
    }
}

/// One measured row: a figure per peer, `None` where the peer has no such thing.
pub struct Row {
    pub section: &'static str,
    pub name: String,
    pub unit: Unit,
    pub figures: [Option<f64>; 4],
}

/// The rows of one run.
#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn push(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        unit: Unit,
        figures: [Option<f64>; 4],
    ) {
        let row = Row {
            section,
            name: name.into(),
            unit,
            figures,
        };
        eprintln!("  {}: {}", row.name, render_figures(&row).join(" | "));
        self.rows.push(row);
    }

    /// The table as Markdown, one table per section, with snakebox's ratio
    /// to each peer.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for row in &self.rows {
            if row.section != section {
                section = row.section;
                let _ = writeln!(out, "\n#### {section}\n");
                let _ = writeln!(
                    out,
                    "| | {} | snakebox ÷ wasmtime | snakebox ÷ PyO3 | snakebox ÷ python3 |",
                    PEERS.join(" | ")
                );
                let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
            }
            let figures = render_figures(row);
            let ratios: Vec<String> = row.figures[1..]
                .iter()
                .map(|peer| match (row.figures[0], peer) {
                    (Some(ours), Some(theirs)) if *theirs != 0.0 => format!("{:.2}", ours / theirs),
                    _ => "—".into(),
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                row.name,
                figures.join(" | "),
                ratios.join(" | ")
            );
        }
        out
    }
}

fn render_figures(row: &Row) -> Vec<String> {
    row.figures
        .iter()
        .map(|figure| figure.map_or_else(|| "—".into(), |value| row.unit.show(value)))
        .collect()
}
