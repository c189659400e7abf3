//! The upload queue's policy: when a failed upload is tried again. Pure; the store keeps the
//! rows and the uploader (a later adapter) applies this.

use std::time::Duration;

/// First retry after about this long.
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
/// Never wait longer than this between tries, so a hub back after an outage is found soon.
pub const LONGEST_WAIT: Duration = Duration::from_secs(600);

/// Exponential backoff with jitter: the `attempts`-th retry waits between half and all of
/// `FIRST_RETRY · 2^attempts` (capped), `jitter` in [0, 1) choosing where; kiosks that lost
/// the hub together do not all come back at the same second.
pub fn retry_delay(attempts: u32, jitter: f64) -> Duration {
    let exp = FIRST_RETRY.as_secs_f64() * 2f64.powi(attempts.min(30) as i32);
    let ceiling = exp.min(LONGEST_WAIT.as_secs_f64());
    Duration::from_secs_f64(ceiling * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_then_stop_growing() {
        assert_eq!(retry_delay(0, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(0, 0.0), Duration::from_secs(1));
        assert!(retry_delay(3, 0.5) > retry_delay(2, 0.5));
        assert_eq!(retry_delay(20, 1.0), LONGEST_WAIT);
        assert_eq!(retry_delay(u32::MAX, 0.0), LONGEST_WAIT / 2);
    }
}
