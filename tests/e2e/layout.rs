//! The library's files import each other in layers: no import cycle
//! between them, so that each file can be read knowing only those below it.
//!
//! Every `crate::a::b` path (in `use` lines, braces expanded, and in code)
//! and every `super::x` is an edge to the file that defines the module
//! (or its nearest parent that is a file). Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::root;

/// Module path (`["store", "caller"]`) → source text, for every file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("reads src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("inside src")
                .with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("lib" | "main" | "mod")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("reads a file");
            found.insert(parts, without_tests_and_comments(&text));
        }
    }
    found
}

fn without_tests_and_comments(text: &str) -> String {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    match code.find("#[cfg(test)]\nmod tests") {
        Some(at) => code[..at].to_owned(),
        None => code,
    }
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.split_whitespace().collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let (head, body) = (&path[..open], &path[open + 1..path.len() - 1]);
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (at, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| expand(&format!("{head}{item}")))
        .collect()
}

/// The path segments after `prefix` at each place it occurs in `text`.
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        found.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    found
}

/// The files each file imports.
fn edges(
    modules: &BTreeMap<Vec<String>, String>,
) -> BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> {
    let owner = |parts: &[String]| -> Option<&Vec<String>> {
        (0..=parts.len())
            .rev()
            .find_map(|n| modules.get_key_value(&parts[..n]).map(|(k, _)| k))
            .filter(|k| !k.is_empty())
    };
    let mut edges = BTreeMap::new();
    for (module, text) in modules {
        let mut targets = Vec::new();
        for statement in text.split(';') {
            if let Some(at) = statement.find("use crate::") {
                for path in expand(&statement[at + 4..]) {
                    targets.push(
                        path.split("::")
                            .skip(1)
                            .map(str::to_owned)
                            .collect::<Vec<_>>(),
                    );
                }
            }
        }
        for path in paths_after(text, "crate::") {
            targets.push(path.into_iter().map(str::to_owned).collect());
        }
        for path in paths_after(text, "super::") {
            let mut full = module[..module.len().saturating_sub(1)].to_vec();
            full.extend(path.into_iter().map(str::to_owned));
            targets.push(full);
        }
        let set: BTreeSet<&Vec<String>> = targets
            .iter()
            .filter_map(|parts| owner(parts))
            .filter(|target| *target != module)
            .collect();
        edges.insert(module, set);
    }
    edges
}

#[test]
fn the_library_has_no_import_cycle() {
    let modules = modules(&root().join("host/src"));
    assert!(modules.len() > 20, "read {} files", modules.len());
    let edges = edges(&modules);
    // A file is in a cycle when it reaches itself.
    let mut cycles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut next: Vec<&Vec<String>> = edges[start].iter().copied().collect();
        while let Some(module) = next.pop() {
            if module == *start {
                cycles.push(start.join("::"));
                break;
            }
            if seen.insert(module) {
                next.extend(edges.get(module).into_iter().flatten().copied());
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "these files import themselves through others: {}",
        cycles.join(", ")
    );
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let modules = BTreeMap::from([
        (
            vec!["a".to_owned()],
            "use crate::{b::{Thing}, c};".to_owned(),
        ),
        (vec!["b".to_owned()], "fn f() { crate::a::g() }".to_owned()),
        (vec!["c".to_owned()], "use super::d;".to_owned()),
    ]);
    let edges = edges(&modules);
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    assert!(edges[&a].contains(&b), "{edges:?}");
    assert!(edges[&b].contains(&a), "{edges:?}");
}

/// The library's own dependencies, from its manifest: `(name, optional)`.
fn library_dependencies() -> Vec<(String, bool)> {
    let manifest = std::fs::read_to_string(root().join("host/Cargo.toml")).expect("reads");
    let manifest: toml::Table = manifest.parse().expect("TOML");
    manifest["dependencies"]
        .as_table()
        .expect("a dependency table")
        .iter()
        .map(|(name, spec)| {
            let optional = spec
                .get("optional")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            (name.clone(), optional)
        })
        .collect()
}

#[test]
fn the_library_leaves_the_command_line_to_the_cli() {
    let dependencies = library_dependencies();
    assert!(dependencies.len() > 10, "{dependencies:?}");
    for cli_only in ["clap", "tracing-subscriber", "indicatif"] {
        assert!(
            dependencies.iter().all(|(name, _)| name != cli_only),
            "the library depends on {cli_only}, which only the command needs"
        );
    }
    // The server is a feature: `default-features = false` leaves it out.
    assert!(
        dependencies.contains(&("axum".to_owned(), true)),
        "{dependencies:?}"
    );
    let cli = std::fs::read_to_string(root().join("cli/Cargo.toml")).expect("reads");
    assert!(
        cli.contains("name = \"snakebox\""),
        "the binary is `snakebox`"
    );
}
