//! What bounds a call besides its memory limiter: the epoch clock that
//! stops a guest at its time limit, and the fair share of the CPU that long
//! runs take while other stores have calls in flight. Both count in the
//! same tick.

use std::time::Duration;

pub(crate) mod epoch;
pub(crate) mod fair_share;

/// How often the epoch advances; the granularity of CPU time limits.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
