//! `snakebox call` and `run`: one call, its result as JSON on stdout (a
//! generator's items one per line), a Python error with its traceback on
//! stderr.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::Value;
use snakebox::Calls as _;
use snakebox::{App, Runtime};

use crate::flags::CallArgs;
use crate::parse::Argument;

pub(crate) fn run(component: &Path, call: CallArgs) -> anyhow::Result<ExitCode> {
    let (positional, named) = split(call.args)?;
    let policy = super::policy(&call.sandbox)?;
    // The runtime must outlive the call: dropping it stops the epoch clock
    // that enforces time limits.
    let runtime = Runtime::new()?;
    let app = runtime.load_with(component, policy)?;
    let executor = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let value = executor.block_on(call_json(&app, &call.function, &positional, &named))?;
    if let Some(value) = value {
        println!("{value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Keyword arguments, in the order given.
type Named = Vec<(String, Value)>;

/// Positional values first, then keywords, as Python orders them.
fn split(args: Vec<Argument>) -> anyhow::Result<(Vec<Value>, Named)> {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for argument in args {
        match argument {
            Argument::Named(name, value) => named.push((name, value)),
            Argument::Positional(value) if !named.is_empty() => {
                bail!("positional argument `{value}` follows a keyword argument")
            }
            Argument::Positional(value) => positional.push(value),
        }
    }
    Ok((positional, named))
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
