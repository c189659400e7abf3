//! The near-duplicate photo flag (seed 004: a photo must not be a copy of another). A DCT
//! perceptual hash of the whole ID photo; another record's photo within a small Hamming
//! distance is flagged for the reviewer, never refused automatically.
//!
//! The hashes are kept in memory ([`HashIndex`]); several replicas share one database, so
//! before each check the index takes in the rows stored since it last looked, by any replica
//! (`HubDb::hashes_since`), or a copy sent to replica B of a photo replica A stored after B
//! started would go unflagged.

use super::db::{DuplicateFlag, HashEntry};
use capture_core::hub_protocol::ReviewState;
use image::{DynamicImage, RgbImage};
use image_hasher::{HashAlg, HasherConfig};
use std::collections::HashSet;

/// How far back a refresh reads again before the newest row it has seen (see
/// [`HashIndex::since_ms`]) when replicas share PostgreSQL: commits that waited and clocks
/// a little apart between machines.
pub const REFRESH_OVERLAP_MS: i64 = 5_000;
/// The same for a SQLite file, which one hub writes, one row at a time, in the order of its
/// `received_at`: only a clock stepped back can put a row behind one already seen. Every
/// check reads the rows of this window again, so it is kept short where it can be.
pub const SINGLE_WRITER_OVERLAP_MS: i64 = 1_000;

/// The in-memory duplicate index and how far it has read the records table. Records are
/// added with [`HashIndex::add`] (never pushed: the index keeps their ids).
pub struct HashIndex {
    entries: Vec<HashEntry>,
    /// The ids in `entries`: a refresh reads some rows again and must not add them twice.
    known: HashSet<String>,
    /// The newest `received_at` (ms) among the rows taken in.
    newest_ms: i64,
    /// How far before `newest_ms` a refresh reads again: a row whose `received_at` is older
    /// than one already seen but that committed later (a write that waited for a lock; a
    /// replica whose clock is behind) is still taken in if it is within this much.
    overlap_ms: i64,
}

impl HashIndex {
    /// The index of `entries`, read from the database when its clock said `as_of_ms`.
    pub fn new(entries: Vec<HashEntry>, as_of_ms: i64, overlap_ms: i64) -> Self {
        let known = entries.iter().map(|e| e.record_id.clone()).collect();
        HashIndex {
            entries,
            known,
            newest_ms: as_of_ms,
            overlap_ms,
        }
    }

    /// The `received_at` from which a refresh must read.
    pub fn since_ms(&self) -> i64 {
        self.newest_ms.saturating_sub(self.overlap_ms)
    }

    /// Takes in rows read from the database (`received_at` with each); rows it has are skipped.
    pub fn take_in(&mut self, rows: Vec<(HashEntry, i64)>) {
        for (entry, received_at) in rows {
            self.newest_ms = self.newest_ms.max(received_at);
            self.add(entry);
        }
    }

    /// Puts the records `ids` as they are now (`current`, from `HubDb::current_entries`) in
    /// place of the rows the index held; one missing from `current` was purged and leaves.
    pub fn refresh(&mut self, ids: &[String], current: &[HashEntry]) {
        let known = &mut self.known;
        self.entries.retain_mut(|e| {
            if !ids.contains(&e.record_id) {
                return true;
            }
            match current.iter().find(|c| c.record_id == e.record_id) {
                Some(now) => {
                    *e = now.clone();
                    true
                }
                None => {
                    known.remove(&e.record_id);
                    false
                }
            }
        });
    }

    /// Takes purged records out, ids and all: a record stored again under one of those ids (a
    /// kiosk that sends it once more) is added again, not skipped as already known.
    pub fn remove(&mut self, purged: &[String]) {
        self.entries.retain(|e| !purged.contains(&e.record_id));
        for id in purged {
            self.known.remove(id);
        }
    }

    /// A reviewer's decision on a record, as the index sees it.
    pub fn set_state(&mut self, id: &str, state: ReviewState) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.record_id == id) {
            e.state = state;
        }
    }

    /// Adds a record this replica stored; false if the index had it already.
    pub fn add(&mut self, entry: HashEntry) -> bool {
        if !self.known.insert(entry.record_id.clone()) {
            return false;
        }
        self.entries.push(entry);
        true
    }
}

/// The entries, for the check. Changes go through the methods above, which keep the ids the
/// index knows in step with the entries it holds.
impl std::ops::Deref for HashIndex {
    type Target = [HashEntry];
    fn deref(&self) -> &[HashEntry] {
        &self.entries
    }
}

/// Hashes of 256 bits; re-encodes, rescales and small crops of one photo stay within this
/// many bits, different candidates' ID photos (same background, same framing) stay well above
/// it (see tests/hub.rs for the measured spread).
pub const DUPLICATE_DISTANCE: u32 = 24;

pub fn photo_hash(img: &RgbImage) -> Vec<u8> {
    // the hasher's own resize (Lanczos over the whole photo) was three quarters of an upload's
    // time at the hub; a thumbnail first keeps the low frequencies the hash looks at
    let (w, h) = img.dimensions();
    let small = image::imageops::thumbnail(img, 96, (96 * h / w.max(1)).max(1));
    let hasher = HasherConfig::new()
        .hash_size(16, 16)
        .hash_alg(HashAlg::Mean)
        .resize_filter(image::imageops::FilterType::Triangle)
        .preproc_dct()
        .to_hasher();
    hasher
        .hash_image(&DynamicImage::ImageRgb8(small))
        .as_bytes()
        .to_vec()
}

/// Hamming distance between two hashes of the same size (the index holds tens of thousands,
/// so no per-comparison allocation).
fn distance(a: &[u8], b: &[u8]) -> Option<u32> {
    (a.len() == b.len() && !a.is_empty())
        .then(|| a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum())
}

/// How many of the nearest photos are looked up as they are now before the rules of
/// [`near_duplicates`] pick the flags: more than it keeps, since a candidate's own earlier
/// photos are among the nearest and are not flagged.
pub const NEAREST_LOOKED_UP: usize = 32;

/// The ids of the (at most `n`) photos within [`DUPLICATE_DISTANCE`] of `hash`, nearest first,
/// whatever their records' state: the state is judged on the rows as they are now.
pub fn nearest(index: &[HashEntry], key: &str, hash: &[u8], n: usize) -> Vec<String> {
    let mut near: Vec<(u32, &str)> = index
        .iter()
        .filter(|e| e.record_id != key)
        .filter_map(|e| {
            let d = distance(&e.phash, hash)?;
            (d <= DUPLICATE_DISTANCE).then_some((d, e.record_id.as_str()))
        })
        .collect();
    near.sort_unstable();
    near.truncate(n);
    near.into_iter().map(|(_, id)| id.to_owned()).collect()
}

/// Records whose photo is a near-duplicate of `hash`: another candidate's (unless withdrawn),
/// or this candidate's earlier approved photo (handing in the old photo again).
pub fn near_duplicates(
    index: &[HashEntry],
    key: &str,
    profile: &str,
    candidate_index: &str,
    hash: &[u8],
) -> Vec<DuplicateFlag> {
    // distances first, names only for the ten nearest: a copied photo may match thousands
    let mut near: Vec<(u32, usize, bool)> = index
        .iter()
        .enumerate()
        .filter(|(_, e)| e.record_id != key && e.state != ReviewState::Withdrawn)
        .filter_map(|(i, e)| {
            let same_candidate = e.profile == profile && e.candidate_index == candidate_index;
            if same_candidate && e.state != ReviewState::Approved {
                return None;
            }
            let d = distance(&e.phash, hash)?;
            (d <= DUPLICATE_DISTANCE).then_some((d, i, same_candidate))
        })
        .collect();
    near.sort_unstable();
    near.truncate(10);
    near.into_iter()
        .map(|(distance, i, same_candidate)| DuplicateFlag {
            record_id: index[i].record_id.clone(),
            distance,
            same_candidate,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> HashEntry {
        HashEntry {
            record_id: id.to_owned(),
            profile: "p".into(),
            candidate_index: id.to_owned(),
            state: ReviewState::PendingReview,
            phash: vec![0; 32],
        }
    }

    #[test]
    fn a_refresh_reads_back_the_overlap_and_adds_each_record_once() {
        let mut index = HashIndex::new(vec![entry("a")], 10_000, 5_000);
        assert_eq!(index.since_ms(), 5_000);
        // a row read again (a), one stored here and read back (b), one from another replica (c)
        assert!(index.add(entry("b")));
        index.take_in(vec![
            (entry("a"), 9_000),
            (entry("b"), 12_000),
            (entry("c"), 11_000),
        ]);
        let ids: Vec<&str> = index.iter().map(|e| e.record_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // the newest row seen moves the next refresh on, less the overlap
        assert_eq!(index.since_ms(), 7_000);
        assert!(!index.add(entry("c")));
    }

    #[test]
    fn a_purged_record_stored_again_is_added_again() {
        let mut index = HashIndex::new(vec![entry("a"), entry("b")], 0, 0);
        index.remove(&["a".to_owned()]);
        assert!(index.iter().all(|e| e.record_id != "a"));
        assert!(index.add(entry("a")), "the purged id was still known");
        // purged on another replica: the refresh drops it, and forgets its id too
        index.refresh(&["b".to_owned()], &[]);
        assert!(index.add(entry("b")));
        index.set_state("b", ReviewState::Approved);
        let b = index.iter().find(|e| e.record_id == "b").map(|e| e.state);
        assert_eq!(b, Some(ReviewState::Approved));
    }
}
