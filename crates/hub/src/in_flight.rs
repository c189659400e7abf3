//! Record keys being stored by this process. On SQLite the database lock is held from the
//! replay check to the commit, so one key is stored by one request at a time; on PostgreSQL
//! each request has its own connection, and two requests with the same key (a kiosk that
//! retried while its first attempt was still being stored) would write the same photo file at
//! once. A key is claimed here for that stretch instead; other replicas are kept apart by the
//! records' primary key (`HubDb::insert_record`).

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
pub struct InFlight {
    keys: Mutex<HashSet<String>>,
    done: Condvar,
}

/// A claimed key, released when dropped.
pub struct Claim<'a> {
    owner: &'a InFlight,
    key: String,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `key`, waiting while another request of this process holds it.
    pub fn claim(&self, key: &str) -> Claim<'_> {
        let mut keys = self.lock();
        while keys.contains(key) {
            keys = self.done.wait(keys).unwrap_or_else(|p| p.into_inner());
        }
        keys.insert(key.to_owned());
        Claim {
            owner: self,
            key: key.to_owned(),
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.owner.lock().remove(&self.key);
        self.owner.done.notify_all();
    }
}
