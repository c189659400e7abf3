//! The local store on real SQLite files: schema, durability settings, the outbox's lease and
//! retry life, attempt counts across restarts, retention, and refusing damaged databases.

use capture_kiosk::store::{now_ms, AuditAction, NewCapture, Store, StoreError};
use std::path::PathBuf;
use std::time::Duration;

fn db(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn capture<'a>(session: &'a str, key: &'a str) -> NewCapture<'a> {
    NewCapture {
        session_id: session,
        profile: "chsi-graduation",
        candidate_key: key,
        spec: "chsi",
        photo_jpeg: b"\xFF\xD8jpeg bytes\xFF\xD9",
        check_report_json: r#"{"ok":true}"#,
        verification_distance: None,
        manual_review: false,
        documents: &[],
    }
}

#[test]
fn a_submitted_capture_is_queued_leased_sent_and_purged() {
    let path = db("life.sqlite");
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 6);
    let session = s.start_session("chsi-graduation", "Z3K8F7").unwrap();
    let id = s.submit(&capture(&session, "440106199903070015")).unwrap();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    let now = now_ms();
    let lease = Duration::from_secs(30);
    let got = s.lease_next(now, lease).unwrap().unwrap();
    assert_eq!(got.capture_id, id);
    // held by its lease: nobody else takes it
    assert_eq!(s.lease_next(now + 1000, lease).unwrap(), None);
    // the worker died: when the lease runs out the row comes back
    assert_eq!(
        s.lease_next(now + 31_000, lease)
            .unwrap()
            .unwrap()
            .capture_id,
        id
    );
    s.mark_retry(&id, now + 40_000, "hub unreachable").unwrap();
    assert_eq!(
        s.lease_next(now + 35_000, lease).unwrap(),
        None,
        "not before its retry time"
    );
    let again = s.lease_next(now + 40_000, lease).unwrap().unwrap();
    assert_eq!(again.attempts, 1);
    s.mark_sent(&id, now + 41_000).unwrap();
    let q = s.queue_status().unwrap();
    assert_eq!((q.pending, q.sent, q.quarantined), (0, 1, 0));
    assert_eq!(q.last_success_ms, Some(now + 41_000));
    // retention: the photo stays for the retention period, then only the record remains
    assert_eq!(
        s.purge_uploaded(now + 42_000, Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert!(s.capture_photo(&id).unwrap().is_some());
    assert_eq!(
        s.purge_uploaded(now + 41_000 + 3_600_001, Duration::from_secs(3600))
            .unwrap(),
        1
    );
    assert_eq!(s.capture_photo(&id).unwrap(), None);
}

#[test]
fn everything_survives_reopening_and_quarantined_rows_stay() {
    let path = db("reopen.sqlite");
    let id = {
        let mut s = Store::open(&path).unwrap();
        let session = s.start_session("bj-chengkao", "").unwrap();
        for passed in [false, false, true, false, false] {
            s.record_attempt("bj-chengkao", "110108200106150022", Some(0.7), passed)
                .unwrap();
        }
        s.audit("staff-01", AuditAction::OpenCollection, "bj-chengkao")
            .unwrap();
        let id = s.submit(&capture(&session, "110108200106150022")).unwrap();
        s.quarantine(&id, "hub: photo is not a JPEG").unwrap();
        id
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.consecutive_failures("bj-chengkao", "110108200106150022")
            .unwrap(),
        2
    );
    assert_eq!(
        s.consecutive_failures("bj-chengkao", "someone-else")
            .unwrap(),
        0
    );
    let q = s.queue_status().unwrap();
    assert_eq!((q.pending, q.quarantined), (0, 1));
    assert_eq!(q.last_error.as_deref(), Some("hub: photo is not a JPEG"));
    let audit = s.recent_audit(10).unwrap();
    assert_eq!(
        (audit.len(), audit[0].action(), audit[0].detail.as_str()),
        (1, Some(AuditAction::OpenCollection), "bj-chengkao")
    );
    // the closing figures: one capture, none waiting (it is quarantined, not pending)
    assert_eq!(s.captures_since(0).unwrap(), (1, 0));
    assert_eq!(s.captures_since(i64::MAX).unwrap(), (0, 0));
    assert!(
        s.capture_photo(&id).unwrap().is_some(),
        "a quarantined record is never dropped"
    );
}

#[test]
fn foreign_keys_and_wal_are_on() {
    let path = db("fk.sqlite");
    let mut s = Store::open(&path).unwrap();
    let err = s.submit(&capture("no-such-session", "k")).unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    assert_eq!(
        s.queue_status().unwrap().pending,
        0,
        "the failed transaction left nothing"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn damaged_or_newer_databases_are_refused_not_overwritten() {
    let path = db("garbage.sqlite");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("will not write"));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x42u8; 8192],
        "left as it was"
    );

    let path = db("newer.sqlite");
    {
        Store::open(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
}

#[test]
fn queue_status_command_reads_the_database() {
    let path = db("cli.sqlite");
    {
        let mut s = Store::open(&path).unwrap();
        let session = s.start_session("gd-gaokao", "").unwrap();
        s.submit(&capture(&session, "k1")).unwrap();
        s.submit(&capture(&session, "k2")).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["queue", "status", "--json", "--db", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pending"], 2);
    assert!(v["oldest_pending_ms"].as_i64().is_some());
    let garbage = db("cli-garbage.sqlite");
    std::fs::write(&garbage, vec![7u8; 4096]).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["queue", "status", "--db", garbage.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file of the kiosk's store is readable by its user only, and a data folder others can
/// read is refused with the command that fixes it (issue 12, item 7).
#[test]
fn the_store_is_private_and_an_open_data_folder_is_refused() {
    let path = db("private.sqlite");
    let _ = std::fs::remove_file(capture_kiosk::store::pseudonym_key_path(&path));
    let s = Store::open(&path).unwrap();
    s.set_setting("hub_token", "ck_secret").unwrap();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let shm = PathBuf::from(format!("{}-shm", path.display()));
    for file in [
        path.clone(),
        wal,
        shm,
        capture_kiosk::store::pseudonym_key_path(&path),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(s);
    // a database an earlier version left readable is made private at open
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-folder");
    let _ = std::fs::remove_dir_all(&dir);
    capture_kiosk::store::private_dir(&dir.join("kiosk-data")).unwrap();
    assert_eq!(mode(&dir.join("kiosk-data")), 0o700, "made private");
    std::fs::set_permissions(
        dir.join("kiosk-data"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let e = capture_kiosk::store::private_dir(&dir.join("kiosk-data"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("other users") && e.contains("chmod 700") && e.contains("kiosk-data"),
        "{e}"
    );
}

/// The bytes of every file of the store, the write-ahead log included.
fn all_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", path.display())) {
            out.extend(b);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// After the retention purge nothing of the candidate is left in any file: not the photo's
/// bytes, not the ID number in captures or verification attempts; the pseudonym is keyed per
/// kiosk; the roster goes when the collection ends (issue 12, item 9).
#[test]
fn a_purge_leaves_nothing_of_the_candidate_in_the_files() {
    let path = db("purge-bytes.sqlite");
    let other_path = db("purge-other.sqlite");
    for p in [&path, &other_path] {
        let _ = std::fs::remove_file(capture_kiosk::store::pseudonym_key_path(p));
    }
    let key = "440106199903070015";
    // a photo whose bytes are easy to find: 40 KB, so it spills into overflow pages
    let marker = b"PHOTO-OF-THE-CANDIDATE-0123456789";
    let photo: Vec<u8> = marker.iter().cycle().take(40_000).copied().collect();
    let mut s = Store::open(&path).unwrap();
    let session = s.start_session("gd-gaokao", "B1").unwrap();
    s.record_attempt("gd-gaokao", key, Some(0.7), false)
        .unwrap();
    s.record_attempt("gd-gaokao", key, Some(0.8), false)
        .unwrap();
    let id = s
        .submit(&NewCapture {
            photo_jpeg: &photo,
            profile: "gd-gaokao",
            ..capture(&session, key)
        })
        .unwrap();
    s.replace_roster(
        "B1",
        &[capture_kiosk::hub_protocol::RosterEntry {
            candidate_key: key.into(),
            name: "ROSTER-NAME-张三".into(),
            id_number: key.into(),
            ethnicity: String::new(),
            address: String::new(),
            phone: "13800000000".into(),
            secret: String::new(),
        }],
    )
    .unwrap();
    let now = now_ms();
    s.lease_next(now, Duration::from_secs(30)).unwrap().unwrap();
    s.mark_sent(&id, now).unwrap();
    assert!(
        contains(&all_bytes(&path), marker),
        "the test can see the photo"
    );
    assert!(contains(&all_bytes(&path), key.as_bytes()));

    assert_eq!(s.purge_uploaded(now + 1, Duration::ZERO).unwrap(), 1);
    assert_eq!(s.remove_roster("B1").unwrap(), 1);
    let bytes = all_bytes(&path);
    assert!(
        !contains(&bytes, marker),
        "the photo's bytes are overwritten"
    );
    assert!(
        !contains(&bytes, key.as_bytes()),
        "the ID number is gone from captures, attempts and the roster"
    );
    assert!(
        !contains(&bytes, "ROSTER-NAME".as_bytes()),
        "the roster is gone"
    );

    // the returning candidate is still found, and the attempt limit still counts
    let found = s.candidate_captures("gd-gaokao", key).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s.consecutive_failures("gd-gaokao", key).unwrap(), 2);
    // the pseudonym is keyed per kiosk, not a digest anyone can recompute
    let unkeyed: String = {
        use sha2::Digest;
        sha2::Sha256::digest(key.as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(!found[0].candidate_key.contains(&unkeyed));
    let other = Store::open(&other_path).unwrap();
    assert_ne!(
        other.pseudonym(key),
        s.pseudonym(key),
        "another kiosk, another key"
    );
    drop(s);
    assert_eq!(
        Store::open(&path)
            .unwrap()
            .candidate_captures("gd-gaokao", key)
            .unwrap()
            .len(),
        1,
        "the key survives a restart"
    );
}
