//! Who may try a reviewer password now, and how many argon2 hashes run at once.
//!
//! Every attempt counts against both its user name and its address until it succeeds (counting
//! before the hash, so 32 parallel guesses are 32 attempts, not one). An attempt from a
//! browser that has logged in as that user before (its device cookie, `device_cookie.rs`)
//! counts against that browser alone: a stranger guessing at a reviewer's name throttles the
//! name, not the reviewer's own browser. The first
//! [`FREE_ATTEMPTS`] are free; after that each attempt waits twice as long as the last, up to
//! [`MAX_DELAY`]. Hashing itself runs on the blocking pool, never under the database lock, at
//! most [`HASHES_AT_ONCE`] at a time, so logins cannot take the CPU from kiosks' uploads; and
//! one more for browsers that have logged in before, so that a reviewer's check does not
//! queue behind a crowd of strangers' guesses (only account holders' own browsers can fill
//! that place, each under its own count).
//!
//! The count that holds is the database's (`db/login_attempts.rs`): replicas behind a load
//! balancer share it, and a restarted replica finds it. This process's own map of the
//! attempts it let through is a first gate only: it refuses a name or an address it already
//! knows must wait for the cost of a map lookup, before any database work, so a flood of
//! refused guesses does not become a flood of transactions. It can only be stricter than the
//! database's count where a success on another replica has not reached it, which a wait of
//! a few seconds or another replica settles.

use crate::db::digest_hex;
use crate::db::login_attempts::{Counted, MAX_ROWS};
use crate::device_cookie::{DeviceClaim, DeviceCookies};
use crate::Hub;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
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

/// How long an attempt must wait after `failures` attempts, the last `since` ago.
pub fn wait_after(failures: i64, since: Duration) -> Duration {
    let Ok(failures) = u32::try_from(failures) else {
        return Duration::ZERO;
    };
    if failures < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(20);
    Duration::from_secs(1)
        .saturating_mul(1 << doublings)
        .min(MAX_DELAY)
        .saturating_sub(since)
}

/// The keys of one attempt: salted digests (hex) of its user name, of its address and of its
/// browser when that has logged in as the user before; the same on every replica of one
/// database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginKeys {
    pub user: String,
    pub address: String,
    pub device: Option<String>,
}

impl LoginKeys {
    /// The keys the attempt waits on and counts against: a known browser's own, or else the
    /// user name's and the address's.
    pub fn counted(&self) -> Vec<&str> {
        match &self.device {
            Some(device) => vec![device],
            None => vec![&self.user, &self.address],
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Attempts {
    count: u32,
    last: Instant,
}

impl Attempts {
    /// How long until the next attempt is allowed.
    fn wait(&self, now: Instant) -> Duration {
        wait_after(
            i64::from(self.count),
            now.saturating_duration_since(self.last),
        )
    }
}

/// This process's attempt counts (the first gate), the hashing slots and the keys' salt.
pub struct LoginGuard {
    attempts: Mutex<HashMap<String, Attempts>>,
    hashing: Arc<tokio::sync::Semaphore>,
    /// A lane of its own for browsers that have logged in before: a reviewer's password check
    /// does not queue behind a crowd of strangers' guesses (a helper's 400 guessing clients
    /// kept her waiting 8–9 s with one queue for all).
    known_hashing: Arc<tokio::sync::Semaphore>,
    /// From the database (`HubDb::login_salt`): keys never hold a name a stranger typed, and
    /// every replica makes the same key of one name.
    salt: String,
    /// Keyed by a secret of the database's too: every replica knows a browser another one
    /// let in.
    devices: DeviceCookies,
}

impl LoginGuard {
    pub fn new(salt: String, devices: DeviceCookies) -> Self {
        LoginGuard {
            attempts: Mutex::new(HashMap::new()),
            hashing: Arc::new(tokio::sync::Semaphore::new(HASHES_AT_ONCE)),
            known_hashing: Arc::new(tokio::sync::Semaphore::new(1)),
            devices,
            salt,
        }
    }

    fn digest(&self, kind: &str, text: &str) -> String {
        digest_hex(format!("{}\0{kind}\0{text}", self.salt).as_bytes())
    }

    /// The keys of an attempt for `user` from `address`. Case does not dodge the count, and
    /// an IPv6 address counts as its /64 (one subscriber's network: a machine there can take
    /// a new address for every guess).
    pub fn keys(&self, user: &str, address: IpAddr) -> LoginKeys {
        let address = match crate::server::client_network(address) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        };
        LoginKeys {
            user: self.digest("user", &user.to_lowercase()),
            address: self.digest("address", &address),
            device: None,
        }
    }

    /// The device cookie among `cookies` (their values) made for `user` whose MAC holds at
    /// `now_s` (Unix seconds), if any: checked without the database, so that only a cookie
    /// this hub made costs the read of the account's password hash.
    pub fn claimed_device<'a>(
        &self,
        cookies: impl Iterator<Item = &'a str>,
        user: &str,
        now_s: u64,
    ) -> Option<DeviceClaim> {
        self.devices.claim(cookies, user, now_s)
    }

    /// The keys of an attempt for `user` from `address` whose browser made `claim`: where it
    /// was made under the account's password as it is now (`password_hash`), the attempt
    /// counts against that browser alone.
    pub fn keys_from_browser(
        &self,
        user: &str,
        address: IpAddr,
        claim: Option<&DeviceClaim>,
        password_hash: Option<&str>,
    ) -> LoginKeys {
        let known = claim.zip(password_hash).and_then(|(claim, hash)| {
            self.devices
                .same_generation(claim, hash)
                .then(|| self.digest("device", &claim.id))
        });
        LoginKeys {
            device: known,
            ..self.keys(user, address)
        }
    }

    /// The `Set-Cookie` value that makes the browser that has just logged in as `user` (whose
    /// password is `password_hash`) at `now_s` a known one; None when the OS gives no random
    /// bytes.
    pub fn device_set_cookie(
        &self,
        user: &str,
        password_hash: &str,
        now_s: u64,
        secure: bool,
    ) -> Option<String> {
        let value = self.devices.issue(user, password_hash, now_s)?;
        Some(self.devices.set_cookie(user, &value, secure))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Attempts>> {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long the attempt must wait by this process's own count, if at all.
    pub fn check(&self, keys: &LoginKeys, now: Instant) -> Result<(), Duration> {
        let map = self.lock();
        let wait = keys
            .counted()
            .into_iter()
            .filter_map(|k| map.get(k))
            .map(|a| a.wait(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Counts an attempt the database let through.
    pub fn count(&self, keys: &LoginKeys, now: Instant) {
        let mut map = self.lock();
        if map.len() + 2 > MAX_ENTRIES {
            map.retain(|_, a| now.saturating_duration_since(a.last) < FORGET_AFTER);
            while map.len() + 2 > MAX_ENTRIES {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, a)| a.last)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        for k in keys.counted() {
            let a = map.entry(k.to_owned()).or_insert(Attempts {
                count: 0,
                last: now,
            });
            a.count = a.count.saturating_add(1);
            a.last = now;
        }
    }

    /// A correct password: the user (or the browser that counted instead) starts afresh;
    /// the address loses this attempt (as in the database, `HubDb::login_succeeded`). A
    /// known browser's login leaves the name's count alone: the stranger guessing at it gets
    /// no fresh free attempts from the reviewer's own login.
    pub fn succeeded(&self, keys: &LoginKeys) {
        let mut map = self.lock();
        match &keys.device {
            Some(device) => {
                map.remove(device);
            }
            None => {
                map.remove(&keys.user);
                if let Some(a) = map.get_mut(&keys.address) {
                    a.count = a.count.saturating_sub(1);
                }
            }
        }
    }

    /// A place among the concurrent argon2 verifications (waited for without a thread): in
    /// the known browsers' own lane for an attempt from one, else in the shared one. Owned,
    /// so that the task that checks the password holds it to the end.
    pub async fn hashing_slot(
        &self,
        keys: &LoginKeys,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let lane = if keys.device.is_some() {
            &self.known_hashing
        } else {
            &self.hashing
        };
        lane.clone().acquire_owned().await.ok()
    }
}

/// Why a login attempt is not let through to the password check.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// One of the attempt's keys (the user name, the address, or the known browser instead)
    /// must wait this long.
    Wait(Duration),
    /// The database could not count the attempt: without a count there is no limit, so the
    /// attempt is refused (never let through unchecked).
    Uncounted,
}

/// Checks and counts an attempt: this process's gate first, then the shared count in the
/// database, before any password is hashed.
pub async fn admit(hub: &Arc<Hub>, keys: &LoginKeys) -> Result<(), Refused> {
    let now = Instant::now();
    hub.login_guard.check(keys, now).map_err(Refused::Wait)?;
    let counted_keys = keys.clone();
    let counted = crate::blocking(hub, move |h| {
        let db = h.db();
        let at = capture_store::now_ms();
        let counted = db.count_login_attempt(&counted_keys.counted(), at, wait_after)?;
        // only a new key can grow the table: that is when it is trimmed
        if counted == (Counted::Allowed { new_key: true }) {
            db.forget_login_attempts(at, MAX_ROWS)?;
        }
        Ok(counted)
    })
    .await;
    match counted {
        Ok(Counted::Allowed { .. }) => {
            hub.login_guard.count(keys, now);
            Ok(())
        }
        Ok(Counted::Wait(wait)) => Err(Refused::Wait(wait)),
        // the database error itself is logged where it was turned into an ApiError
        Err(_) => Err(Refused::Uncounted),
    }
}

/// A correct password: both counts (this process's and the database's) forget the failures
/// of the user, or of the browser that counted instead.
pub async fn succeeded(hub: &Arc<Hub>, keys: &LoginKeys) {
    hub.login_guard.succeeded(keys);
    let cleared = keys.clone();
    if let Err(e) = crate::blocking(hub, move |h| {
        let db = h.db();
        let (key, address) = match &cleared.device {
            Some(device) => (device, None),
            None => (&cleared.user, Some(cleared.address.as_str())),
        };
        Ok(db.login_succeeded(key, address)?)
    })
    .await
    {
        // the login stands; the failures before it still count, which errs on the safe side
        tracing::warn!(target: "hub", error = %e.message, "cannot clear a user's failed logins");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn devices() -> DeviceCookies {
        DeviceCookies::new("test key").unwrap_or_else(|| panic!("HMAC takes any key"))
    }

    /// A browser's cookie values for `user`, as it sends them back.
    fn cookie_of(g: &LoginGuard, user: &str) -> String {
        let set = g
            .device_set_cookie(user, HASH, NOW_S, false)
            .unwrap_or_default();
        let pair = set.split(';').next().unwrap_or_default();
        pair.split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    }

    const HASH: &str = "$argon2id$ana's";

    /// The keys of an attempt for `user` from a browser that sends `cookie`.
    fn from_browser(g: &LoginGuard, user: &str, address: IpAddr, cookie: &str) -> LoginKeys {
        let claim = g.claimed_device([cookie].into_iter(), user, NOW_S);
        g.keys_from_browser(user, address, claim.as_ref(), Some(HASH))
    }

    const NOW_S: u64 = 1_800_000_000;

    fn guard() -> LoginGuard {
        LoginGuard::new("test salt".into(), devices())
    }

    /// Checks and counts an attempt on this process's gate alone.
    fn begin(g: &LoginGuard, user: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let keys = g.keys(user, address);
        g.check(&keys, now)?;
        g.count(&keys, now);
        Ok(())
    }

    #[test]
    fn five_free_attempts_then_a_doubling_wait() {
        let g = guard();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(begin(&g, "ana", addr(1), t0).is_ok());
        }
        assert_eq!(begin(&g, "ana", addr(1), t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(begin(&g, "ana", addr(1), t1).is_ok());
        assert_eq!(begin(&g, "ana", addr(1), t1), Err(Duration::from_secs(2)));
    }

    #[test]
    fn the_user_is_throttled_from_any_address_and_the_address_for_any_user() {
        let g = guard();
        let t0 = Instant::now();
        for n in 0..FREE_ATTEMPTS as u8 {
            assert!(begin(&g, "ana", addr(n), t0).is_ok());
        }
        assert!(
            begin(&g, "ANA", addr(200), t0).is_err(),
            "case does not dodge"
        );
        let g = guard();
        for n in 0..FREE_ATTEMPTS {
            assert!(begin(&g, &format!("user{n}"), addr(1), t0).is_ok());
        }
        assert!(begin(&g, "someone-else", addr(1), t0).is_err());
        assert!(begin(&g, "someone-else", addr(2), t0).is_ok());
    }

    #[test]
    fn an_ipv6_machine_cannot_dodge_by_taking_a_new_address_in_its_network() {
        let g = guard();
        let v6 = |last: u16| IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, last]);
        assert_eq!(g.keys("a", v6(1)).address, g.keys("a", v6(0xffff)).address);
        let other_network = IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]);
        assert_ne!(
            g.keys("a", v6(1)).address,
            g.keys("a", other_network).address
        );
        // an IPv4 client seen through an IPv6 socket is its IPv4 address
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(g.keys("a", mapped).address, g.keys("a", addr(1)).address);
    }

    #[test]
    fn keys_hold_no_name_and_replicas_sharing_a_salt_make_the_same_ones() {
        let keys = guard().keys("110101199003077777", addr(1));
        assert!(!keys.user.contains("110101199003077777"));
        assert_eq!(keys.user.len(), 64, "a sha-256 digest, hex");
        assert_eq!(guard().keys("110101199003077777", addr(1)), keys);
        assert_ne!(
            LoginGuard::new("another database".into(), devices())
                .keys("110101199003077777", addr(1))
                .user,
            keys.user
        );
    }

    #[test]
    fn success_clears_the_user_and_takes_one_attempt_off_the_address() {
        let g = guard();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(begin(&g, "ana", addr(1), t0).is_ok());
        }
        g.succeeded(&g.keys("ana", addr(1)));
        assert!(begin(&g, "ana", addr(1), t0).is_ok());
        // the address keeps its four failures: with this attempt, five
        assert!(begin(&g, "bo", addr(1), t0).is_err());
    }

    #[test]
    fn a_stranger_s_guesses_at_a_name_do_not_hold_up_its_owner_s_browser() {
        let g = guard();
        let t0 = Instant::now();
        for n in 0..FREE_ATTEMPTS as u8 + 3 {
            let _ = begin(&g, "ana", addr(n), t0);
        }
        assert!(begin(&g, "ana", addr(100), t0).is_err(), "the name waits");
        // ana's browser, known from an earlier login, from the same office address as ever
        let cookie = cookie_of(&g, "ana");
        let known = from_browser(&g, "ana", addr(100), &cookie);
        assert!(known.device.is_some());
        assert_eq!(known.counted(), vec![known.device.as_deref().unwrap_or("")]);
        assert!(g.check(&known, t0).is_ok(), "the browser does not");
        // the cookie is ana's: with another name it is no device, and that name counts
        let other = from_browser(&g, "bo", addr(100), &cookie);
        assert_eq!(other.device, None);
        // the browser's own mistakes throttle the browser
        for _ in 0..FREE_ATTEMPTS {
            g.check(&known, t0)
                .unwrap_or_else(|w| panic!("waits {w:?}"));
            g.count(&known, t0);
        }
        assert!(g.check(&known, t0).is_err());
        // its owner's login resets the browser, not the name the stranger is guessing at
        g.succeeded(&known);
        assert!(g.check(&known, t0).is_ok());
        assert!(begin(&g, "ana", addr(101), t0).is_err());
    }

    #[test]
    fn a_known_browser_s_password_check_does_not_queue_behind_strangers() {
        use futures_util::FutureExt;
        let g = guard();
        let stranger = g.keys("ana", addr(1));
        let cookie = cookie_of(&g, "ana");
        let known = from_browser(&g, "ana", addr(2), &cookie);
        // strangers' guesses hold every place of the shared lane
        let held: Vec<_> = (0..HASHES_AT_ONCE)
            .filter_map(|_| g.hashing_slot(&stranger).now_or_never().flatten())
            .collect();
        assert_eq!(held.len(), HASHES_AT_ONCE);
        assert!(
            g.hashing_slot(&stranger).now_or_never().is_none(),
            "a stranger waits"
        );
        assert!(
            g.hashing_slot(&known).now_or_never().flatten().is_some(),
            "the reviewer's browser does not"
        );
    }

    #[test]
    fn the_wait_stops_growing_at_the_cap() {
        let g = guard();
        let mut t = Instant::now();
        for _ in 0..40 {
            // wait as long as told, then try
            if let Err(wait) = begin(&g, "ana", addr(1), t) {
                assert!(wait <= MAX_DELAY);
                t += wait;
                assert!(begin(&g, "ana", addr(1), t).is_ok());
            }
        }
        assert_eq!(begin(&g, "ana", addr(1), t), Err(MAX_DELAY));
    }
}
