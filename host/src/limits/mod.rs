//! What bounds a call besides its memory limiter: the epoch clock that
//! stops a guest at its time limit, and the fair share of the CPU, by
//! which long runs give way to short calls on other stores. Both count in
//! the same tick.

use std::time::Duration;

pub(crate) mod epoch;
pub(crate) mod fair_share;

/// How often the epoch advances: the granularity of time limits, and how
/// soon a long run is seen as one.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(2);
