//! Each kiosk's share of the submissions being received at once. The hub receives a bounded
//! number of submissions at a time (`Hub::upload_slots`), each holding its parts in memory; with
//! no share per kiosk, one token (a stolen kiosk's, or a kiosk whose retries pile up behind a
//! slow link) sending bodies as slowly as the minimum rate allows holds every slot, and every
//! other kiosk's uploads wait behind it for as long as it likes. A kiosk's uploader sends one
//! record at a time, so a second at once is already a retry overlapping a first attempt the hub
//! is still reading; more than that is refused with 429 at once, before any slot is taken.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Submissions one kiosk may have being received at once.
pub const PER_KIOSK: usize = 2;

#[derive(Default)]
pub struct KioskShares {
    receiving: Mutex<HashMap<String, usize>>,
}

/// One submission of a kiosk's being received; its place is given back when dropped.
pub struct Share<'a> {
    owner: &'a KioskShares,
    kiosk_id: String,
}

impl KioskShares {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.receiving.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more of `kiosk_id`'s submissions, or None while it has `PER_KIOSK`
    /// being received already.
    pub fn take(&self, kiosk_id: &str) -> Option<Share<'_>> {
        let mut receiving = self.lock();
        let count = receiving.entry(kiosk_id.to_owned()).or_default();
        if *count >= PER_KIOSK {
            return None;
        }
        *count += 1;
        Some(Share {
            owner: self,
            kiosk_id: kiosk_id.to_owned(),
        })
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let mut receiving = self.owner.lock();
        if let Some(count) = receiving.get_mut(&self.kiosk_id) {
            *count = count.saturating_sub(1);
            // the map holds only kiosks sending now, not every kiosk ever seen
            if *count == 0 {
                receiving.remove(&self.kiosk_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kiosk_has_two_places_and_others_are_not_counted_against_it() {
        let shares = KioskShares::default();
        let first = shares.take("a");
        let second = shares.take("a");
        assert!(first.is_some() && second.is_some());
        assert!(shares.take("a").is_none(), "a third at once is refused");
        assert!(
            shares.take("b").is_some(),
            "another kiosk has its own places"
        );
        drop(first);
        let third = shares.take("a");
        assert!(third.is_some(), "a place given back is taken again");
        drop((second, third));
        assert!(shares.lock().is_empty(), "nobody sending: nothing kept");
    }
}
