//! The six measurements of the benchmark, each on every peer that has it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Instant;

use anyhow::Context as _;
use futures::future::try_join_all;
use snakebox::Calls as _;
use snakebox::{App, Val};
use tokio::runtime::Runtime as Tokio;

use crate::measure::{median, median_of, since};
use crate::plain::{self, Plain};
use crate::pyo3_peer::Pyo3;
use crate::report::{Table, Unit};
use crate::{Paths, child, host_calls};

/// Builds the arguments of one call.
type MakeArgs<'a> = Box<dyn Fn() -> Vec<Val> + 'a>;

/// How long `nap()` sleeps.
const NAP: f64 = 0.01;

/// Sizes and repetitions.
pub struct Settings {
    /// Samples per figure; the median is reported.
    samples: usize,
    /// Calls per sample in the call-overhead rows.
    calls: usize,
    /// Concurrent naps.
    concurrency: Vec<usize>,
    /// Fresh processes per start-up figure.
    processes: usize,
    /// Cold compiles.
    compiles: usize,
    /// Whether to time snakebox's cold compile too (the smoke run skips it:
    /// it is the cached path's code with an empty folder, and takes seconds).
    cold_snakebox: bool,
    /// Live stores in the memory rows.
    stores: Vec<usize>,
    /// `fib(n)` for the CPU-bound rows.
    fib: i64,
    /// Calls per throughput sample.
    fib_calls: usize,
    /// `words(n)` for the speed rows.
    words: i64,
    /// Concurrent host awaits in the host-functions rows.
    host_naps: usize,
}

impl Settings {
    pub fn full() -> Self {
        Settings {
            samples: 11,
            calls: 2_000,
            concurrency: vec![1, 100, 1_000, 10_000],
            processes: 7,
            compiles: 3,
            cold_snakebox: true,
            stores: vec![1, 10, 100],
            fib: 25,
            fib_calls: 8,
            words: 100_000,
            host_naps: 1_000,
        }
    }

    pub fn smoke() -> Self {
        Settings {
            samples: 1,
            // Enough that a per-call difference is above the noise.
            calls: 50,
            concurrency: vec![1, 10],
            processes: 1,
            compiles: 1,
            cold_snakebox: false,
            stores: vec![1, 2],
            fib: 10,
            fib_calls: 2,
            words: 100,
            host_naps: 10,
        }
    }
}

/// Everything one run shares.
struct Peers<'a> {
    settings: &'a Settings,
    paths: &'a Paths,
    tokio: Tokio,
    app: App,
    plain: Arc<Plain>,
    pyo3: Pyo3,
}

/// Runs every measurement and gives the table.
/// The sections, by the names `--only` takes.
pub const SECTIONS: [&str; 8] = [
    "startup",
    "calls",
    "classes",
    "concurrency",
    "memory",
    "scaling",
    "speed",
    "host",
];

/// Runs the measurements of `only` (every section when empty) and gives the table.
pub fn run(
    settings: &Settings,
    paths: &Paths,
    scratch: &Path,
    only: &[String],
) -> anyhow::Result<Table> {
    let wanted = |section: &str| only.is_empty() || only.iter().any(|name| name == section);
    let mut table = Table::default();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let wasm = std::fs::read(&paths.wasm).context("failed to read the component")?;

    eprintln!("compile with an empty cache");
    let engine = plain::engine()?;
    let mut plain_compiles = Vec::new();
    let mut ours_compiles = Vec::new();
    let mut rebuilt_compiles = Vec::new();
    let rounds = if wanted("startup") {
        settings.compiles
    } else {
        1
    };
    for round in 0..rounds {
        let start = Instant::now();
        let compiled = engine.precompile_component(&wasm)?;
        plain_compiles.push(since(start));
        std::fs::write(&paths.compiled, compiled)?;
        if !settings.cold_snakebox || !wanted("startup") {
            continue;
        }
        let empty = scratch.join(format!("empty-cache-{round}"));
        let runtime = snakebox::Runtime::with_cache_dir(Some(empty.clone()))?;
        let start = Instant::now();
        runtime.load(&paths.wasm)?;
        ours_compiles.push(since(start));
        // The same component in a cache that holds only the compiled
        // functions, as after a rebuild: the Python is data, the functions
        // are the interpreter's.
        let functions_only = scratch.join(format!("functions-only-{round}"));
        copy_dir(&empty.join("functions"), &functions_only.join("functions"))?;
        let runtime = snakebox::Runtime::with_cache_dir(Some(functions_only.clone()))?;
        let start = Instant::now();
        runtime.load(&paths.wasm)?;
        rebuilt_compiles.push(since(start));
        std::fs::remove_dir_all(&empty).ok();
        std::fs::remove_dir_all(&functions_only).ok();
    }
    if wanted("startup") {
        table.push(
            "Start-up",
            "compile, empty cache",
            Unit::Seconds,
            [
                (!ours_compiles.is_empty()).then(|| median(ours_compiles)),
                Some(median(plain_compiles.clone())),
                None,
                None,
            ],
        );
        table.push(
            "Start-up",
            "compile, cache holding the compiled functions only",
            Unit::Seconds,
            [
                (!rebuilt_compiles.is_empty()).then(|| median(rebuilt_compiles)),
                Some(median(plain_compiles)),
                None,
                None,
            ],
        );
    }

    let runtime = snakebox::Runtime::with_cache_dir(Some(paths.cache.clone()))?;
    let peers = Peers {
        settings,
        paths,
        app: runtime.load(&paths.wasm)?,
        plain: Arc::new(Plain::deserialize(&engine, &paths.compiled)?),
        pyo3: Pyo3::load(&paths.python)?,
        tokio,
    };
    if wanted("startup") {
        peers.startup(&mut table)?;
    }
    if wanted("calls") {
        peers.call_overhead(&mut table)?;
    }
    if wanted("classes") {
        peers.classes(&mut table)?;
    }
    if wanted("concurrency") {
        peers.concurrency(&mut table)?;
    }
    if wanted("memory") {
        peers.memory(&mut table)?;
    }
    if wanted("scaling") {
        peers.scaling(&mut table)?;
    }
    if wanted("speed") {
        peers.speed(&mut table)?;
    }
    if wanted("host") {
        let wasm = host_calls::build(&paths.python, &paths.cache)?;
        let app = host_calls::load(&runtime, &wasm)?;
        let wired = host_calls::Wired::new(&wasm)?;
        host_calls::measure(
            &mut table,
            &peers.tokio,
            &app,
            &wired,
            &paths.python,
            settings.samples,
            settings.calls,
            settings.host_naps,
        )?;
    }
    Ok(table)
}

impl Peers<'_> {
    fn startup(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("start-up");
        let s = self.settings;
        let fresh_ours = median_of(s.samples * 2, || {
            self.tokio.block_on(async {
                let start = Instant::now();
                let session = self.app.session()?;
                session.call("add", add_args()).await?;
                Ok(since(start))
            })
        })?;
        let fresh_plain = median_of(s.samples * 2, || {
            self.tokio.block_on(async {
                let start = Instant::now();
                let (mut store, instance) = self.plain.instantiate().await?;
                self.plain
                    .call(&mut store, &instance, "add", &add_args())
                    .await?;
                Ok(since(start))
            })
        })?;
        // The reserve: `keep_fresh` instantiates stores ahead; `fresh` takes
        // one. Between samples the reserve gets time to refill, untimed.
        self.app.keep_fresh(2)?;
        let reserved_ours = median_of(s.samples * 2, || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            self.tokio.block_on(async {
                let start = Instant::now();
                let session = self.app.fresh()?;
                session.call("add", add_args()).await?;
                Ok(since(start))
            })
        })?;
        self.app.keep_fresh(0)?;
        let python_process = median_of(s.processes, || {
            python3(&self.paths.python, "peers.add(2, 40)").map(|(wall, _)| wall)
        })?;
        table.push(
            "Start-up",
            "fresh isolated interpreter: create + first call",
            Unit::Millis,
            [
                Some(fresh_ours),
                Some(fresh_plain),
                None,
                Some(python_process),
            ],
        );
        table.push(
            "Start-up",
            "fresh isolated interpreter from a warm reserve: take + first call",
            Unit::Millis,
            [Some(reserved_ours), None, None, None],
        );
        let new_process = |peer: &str| {
            median_of(s.processes, || {
                child::spawn("first-call", peer, 1, self.paths).map(|(wall, _)| wall)
            })
        };
        table.push(
            "Start-up",
            "new process, first call (compiled code on disk)",
            Unit::Millis,
            [
                Some(new_process("snakebox")?),
                Some(new_process("wasmtime")?),
                Some(new_process("pyo3")?),
                Some(python_process),
            ],
        );
        Ok(())
    }

    fn call_overhead(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("call overhead");
        let s = self.settings;
        let text = "x".repeat(1024);
        let floats: Vec<f64> = (0..10_000).map(|i| f64::from(i) * 0.5).collect();
        let float_calls = (s.calls / 10).max(1);
        let cases: [(&str, &str, usize, MakeArgs<'_>); 3] = [
            ("sync add(int, int)", "add", s.calls, Box::new(add_args)),
            (
                "str echo, 1 KiB",
                "echo",
                s.calls,
                Box::new(|| vec![Val::String(text.clone())]),
            ),
            (
                "list[float], 10,000 in and out",
                "scale",
                float_calls,
                Box::new(|| {
                    vec![Val::List(
                        floats.iter().copied().map(Val::Float64).collect(),
                    )]
                }),
            ),
        ];
        let (mut store, instance) = self.tokio.block_on(self.plain.instantiate())?;
        for (row, name, calls, args) in &cases {
            let per_call = |elapsed: f64| elapsed / *calls as f64;
            let ours = median_of(s.samples, || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..*calls {
                        self.app.call(name, args()).await?;
                    }
                    Ok(per_call(since(start)))
                })
            })?;
            let theirs = median_of(s.samples, || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..*calls {
                        self.plain
                            .call(&mut store, &instance, name, &args())
                            .await?;
                    }
                    Ok(per_call(since(start)))
                })
            })?;
            let pyo3 = median_of(s.samples, || {
                let start = Instant::now();
                for _ in 0..*calls {
                    match *name {
                        "add" => drop(self.pyo3.add(2, 40)?),
                        "echo" => drop(self.pyo3.echo(&text)?),
                        _ => drop(self.pyo3.scale(&floats)?),
                    }
                }
                Ok(per_call(since(start)))
            })?;
            table.push(
                "Call overhead (per call)",
                *row,
                Unit::Micros,
                [Some(ours), Some(theirs), Some(pyo3), None],
            );
        }
        self.typed_call_overhead(table, &mut store, &instance)
    }

    /// A method call against a function call, on the calling thread's store
    /// (an `App`) and on a session's (a hop to its thread), and an object
    /// made and dropped; PyO3 calls the same class of `peers.py` natively.
    fn classes(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("classes");
        let s = self.settings;
        let per_call = |elapsed: f64| elapsed / s.calls as f64;
        let session = self.app.session()?;
        let time = |call: &mut dyn FnMut() -> snakebox::ValueCall| {
            median_of(s.samples, || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..s.calls {
                        call().await?;
                    }
                    Ok(per_call(since(start)))
                })
            })
        };
        let counter = |handle: &dyn Fn() -> snakebox::ValueCall| -> anyhow::Result<_> {
            let made = self.tokio.block_on(handle())?;
            Ok(made
                .context("the constructor gave no object")?
                .into_object()?)
        };
        let ours_counter = counter(&|| self.app.call_values("Counter", vec![]))?;
        let session_counter = counter(&|| session.call_values("Counter", vec![]))?;
        let add = || {
            add_args()
                .into_iter()
                .map(snakebox::Value::from)
                .collect::<Vec<_>>()
        };
        let function = time(&mut || self.app.call_values("add", add()))?;
        let method = time(&mut || ours_counter.call("add", vec![Val::S64(1).into()]))?;
        let session_function = time(&mut || session.call_values("add", add()))?;
        let session_method = time(&mut || session_counter.call("add", vec![Val::S64(1).into()]))?;
        let created = median_of(s.samples, || {
            self.tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..s.calls {
                    drop(session.call_values("Counter", vec![]).await?);
                }
                // The releases are queued before this call: it ends after them.
                session.call("add", add_args()).await?;
                Ok(per_call(since(start)))
            })
        })?;
        let pyo3_counter = self.pyo3.counter()?;
        let pyo3_function = median_of(s.samples, || {
            let start = Instant::now();
            for _ in 0..s.calls {
                self.pyo3.add(2, 40)?;
            }
            Ok(per_call(since(start)))
        })?;
        let pyo3_method = median_of(s.samples, || {
            let start = Instant::now();
            for _ in 0..s.calls {
                self.pyo3.counter_add(&pyo3_counter, 1)?;
            }
            Ok(per_call(since(start)))
        })?;
        let pyo3_created = median_of(s.samples, || {
            let start = Instant::now();
            for _ in 0..s.calls {
                self.pyo3.counter_round_trip()?;
            }
            Ok(per_call(since(start)))
        })?;
        let rows = [
            (
                "function add(int, int), this thread's store",
                function,
                Some(pyo3_function),
            ),
            (
                "method Counter.add(int), on its object",
                method,
                Some(pyo3_method),
            ),
            (
                "function add(int, int), on a session",
                session_function,
                None,
            ),
            (
                "method Counter.add(int), on a session's object",
                session_method,
                None,
            ),
            (
                "create and drop an object, on a session",
                created,
                Some(pyo3_created),
            ),
        ];
        for (row, ours, pyo3) in rows {
            table.push(
                "Classes (per call)",
                row,
                Unit::Micros,
                [Some(ours), None, pyo3, None],
            );
        }
        table.push(
            "Classes (per call)",
            "method ÷ function, this thread's store",
            Unit::Times,
            [
                Some(method / function),
                None,
                Some(pyo3_method / pyo3_function),
                None,
            ],
        );
        Ok(())
    }

    /// `add` through the typed bindings and through `call_json`, beside the
    /// dynamic `App::call` row above: what each layer adds to a call.
    fn typed_call_overhead(
        &self,
        table: &mut Table,
        store: &mut wasmtime::Store<crate::plain::Host>,
        instance: &wasmtime::component::Instance,
    ) -> anyhow::Result<()> {
        let s = self.settings;
        let typed = crate::typed::Peers::new(self.app.clone())?;
        let per_call = |elapsed: f64| elapsed / s.calls as f64;
        let mut measure = |ours: &mut dyn FnMut() -> anyhow::Result<f64>| {
            let ours = median_of(s.samples, ours)?;
            let theirs = median_of(s.samples, || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..s.calls {
                        self.plain.call(store, instance, "add", &add_args()).await?;
                    }
                    Ok(per_call(since(start)))
                })
            })?;
            anyhow::Ok([Some(ours), Some(theirs), None, None])
        };
        let figures = measure(&mut || {
            self.tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..s.calls {
                    typed.add(2, 40).await?;
                }
                Ok(per_call(since(start)))
            })
        })?;
        table.push(
            "Call overhead (per call)",
            "sync add, typed bindings",
            Unit::Micros,
            figures,
        );
        let args = [2.into(), 40.into()];
        let figures = measure(&mut || {
            self.tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..s.calls {
                    self.app.call_json("add", &args, &[]).await?;
                }
                Ok(per_call(since(start)))
            })
        })?;
        table.push(
            "Call overhead (per call)",
            "sync add, call_json",
            Unit::Micros,
            figures,
        );
        // What the typed bindings did before they lowered to Vals (546d41d):
        // each argument through serde_json, named JSON arguments, serde back.
        let figures = measure(&mut || {
            self.tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..s.calls {
                    let named = vec![
                        ("a".to_owned(), snakebox::serde_json::to_value(2_i64)?),
                        ("b".to_owned(), snakebox::serde_json::to_value(40_i64)?),
                    ];
                    let value = self.app.call_json("add", &[], &named).await?;
                    let _: i64 = snakebox::serde_json::from_value(value)?;
                }
                Ok(per_call(since(start)))
            })
        })?;
        table.push(
            "Call overhead (per call)",
            "sync add, typed bindings as before 546d41d (through JSON)",
            Unit::Micros,
            figures,
        );
        Ok(())
    }

    fn concurrency(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("async concurrency");
        let s = self.settings;
        let session = self.app.session()?;
        let pool = self.app.pool(2)?;
        self.tokio.block_on(async {
            session.call("add", add_args()).await?;
            try_join_all((0..2).map(|_| pool.call("add", add_args()))).await?;
            anyhow::Ok(())
        })?;
        let (mut store, instance) = self.tokio.block_on(self.plain.instantiate())?;
        for &count in &s.concurrency {
            let ours = median_of(s.samples.min(5), || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    try_join_all((0..count).map(|_| session.call("nap", Vec::new()))).await?;
                    Ok(since(start) / NAP)
                })
            })?;
            let theirs = median_of(s.samples.min(5), || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    self.plain
                        .call_many_concurrent(&mut store, &instance, "nap", count)
                        .await?;
                    Ok(since(start) / NAP)
                })
            })?;
            let pyo3 = median_of(s.samples.min(5), || {
                let start = Instant::now();
                self.pyo3.naps(count)?;
                Ok(since(start) / NAP)
            })?;
            table.push(
                "Async concurrency (total time ÷ 10 ms sleep)",
                format!("N = {count}, one store"),
                Unit::Times,
                [Some(ours), Some(theirs), Some(pyo3), None],
            );
        }
        // Issue 38's rows: a hundred short sleeps (CSnakes measures 100
        // concurrent 1 ms sleeps in 11.3 ms), and an async call itself.
        let blinks = 100;
        let ours = median_of(s.samples.min(5), || {
            self.tokio.block_on(async {
                let start = Instant::now();
                try_join_all((0..blinks).map(|_| session.call("blink", Vec::new()))).await?;
                Ok(since(start))
            })
        })?;
        let theirs = median_of(s.samples.min(5), || {
            self.tokio.block_on(async {
                let start = Instant::now();
                self.plain
                    .call_many_concurrent(&mut store, &instance, "blink", blinks)
                    .await?;
                Ok(since(start))
            })
        })?;
        let pyo3 = median_of(s.samples.min(5), || {
            let start = Instant::now();
            self.pyo3.drive("run_many", "blink", blinks)?;
            Ok(since(start))
        })?;
        table.push(
            "Async concurrency (total time ÷ 10 ms sleep)",
            format!("{blinks} concurrent 1 ms sleeps, one store, total"),
            Unit::Millis,
            [Some(ours), Some(theirs), Some(pyo3), None],
        );
        let turns = s.calls;
        let per_turn = |elapsed: f64| elapsed / turns as f64;
        let ours = median_of(s.samples.min(5), || {
            self.tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..turns {
                    session.call("tick", Vec::new()).await?;
                }
                Ok(per_turn(since(start)))
            })
        })?;
        let theirs = median_of(s.samples.min(5), || {
            self.tokio.block_on(async {
                let start = Instant::now();
                self.plain
                    .call_in_turn(&mut store, &instance, "tick", turns)
                    .await?;
                Ok(per_turn(since(start)))
            })
        })?;
        let pyo3 = median_of(s.samples.min(5), || {
            let start = Instant::now();
            self.pyo3.drive("run_in_turn", "tick", turns)?;
            Ok(per_turn(since(start)))
        })?;
        table.push(
            "Async concurrency (total time ÷ 10 ms sleep)",
            "async call awaited in turn (`await asyncio.sleep(0)`), per call",
            Unit::Micros,
            [Some(ours), Some(theirs), Some(pyo3), None],
        );
        for &count in &s.concurrency {
            let ours = median_of(s.samples.min(5), || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    try_join_all((0..count).map(|_| pool.call("nap", Vec::new()))).await?;
                    Ok(since(start) / NAP)
                })
            })?;
            let theirs = median_of(s.samples.min(5), || {
                self.plain_threads(2, move |plain, store, instance, runtime, share| {
                    let share = if share == 0 {
                        count / 2
                    } else {
                        count - count / 2
                    };
                    runtime.block_on(plain.call_many_concurrent(store, instance, "nap", share))
                })
                .map(|elapsed| elapsed / NAP)
            })?;
            let pyo3 = median_of(s.samples.min(5), || {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    let halves = [count / 2, count - count / 2];
                    let threads: Vec<_> = halves
                        .iter()
                        .map(|&half| scope.spawn(move || self.pyo3.naps(half)))
                        .collect();
                    threads.into_iter().try_for_each(|thread| {
                        thread
                            .join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread panicked")))
                    })
                })?;
                Ok(since(start) / NAP)
            })?;
            table.push(
                "Async concurrency (total time ÷ 10 ms sleep)",
                format!("N = {count}, 2 workers"),
                Unit::Times,
                [Some(ours), Some(theirs), Some(pyo3), None],
            );
        }
        Ok(())
    }

    fn memory(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("memory");
        let s = self.settings;
        let runs = s.samples.min(3);
        // Medians of (RSS, PSS) growth per store, over fresh processes.
        let measure = |peer: &str, stores: usize| -> anyhow::Result<[f64; 2]> {
            let samples = (0..runs)
                .map(|_| {
                    child::spawn("memory", peer, stores, self.paths).map(|(_, numbers)| numbers)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let pick = |i: usize| {
                median(
                    samples
                        .iter()
                        .map(|n| n.get(i).copied().unwrap_or(f64::NAN))
                        .collect(),
                )
            };
            Ok([pick(0), pick(1)])
        };
        let mut per_store = Vec::new();
        for &stores in &s.stores {
            let ours = measure("snakebox", stores)?;
            let theirs = measure("wasmtime", stores)?;
            let (pyo3, python) = if stores == 1 {
                let script = "import re\nstatus = open('/proc/self/status').read()\nrollup = open('/proc/self/smaps_rollup').read()\nprint(re.search(r'VmRSS:\\s+(\\d+)', status).group(1), re.search(r'Pss:\\s+(\\d+)', rollup).group(1))";
                let samples = (0..runs)
                    .map(|_| {
                        python3_numbers(&self.paths.python, &format!("peers.add(2, 40)\n{script}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let pick = |i: usize| {
                    median(
                        samples
                            .iter()
                            .map(|n| n.get(i).copied().unwrap_or(f64::NAN) * 1024.0)
                            .collect(),
                    )
                };
                (Some(measure("pyo3", 1)?), Some([pick(0), pick(1)]))
            } else {
                (None, None)
            };
            per_store.push((stores, ours, theirs));
            for (kind, i) in [("RSS", 0), ("PSS", 1)] {
                table.push(
                    "Memory (per idle store)",
                    format!(
                        "{stores} store{}, {kind}",
                        if stores == 1 { "" } else { "s" }
                    ),
                    Unit::Mib,
                    [
                        Some(ours[i]),
                        Some(theirs[i]),
                        pyo3.map(|p| p[i]),
                        python.map(|p| p[i]),
                    ],
                );
            }
        }
        if let (Some(&(few, ours_few, theirs_few)), Some(&(many, ours_many, theirs_many))) =
            (per_store.first(), per_store.last())
            && many > few
        {
            let marginal = |at_few: f64, at_many: f64| {
                (at_many * many as f64 - at_few * few as f64) / (many - few) as f64
            };
            for (kind, i) in [("RSS", 0), ("PSS", 1)] {
                table.push(
                    "Memory (per idle store)",
                    format!("each store past the first ({few} → {many}), {kind}"),
                    Unit::Mib,
                    [
                        Some(marginal(ours_few[i], ours_many[i])),
                        Some(marginal(theirs_few[i], theirs_many[i])),
                        None,
                        None,
                    ],
                );
            }
        }
        Ok(())
    }

    fn scaling(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("parallel scaling");
        let s = self.settings;
        let calls = s.fib_calls;
        let fib = s.fib;
        let mut rows = Vec::new();
        for workers in [1, 2] {
            let pool = self.app.pool(workers)?;
            self.tokio.block_on(try_join_all(
                (0..workers).map(|_| pool.call("add", add_args())),
            ))?;
            let ours = median_of(s.samples.min(5), || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    try_join_all((0..calls).map(|_| pool.call("fib", vec![Val::S64(fib)]))).await?;
                    Ok(calls as f64 / since(start))
                })
            })?;
            let theirs = median_of(s.samples.min(5), || {
                self.plain_threads(workers, move |plain, store, instance, runtime, index| {
                    let share = calls / workers + usize::from(index < calls % workers);
                    runtime.block_on(async {
                        for _ in 0..share {
                            plain.call(store, instance, "fib", &[Val::S64(fib)]).await?;
                        }
                        anyhow::Ok(())
                    })
                })
                .map(|elapsed| calls as f64 / elapsed)
            })?;
            let pyo3 = median_of(s.samples.min(5), || {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    let threads: Vec<_> = (0..workers)
                        .map(|index| {
                            let share = calls / workers + usize::from(index < calls % workers);
                            scope.spawn(move || {
                                (0..share)
                                    .try_for_each(|_| self.pyo3.call_int("fib", fib).map(drop))
                            })
                        })
                        .collect();
                    threads.into_iter().try_for_each(|thread| {
                        thread
                            .join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread panicked")))
                    })
                })?;
                Ok(calls as f64 / since(start))
            })?;
            table.push(
                "Parallel scaling (CPU-bound Python)",
                format!(
                    "fib({fib}) throughput, {workers} worker{}",
                    if workers == 1 { "" } else { "s" }
                ),
                Unit::PerSecond,
                [Some(ours), Some(theirs), Some(pyo3), None],
            );
            rows.push([ours, theirs, pyo3]);
        }
        if let [one, two] = rows.as_slice() {
            let ratio = |i: usize| Some(two[i] / one[i]);
            table.push(
                "Parallel scaling (CPU-bound Python)",
                "2 workers ÷ 1 worker",
                Unit::Times,
                [ratio(0), ratio(1), ratio(2), None],
            );
        }
        Ok(())
    }

    fn speed(&self, table: &mut Table) -> anyhow::Result<()> {
        eprintln!("Python speed");
        let s = self.settings;
        let session = self.app.session()?;
        // The same component with a time limit: compiled with epoch checks.
        let runtime = snakebox::Runtime::with_cache_dir(Some(self.paths.cache.clone()))?;
        let policy = snakebox::Policy {
            timeout: Some(std::time::Duration::from_secs(60)),
            ..snakebox::Policy::default()
        };
        let limited = runtime.load_with(&self.paths.wasm, policy)?.session()?;
        let (mut store, instance) = self.tokio.block_on(self.plain.instantiate())?;
        for (name, arg) in [("fib", s.fib), ("words", s.words)] {
            let runs = s.samples.min(7);
            let timed = |session: &snakebox::Session| {
                median_of(runs, || {
                    self.tokio.block_on(async {
                        let start = Instant::now();
                        session.call(name, vec![Val::S64(arg)]).await?;
                        Ok(since(start))
                    })
                })
            };
            let ours = timed(&session)?;
            let ours_limited = timed(&limited)?;
            let theirs = median_of(runs, || {
                self.tokio.block_on(async {
                    let start = Instant::now();
                    self.plain
                        .call(&mut store, &instance, name, &[Val::S64(arg)])
                        .await?;
                    Ok(since(start))
                })
            })?;
            let pyo3 = median_of(runs, || {
                let start = Instant::now();
                self.pyo3.call_int(name, arg)?;
                Ok(since(start))
            })?;
            let script = format!(
                "import time\nsamples = []\nfor _ in range({runs}):\n    t = time.perf_counter(); peers.{name}({arg}); samples.append(time.perf_counter() - t)\nprint(sorted(samples)[({runs} - 1) // 2])"
            );
            let (_, python) = python3(&self.paths.python, &script)?;
            table.push(
                "Python speed (one call, pure Python)",
                format!("{name}({arg})"),
                Unit::Millis,
                [Some(ours), Some(theirs), Some(pyo3), Some(python)],
            );
            table.push(
                "Python speed (one call, pure Python)",
                format!("{name}({arg}), with a time limit (peers without)"),
                Unit::Millis,
                [Some(ours_limited), Some(theirs), Some(pyo3), Some(python)],
            );
        }
        Ok(())
    }

    /// Runs `work` on `workers` threads, each with its own store, started
    /// together once every store is ready; gives the time until all finish.
    fn plain_threads(
        &self,
        workers: usize,
        work: impl Fn(
            &Plain,
            &mut wasmtime::Store<plain::Host>,
            &wasmtime::component::Instance,
            &Tokio,
            usize,
        ) -> anyhow::Result<()>
        + Sync,
    ) -> anyhow::Result<f64> {
        let ready = Barrier::new(workers + 1);
        let work = &work;
        let ready = &ready;
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..workers)
                .map(|index| {
                    let plain = Arc::clone(&self.plain);
                    scope.spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        let prepared = runtime.map_err(anyhow::Error::from).and_then(|runtime| {
                            let (store, instance) = runtime.block_on(plain.instantiate())?;
                            Ok((runtime, store, instance))
                        });
                        ready.wait();
                        let (runtime, mut store, instance) = prepared?;
                        work(&plain, &mut store, &instance, &runtime, index)
                    })
                })
                .collect();
            ready.wait();
            let start = Instant::now();
            for thread in threads {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread panicked")))?;
            }
            Ok(since(start))
        })
    }
}

fn add_args() -> Vec<Val> {
    vec![Val::S64(2), Val::S64(40)]
}

/// Runs `python3` with `peers` importable and `body` after the import; gives
/// the wall time of the whole process and the number it printed (0 if none).
fn python3(dir: &Path, body: &str) -> anyhow::Result<(f64, f64)> {
    let script = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport peers\n{body}\n",
        dir.display().to_string()
    );
    let start = Instant::now();
    let output = Command::new(python3_program())
        .args(["-c", &script])
        .output()
        .context("failed to run python3")?;
    let wall = since(start);
    anyhow::ensure!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<f64>()
        .unwrap_or(0.0);
    Ok((wall, printed))
}

/// Runs `python3` like [`python3`] and gives every number it printed.
fn python3_numbers(dir: &Path, body: &str) -> anyhow::Result<Vec<f64>> {
    let script = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport peers\n{body}\n",
        dir.display().to_string()
    );
    let output = Command::new(python3_program())
        .args(["-c", &script])
        .output()
        .context("failed to run python3")?;
    anyhow::ensure!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|word| {
            word.parse::<f64>()
                .context("python3 printed something other than a number")
        })
        .collect()
}

/// The interpreter `python3` on `PATH` runs, resolved once: a version
/// manager's shim (pyenv's is a shell script) would add its own start-up to
/// every process measured.
fn python3_program() -> PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .ok()
                .filter(|output| output.status.success())
                .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
                .filter(|path| !path.is_empty())
                .map_or_else(|| PathBuf::from("python3"), PathBuf::from)
        })
        .clone()
}

/// Copies the files of `from` (no subfolders) into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}
