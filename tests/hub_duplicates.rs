//! The hub's near-duplicate flag on real ID photos: copies of one photo (re-encoded, rescaled,
//! slightly cropped) are flagged, different candidates' photos made to the same spec (same
//! background, same framing) and other photos of the same person are not.

use crate::common;

use capture_kiosk::hub::{photo_hash, DUPLICATE_DISTANCE};
use capture_kiosk::photo::make_photo;
use capture_kiosk::store::Store;
use capture_kiosk::upload::{stored_link, HubClient, UploadPolicy, Worker};
use common::hubs::{kiosk_store, runtime, submit, TestHub};
use common::{engine, photo, profile};
use image::RgbImage;
use std::time::{Duration, Instant};

fn id_photo(name: &str) -> Vec<u8> {
    let (p, spec) = profile("chsi-graduation");
    let img = photo(name);
    let analysis = engine().analyze_still(&img).unwrap();
    make_photo(engine(), &img, &analysis, spec, p).unwrap().jpeg
}

fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory(jpeg).unwrap().to_rgb8()
}

fn encode(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn distance(a: &[u8], b: &[u8]) -> u32 {
    let (ha, hb) = (photo_hash(&decode(a)), photo_hash(&decode(b)));
    ha.iter().zip(&hb).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn copies_are_flagged_and_other_candidates_are_not() {
    let names = [
        "biden.jpg",
        "obama.jpg",
        "obama2.jpg",
        "franck_01829.jpg",
        "franck_02221.jpg",
        "cage.jpg",
        "audrey.jpg",
        "SeanConnery.jpg",
    ];
    let photos: Vec<Vec<u8>> = names.iter().map(|n| id_photo(n)).collect();
    let original = decode(&photos[0]);
    let (w, h) = original.dimensions();
    let copies = [
        encode(&original, 60),
        encode(
            &image::imageops::resize(
                &original,
                w * 9 / 10,
                h * 9 / 10,
                image::imageops::FilterType::Triangle,
            ),
            85,
        ),
        encode(
            &image::imageops::crop_imm(&original, 6, 8, w - 12, h - 16).to_image(),
            90,
        ),
    ];
    let copy_max = copies
        .iter()
        .map(|c| distance(&photos[0], c))
        .max()
        .unwrap();
    let mut others_min = u32::MAX;
    for i in 0..photos.len() {
        for j in i + 1..photos.len() {
            others_min = others_min.min(distance(&photos[i], &photos[j]));
        }
    }
    println!("copies of one photo: at most {copy_max} bits apart; different photos: at least {others_min} (flag at ≤ {DUPLICATE_DISTANCE})");
    assert!(copy_max <= DUPLICATE_DISTANCE, "copies {copy_max}");
    assert!(
        others_min > DUPLICATE_DISTANCE,
        "different photos {others_min}"
    );

    let hub = TestHub::start("duplicates");
    let token = hub.kiosk_token("kiosk-d");
    let (db, mut store) = kiosk_store("duplicates", &hub.url, &token);
    let ids: Vec<String> = photos
        .iter()
        .enumerate()
        .map(|(i, p)| submit(&mut store, &format!("cand-{i}"), p))
        .collect();
    let copy_id = submit(&mut store, "cand-copy", &copies[0]);
    drop(store);
    let link = stored_link(&Store::open(&db).unwrap()).unwrap().unwrap();
    let mut w = Worker::new(
        Store::open(&db).unwrap(),
        HubClient::new(&link).unwrap(),
        UploadPolicy::default(),
    )
    .unwrap();
    let r = runtime()
        .block_on(w.drain(Instant::now() + Duration::from_secs(60)))
        .unwrap();
    assert_eq!(r.sent as usize, names.len() + 1);
    let items = hub
        .hub
        .db()
        .review_items(
            capture_kiosk::hub_protocol::ReviewState::PendingReview,
            100,
            0,
        )
        .unwrap();
    for item in &items {
        if item.record_id == copy_id {
            assert_eq!(item.duplicates.len(), 1, "{:?}", item.duplicates);
            assert_eq!(item.duplicates[0].record_id, ids[0]);
            assert!(!item.duplicates[0].same_candidate);
        } else {
            assert!(
                item.duplicates.is_empty(),
                "{} flagged: {:?}",
                item.record_id,
                item.duplicates
            );
        }
    }
}
