//! The host's end of a generator's stream: items flow from the guest's
//! `stream<string>` into a bounded channel that the caller reads lazily.
//!
//! A generator export returns its stream at once; a guest task then writes
//! one JSON text per item. The worker pipes the stream into [`Forward`],
//! which takes an item only when the caller's channel has room, so a slow
//! reader holds the generator back instead of filling memory. The time limit
//! applies to each item: it runs while the guest owes the next item, and is
//! paused while the guest waits for the reader.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{Accessor, Source, StreamAny, StreamConsumer, StreamResult};

use crate::error::{Detail, Error, PythonError, Result};
use crate::store::{CallDeadline, CallEntry, Deadline, StoreData};

/// How many items wait in the channel before the generator is held back.
pub(crate) const BUFFER: usize = 16;

/// When the guest last made progress on the stream.
struct Clock {
    last: Instant,
    /// The guest is waiting for the reader, so its time does not run.
    paused: bool,
}

/// Takes items from the guest's stream into the caller's channel.
struct Forward {
    items: mpsc::Sender<String>,
    deadline: CallDeadline,
    timeout: Option<Duration>,
    clock: Arc<Mutex<Clock>>,
    /// Set when the host gave up on the stream: the next write is refused.
    closed: Arc<AtomicBool>,
    /// Dropped with the consumer, which tells the worker the stream is over.
    _done: oneshot::Sender<()>,
}

impl Clock {
    /// How long the guest has left to make progress, or `None` while it
    /// waits for the reader.
    fn remaining(&self, limit: Duration) -> Option<Duration> {
        (!self.paused).then(|| (self.last + limit).saturating_duration_since(Instant::now()))
    }
}

impl Forward {
    /// Restarts the item's time: its hard deadline runs while the guest
    /// owes an item, and is lifted while it waits for the reader.
    fn tick(&self, paused: bool) {
        let now = Instant::now();
        {
            let mut clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
            clock.last = now;
            clock.paused = paused;
        }
        let hard = match (self.timeout, paused) {
            (Some(timeout), false) => Some(now + timeout + Deadline::GRACE),
            _ => None,
        };
        self.deadline.set(hard);
    }
}

impl StreamConsumer<StoreData> for Forward {
    type Item = String;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'_, StoreData>,
        mut source: Source<'_, String>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        if self.closed.load(Ordering::Acquire) {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        match self.items.poll_ready(cx) {
            Poll::Ready(Err(_)) => Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending => {
                self.tick(true);
                match finish {
                    true => Poll::Ready(Ok(StreamResult::Cancelled)),
                    false => Poll::Pending,
                }
            }
            Poll::Ready(Ok(())) => {
                self.tick(false);
                let mut item = None;
                if source.remaining(&mut store) > 0 {
                    source.read(&mut store, &mut item)?;
                }
                match item.map(|item| self.items.start_send(item)) {
                    Some(Err(_)) => Poll::Ready(Ok(StreamResult::Dropped)),
                    _ => Poll::Ready(Ok(StreamResult::Completed)),
                }
            }
        }
    }
}

/// Pipes `stream` into `items` and waits until it is over, the caller
/// drops it (`cancel`), or an item takes longer than `timeout`.
///
/// `give_up` runs as soon as the host stops waiting, so the caller hears
/// at once; the function then still waits for the guest to close the
/// stream, so that no time limit of this stream outlives it.
pub(crate) async fn forward(
    accessor: &Accessor<StoreData>,
    stream: StreamAny,
    items: mpsc::Sender<String>,
    call: &CallEntry,
    timeout: Option<Duration>,
    cancel: &mut oneshot::Receiver<()>,
    give_up: impl FnOnce(Error),
) -> Result<()> {
    let clock = Arc::new(Mutex::new(Clock {
        last: Instant::now(),
        paused: false,
    }));
    let closed = Arc::new(AtomicBool::new(false));
    let (done, mut finished) = oneshot::channel::<()>();
    let consumer = Forward {
        items,
        deadline: call.deadline(),
        timeout,
        clock: Arc::clone(&clock),
        closed: Arc::clone(&closed),
        _done: done,
    };
    let piped = accessor.with(|mut access| {
        consumer.tick(false);
        let reader = stream.try_into_stream_reader::<String>()?;
        reader.pipe(&mut access, consumer)
    });
    if let Err(error) = piped {
        return Err(Error::Trap(Detail::caused_by(
            "cannot read the stream",
            error,
        )));
    }
    let stopped = loop {
        let remaining = |limit| {
            let clock = clock.lock().unwrap_or_else(PoisonError::into_inner);
            clock.remaining(limit)
        };
        let wait = timeout.map(|limit| remaining(limit).unwrap_or(limit));
        tokio::select! {
            _ = &mut finished => {
                return Ok(());
            }
            _ = &mut *cancel => break Error::Cancelled,
            () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {
                let limit = timeout.unwrap_or_default();
                if remaining(limit) == Some(Duration::ZERO) {
                    break Error::Timeout(limit);
                }
            }
        }
    };
    closed.store(true, Ordering::Release);
    call.cancel();
    call.deadline().set(Some(Instant::now() + Deadline::GRACE));
    give_up(stopped);
    let _ = finished.await;
    Ok(())
}

/// The first character of the item that carries the `python-error` which
/// ended a stream, as JSON; no JSON text starts with it.
const ERROR_MARK: char = '\0';

/// One item as the guest wrote it: a JSON text, or the error that ended
/// the stream.
pub(crate) fn decode_item(text: &str) -> Result<serde_json::Value> {
    if let Some(error) = text.strip_prefix(ERROR_MARK) {
        return Err(match serde_json::from_str::<PythonError>(error) {
            Ok(error) => Error::Python(error),
            Err(e) => Error::Trap(Detail::caused_by(
                "the generator ended with an unreadable error",
                e,
            )),
        });
    }
    serde_json::from_str(text).map_err(|e| {
        Error::Trap(Detail::caused_by(
            "the generator sent an item that is not JSON",
            e,
        ))
    })
}
