//! Nothing the generator reads can make it panic: arbitrary and mutated
//! Python goes through `analyze` and every emitter, for a bounded time.
//!
//! The mutator is deterministic (a fixed seed) so a failure reproduces; the
//! input that panicked is printed. `SNAKEBOX_FUZZ_SECONDS` lengthens the run.

mod common;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use snakebox_generator::{analyze, glue, rust, wit};

/// Fragments that steer mutations towards the constructs the generator reads.
const TOKENS: &[&str] = &[
    "def ",
    "async def ",
    "class ",
    "@dataclass\n",
    "@overload\n",
    "-> ",
    ": ",
    "(",
    ")",
    "[",
    "]",
    ", ",
    "|",
    " | None",
    "None",
    "...",
    "*",
    "**",
    "/",
    "=",
    "\n",
    "    ",
    "\"",
    "'",
    "\"\"\"",
    "int",
    "str",
    "float",
    "bytes",
    "bool",
    "list[",
    "dict[",
    "tuple[",
    "Optional[",
    "Union[",
    "Literal[\"a\", \"b\"]",
    "Literal[",
    "Any",
    "object",
    "Enum",
    "TypedDict",
    "NamedTuple",
    "Coroutine[",
    "Iterator[",
    "Generator[",
    "Annotated[",
    "ClassVar[",
    "typing.",
    "x",
    "_",
    "é",
    "🐍",
    "\t",
    "#",
    "\\",
    "yield",
    "return ",
    "lambda",
    "[T]",
    "type ",
    "global ",
    "1",
    "0x",
    "\r\n",
    "\u{0}",
];

/// A small xorshift generator: no dependency, and the same sequence every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// A random char boundary of `text`.
fn boundary(rng: &mut Rng, text: &str) -> usize {
    let mut at = rng.below(text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(rng: &mut Rng, text: &mut String, seeds: &[String]) {
    match rng.below(6) {
        0 => {
            let at = boundary(rng, text);
            text.insert_str(at, TOKENS[rng.below(TOKENS.len())]);
        }
        1 => {
            let (a, b) = (boundary(rng, text), boundary(rng, text));
            text.replace_range(a.min(b)..a.max(b), "");
        }
        2 => {
            let (a, b) = (boundary(rng, text), boundary(rng, text));
            let slice = text[a.min(b)..a.max(b)].to_owned();
            let at = boundary(rng, text);
            text.insert_str(at, &slice);
        }
        3 => {
            // Splice in part of another seed.
            let other = &seeds[rng.below(seeds.len())];
            let (a, b) = (boundary(rng, other), boundary(rng, other));
            let at = boundary(rng, text);
            text.insert_str(at, &other[a.min(b)..a.max(b)]);
        }
        4 => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.len() > 1 {
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
            }
            *text = lines.join("\n");
        }
        _ => {
            let at = boundary(rng, text);
            let garbage: String = (0..rng.below(8))
                .map(|_| char::from(b' ' + rng.below(95) as u8))
                .collect();
            text.insert_str(at, &garbage);
        }
    }
}

/// Runs the whole generator on one input; panics propagate.
fn generate(source: &str) {
    let analysis = analyze(source, "fuzzed");
    for diagnostic in &analysis.diagnostics {
        assert!(diagnostic.line >= 1 && diagnostic.column >= 1);
        assert!(!diagnostic.help.is_empty());
        let _ = diagnostic.render("fuzzed.py");
    }
    if let Some(module) = &analysis.module {
        let _ = wit::emit(module);
        let _ = glue::emit(module);
        let _ = rust::emit(module, "fuzzed.py");
    }
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seeds = Vec::new();
    for kind in ["valid", "invalid"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                seeds.push(text);
            }
        }
    }
    seeds.sort();
    seeds
}

#[test]
fn mutated_python_never_panics() {
    let seeds = seeds();
    assert!(seeds.len() >= 60, "the fixtures are the seeds");
    let seconds = std::env::var("SNAKEBOX_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x5eed_5a4e_b0c5_1234);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut text = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(8) {
            mutate(&mut rng, &mut text, &seeds);
        }
        if catch_unwind(AssertUnwindSafe(|| generate(&text))).is_err() {
            panic!("the generator panicked on this input:\n---\n{text}\n---");
        }
        runs += 1;
    }
    eprintln!("{runs} mutated inputs, no panic");
    assert!(runs > 0);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x0bad_c0de_dead_beef);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let text: String = (0..rng.below(200))
            .map(|_| match rng.below(4) {
                0 => TOKENS[rng.below(TOKENS.len())].to_owned(),
                1 => char::from_u32(rng.below(0x2FFFF) as u32)
                    .unwrap_or('?')
                    .to_string(),
                _ => char::from(rng.below(128) as u8).to_string(),
            })
            .collect();
        if catch_unwind(AssertUnwindSafe(|| generate(&text))).is_err() {
            panic!("the generator panicked on this input: {text:?}");
        }
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    for depth in [50, 500, 20_000] {
        let annotation = "list[".repeat(depth) + "int" + &"]".repeat(depth);
        let source = format!("def f(x: {annotation}) -> int:\n    return 0\n");
        generate(&source);
    }
    let wide = vec!["int"; 20_000].join(" | ");
    generate(&format!("def f(x: {wide}) -> int:\n    return 0\n"));
    let deep = "list[".repeat(100) + "int" + &"]".repeat(100);
    let analysis = analyze(&format!("def f(x: {deep}) -> int:\n    return 0\n"), "deep");
    assert!(
        analysis.diagnostics[0]
            .message
            .contains("nests types more than"),
        "{:?}",
        analysis.diagnostics
    );
}

/// Mutated modules that still export something must give WIT that
/// componentize-py accepts, and glue whose classes its bindings define.
/// `SNAKEBOX_FUZZ_WORLDS` sets how many distinct worlds are checked.
#[test]
fn mutated_python_gives_wit_that_componentize_py_accepts() {
    let wanted: usize = std::env::var("SNAKEBOX_FUZZ_WORLDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seeds = seeds();
    let mut seen: HashSet<String> = seeds
        .iter()
        .filter_map(|seed| analyze(seed, "fuzzed").module)
        .map(|module| wit::emit(&module))
        .collect();
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    let mut checked = 0;
    for _ in 0..200_000 {
        if checked == wanted {
            break;
        }
        let mut text = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut rng, &mut text, &seeds);
        }
        let analysis = analyze(&text, "fuzzed");
        let Some(module) = analysis.module.as_ref().filter(|_| analysis.is_usable()) else {
            continue;
        };
        let world = wit::emit(module);
        if !seen.insert(world.clone()) {
            continue;
        }
        if let Err(error) = common::componentize_py_accepts(module, &world) {
            panic!("{error}\n--- from this input ---\n{text}\n---");
        }
        checked += 1;
    }
    assert_eq!(checked, wanted, "too few distinct worlds were checked");
    eprintln!("{checked} new worlds accepted by componentize-py");
}
