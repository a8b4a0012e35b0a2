//! The command line's shape: every subcommand and flag, as clap reads them.
//! Values are parsed here too (by the parsers in [`crate::parse`]), so
//! that a bad `--timeout` or `--dir` is a usage error, reported by clap
//! with the flag it came from, before anything is built or loaded.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use snakebox::DirGrant;

use crate::parse::{self, Argument};

/// `snakebox --version`: this release and the toolchain it pins.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (componentize-py {}, wasmtime {})",
        env!("CARGO_PKG_VERSION"),
        snakebox::builder::COMPONENTIZE_PY_VERSION,
        snakebox::WASMTIME_VERSION
    )
});

/// Run Python modules as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "snakebox", version = VERSION.as_str(), about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print the WIT world generated from a Python module (.py or .pyi) or package folder.
    Wit(WitArgs),
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
    /// Show or shrink snakebox's cache of built and compiled components.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Serve a component's functions as MCP tools, for agents (a .py module
    /// is built first): over stdio, where stdout is the protocol and logs go
    /// to stderr, or over HTTP with --listen.
    Mcp {
        /// The component, or a Python module.
        app: PathBuf,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        mcp: McpArgs,
    },
}

/// `snakebox cache`.
#[derive(Subcommand)]
pub(crate) enum CacheCommand {
    /// Print the cache folder: `$SNAKEBOX_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/snakebox`, else `~/.cache/snakebox`.
    Dir,
    /// Remove what has not been used for a while: compiled and built
    /// components, unpacked files, installed requirements. What is removed
    /// is made again when next needed.
    Prune {
        /// Remove entries unused for this long; `0s` removes them all
        /// [default: 30d].
        #[arg(long, value_name = "DURATION", value_parser = parse::duration, default_value = "30d")]
        unused_for: Duration,
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `snakebox mcp` options besides the sandbox.
#[derive(Args)]
pub(crate) struct McpArgs {
    /// Speak MCP's streamable HTTP transport at `http://ADDR/mcp` instead of
    /// stdio; port 0 picks a free port. The endpoint is printed on stdout as
    /// `listening on http://ADDR/mcp`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub browsers: BrowserArgs,
    #[command(flatten)]
    pub stores: StoreArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// `snakebox wit`.
#[derive(Args)]
pub(crate) struct WitArgs {
    /// The Python module, or a package folder (one interface per module).
    #[arg(required_unless_present = "from")]
    pub file: Option<PathBuf>,
    /// Read the module's stub (.pyi) instead: no source needed.
    #[arg(long = "from", value_name = "STUB", conflicts_with = "file")]
    pub from: Option<PathBuf>,
    /// Write a whole WIT folder instead (`world.wit` and its `deps/`),
    /// which componentize-py, wit-bindgen and jco take as it is.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Refuse unannotated values instead of carrying them as `Any` (JSON).
    #[arg(long)]
    pub strict: bool,
    /// A stub (.pyi) of host functions the module calls, imported in
    /// Python by its file name; may be given more than once.
    #[arg(long = "imports", value_name = "STUB")]
    pub imports: Vec<PathBuf>,
}

/// How a Python module is built.
#[derive(Args)]
pub(crate) struct BuildArgs {
    /// Bundle the pure-Python packages of a requirements.txt or pyproject.toml.
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,
    /// When the build fails, show componentize-py's whole log, not only the
    /// Python traceback.
    #[arg(short, long)]
    pub verbose: bool,
    /// Refuse unannotated values instead of carrying them as `Any` (JSON).
    #[arg(long)]
    pub strict: bool,
    /// A stub (.pyi) of host functions the module calls, imported in Python
    /// by its file name; may be given more than once. Bind each function
    /// with --bind when calling or serving.
    #[arg(long = "imports", value_name = "STUB")]
    pub imports: Vec<PathBuf>,
}

/// `snakebox serve` options besides the sandbox.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; port 0 picks a free port. The bound address
    /// is printed on stdout as `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// The largest result sent, in JSON bytes [default: 16MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse::size)]
    pub max_result: Option<u64>,
    #[command(flatten)]
    pub stores: StoreArgs,
    /// How long a client has to send a request's headers, and how long an
    /// idle connection is kept [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub header_timeout: Option<Duration>,
    /// The most connections served at once; past it a connection gets
    /// /healthz and 503 for anything else [default: 512].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// How long a client has to send a request's body once its headers are
    /// in; then it gets 408 [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub body_timeout: Option<Duration>,
    #[command(flatten)]
    pub browsers: BrowserArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Who may reach a server over HTTP (`serve`, `mcp --listen`), against
/// web pages that call a local server.
#[derive(Args)]
pub(crate) struct BrowserArgs {
    /// A name the server is reached by (`api.example`), besides loopback
    /// names and IP addresses; a request for another Host gets 403 (a guard
    /// against DNS rebinding). May be given more than once; `*` allows any,
    /// behind a proxy that checks Host.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// An origin (`https://app.example`) whose web pages may call the
    /// server, with CORS; requests from other pages get 403. May be given
    /// more than once [default: none].
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// A file holding the token every request but /healthz must carry as
    /// `Authorization: Bearer <token>` (401 otherwise); or set
    /// SNAKEBOX_AUTH_TOKEN. Required to listen on an address other than
    /// loopback.
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Listen on an address other than loopback without a token, behind a
    /// proxy that authenticates.
    #[arg(long)]
    pub allow_unauthenticated: bool,
}

impl BrowserArgs {
    /// Sets the checks of `options` these flags ask for, the token read
    /// from its file or `SNAKEBOX_AUTH_TOKEN`.
    pub fn apply(&self, options: &mut snakebox::serve::ServeOptions) -> anyhow::Result<()> {
        options.allowed_hosts.clone_from(&self.hosts);
        options.allowed_origins.clone_from(&self.origins);
        let token = match &self.auth_token_file {
            Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
                anyhow::anyhow!("cannot read the token file {}: {e}", file.display())
            })?),
            None => std::env::var("SNAKEBOX_AUTH_TOKEN").ok(),
        };
        if let Some(token) = token {
            let token = token.trim();
            anyhow::ensure!(
                !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()),
                "the token must be one word of printable ASCII, and it is not"
            );
            options.auth_token = Some(token.to_owned());
        }
        Ok(())
    }

    /// Refuses to serve `address`, which is not loopback, to anyone who can
    /// reach it, unless a `token` guards it or the flags say a proxy does.
    pub fn check_exposure(&self, address: std::net::SocketAddr, token: bool) -> anyhow::Result<()> {
        anyhow::ensure!(
            address.ip().is_loopback() || token || self.allow_unauthenticated,
            "refusing to listen on {address} without a token: anyone who can reach it could \
             run the module. Give --auth-token-file FILE (or SNAKEBOX_AUTH_TOKEN), or \
             --allow-unauthenticated when a proxy in front authenticates"
        );
        Ok(())
    }
}

/// The stores a server (`serve`, `mcp`) runs calls on, and its admission.
#[derive(Args)]
pub(crate) struct StoreArgs {
    /// The number of stores always kept, each on its own thread [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The most stores at once: when every store is taken, a call gets a
    /// new one, so that a slow or spinning call holds up no other
    /// [default: as many as the memory holds at --memory each, from 16 to
    /// 256, or twice the workers if more].
    #[arg(long, value_name = "N")]
    pub max_stores: Option<usize>,
    /// How long a store started on demand is kept without a call before it
    /// is let go [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub store_idle: Option<Duration>,
    /// The most calls admitted at once, running or waiting for a store;
    /// past it, a call is refused as busy (503 over REST, a tool error over
    /// MCP) [default: 128 per worker].
    #[arg(long, value_name = "N")]
    pub max_pending: Option<usize>,
}

impl StoreArgs {
    /// The server options these flags set, the rest at their defaults; the
    /// stores are capped by what the memory holds at `memory` each.
    pub fn options(&self, memory: Option<u64>) -> snakebox::serve::ServeOptions {
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        let mut options = snakebox::serve::ServeOptions::new(workers);
        if let Some(max_pending) = self.max_pending {
            options.max_pending = max_pending;
        }
        match (self.max_stores, memory) {
            (Some(max_stores), _) => options.max_stores = max_stores,
            (None, Some(memory)) => {
                options.max_stores = options
                    .max_stores
                    .max(snakebox::serve::ServeOptions::stores_for_memory(memory));
            }
            (None, None) => {}
        }
        if let Some(store_idle) = self.store_idle {
            options.store_idle = store_idle;
        }
        options
    }
}

/// A function to call, and its arguments.
#[derive(Args)]
pub(crate) struct CallArgs {
    /// The function, by its Python name (`async_function`) or WIT name; in a
    /// package, `module.function` (`animals.describe`).
    pub function: String,
    /// Arguments: each one JSON value, or `name=JSON` for a keyword argument.
    /// Negative numbers are values, not flags: `add -1 2`.
    #[arg(allow_negative_numbers = true, value_parser = parse::argument)]
    pub args: Vec<Argument>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// The sandbox policy; nothing is granted by default.
#[derive(Args)]
pub(crate) struct SandboxArgs {
    /// Grant a directory: HOST[:GUEST][:ro].
    #[arg(long = "dir", value_name = "HOST[:GUEST][:ro]", value_parser = parse::dir_grant)]
    pub dirs: Vec<DirGrant>,
    /// Pass an environment variable: NAME[=VALUE] (without a value, the host's).
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = parse::env_var)]
    pub env: Vec<(String, String)>,
    /// Cap each store's memory, for example 256MiB (at least 16MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse::memory)]
    pub memory: Option<u64>,
    /// Cap each call's time, for example 500ms or 5s.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub timeout: Option<Duration>,
    /// Bind a host function to an HTTP endpoint, which is POSTed the
    /// arguments as a JSON array: `directory.find_person=http://127.0.0.1:9000/person`.
    #[arg(long = "bind", value_name = "NAME=URL", value_parser = parse::binding)]
    pub binds: Vec<(String, String)>,
    /// A header for the endpoints bound to a function or to a module's
    /// functions: 'directory=Authorization: Bearer ${TOKEN}'. In the value,
    /// ${VAR} is read from the environment and ${file:PATH} from a file,
    /// so that secrets stay off the command line.
    #[arg(long = "bind-header", value_name = "NAME=HEADER: VALUE", value_parser = parse::bind_header)]
    pub bind_headers: Vec<(String, String, String)>,
    /// Requests in flight to one bound origin at once; the rest wait.
    #[arg(long = "bind-max-in-flight", value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub bind_max_in_flight: u32,
    /// How long opening a connection to a bound endpoint may take.
    #[arg(long = "bind-connect-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse::duration)]
    pub bind_connect_timeout: Duration,
}
