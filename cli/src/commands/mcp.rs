//! `snakebox mcp`: a component's functions as MCP tools over stdio, until
//! the client closes the stream, or over HTTP (`--listen`) until a signal.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use snakebox::Runtime;
use snakebox::serve::mcp::Tools;

use crate::flags::{BuildArgs, McpArgs};

pub(crate) fn run(path: &Path, build: &BuildArgs, args: McpArgs) -> anyhow::Result<ExitCode> {
    // An agent's input is untrusted: the limits of `serve` by default.
    let policy = super::serve::server_policy(&args.sandbox)?;
    let component = super::component(path, build)?;
    // Kept alive to the end: it runs the epoch clock of the time limits.
    let runtime = Runtime::new()?;
    let memory = policy.memory;
    let app = runtime.load_with(&component, policy)?;
    let mut options = args.stores.options(memory);
    args.browsers.apply(&mut options)?;
    let executor = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    executor.block_on(async move {
        let tools = Tools::new(&app, options.clone())?;
        let count = tools.list().len();
        let Some(listen) = &args.listen else {
            tracing::info!("serving {count} tools of {} over stdio", path.display());
            tools.serve_stdio().await?;
            return Ok(ExitCode::SUCCESS);
        };
        super::serve::raise_descriptor_limit();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on {listen}"))?;
        let address = listener.local_addr()?;
        args.browsers
            .check_exposure(address, options.auth_token.is_some())?;
        println!("listening on http://{address}/mcp");
        std::io::Write::flush(&mut std::io::stdout())?;
        tracing::info!("serving {count} tools of {} over HTTP", path.display());
        tools
            .serve_http(listener, &options, super::serve::shutdown_signal())
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}
