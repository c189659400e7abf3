//! How much one kiosk may store. Every record a kiosk's token sends is kept (a photo sent again
//! under a new key is only flagged as a near duplicate), so with no allowance one stolen token
//! fills the hub's disk: a helper's probe (session 40) stored 255 MB in 2.2 s on loopback, after
//! which the disk reserve refused every kiosk's records alike. Each kiosk therefore has an
//! allowance of records and bytes that refills with time: far more than a kiosk takes photos
//! (one a minute at a busy collection point, a few hundred KB each), and large enough for a
//! backlog of days sent at once when the network comes back. Every submission read whole
//! counts, stored or refused: a helper kept 1.7 of 2 cores busy decoding submissions refused
//! with 422, which storing nothing never used up. A token beyond it is told to wait
//! (429 with `Retry-After`, before any of the body is read) and the administrator sees it in the
//! log, while the disk fills at most at the refill's pace.
//!
//! Held in memory: a restart gives every kiosk its full allowance back, which costs the hub at
//! most one burst.

use super::refill::{Level, Rate};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A kiosk's allowance (`HubConfig::store_allowance`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoreAllowance {
    /// Records a kiosk may store back to back.
    pub burst_records: f64,
    /// Records earned back per hour.
    pub records_per_hour: f64,
    /// Bytes (photo, documents and report) a kiosk may store back to back.
    pub burst_bytes: f64,
    /// Bytes earned back per hour.
    pub bytes_per_hour: f64,
}

impl Default for StoreAllowance {
    /// A backlog of a few collection days (2000 records, 2 GiB) at once, then ten times a busy
    /// kiosk's pace (600 records an hour) and 512 MiB an hour: 12 GiB a day, so a stolen token
    /// fills a hub's disk in days, not minutes, and shows in the log long before.
    fn default() -> Self {
        StoreAllowance {
            burst_records: 2000.0,
            records_per_hour: 600.0,
            burst_bytes: 2.0 * MIB * 1024.0,
            bytes_per_hour: 512.0 * MIB,
        }
    }
}

const MIB: f64 = (1u64 << 20) as f64;

/// What a submission must find in the allowance to be read: one record of a usual size (a
/// record larger than what is left is still taken, and leaves the allowance in debt).
const ONE_RECORD_BYTES: f64 = MIB;

impl StoreAllowance {
    fn rates(&self) -> (Rate, Rate) {
        (
            Rate {
                burst: self.burst_records,
                per_second: self.records_per_hour / 3600.0,
            },
            Rate {
                burst: self.burst_bytes,
                per_second: self.bytes_per_hour / 3600.0,
            },
        )
    }
}

pub struct StoreQuota {
    allowance: StoreAllowance,
    kiosks: Mutex<HashMap<String, (Level, Level)>>,
}

impl StoreQuota {
    pub fn new(allowance: StoreAllowance) -> StoreQuota {
        StoreQuota {
            allowance,
            kiosks: Mutex::new(HashMap::new()),
        }
    }

    pub fn allowance(&self) -> StoreAllowance {
        self.allowance
    }

    /// Runs `f` on `kiosk_id`'s records and bytes left, looked at `now`.
    fn with_levels<T>(
        &self,
        kiosk_id: &str,
        now: Instant,
        f: impl FnOnce(&mut Level, &mut Level) -> T,
    ) -> T {
        let (record_rate, byte_rate) = self.allowance.rates();
        let mut kiosks = self.kiosks.lock().unwrap_or_else(|p| p.into_inner());
        let (records, bytes) = kiosks
            .entry(kiosk_id.to_owned())
            .or_insert_with(|| (Level::full(&record_rate, now), Level::full(&byte_rate, now)));
        records.left(&record_rate, now);
        bytes.left(&byte_rate, now);
        f(records, bytes)
    }

    /// Whether `kiosk_id` may send a record now, or how long until it may.
    pub fn may_store(&self, kiosk_id: &str, now: Instant) -> Result<(), Duration> {
        let (record_rate, byte_rate) = self.allowance.rates();
        let wait = self.with_levels(kiosk_id, now, |records, bytes| {
            records
                .wait_for(&record_rate, 1.0)
                .max(bytes.wait_for(&byte_rate, ONE_RECORD_BYTES))
        });
        if wait.is_zero() {
            Ok(())
        } else {
            // whole seconds, so a Retry-After never says "now"
            Err(Duration::from_secs(wait.as_secs_f64().ceil() as u64))
        }
    }

    /// Counts a submission of `bytes` read whole from `kiosk_id`, stored or refused (a refused
    /// one cost the hub its decodes all the same).
    pub fn received(&self, kiosk_id: &str, stored_bytes: usize, now: Instant) {
        self.with_levels(kiosk_id, now, |records, bytes| {
            records.take(1.0);
            bytes.take(stored_bytes as f64);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kiosk_storing_beyond_its_allowance_waits_for_the_refill() {
        let q = StoreQuota::new(StoreAllowance::default());
        let t = Instant::now();
        // 2 GiB in records of 4 MiB: 512 of them, and then a wait
        for _ in 0..512 {
            assert_eq!(q.may_store("k1", t), Ok(()));
            q.received("k1", 4 << 20, t);
        }
        let wait = q.may_store("k1", t).unwrap_err();
        // 1 MiB at 512 MiB an hour: about seven seconds
        assert!(
            (Duration::from_secs(6)..=Duration::from_secs(8)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(q.may_store("k2", t), Ok(()), "another kiosk's is its own");
        assert_eq!(q.may_store("k1", t + wait), Ok(()), "earned back");

        // small records run out by count
        for _ in 0..2000 {
            q.received("k3", 1000, t);
        }
        let wait = q.may_store("k3", t).unwrap_err();
        assert_eq!(wait, Duration::from_secs(6), "one record at 600 an hour");
    }
}
