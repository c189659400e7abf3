//! Each kiosk's allowance of contact writes made at once. A kiosk's contact (last seen, outbox
//! backlog) is written at most every ten seconds, except that a backlog emptying or filling is
//! written at once so the dashboard shows it; every write is a commit (an fsync). A token whose
//! `X-Kiosk-Outbox` header flips between 0 and 1 on every request would make every request a
//! commit, so the writes made at once come from a small bucket per kiosk: an honest kiosk's
//! backlog fills and empties a few times an hour and never runs it dry.

use super::refill::{Level, Rate};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Ten writes back to back, then one every six seconds (more than the regular one every ten
/// that also draws on it).
const WRITES: Rate = Rate {
    burst: 10.0,
    per_second: 1.0 / 6.0,
};

#[derive(Default)]
pub struct ContactWrites(Mutex<HashMap<String, Level>>);

impl ContactWrites {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Level>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `kiosk_id` may have a change written at once now.
    pub fn may_write(&self, kiosk_id: &str, now: Instant) -> bool {
        let mut map = self.lock();
        let level = map
            .entry(kiosk_id.to_owned())
            .or_insert_with(|| Level::full(&WRITES, now));
        level.left(&WRITES, now) >= 1.0
    }

    /// Counts a write made for `kiosk_id`.
    pub fn wrote(&self, kiosk_id: &str, now: Instant) {
        let mut map = self.lock();
        let level = map
            .entry(kiosk_id.to_owned())
            .or_insert_with(|| Level::full(&WRITES, now));
        if level.left(&WRITES, now) >= 1.0 {
            level.take(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_kiosk_flipping_its_backlog_runs_dry_and_earns_writes_back() {
        let w = ContactWrites::default();
        let t = Instant::now();
        for _ in 0..10 {
            assert!(w.may_write("k1", t));
            w.wrote("k1", t);
        }
        assert!(
            !w.may_write("k1", t),
            "the eleventh write at once is not made"
        );
        assert!(w.may_write("k2", t), "another kiosk's allowance is its own");
        assert!(w.may_write("k1", t + Duration::from_secs(6)), "earned back");
    }
}
