//! The fleet test: a small `kiosk bench-fleet` (three hub replicas sharing a PostgreSQL
//! database and an S3 bucket behind a round-robin proxy, kiosks with their real uploaders, a
//! replica SIGKILLed and restarted and PostgreSQL restarted mid-run) must end with every record
//! stored once, every photo readable and every near-duplicate sent through another replica
//! flagged.

use crate::common;

use serde_json::Value;

#[test]
fn a_small_fleet_loses_nothing_when_a_replica_and_the_database_restart() {
    let dir = common::hubs::fresh_dir("fleet", "small");
    let report = dir.join("report.json");
    let moto =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    assert!(
        moto.is_file(),
        "{} is missing: run scripts/setup",
        moto.display()
    );
    let out = common::run_kiosk(&[
        "bench-fleet",
        "--replicas",
        "3",
        "--kiosks",
        "10",
        "--records",
        "300",
        "--photo-sample",
        "0",
        "--down-seconds",
        "2",
        "--deadline-seconds",
        "120",
        "--s3-server",
        moto.to_str().expect("utf-8 path"),
        "--scratch",
        dir.to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let runs: Vec<Value> = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let f = &run["findings"];
    assert_eq!(f["expected"], 300);
    assert_eq!(f["stored"], 300, "{f}");
    assert_eq!(f["lost"], 0, "{f}");
    assert_eq!(f["duplicated"], 0, "{f}");
    assert_eq!(f["unexpected"], 0, "{f}");
    assert_eq!(f["photos_checked"], 300, "{f}");
    assert_eq!(f["photos_unreadable"], 0, "{f}");
    assert_eq!(f["objects_missing"], 0, "{f}");
    assert_eq!(f["wrong_flags"], 0, "{f}");
    let copies = f["near_copies"].as_u64().expect("a count");
    assert!(copies >= 5, "{f}");
    assert_eq!(f["near_copies_flagged"].as_u64(), Some(copies), "{f}");
    let faults = run["faults"].to_string();
    for fault in [
        "replica 0 SIGKILLed",
        "replica 0 restarted",
        "PostgreSQL restarted",
    ] {
        assert!(faults.contains(fault), "{fault}: {faults}");
    }
    assert_eq!(run["pending_left"], 0);
    assert_eq!(run["quarantined"], 0);
    assert!(out.status.success(), "{stdout}");
    // the scratch folder and its children are gone
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("scratch parent")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("kiosk-bench-fleet-")
        })
        .collect();
    assert!(left.is_empty(), "scratch folders left behind: {left:?}");
}

/// A photo of smooth random colours from `seed` (different seeds are far apart in the
/// perceptual hash); `copy` brightens and re-encodes it, as a copied file is.
fn field_photo(seed: u64, copy: bool) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let small = image::RgbImage::from_fn(24, 32, |_, _| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = state >> 24;
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut img = image::imageops::resize(&small, 240, 320, image::imageops::FilterType::Triangle);
    if copy {
        img.pixels_mut()
            .for_each(|p| p.0.iter_mut().for_each(|c| *c = c.saturating_add(6)));
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, if copy { 70 } else { 85 })
        .encode_image(&img)
        .expect("jpeg encodes");
    out
}

/// The near-duplicate flags `hub` stored with the pending record `id`.
fn flags_of(hub: &common::hubs::TestHub, id: &str) -> Vec<capture_kiosk::hub::db::DuplicateFlag> {
    use capture_kiosk::hub_protocol::ReviewState;
    let items = hub
        .hub
        .db()
        .review_items(ReviewState::PendingReview, 10, 0)
        .expect("review items");
    items
        .iter()
        .find(|i| i.record_id == id)
        .map(|i| i.duplicates.clone())
        .expect("stored")
}

/// Two replicas on one database, both started before anything was stored: a copy sent to
/// replica B of a photo that replica A stored afterwards is flagged (B's index used to be
/// loaded once at its start and missed it), and an unrelated photo is not.
#[test]
fn a_copy_sent_to_another_replica_is_flagged() {
    use common::hubs::{drain, kiosk_store, submit, TestHub};
    let dir = common::hubs::fresh_dir("fleet", "two-replicas");
    let a = TestHub::start_in(dir.clone(), 0);
    let b = TestHub::start_in(dir, 0);
    let (db_a, mut kiosk_a) = kiosk_store("fleet-a", &a.url, &a.kiosk_token("kiosk-a"));
    let (db_b, mut kiosk_b) = kiosk_store("fleet-b", &b.url, &b.kiosk_token("kiosk-b"));

    let original = submit(&mut kiosk_a, "cand-original", &field_photo(1, false));
    assert_eq!(drain(&db_a, 30).sent, 1);
    let copy = submit(&mut kiosk_b, "cand-copy", &field_photo(1, true));
    let other = submit(&mut kiosk_b, "cand-other", &field_photo(2, false));
    assert_eq!(drain(&db_b, 30).sent, 2);

    let flags = |id: &str| flags_of(&b, id);
    let copy_flags = flags(&copy);
    assert_eq!(copy_flags.len(), 1, "{copy_flags:?}");
    assert_eq!(copy_flags[0].record_id, original);
    assert!(!copy_flags[0].same_candidate);
    assert!(flags(&other).is_empty());
    assert!(flags(&original).is_empty());
}

#[test]
fn a_copy_of_a_record_another_process_purged_is_not_flagged() {
    use capture_kiosk::hub::db::retention::RetentionPolicy;
    use common::hubs::{drain, kiosk_store, submit, TestHub};
    let dir = common::hubs::fresh_dir("fleet", "purged-elsewhere");
    let a = TestHub::start_in(dir.clone(), 0);
    let token = a.kiosk_token("kiosk-a");
    let (db_a, mut kiosk_a) = kiosk_store("fleet-purged", &a.url, &token);
    let original = submit(&mut kiosk_a, "cand-original", &field_photo(3, false));
    assert_eq!(drain(&db_a, 30).sent, 1);

    // another replica withdraws and purges it (the serving hub's index still holds it)
    let b = TestHub::start_in(dir, 0);
    let kiosk_id = b.hub.db().active_kiosk_id("kiosk-a").unwrap().unwrap();
    assert!(b.hub.db().withdraw(&original, &kiosk_id).unwrap().is_ok());
    let policy = RetentionPolicy {
        withdrawn_after: std::time::Duration::ZERO,
        replaced_after: std::time::Duration::from_secs(7 * 86_400),
        decided_after: None,
    };
    let purged = b
        .hub
        .purge(&policy, capture_kiosk::store::now_ms() + 1000)
        .unwrap();
    assert_eq!(purged.records.len(), 1, "{purged:?}");

    // the same face sent again to the first hub: nothing left to flag it against
    let again = submit(&mut kiosk_a, "cand-again", &field_photo(3, true));
    assert_eq!(drain(&db_a, 30).sent, 1);
    let flags = &flags_of(&a, &again);
    assert!(
        flags.is_empty(),
        "flagged against a purged record: {flags:?}"
    );
}

/// A candidate's photo approved through another replica, then handed in again through the
/// first: flagged as this candidate's approved photo. The first replica's index still held the
/// record as pending, and a candidate's pending photo is not flagged (a retake replaces it).
#[test]
fn the_same_photo_again_after_another_replica_approved_it_is_flagged() {
    use capture_kiosk::hub_protocol::Decision;
    use common::hubs::{drain, kiosk_store, submit, TestHub};
    let dir = common::hubs::fresh_dir("fleet", "approved-elsewhere");
    let a = TestHub::start_in(dir.clone(), 0);
    let (db_a, mut kiosk_a) = kiosk_store("fleet-approved", &a.url, &a.kiosk_token("kiosk-a"));
    let original = submit(&mut kiosk_a, "cand-same", &field_photo(4, false));
    assert_eq!(drain(&db_a, 30).sent, 1);

    let b = TestHub::start_in(dir, 0);
    let approve = Decision {
        approve: true,
        reasons: vec![],
        note: String::new(),
    };
    let decided = b.hub.db().decide(&original, "reviewer", &approve).unwrap();
    assert!(decided.is_ok(), "{decided:?}");

    let again = submit(&mut kiosk_a, "cand-same", &field_photo(4, true));
    assert_eq!(drain(&db_a, 30).sent, 1);
    let flags = &flags_of(&a, &again);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].record_id, original);
    assert!(flags[0].same_candidate);
}
