//! `snakebox serve`: a component's functions over HTTP until SIGTERM or
//! Ctrl-C, with the requests in flight finished first.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use snakebox::Runtime;
use snakebox::serve::Server;

use crate::flags::{BuildArgs, SandboxArgs, ServeArgs};

pub(crate) fn run(path: &Path, build: &BuildArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let policy = server_policy(&args.sandbox)?;
    let component = super::component(path, build)?;
    // Kept alive to the end: dropping the runtime stops the epoch clock
    // that enforces time limits.
    let runtime = Runtime::new()?;
    let memory = policy.memory;
    let app = runtime.load_with(&component, policy)?;
    let mut options = args.stores.options(memory);
    let workers = options.workers;
    if let Some(header_timeout) = args.header_timeout {
        options.header_timeout = header_timeout;
    }
    if let Some(max_connections) = args.max_connections {
        options.max_connections = max_connections;
    }
    if let Some(body_timeout) = args.body_timeout {
        options.body_timeout = body_timeout;
    }
    args.browsers.apply(&mut options)?;
    if let Some(max_result) = args.max_result {
        options.max_result_bytes =
            usize::try_from(max_result).context("--max-result is too large for this machine")?;
    }
    let executor = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    raise_descriptor_limit();
    executor.block_on(async move {
        let guarded = options.auth_token.is_some();
        let server = Server::new(&app, options)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        args.browsers.check_exposure(address, guarded)?;
        println!("listening on http://{address}");
        std::io::Write::flush(&mut std::io::stdout())?;
        tracing::info!("serving {} with {workers} workers", path.display());
        server.serve(listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The policy of a server (`serve`, `mcp`): a server without limits is one
/// bad request away from hanging, so time and memory are capped unless the
/// flags say otherwise.
pub(crate) fn server_policy(sandbox: &SandboxArgs) -> anyhow::Result<snakebox::Policy> {
    let mut policy = super::policy(sandbox)?;
    policy.timeout.get_or_insert(Duration::from_secs(30));
    policy.memory.get_or_insert(512 << 20);
    Ok(policy)
}

/// Raises the soft limit on open descriptors to the hard one, as servers
/// do: each connection takes one, and the server keeps its connection cap
/// under the limit it finds.
pub(crate) fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(error) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!("could not raise the descriptor limit: {error}");
            }
        }
    }
}

/// Completes on the first SIGTERM or Ctrl-C; a second one exits at once.
pub(crate) async fn shutdown_signal() {
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
