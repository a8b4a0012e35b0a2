//! One snapshot per fixture file: `tests/fixtures/{valid,invalid,gradual}/*.py`.
//!
//! Each snapshot (`tests/snapshots/{kind}__NAME.snap`) holds the
//! diagnostics, the WIT and the glue generated for the file. A valid fixture
//! must produce no diagnostic at all, in either mode. An invalid one is read
//! in strict mode and must produce at least one. A gradual one is read as
//! `snakebox wit` reads by default, and must export something with at least
//! one warning for what it carries as `Any`. Every WIT
//! the generator produces must also be accepted by componentize-py's own WIT
//! parser (its `bindings` command), when componentize-py is installed.

mod common;

use std::path::Path;

use common::componentize_py_accepts;
use snakebox_generator::{Options, analyze, analyze_with, glue, wit};

fn fixture(path: &Path, source: String) -> datatest_stable::Result<()> {
    let kind = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .ok_or("a fixture lives in valid/ or invalid/")?;
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("a UTF-8 file name")?;
    let file = format!(
        "{kind}/{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or(stem)
    );
    let strict = Options { strict: true };
    let analysis = match kind {
        "invalid" => analyze_with(&source, stem, strict),
        _ => analyze(&source, stem),
    };
    let mut snapshot = String::new();
    for diagnostic in &analysis.diagnostics {
        snapshot.push_str(&diagnostic.render(&file));
        snapshot.push('\n');
    }
    match kind {
        "valid" if !analysis.diagnostics.is_empty() => {
            return Err(format!("{file} is valid but has diagnostics:\n{snapshot}").into());
        }
        "valid" if analyze_with(&source, stem, strict) != analysis => {
            return Err(format!("{file} reads differently in strict mode").into());
        }
        "invalid" if analysis.diagnostics.is_empty() => {
            return Err(format!("{file} is invalid but has no diagnostic").into());
        }
        "gradual" if analysis.diagnostics.is_empty() || !analysis.is_usable() => {
            return Err(format!("{file} should export with warnings:\n{snapshot}").into());
        }
        _ => {}
    }
    if let Some(module) = &analysis.module {
        let world = wit::emit(module);
        snapshot.push_str("----- WIT -----\n");
        snapshot.push_str(&world);
        snapshot.push_str("----- glue -----\n");
        snapshot.push_str(&glue::emit(module));
        if analysis.is_usable() {
            componentize_py_accepts(module, &world).map_err(|error| error.to_string())?;
        }
    }
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => file.as_str(),
    }, {
        insta::assert_snapshot!(format!("{kind}__{stem}"), snapshot);
    });
    Ok(())
}

datatest_stable::harness! {
    { test = fixture, root = "tests/fixtures", pattern = r"^(valid|invalid|gradual)/[^/]+\.pyi?$" },
}
