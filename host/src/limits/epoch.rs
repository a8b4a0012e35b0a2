//! The thread that advances the engine's epoch, which enforces time limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use wasmtime::Engine;

use super::EPOCH_TICK;
use super::fair_share::FairShare;

/// Ticks while any holder of it is alive: the runtime, and every app loaded
/// from it, so that time limits hold after the `Runtime` is dropped.
pub(crate) struct EpochClock {
    ticking: Arc<AtomicBool>,
    /// How the stores whose time this clock keeps share the CPU.
    fair_share: Arc<FairShare>,
}

impl EpochClock {
    /// Starts ticking `engine`'s epoch on a thread of its own.
    pub(crate) fn start(engine: &Engine) -> anyhow::Result<Arc<Self>> {
        let ticking = Arc::new(AtomicBool::new(true));
        let fair_share = Arc::<FairShare>::default();
        fair_share
            .open_nursery()
            .context("failed to start the nursery thread")?;
        let ticker = (
            engine.clone(),
            Arc::clone(&ticking),
            Arc::clone(&fair_share),
        );
        std::thread::Builder::new()
            .name("snakebox-epoch".into())
            .spawn(move || {
                let (engine, ticking, fair_share) = ticker;
                while ticking.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                    fair_share.watch(Instant::now());
                }
            })
            .context("failed to start the epoch thread")?;
        Ok(Arc::new(EpochClock {
            ticking,
            fair_share,
        }))
    }

    pub(crate) fn fair_share(&self) -> &Arc<FairShare> {
        &self.fair_share
    }
}

impl Drop for EpochClock {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
