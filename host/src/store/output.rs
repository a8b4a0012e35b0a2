//! A bound on guest output, so that a guest printing in a loop cannot flood
//! the host's log: each store has its own budget.

use std::time::{Duration, Instant};

use super::GUEST_TARGET;

/// Bytes of guest output let through per store per window.
const BYTES_PER_WINDOW: usize = 64 << 10;
const WINDOW: Duration = Duration::from_secs(1);
/// The longest single message; longer ones are cut.
const MAX_MESSAGE: usize = 8 << 10;

/// One store's guest output in the current window.
pub(crate) struct Budget {
    window_start: Instant,
    used: usize,
    dropped_messages: u64,
    dropped_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            window_start: Instant::now(),
            used: 0,
            dropped_messages: 0,
            dropped_bytes: 0,
        }
    }
}

impl Budget {
    /// The message to log, cut to size, or `None` when this store has
    /// used up its budget for the current window.
    pub(crate) fn admit(&mut self, function: &str, mut message: String) -> Option<String> {
        let budget = self;
        let now = Instant::now();
        if now.duration_since(budget.window_start) >= WINDOW {
            if budget.dropped_messages > 0 {
                tracing::warn!(
                    target: GUEST_TARGET,
                    function,
                    "guest output over its budget: dropped {} messages ({} bytes) in the last second",
                    budget.dropped_messages,
                    budget.dropped_bytes
                );
            }
            *budget = Budget {
                window_start: now,
                ..Budget::default()
            };
        }
        if budget.used + message.len().min(MAX_MESSAGE) > BYTES_PER_WINDOW {
            if budget.dropped_messages == 0 {
                tracing::warn!(
                    target: GUEST_TARGET,
                    function,
                    "guest output over its budget of {BYTES_PER_WINDOW} bytes per second: dropping the rest of this second's output"
                );
            }
            budget.dropped_messages += 1;
            budget.dropped_bytes += message.len() as u64;
            return None;
        }
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            let dropped = message.len() - cut;
            message.truncate(cut);
            message.push_str(&format!(" [... {dropped} more bytes]"));
        }
        budget.used += message.len();
        Some(message)
    }
}
