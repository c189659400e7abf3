//! An allowance that refills with time (a token bucket): so much at once, then so much a
//! second. What each kiosk may commit at once (`contact_writes.rs`) and store
//! (`store_quota.rs`) are such allowances.

use std::time::{Duration, Instant};

/// How an allowance refills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// The most it holds (what may be spent at once).
    pub burst: f64,
    /// What it earns back a second.
    pub per_second: f64,
}

/// What is left of an allowance: spent with [`Level::take`], earned back with time.
pub struct Level {
    left: f64,
    at: Instant,
}

impl Level {
    pub fn full(rate: &Rate, now: Instant) -> Level {
        Level {
            left: rate.burst,
            at: now,
        }
    }

    /// What is left at `now`, with what was earned since the last look.
    pub fn left(&mut self, rate: &Rate, now: Instant) -> f64 {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * rate.per_second;
        self.left = (self.left + earned).min(rate.burst);
        self.at = now;
        self.left
    }

    /// Spends `amount`, which may leave a debt that is earned back before anything is left.
    pub fn take(&mut self, amount: f64) {
        self.left -= amount;
    }

    /// How long from the last look until `amount` is left (zero if it is).
    pub fn wait_for(&self, rate: &Rate, amount: f64) -> Duration {
        let short = (amount.min(rate.burst) - self.left).max(0.0);
        Duration::from_secs_f64((short / rate.per_second.max(f64::MIN_POSITIVE)).min(86_400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_at_once_and_earned_back_with_time() {
        let rate = Rate {
            burst: 10.0,
            per_second: 0.5,
        };
        let t = Instant::now();
        let mut level = Level::full(&rate, t);
        level.take(12.0);
        assert_eq!(level.left(&rate, t), -2.0, "a debt");
        assert_eq!(level.wait_for(&rate, 1.0), Duration::from_secs(6));
        assert_eq!(level.left(&rate, t + Duration::from_secs(6)), 1.0);
        assert_eq!(
            level.left(&rate, t + Duration::from_secs(600)),
            10.0,
            "never more than the burst"
        );
        assert_eq!(level.wait_for(&rate, 1.0), Duration::ZERO);
    }
}
