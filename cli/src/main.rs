//! The `snakebox` command: generate WIT, build, inspect, call and serve
//! Python components, over HTTP or as MCP tools.
//!
//! - `flags`: the subcommands and their flags, as clap reads them;
//! - `parse`: the value parsers behind the flags (sizes, durations, grants,
//!   JSON arguments);
//! - `commands`: one file per subcommand;
//! - `progress`: spinners for the long steps, at a terminal;
//! - `text`: a component's text made safe to print.

use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::flags::{Cli, Command};

mod commands;
mod flags;
mod parse;
mod progress;
mod text;

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
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    use commands::{build, cache, call, inspect, mcp, serve, wit};
    match cli.command {
        Command::Wit(args) => wit::run(args),
        Command::Build {
            file,
            output,
            http,
            build,
        } => build::build(&file, &output, http, &build),
        Command::Files { component, dir } => build::files(&component, &dir),
        Command::Inspect { component } => inspect::run(&component),
        Command::Call { component, call } => call::run(&component, call),
        Command::Run { file, build, call } => {
            let component = commands::build_for(&file, &build, false)?;
            call::run(&component, call)
        }
        Command::Precompile { app, build } => build::precompile(&app, &build),
        Command::Serve { app, build, serve } => serve::run(&app, &build, serve),
        Command::Mcp { app, build, mcp } => mcp::run(&app, &build, mcp),
        Command::Cache { command } => cache::run(command),
    }
}

/// Prints an error to stderr, in the form its kind calls for.
fn report(error: &anyhow::Error) {
    let build = error
        .downcast_ref::<snakebox::builder::BuildError>()
        .or_else(|| match error.downcast_ref::<snakebox::Error>() {
            Some(snakebox::Error::Build(build)) => Some(build),
            _ => None,
        });
    if let Some(build) = build
        && build.kind() == snakebox::builder::BuildErrorKind::ModuleRaised
    {
        // It leads with its position, as the diagnostics do:
        // `app.py:8:9: error: KeyError: 'missing'`, then the traceback.
        eprintln!("{}", text::printable_lines(&format!("{error:#}")));
        return;
    }
    if let Some(python) = error
        .downcast_ref::<snakebox::Error>()
        .and_then(snakebox::Error::python)
    {
        // The exception as Python prints it: the traceback, which ends
        // with the exception and its notes; or the exception alone.
        match python.traceback.is_empty() {
            true => eprintln!("{}", text::printable_lines(&python.to_string())),
            false => eprint!("{}", text::printable_lines(&python.traceback)),
        }
        return;
    }
    eprintln!("error: {}", text::printable_lines(&format!("{error:#}")));
}
