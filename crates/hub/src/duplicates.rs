//! The near-duplicate photo flag (seed 004: a photo must not be a copy of another). A DCT
//! perceptual hash of the whole ID photo; another record's photo within a small Hamming
//! distance is flagged for the reviewer, never refused automatically.

use super::db::{DuplicateFlag, HashEntry};
use capture_core::hub_protocol::ReviewState;
use image::{DynamicImage, RgbImage};
use image_hasher::{HashAlg, HasherConfig};

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

/// Records whose photo is a near-duplicate of `hash`: another candidate's (unless withdrawn),
/// or this candidate's earlier approved photo (handing in the old photo again).
pub fn near_duplicates(
    index: &[HashEntry],
    key: &str,
    profile: &str,
    candidate_key: &str,
    hash: &[u8],
) -> Vec<DuplicateFlag> {
    // distances first, names only for the ten nearest: a copied photo may match thousands
    let mut near: Vec<(u32, usize, bool)> = index
        .iter()
        .enumerate()
        .filter(|(_, e)| e.record_id != key && e.state != ReviewState::Withdrawn)
        .filter_map(|(i, e)| {
            let same_candidate = e.profile == profile && e.candidate_key == candidate_key;
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
