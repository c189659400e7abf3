//! Failed logins counted in the database, so that every replica behind a load balancer sees
//! the same count (`login_guard.rs` holds the rule and this replica's cheap first gate).
//!
//! A row is a key (a salted digest of a user name, of an address or of a known browser's
//! device id: a name can be an ID number someone typed, so it is never stored), how many attempts it has had and when the
//! last was. An attempt is checked and counted in one transaction *before* the password is
//! hashed, with each key's row locked in a fixed order, so 32 guesses sent at once to
//! several replicas are 32 attempts, and two logins never wait for each other's locks in a
//! cycle.
//!
//! The table stays small: a row with no attempt for [`FORGET_AFTER_MS`] counts as nothing
//! and is deleted, and past [`MAX_ROWS`] the rows with the fewest failures go first, so a
//! stranger cycling random names (one failure each) pushes out their own rows, not the
//! count against a reviewer who is being guessed at.

use super::sql::{args, Dialect};
use super::{new_secret, HubDb};
use crate::sealing::SealingKey;
use capture_store::StoreError;
use std::time::Duration;

/// A key with no attempt for this long is forgotten.
pub const FORGET_AFTER_MS: i64 = 3_600_000;
/// Rows kept at most (about 1 MB with the index, whatever a stranger sends).
pub const MAX_ROWS: i64 = 10_000;

/// What the shared count said about one login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Counted; `new_key` when a key had no live row before (the table may have grown).
    Allowed { new_key: bool },
    /// Not counted: one of the attempt's keys (the user name, the address or the known
    /// browser) must wait this long first.
    Wait(Duration),
}

impl HubDb {
    /// The salt of the login keys' digests: made by the first replica to ask and the same for
    /// every replica after it, so they all count a name under one key.
    pub fn login_salt(&self) -> Result<String, StoreError> {
        self.shared_secret("login_attempts")
    }

    /// The key of the device cookies' MACs (`device_cookie.rs`), shared by the replicas so
    /// that each accepts a cookie another made; a secret of its own, not the salt above.
    pub fn device_cookie_key(&self) -> Result<String, StoreError> {
        self.shared_secret("device_cookies")
    }

    /// The secret called `name`: made by the first replica to ask, the same for every one
    /// after it. Kept sealed with the hub's sealing key (`sealing.rs`): a dump of the database
    /// alone does not let anyone forge a device cookie or undo the login keys' digests. One an
    /// earlier version kept in clear is read and sealed in its place.
    fn shared_secret(&self, name: &'static str) -> Result<String, StoreError> {
        let place = format!("hub_secrets\u{1f}{name}");
        let seal = |secret: &str| {
            self.sealing
                .seal_text(&place, secret)
                .map_err(|e| StoreError::Crypto(e.to_string()))
        };
        let fresh = seal(&new_secret("")?)?;
        let mut sql = self.sql()?;
        sql.execute(
            "INSERT INTO hub_secrets (name, secret) VALUES (?1, ?2)
             ON CONFLICT (name) DO NOTHING",
            args![name, fresh],
        )?;
        let stored: String = sql
            .query_one(
                "SELECT secret FROM hub_secrets WHERE name = ?1",
                args![name],
            )?
            .get(0)?;
        if SealingKey::is_sealed_text(&stored) {
            return self
                .sealing
                .open_text(&place, stored)
                .map_err(|e| StoreError::Unsealed(e.to_string()));
        }
        // kept in clear by an earlier version: sealed now, unless another replica did first
        sql.execute(
            "UPDATE hub_secrets SET secret = ?2 WHERE name = ?1 AND secret = ?3",
            args![name, seal(&stored)?, &stored],
        )?;
        Ok(stored)
    }

    /// Checks the attempts against `keys` at `now_ms` and, unless one of them must wait
    /// (`wait` of its failures and the time since its last attempt), counts this one against
    /// each. Neither is counted when one must wait.
    pub fn count_login_attempt(
        &self,
        keys: &[&str],
        now_ms: i64,
        wait: impl Fn(i64, Duration) -> Duration,
    ) -> Result<Counted, StoreError> {
        let mut keys = keys.to_vec();
        // every transaction locks its rows in the same order: no deadlock between replicas
        keys.sort_unstable();
        keys.dedup();
        let forgotten_before = now_ms.saturating_sub(FORGET_AFTER_MS);
        let dialect = self.dialect();
        self.transaction(|tx| {
            if dialect == Dialect::Postgres {
                // a count is not worth a disk flush per guess: a database crash loses at most
                // the last fraction of a second of counts, and the login answers sooner
                tx.execute("SET LOCAL synchronous_commit TO OFF", &[])?;
            }
            let mut longest = Duration::ZERO;
            let mut new_key = false;
            for key in &keys {
                // the row made or locked (an update of an existing row locks it until the
                // commit, so a concurrent attempt on the same key waits and then sees this
                // one's count); a row past its hour starts again from nothing
                let row = tx.query_one(
                    "INSERT INTO login_attempts (digest, failures, last_at) VALUES (?1, 0, ?2)
                     ON CONFLICT (digest) DO UPDATE SET failures =
                         CASE WHEN login_attempts.last_at < ?3 THEN 0 ELSE login_attempts.failures END
                     RETURNING failures, last_at",
                    args![*key, now_ms, forgotten_before],
                )?;
                let failures: i64 = row.get(0)?;
                let last_at: i64 = row.get(1)?;
                new_key |= failures == 0;
                let since = Duration::from_millis(now_ms.saturating_sub(last_at).max(0) as u64);
                longest = longest.max(wait(failures, since));
            }
            if !longest.is_zero() {
                // a refused attempt leaves no row behind for a key it made
                for key in &keys {
                    tx.execute(
                        "DELETE FROM login_attempts WHERE digest = ?1 AND failures = 0",
                        args![*key],
                    )?;
                }
                return Ok(Counted::Wait(longest));
            }
            for key in &keys {
                tx.execute(
                    "UPDATE login_attempts SET failures = failures + 1, last_at = ?2 WHERE digest = ?1",
                    args![*key, now_ms],
                )?;
            }
            Ok(Counted::Allowed { new_key })
        })
    }

    /// A correct password: the user name (or the browser that logged in as it) starts
    /// afresh, and the address, if counted, loses this attempt (it keeps its failures: a
    /// login of one's own between guesses at others' passwords must not reset the address's
    /// count, and an office behind one address must not be throttled by its reviewers'
    /// successful logins).
    pub fn login_succeeded(
        &self,
        cleared_key: &str,
        address_key: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut sql = self.sql()?;
        sql.execute(
            "DELETE FROM login_attempts WHERE digest = ?1",
            args![cleared_key],
        )?;
        if let Some(address_key) = address_key {
            sql.execute(
                "UPDATE login_attempts SET failures = failures - 1 WHERE digest = ?1 AND failures > 0",
                args![address_key],
            )?;
        }
        Ok(())
    }

    /// Deletes the rows past their hour and, beyond `max_rows`, those with the fewest
    /// failures (oldest first). Rows another replica has locked are left for the next time
    /// (`SKIP LOCKED`), so this never waits on a login in progress. Returns the rows deleted.
    pub fn forget_login_attempts(&self, now_ms: i64, max_rows: i64) -> Result<usize, StoreError> {
        let skip_locked = match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let mut sql = self.sql()?;
        let mut gone = sql.execute(
            &format!(
                "DELETE FROM login_attempts WHERE digest IN
                 (SELECT digest FROM login_attempts WHERE last_at < ?1{skip_locked})"
            ),
            args![now_ms.saturating_sub(FORGET_AFTER_MS)],
        )?;
        let rows: i64 = sql
            .query_one("SELECT COUNT(*) FROM login_attempts", &[])?
            .get(0)?;
        if rows > max_rows {
            gone += sql.execute(
                &format!(
                    "DELETE FROM login_attempts WHERE digest IN
                     (SELECT digest FROM login_attempts ORDER BY failures, last_at LIMIT ?1{skip_locked})"
                ),
                args![rows - max_rows],
            )?;
        }
        Ok(gone)
    }

    /// Rows in the table (tests).
    pub fn login_attempt_rows(&self) -> Result<i64, StoreError> {
        self.sql()?
            .query_one("SELECT COUNT(*) FROM login_attempts", &[])?
            .get(0)
    }

    /// A key's failures, if it has a row (tests).
    pub fn login_failures(&self, key: &str) -> Result<Option<i64>, StoreError> {
        self.sql()?
            .query_opt(
                "SELECT failures FROM login_attempts WHERE digest = ?1",
                args![key],
            )?
            .map(|r| r.get(0))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No wait before the third failure, then 10 s after the last attempt.
    fn after_two(failures: i64, since: Duration) -> Duration {
        if failures < 2 {
            Duration::ZERO
        } else {
            Duration::from_secs(10).saturating_sub(since)
        }
    }

    fn on_each_engine(name: &str, check: impl Fn(&HubDb)) {
        let dir = std::env::temp_dir().join(format!(
            "hub-login-attempts-{name}-{}-{}",
            std::process::id(),
            capture_store::now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let sealing = std::sync::Arc::new(crate::sealing::SealingKey::generate().unwrap());
        let db = HubDb::open(&dir.join("hub.sqlite"), sealing).expect("hub database opens");
        check(&db);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
        let db = crate::pg_cluster::test_database(&format!("login_attempts_{name}"))
            .expect("a PostgreSQL database");
        check(&db);
    }

    #[test]
    fn the_hubs_secrets_are_kept_sealed_and_an_earlier_clear_one_is_sealed_in_place() {
        on_each_engine("secrets", |db| {
            let salt = db.login_salt().unwrap();
            assert_eq!(db.login_salt().unwrap(), salt, "the same for every caller");
            assert_ne!(db.device_cookie_key().unwrap(), salt);
            let stored = |name: &str| -> String {
                db.sql()
                    .unwrap()
                    .query_one(
                        "SELECT secret FROM hub_secrets WHERE name = ?1",
                        args![name],
                    )
                    .unwrap()
                    .get(0)
                    .unwrap()
            };
            assert!(stored("login_attempts").starts_with("sealed1:"));
            assert!(!stored("login_attempts").contains(&salt));
            // kept in clear by an earlier version: still the same secret, now sealed
            db.sql()
                .unwrap()
                .execute(
                    "UPDATE hub_secrets SET secret = 'ab12' WHERE name = 'device_cookies'",
                    &[],
                )
                .unwrap();
            assert_eq!(db.device_cookie_key().unwrap(), "ab12");
            assert!(stored("device_cookies").starts_with("sealed1:"));
            assert_eq!(db.device_cookie_key().unwrap(), "ab12");
        });
    }

    #[test]
    fn attempts_are_counted_refused_ones_are_not_and_an_hour_forgets() {
        on_each_engine("count", |db| {
            let t = 1_000_000_000;
            let count = |keys: &[&str], at| db.count_login_attempt(keys, at, after_two).unwrap();
            assert_eq!(count(&["u", "a"], t), Counted::Allowed { new_key: true });
            assert_eq!(count(&["u", "a"], t), Counted::Allowed { new_key: false });
            assert_eq!(
                count(&["u", "b"], t + 1000),
                Counted::Wait(Duration::from_secs(9))
            );
            assert_eq!(
                db.login_failures("u").unwrap(),
                Some(2),
                "the refusal is not counted"
            );
            assert_eq!(
                db.login_failures("b").unwrap(),
                None,
                "nor does it leave a row"
            );
            assert_eq!(
                count(&["u", "b"], t + 10_000),
                Counted::Allowed { new_key: true }
            );
            assert_eq!(db.login_failures("u").unwrap(), Some(3));
            // success: the name starts afresh, the address loses the one attempt
            db.login_succeeded("u", Some("b")).unwrap();
            assert_eq!(db.login_failures("u").unwrap(), None);
            assert_eq!(db.login_failures("b").unwrap(), Some(0));
            // an hour after its last attempt a key counts from nothing
            assert_eq!(db.login_failures("a").unwrap(), Some(2));
            assert_eq!(
                count(&["a", "v"], t + FORGET_AFTER_MS + 1),
                Counted::Allowed { new_key: true }
            );
            assert_eq!(db.login_failures("a").unwrap(), Some(1));
        });
    }

    #[test]
    fn the_table_is_bounded_and_a_stranger_s_random_names_go_before_a_guessed_reviewer() {
        on_each_engine("bounded", |db| {
            let t = 2_000_000_000;
            let never = |_: i64, _: Duration| Duration::ZERO;
            // a reviewer guessed at five times, and a row past its hour
            for _ in 0..5 {
                db.count_login_attempt(&["reviewer"], t, never).unwrap();
            }
            db.count_login_attempt(&["stale"], t - FORGET_AFTER_MS - 1, never)
                .unwrap();
            // a stranger cycling names: one failure each, newer than the reviewer's
            for n in 0..60 {
                let name = format!("random-{n:02}");
                db.count_login_attempt(&[&name], t + n, never).unwrap();
            }
            assert_eq!(db.login_attempt_rows().unwrap(), 62);
            let gone = db.forget_login_attempts(t + 100, 50).unwrap();
            assert_eq!(gone, 12, "the stale row and the 11 rows over the bound");
            assert_eq!(db.login_attempt_rows().unwrap(), 50);
            assert_eq!(db.login_failures("stale").unwrap(), None);
            assert_eq!(
                db.login_failures("reviewer").unwrap(),
                Some(5),
                "the count that matters stays"
            );
            // of the stranger's, the oldest went
            assert_eq!(db.login_failures("random-10").unwrap(), None);
            assert_eq!(db.login_failures("random-11").unwrap(), Some(1));
            assert_eq!(db.forget_login_attempts(t + 100, 50).unwrap(), 0);
        });
    }
}
