//! Each kiosk's allowance of contact writes made at once. A kiosk's contact (last seen, outbox
//! backlog) is written at most every ten seconds, except that a backlog emptying or filling is
//! written at once so the dashboard shows it; every write is a commit (an fsync). A token whose
//! `X-Kiosk-Outbox` header flips between 0 and 1 on every request would make every request a
//! commit, so the writes made at once come from a small bucket per kiosk: an honest kiosk's
//! backlog fills and empties a few times an hour and never runs it dry.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Writes a kiosk may make back to back.
const BURST: f64 = 10.0;
/// Writes a kiosk earns back per second (one every six seconds, more than the regular one
/// every ten that also draws on it).
const REFILL_PER_S: f64 = 1.0 / 6.0;

#[derive(Default)]
pub struct ContactWrites(Mutex<HashMap<String, Allowance>>);

struct Allowance {
    writes: f64,
    at: Instant,
}

impl ContactWrites {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Allowance>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refilled<'a>(
        map: &'a mut HashMap<String, Allowance>,
        kiosk_id: &str,
        now: Instant,
    ) -> &'a mut Allowance {
        let a = map.entry(kiosk_id.to_owned()).or_insert(Allowance {
            writes: BURST,
            at: now,
        });
        let earned = now.saturating_duration_since(a.at).as_secs_f64() * REFILL_PER_S;
        a.writes = (a.writes + earned).min(BURST);
        a.at = now;
        a
    }

    /// Whether `kiosk_id` may have a change written at once now.
    pub fn may_write(&self, kiosk_id: &str, now: Instant) -> bool {
        Self::refilled(&mut self.lock(), kiosk_id, now).writes >= 1.0
    }

    /// Counts a write made for `kiosk_id`.
    pub fn wrote(&self, kiosk_id: &str, now: Instant) {
        let mut map = self.lock();
        let a = Self::refilled(&mut map, kiosk_id, now);
        a.writes = (a.writes - 1.0).max(0.0);
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
