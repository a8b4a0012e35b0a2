//! The `snakebox` command: generate WIT, build, inspect and call Python components.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use snakebox::{App, DirGrant, Error, Policy, Runtime, builder};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

mod progress;

/// `snakebox --version`: this release and the toolchain it pins.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (componentize-py {}, wasmtime {})",
        env!("CARGO_PKG_VERSION"),
        builder::COMPONENTIZE_PY_VERSION,
        snakebox::WASMTIME_VERSION
    )
});

/// Run Python modules as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "snakebox", version = VERSION.as_str(), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the WIT world generated from a Python module (.py or .pyi) or package folder.
    Wit {
        /// The Python module, or a package folder (one interface per module).
        #[arg(required_unless_present = "from")]
        file: Option<PathBuf>,
        /// Read the module's stub (.pyi) instead: no source needed.
        #[arg(long = "from", value_name = "STUB", conflicts_with = "file")]
        from: Option<PathBuf>,
        /// Write a whole WIT folder instead (`world.wit` and its `deps/`),
        /// which componentize-py, wit-bindgen and jco take as it is.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Refuse unannotated values instead of carrying them as `Any` (JSON).
        #[arg(long)]
        strict: bool,
        /// A stub (.pyi) of host functions the module calls, imported in
        /// Python by its file name; may be given more than once.
        #[arg(long = "imports", value_name = "STUB")]
        imports: Vec<PathBuf>,
    },
    /// Build a Python module or package folder into a component.
    Build {
        /// The Python module, or a package folder (one interface per module).
        file: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
        /// Build a component that serves the module's HTTP API by itself
        /// over `wasi:http` 0.2, for `wasmtime serve`, Spin or wasmCloud.
        #[arg(long)]
        http: bool,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Write the files a component carries (package data, metadata) into a
    /// folder, for a wasi:http engine to grant (`--http` builds).
    Files {
        /// The component.
        component: PathBuf,
        /// The folder to write them into.
        dir: PathBuf,
    },
    /// List a component's exports with their WIT signatures.
    Inspect {
        /// The component.
        component: PathBuf,
    },
    /// Call a function of a component and print its result as JSON.
    Call {
        /// The component.
        component: PathBuf,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Build a Python module or package (cached by content), then call a function of it.
    Run {
        /// The Python module, or a package folder.
        file: PathBuf,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Compile a component into the cache ahead of time (a .py module is
    /// built first), so that the first call or request on this machine, or
    /// in an image built with it, starts without compiling.
    Precompile {
        /// The component, or a Python module or package folder.
        app: PathBuf,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Serve a component's functions over HTTP (a .py module is built first).
    Serve {
        /// The component, or a Python module.
        app: PathBuf,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

/// How a Python module is built.
#[derive(Args)]
struct BuildArgs {
    /// Bundle the pure-Python packages of a requirements.txt or pyproject.toml.
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
    /// When the build fails, show componentize-py's whole log, not only the
    /// Python traceback.
    #[arg(short, long)]
    verbose: bool,
    /// Refuse unannotated values instead of carrying them as `Any` (JSON).
    #[arg(long)]
    strict: bool,
    /// A stub (.pyi) of host functions the module calls, imported in Python
    /// by its file name; may be given more than once. Bind each function
    /// with --bind when calling or serving.
    #[arg(long = "imports", value_name = "STUB")]
    imports: Vec<PathBuf>,
}

/// `snakebox serve` options besides the sandbox.
#[derive(Args)]
struct ServeArgs {
    /// The address to listen on; port 0 picks a free port. The bound address
    /// is printed on stdout as `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// The most requests admitted at once, running or waiting for a store;
    /// past it, 503 [default: 128 per worker].
    #[arg(long, value_name = "N")]
    max_pending: Option<usize>,
    /// The largest result sent, in JSON bytes [default: 16MiB].
    #[arg(long, value_name = "SIZE")]
    max_result: Option<String>,
    /// The number of stores always kept, each on its own thread [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The most stores at once: when every store is taken, a request gets a
    /// new one, so that a slow or spinning call holds up no other
    /// [default: 16, or twice the workers if more].
    #[arg(long, value_name = "N")]
    max_stores: Option<usize>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct CallArgs {
    /// The function, by its Python name (`async_function`) or WIT name; in a
    /// package, `module.function` (`animals.describe`).
    function: String,
    /// Arguments: each one JSON value, or `name=JSON` for a keyword argument.
    /// Negative numbers are values, not flags: `add -1 2`.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

/// The sandbox policy; nothing is granted by default.
#[derive(Args)]
struct SandboxArgs {
    /// Grant a directory: HOST[:GUEST][:ro].
    #[arg(long = "dir", value_name = "HOST[:GUEST][:ro]")]
    dirs: Vec<String>,
    /// Pass an environment variable: NAME[=VALUE] (without a value, the host's).
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Cap each store's memory, for example 256MiB.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Cap each call's time, for example 500ms or 5s.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Bind a host function to an HTTP endpoint, which is POSTed the
    /// arguments as a JSON array: `directory.find_person=http://127.0.0.1:9000/person`.
    #[arg(long = "bind", value_name = "NAME=URL")]
    binds: Vec<String>,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SNAKEBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("snakebox=info"));
    // Colour and spinners only for a person at a terminal, never into a
    // file or a pipe.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .without_time()
        .with_target(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(log)
        .with(terminal.then_some(progress::Progress))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A build error that names its position leads with it, as the
        // diagnostics do: `app.py:8:9: error: KeyError: 'missing'`.
        Err(error)
            if error
                .to_string()
                .lines()
                .next()
                .is_some_and(|l| l.contains(": error: ")) =>
        {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Wit {
            file,
            from,
            out,
            strict,
            imports,
        } => match file.or(from) {
            Some(file) => wit(&file, out.as_deref(), strict, &imports),
            None => bail!("name a Python module, or a stub with --from"),
        },
        Command::Build {
            file,
            output,
            http,
            build,
        } => {
            let built = build_for(&file, &build, http)?;
            std::fs::copy(&built, &output)
                .with_context(|| format!("failed to write {}", output.display()))?;
            eprintln!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Files { component, dir } => {
            let grants = snakebox::extract_files(&component, &dir)?;
            if grants.is_empty() {
                eprintln!("{} carries no files", component.display());
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "wrote the files of {} into {}; grant each folder where the guest expects it:",
                component.display(),
                dir.display()
            );
            let flags: Vec<String> = grants
                .iter()
                .map(|g| format!("--dir {}::{}", g.host.display(), g.guest))
                .collect();
            println!("{}", flags.join(" "));
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { component } => {
            // Nothing is called: the host functions need no binding here.
            let mut policy = Policy::default();
            policy.host.allow_unbound();
            let app = Runtime::new()?.load_with(&component, policy)?;
            let mut interfaces: Vec<_> = app.functions().iter().map(|f| &f.interface).collect();
            interfaces.dedup();
            for function in app.functions() {
                // Qualify names only when several interfaces could share one.
                match &function.interface {
                    Some(interface) if interfaces.len() > 1 => {
                        println!("{interface}#{}", function.wit_signature());
                    }
                    _ => println!("{}", function.wit_signature()),
                }
                // What the description adds: the Python side, and its docs.
                if let Some(signature) = function.python_signature() {
                    println!("    {signature}");
                }
                for line in function.docs().into_iter().flat_map(str::lines) {
                    println!("{}", format!("      {line}").trim_end());
                }
            }
            // What the host must bind (`--bind NAME=URL`).
            for module in app.host_modules() {
                println!(
                    "\nhost functions of `{}` (bind each by its name):",
                    module.name
                );
                for function in &module.functions {
                    // `async def find_person(…)` → `async def directory.find_person(…)`.
                    let signature = function.python_signature(module);
                    let (keyword, rest) = signature.split_once("def ").unwrap_or(("", &signature));
                    println!("  {keyword}def {}.{rest}", module.name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Call { component, call } => call_function(&component, call),
        Command::Run { file, build, call } => {
            let component = build_with(&file, &build)?;
            call_function(&component, call)
        }
        Command::Serve { app, build, serve } => serve_app(&app, &build, serve),
        Command::Precompile { app, build } => {
            let component = match is_python(&app) {
                true => build_with(&app, &build)?,
                false => app,
            };
            let runtime = Runtime::new()?;
            let compiled = runtime.precompile(&component)?;
            let cache = runtime
                .cache_dir()
                .map_or_else(|| "no cache".to_owned(), |dir| dir.display().to_string());
            match compiled {
                0 => eprintln!("{} was compiled already ({cache})", component.display()),
                _ => eprintln!("compiled {} into {cache}", component.display()),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A Python module, stub or package folder, to build before loading.
fn is_python(path: &Path) -> bool {
    path.is_dir() || path.extension().is_some_and(|e| e == "py" || e == "pyi")
}

fn serve_app(path: &Path, build: &BuildArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut policy = policy(&args.sandbox)?;
    // A server without limits is one bad request away from hanging: serve
    // caps time and memory unless told otherwise.
    policy.timeout.get_or_insert(Duration::from_secs(30));
    policy.memory.get_or_insert(512 << 20);
    let component = match is_python(path) {
        true => build_with(path, build)?,
        false => path.to_owned(),
    };
    // Kept alive to the end: dropping the runtime stops the epoch clock
    // that enforces time limits.
    let runtime = Runtime::new()?;
    let app = runtime.load_with(&component, policy)?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let mut options = snakebox::serve::ServeOptions::new(workers);
    if let Some(max_pending) = args.max_pending {
        options.max_pending = max_pending;
    }
    if let Some(max_stores) = args.max_stores {
        options.max_stores = max_stores;
    }
    if let Some(max_result) = &args.max_result {
        options.max_result_bytes = usize::try_from(parse_size(max_result)?)?;
    }
    let executor = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    executor.block_on(async move {
        let server = snakebox::serve::Server::new(&app, options)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        println!("listening on http://{address}");
        std::io::Write::flush(&mut std::io::stdout())?;
        tracing::info!("serving {} with {workers} workers", path.display());
        server.serve(listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on the first SIGTERM or Ctrl-C; a second one exits at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("shutting down: finishing the requests in flight (signal again to stop now)");
    tokio::spawn(async {
        wait_for_signal().await;
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn wit(
    file: &Path,
    out: Option<&Path>,
    strict: bool,
    imports: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let options = snakebox_generator::Options { strict };
    let generated = builder::generate_with_imports(file, options, imports)?;
    for diagnostic in generated.rendered_diagnostics() {
        eprintln!("{diagnostic}");
    }
    let Some(wit) = generated.wit else {
        return Ok(ExitCode::FAILURE);
    };
    match out {
        Some(dir) => {
            builder::write_wit_dir(&wit, dir)?;
            eprintln!("wrote {} (world `{}`)", dir.display(), generated.world);
        }
        None => print!("{wit}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn build_with(file: &Path, args: &BuildArgs) -> anyhow::Result<PathBuf> {
    build_for(file, args, false)
}

/// Builds `file` for the snakebox host, or with `http` for `wasi:http` engines.
fn build_for(file: &Path, args: &BuildArgs, http: bool) -> anyhow::Result<PathBuf> {
    let options = builder::BuildOptions {
        requirements: args.requirements.clone(),
        verbose: args.verbose,
        strict: args.strict,
        imports: args.imports.clone(),
        http,
    };
    let built = builder::build_with(file, &snakebox::default_cache_dir(), &options)?;
    for diagnostic in &built.diagnostics {
        eprintln!("{}", diagnostic.render());
    }
    Ok(built.wasm)
}

fn call_function(component: &Path, call: CallArgs) -> anyhow::Result<ExitCode> {
    let policy = policy(&call.sandbox)?;
    // The runtime must outlive the call: dropping it stops the epoch clock
    // that enforces time limits.
    let runtime = Runtime::new()?;
    let app = runtime.load_with(component, policy)?;
    let (positional, named) = parse_args(&call.args)?;
    let executor = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let outcome = executor.block_on(call_json(&app, &call.function, &positional, &named));
    match outcome {
        Ok(value) => {
            if let Some(value) = value {
                println!("{value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Python(error)) => {
            eprintln!("{error}");
            if !error.traceback.is_empty() {
                eprint!("{}", error.traceback);
            }
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Calls `function`; a generator's items are printed as they come, one
/// JSON value per line, and there is no value left to print.
async fn call_json(
    app: &App,
    function: &str,
    positional: &[Value],
    named: &[(String, Value)],
) -> snakebox::Result<Option<Value>> {
    if !app.function(function).is_ok_and(|f| f.returns_stream()) {
        return app.call_json(function, positional, named).await.map(Some);
    }
    let mut items = app.stream_json(function, positional, named);
    while let Some(item) = futures::StreamExt::next(&mut items).await {
        let line = item?;
        if writeln!(std::io::stdout(), "{line}").is_err() {
            // The reader is gone (`| head`): dropping the stream stops the generator.
            break;
        }
    }
    Ok(None)
}

/// Keyword arguments, in the order given.
type Named = Vec<(String, Value)>;

/// Splits ARGs into positional JSON values and `name=JSON` keyword values.
fn parse_args(args: &[String]) -> anyhow::Result<(Vec<Value>, Named)> {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let keyword = arg.split_once('=').filter(|(name, _)| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        let (text, name) = match keyword {
            Some((name, text)) => (text, Some(name)),
            None => (arg.as_str(), None),
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "argument {} (`{arg}`) is not valid JSON: {e}; write strings in quotes, like '\"text\"'",
                i + 1
            )
        })?;
        match name {
            Some(name) => named.push((name.to_owned(), value)),
            None if !named.is_empty() => {
                bail!("positional argument `{arg}` follows a keyword argument")
            }
            None => positional.push(value),
        }
    }
    Ok((positional, named))
}

fn policy(args: &SandboxArgs) -> anyhow::Result<Policy> {
    let mut policy = Policy::default();
    if let Some(memory) = &args.memory {
        let bytes = parse_size(memory)?;
        if bytes < Policy::MIN_MEMORY {
            bail!("--memory {memory} is too small: CPython needs at least 16MiB");
        }
        policy.memory = Some(bytes);
    }
    if let Some(timeout) = &args.timeout {
        policy.timeout = Some(parse_duration(timeout)?);
    }
    for spec in &args.env {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (spec.clone(), std::env::var(spec).unwrap_or_default()),
        };
        policy.env.push((name, value));
    }
    for spec in &args.dirs {
        policy.dirs.push(parse_dir(spec)?);
    }
    for spec in &args.binds {
        let Some((name, url)) = spec.split_once('=') else {
            bail!(
                "--bind {spec}: write NAME=URL, for example directory.find_person=http://127.0.0.1:9000/person"
            );
        };
        policy
            .host
            .add_http(name, url)
            .with_context(|| format!("--bind {spec}"))?;
    }
    Ok(policy)
}

fn parse_dir(spec: &str) -> anyhow::Result<DirGrant> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let (host, guest) = match rest.split_once(':') {
        Some((host, guest)) => (host, guest.to_owned()),
        None => (rest, rest.to_owned()),
    };
    if host.is_empty() || guest.is_empty() {
        bail!("--dir `{spec}` must be HOST[:GUEST][:ro]");
    }
    Ok(DirGrant {
        host: PathBuf::from(host),
        guest,
        read_only,
    })
}

/// Splits `256MiB` or `500ms` into its number and its unit.
fn split_quantity<'a>(text: &'a str, what: &str) -> anyhow::Result<(f64, &'a str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .parse()
        .with_context(|| format!("`{text}` is not a {what}"))?;
    Ok((number, unit.trim()))
}

fn parse_size(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (number, unit) = split_quantity(text, "size")?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("unknown size unit `{other}` in `{text}`; use B, KiB, MiB or GiB"),
    };
    Ok((number * scale) as u64)
}

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = split_quantity(text, "duration")?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "m" | "min" => number * 60.0,
        other => bail!("unknown duration unit `{other}` in `{text}`; use ms, s or m"),
    };
    Duration::try_from_secs_f64(seconds).with_context(|| format!("`{text}` is too long a duration"))
}
