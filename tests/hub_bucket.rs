//! The hub's photos in an S3-compatible bucket (Moto's server on loopback): the bucket keeps
//! photos exactly as the folder does, and a hub on a bucket stores, serves, sweeps and purges
//! as a hub on a folder does, every object sealed with the key the replicas share.

use crate::common;

use capture_kiosk::hub::db::retention::RetentionPolicy;
use capture_kiosk::hub::photos::{FolderPhotos, PhotoStore};
use capture_kiosk::hub::sealed_photos::SealedPhotos;
use capture_kiosk::hub::sealing::{SealingKey, SealingKeySource};
use capture_kiosk::hub::{BucketPhotos, PhotoStorage};
use common::bucket::TestBucket;
use common::hubs::{drain, fresh_dir, kiosk_store, submit, test_jpeg, TestHub};

/// What every photo store must do, whatever it keeps photos in.
fn behaves_as_a_photo_store(store: &dyn PhotoStore, what: &str) {
    let (a, b) = ("ab/0000-ab.jpg", "ab/0000-ab-doc0.jpg");
    assert_eq!(store.get(a).unwrap(), None, "{what}: empty at first");
    store.put(a, b"first").unwrap();
    store.put(a, b"second").unwrap();
    store.put(b, b"document").unwrap();
    assert_eq!(
        store.get(a).unwrap().as_deref(),
        Some(&b"second"[..]),
        "{what}"
    );
    let mut names = store.names().unwrap();
    names.sort();
    assert_eq!(names, [b, a], "{what}");
    assert!(store.delete(a).unwrap(), "{what}");
    assert!(
        !store.delete(a).unwrap(),
        "{what}: a second delete finds it gone"
    );
    assert_eq!(store.get(a).unwrap(), None, "{what}");
    assert_eq!(store.names().unwrap(), [b], "{what}");
    for bad in ["../x.jpg", "/x.jpg", "ab//x.jpg", ""] {
        assert!(store.put(bad, b"x").is_err(), "{what}: {bad} refused");
    }
}

#[test]
fn a_bucket_keeps_photos_as_the_folder_does() {
    let folder = FolderPhotos::new(fresh_dir("photo-stores", "folder").join("photos"));
    behaves_as_a_photo_store(&folder, "folder");
    let keys = fresh_dir("photo-stores", "keys");
    let sealed = SealedPhotos::new(
        Box::new(FolderPhotos::new(fresh_dir("photo-stores", "sealed"))),
        std::sync::Arc::new(SealingKey::load(&SealingKeySource::DataFolder, &keys).unwrap()),
    );
    behaves_as_a_photo_store(&sealed, "sealed folder");
    let server = TestBucket::start("photos");
    // two hubs' prefixes in one bucket do not see each other's photos
    let one = BucketPhotos::open(&server.settings("s3://photos/province-a")).unwrap();
    let other = BucketPhotos::open(&server.settings("s3://photos/province-b")).unwrap();
    other.put("zz/other.jpg", b"x").unwrap();
    behaves_as_a_photo_store(&one, "bucket");
    assert_eq!(other.names().unwrap(), ["zz/other.jpg"]);
}

#[test]
fn a_bucket_that_cannot_be_reached_stops_the_hub_at_start_with_a_reason() {
    let server = TestBucket::start("exists");
    let missing = BucketPhotos::open(&server.settings("s3://no-such-bucket"));
    let why = missing.err().expect("refused").to_string();
    assert!(why.contains("cannot be listed"), "{why}");
    // nobody listens there: refused within the retry budget, not after minutes
    let started = std::time::Instant::now();
    let mut away = server.settings("s3://exists");
    for (k, v) in away.options.iter_mut() {
        if k == "AWS_ENDPOINT" {
            *v = format!("http://127.0.0.1:{}", common::hubs::free_port());
        }
    }
    assert!(BucketPhotos::open(&away).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let wrong = BucketPhotos::open(&server.settings("https://exists"));
    assert!(wrong.err().expect("refused").to_string().contains("s3://"));
}

#[test]
fn a_hub_on_a_bucket_stores_serves_sweeps_and_purges_photos() {
    let server = TestBucket::start("hub");
    let settings = server.settings("s3://hub/photos");
    let bucket = BucketPhotos::open(&settings).unwrap();
    // a photo a crash left with no record: swept when the hub starts
    bucket
        .put("99/0192f0a0-0000-7000-8000-000000000099.jpg", b"orphan")
        .unwrap();
    let dir = fresh_dir("hubs", "bucket");
    // without the key every replica shares, a hub on a bucket does not start
    let mut keyless = common::hubs::hub_config(fresh_dir("hubs", "bucket-keyless"));
    keyless.photos = PhotoStorage::Bucket(settings.clone());
    let refused = capture_kiosk::hub::Hub::open(keyless)
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("--sealing-key"), "{refused}");
    let keys = fresh_dir("hubs", "bucket-keys");
    let key = SealingKey::load(&SealingKeySource::DataFolder, &keys).unwrap();
    let hub = TestHub::start_configured(dir.clone(), 0, |c| {
        c.photos = PhotoStorage::Bucket(settings.clone());
        c.sealing_key = SealingKeySource::File(keys.join("sealing.key"));
    });
    // on PostgreSQL with a bucket (replicas sharing both) the start-up sweep is not run: an
    // object another replica wrote but has not yet committed looks orphaned (lib.rs)
    let swept_at_start = common::hubs::Backend::current() == common::hubs::Backend::Sqlite;
    assert_eq!(
        bucket.names().unwrap().is_empty(),
        swept_at_start,
        "orphan swept by a single hub, kept by a replica"
    );
    if !swept_at_start {
        bucket
            .delete("99/0192f0a0-0000-7000-8000-000000000099.jpg")
            .unwrap();
    }
    assert!(
        !dir.join("photos").exists(),
        "nothing is written to the folder"
    );

    let token = hub.kiosk_token("kiosk-b");
    let (db, mut store) = kiosk_store("bucket", &hub.url, &token);
    let photo = test_jpeg(21);
    let id = submit(&mut store, "440106199903070015", &photo);
    drop(store);
    let sent = drain(&db, 30);
    assert_eq!((sent.sent, sent.quarantined), (1, 0), "{sent:?}");
    let name = format!("{}/{id}.jpg", &id[id.len() - 2..]);
    // the bucket holds it sealed: whoever can list the bucket sees no face
    let object = bucket.get(&name).unwrap().expect("stored");
    assert_ne!(object, photo);
    assert_eq!(key.open(&name, object).unwrap(), photo);

    // the reviewer's page reads it back from the bucket
    let cookie = hub.reviewer_cookie("reviewer-b", false);
    let (status, served) = common::hubs::review_photo(&hub, &cookie, &id);
    assert_eq!(status, 200);
    assert_eq!(served, photo);

    // withdrawn by the kiosk, purged by the policy: the object is gone from the bucket
    let kiosk_id = hub.hub.db().active_kiosk_id("kiosk-b").unwrap().unwrap();
    let withdrawn = hub.hub.db().withdraw(&id, &kiosk_id).unwrap();
    assert!(withdrawn.is_ok(), "{withdrawn:?}");
    let report = hub
        .hub
        .purge(
            &RetentionPolicy::default(),
            capture_kiosk::store::now_ms() + 1,
        )
        .unwrap();
    assert_eq!(
        (report.records.len(), report.files_removed),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(bucket.get(&name).unwrap(), None);
}
