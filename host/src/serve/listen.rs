//! Accepting connections, so that slow or idle clients cannot pin the
//! server: every connection must send a request's headers within
//! `header_timeout` (an idle keep-alive connection is closed after it
//! too); at most `max_connections` are served at once, and past the cap a
//! connection gets only `/healthz`, and `503` for anything else, then is
//! closed (the cap is kept under the descriptor limit); on shutdown, idle connections close at once and the requests in
//! flight get `shutdown_grace` to finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

/// How connections are accepted and let go.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// How long a connection past the cap has to send its request's headers.
const OVER_CAP_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Descriptors kept for what is not a connection: the stores' files, the
/// component, logs, and the connections past the cap that get `/healthz`.
const RESERVED_DESCRIPTORS: u64 = 64;

/// How many connections the process's descriptor limit (its soft limit,
/// which the `snakebox` command raises to the hard one before it serves)
/// has room for: a quarter of it, at least [`RESERVED_DESCRIPTORS`], is
/// kept for the rest.
#[cfg(unix)]
fn descriptor_room() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let Some(current) = limit.current else {
        return usize::MAX;
    };
    let reserved = (current / 4).max(RESERVED_DESCRIPTORS);
    usize::try_from(current.saturating_sub(reserved).max(1)).unwrap_or(usize::MAX)
}

#[cfg(not(unix))]
fn descriptor_room() -> usize {
    usize::MAX
}

impl Limits {
    /// These limits with the connection cap under the descriptor limit.
    pub(super) fn within_descriptors(mut self) -> Self {
        let room = descriptor_room();
        if room < self.max_connections {
            tracing::warn!(
                "the descriptor limit (ulimit -n) leaves room for {room} connections, \
                 not the {} asked for: serving at most {room} at once",
                self.max_connections
            );
            self.max_connections = room;
        }
        self
    }
}

/// Serves `router` on `listener` until `shutdown`; `overloaded` answers
/// the connections past the cap.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    overloaded: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = Arc::clone(&slots).try_acquire_owned().ok();
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Past the cap, a connection that sends nothing is let go soon: it
        // holds a descriptor that `/healthz` may need.
        let header_timeout = match slot {
            Some(_) => limits.header_timeout,
            None => limits.header_timeout.min(OVER_CAP_HEADER_TIMEOUT),
        };
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // Past the cap: one request, then the connection closes.
            .keep_alive(slot.is_some());
        let service = match slot {
            Some(_) => TowerToHyperService::new(router.clone()),
            None => TowerToHyperService::new(overloaded.clone()),
        };
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away or times out is no error of ours.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "stopping with requests still in flight after {:?}",
            limits.shutdown_grace
        );
    }
    Ok(())
}
