//! Who may try a reviewer password now, and how many argon2 hashes run at once.
//!
//! Every attempt counts against both its user name and its address until it succeeds (counting
//! before the hash, so 32 parallel guesses are 32 attempts, not one). The first
//! [`FREE_ATTEMPTS`] are free; after that each attempt waits twice as long as the last, up to
//! [`MAX_DELAY`]. A refused attempt costs the hub a map lookup, not a hash. Hashing itself runs
//! on the blocking pool, never under the database lock, at most [`HASHES_AT_ONCE`] at a time,
//! so logins cannot take the CPU from kiosks' uploads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed before any delay (a reviewer mistyping).
pub const FREE_ATTEMPTS: u32 = 5;
/// The longest wait between attempts once throttled.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Concurrent argon2 verifications (one per core on the reference machine).
pub const HASHES_AT_ONCE: usize = 2;
/// Entries kept at most; an attacker cycling names cannot grow the map without bound.
const MAX_ENTRIES: usize = 10_000;
/// A key with no attempt for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(u64),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Attempts {
    count: u32,
    last: Instant,
}

impl Attempts {
    /// When the next attempt is allowed.
    fn next_allowed(&self) -> Instant {
        if self.count < FREE_ATTEMPTS {
            return self.last;
        }
        let doublings = (self.count - FREE_ATTEMPTS).min(20);
        let delay = Duration::from_secs(1)
            .saturating_mul(1 << doublings)
            .min(MAX_DELAY);
        self.last + delay
    }
}

/// The attempt counts, per user name and per address.
pub struct LoginGuard {
    attempts: Mutex<HashMap<Key, Attempts>>,
    hashing: tokio::sync::Semaphore,
    /// Keys user names so the map never holds a name a stranger typed.
    salt: u64,
}

impl Default for LoginGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginGuard {
    pub fn new() -> Self {
        let mut salt = [0u8; 8];
        // a fixed salt only makes the keys guessable, which costs nothing here
        let _ = getrandom::fill(&mut salt);
        LoginGuard {
            attempts: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(HASHES_AT_ONCE),
            salt: u64::from_le_bytes(salt),
        }
    }

    fn user_key(&self, user: &str) -> Key {
        use std::hash::Hasher;
        // SipHash with fixed keys, salted per hub
        let mut fixed = std::hash::DefaultHasher::new();
        fixed.write_u64(self.salt);
        fixed.write(user.to_lowercase().as_bytes());
        Key::User(fixed.finish())
    }

    /// Counts an attempt for `user` from `address`, or says how long to wait first.
    pub fn begin(&self, user: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let keys = [self.user_key(user), Key::Address(address)];
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k))
            .map(|a| a.next_allowed().saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(wait);
        }
        if map.len() + keys.len() > MAX_ENTRIES {
            map.retain(|_, a| now.saturating_duration_since(a.last) < FORGET_AFTER);
            while map.len() + keys.len() > MAX_ENTRIES {
                let Some(oldest) = map.iter().min_by_key(|(_, a)| a.last).map(|(k, _)| *k) else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        for k in keys {
            let a = map.entry(k).or_insert(Attempts {
                count: 0,
                last: now,
            });
            a.count = a.count.saturating_add(1);
            a.last = now;
        }
        Ok(())
    }

    /// A correct password: the user and the address start afresh.
    pub fn succeeded(&self, user: &str, address: IpAddr) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.user_key(user));
        map.remove(&Key::Address(address));
    }

    /// A place among the concurrent argon2 verifications (waited for without a thread).
    pub async fn hashing_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.hashing.acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn five_free_attempts_then_a_doubling_wait() {
        let g = LoginGuard::new();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(g.begin("ana", addr(1), t0).is_ok());
        }
        assert_eq!(g.begin("ana", addr(1), t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(g.begin("ana", addr(1), t1).is_ok());
        assert_eq!(g.begin("ana", addr(1), t1), Err(Duration::from_secs(2)));
    }

    #[test]
    fn the_user_is_throttled_from_any_address_and_the_address_for_any_user() {
        let g = LoginGuard::new();
        let t0 = Instant::now();
        for n in 0..FREE_ATTEMPTS as u8 {
            assert!(g.begin("ana", addr(n), t0).is_ok());
        }
        assert!(
            g.begin("ANA", addr(200), t0).is_err(),
            "case does not dodge"
        );
        let g = LoginGuard::new();
        for n in 0..FREE_ATTEMPTS {
            assert!(g.begin(&format!("user{n}"), addr(1), t0).is_ok());
        }
        assert!(g.begin("someone-else", addr(1), t0).is_err());
        assert!(g.begin("someone-else", addr(2), t0).is_ok());
    }

    #[test]
    fn success_clears_the_count() {
        let g = LoginGuard::new();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(g.begin("ana", addr(1), t0).is_ok());
        }
        g.succeeded("ana", addr(1));
        assert!(g.begin("ana", addr(1), t0).is_ok());
    }

    #[test]
    fn the_wait_stops_growing_at_the_cap() {
        let g = LoginGuard::new();
        let mut t = Instant::now();
        for _ in 0..40 {
            // wait as long as told, then try
            if let Err(wait) = g.begin("ana", addr(1), t) {
                assert!(wait <= MAX_DELAY);
                t += wait;
                assert!(g.begin("ana", addr(1), t).is_ok());
            }
        }
        assert_eq!(g.begin("ana", addr(1), t), Err(MAX_DELAY));
    }
}
