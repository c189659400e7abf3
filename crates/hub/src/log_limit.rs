//! Log lines a stranger or a stolen kiosk token can cause, kept to one a minute per address or
//! per kiosk and kind of line. A refused login is answered within two seconds and each address
//! may hold sixteen connections, so one line per throttled attempt let one address grow the log
//! by ~87 MB a day; a stolen token's refused roster requests, answered in microseconds, grew it
//! by 3.5 MB/s (helpers' probes, session 40), eating the disk the reserve keeps for records.
//! The first line of a minute is written at once, with how many were held back before it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One line per address per this long.
const PER: Duration = Duration::from_secs(60);
/// Keys remembered at once; beyond it the stale ones are forgotten, and if none is stale, the
/// whole table (a flood of addresses may then log more lines, but never take memory).
const MAX_ADDRESSES: usize = 8192;

pub struct LogLimit<K>(Mutex<HashMap<K, Seen>>);

impl<K> Default for LogLimit<K> {
    fn default() -> Self {
        LogLimit(Mutex::new(HashMap::new()))
    }
}

struct Seen {
    written_at: Instant,
    held_back: u64,
}

impl<K: Eq + Hash> LogLimit<K> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Seen>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a line for `key` is written now: `Some(n)` with the lines held back since the
    /// last one, `None` when this one is held back.
    pub fn allow(&self, key: K, now: Instant) -> Option<u64> {
        let mut seen = self.lock();
        if let Some(s) = seen.get_mut(&key) {
            if now.saturating_duration_since(s.written_at) < PER {
                s.held_back += 1;
                return None;
            }
            let held_back = s.held_back;
            *s = Seen {
                written_at: now,
                held_back: 0,
            };
            return Some(held_back);
        }
        if seen.len() >= MAX_ADDRESSES {
            seen.retain(|_, s| now.saturating_duration_since(s.written_at) < PER);
            if seen.len() >= MAX_ADDRESSES {
                seen.clear();
            }
        }
        seen.insert(
            key,
            Seen {
                written_at: now,
                held_back: 0,
            },
        );
        Some(0)
    }
}

/// The log lines a kiosk's token can cause at the rate it sends requests: each is written at
/// most once a minute per kiosk (`Hub::kiosk_line`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KioskLine {
    ShareTaken,
    AllowanceUsed,
    DiskLow,
    Replayed,
    BatchClosed,
    ForeignStatus,
    RosterRefused,
    RosterSent,
}

impl super::Hub {
    /// Whether a `what` line for `kiosk_id` is logged now, and how many were held back since
    /// the last (see `log_limit.rs`).
    pub(crate) fn kiosk_line(&self, kiosk_id: &str, what: KioskLine) -> Option<u64> {
        self.kiosk_lines
            .allow((kiosk_id.to_owned(), what), std::time::Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn one_line_a_minute_per_address_saying_how_many_were_held_back() {
        let limit = LogLimit::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t = Instant::now();
        assert_eq!(limit.allow(a, t), Some(0));
        for s in 1..=59 {
            assert_eq!(limit.allow(a, t + Duration::from_secs(s)), None);
        }
        assert_eq!(limit.allow(b, t), Some(0), "another address has its own");
        assert_eq!(limit.allow(a, t + PER), Some(59));
        assert_eq!(limit.allow(a, t + PER), None);
    }
}
