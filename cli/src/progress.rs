//! The `snakebox` command's progress display: a spinner with the elapsed
//! time for each step that takes seconds (installing componentize-py or
//! packages, building, compiling), drawn only when stderr is a terminal.
//!
//! The library marks those steps as `step` spans (`tracing::info_span!(
//! "step", step = …)`); their log lines, one per step, are what a file or a
//! pipe gets.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::span::{Attributes, Id};
use tracing::{Subscriber, field};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Draws a spinner for every open `step` span.
pub(crate) struct Progress;

/// The spinner of one step, stopped and erased when the step ends.
struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Reads the `step` field of a span.
#[derive(Default)]
struct StepName(String);

impl field::Visit for StepName {
    fn record_str(&mut self, field: &field::Field, value: &str) {
        if field.name() == "step" {
            self.0 = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "step" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Progress {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "step" {
            return;
        }
        let mut name = StepName::default();
        attrs.record(&mut name);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("snakebox-progress".into())
            .spawn(move || spin(&name.0, &flag))
            .ok();
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Spinner { stop, thread });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let spinner = ctx
            .span(&id)
            .and_then(|span| span.extensions_mut().remove::<Spinner>());
        if let Some(mut spinner) = spinner {
            spinner.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = spinner.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Redraws `⠋ building app.py 3.2s` until `stop`, then erases the line.
fn spin(step: &str, stop: &AtomicBool) {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let started = Instant::now();
    let mut frame = 0;
    while !stop.load(Ordering::Relaxed) {
        let elapsed = started.elapsed().as_secs_f64();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2K{} {step} {elapsed:.1}s",
            FRAMES[frame % FRAMES.len()]
        );
        let _ = stderr.flush();
        drop(stderr);
        frame += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = write!(std::io::stderr(), "\r\x1b[2K");
}
