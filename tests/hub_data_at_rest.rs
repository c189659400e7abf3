//! Candidates' data at rest on the hub (issue 12, items 7, 8, 10, 11), on loopback: a private
//! data folder, rosters only for the batches a kiosk is assigned and passwords only sealed,
//! the retention purge (library and `kiosk hub purge`), and reviewers whose reset or removal
//! ends their sessions.

use crate::common;

use capture_kiosk::hub::db::retention::{PurgeReason, RetentionPolicy};
use capture_kiosk::hub::{Hub, HubConfig};
use capture_kiosk::hub_protocol::{RecordStatus, RosterEntry};
use capture_kiosk::store::{now_ms, Store};
use capture_kiosk::upload::{stored_link, HubClient, HubError};
use common::hubs::{drain, fresh_dir, kiosk_store, runtime, submit, test_jpeg, TestHub};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn client(db: &Path) -> HubClient {
    HubClient::new(&stored_link(&Store::open(db).unwrap()).unwrap().unwrap()).unwrap()
}

/// A request with a cookie or a bearer token; the status and the JSON answer.
fn call(
    hub: &TestHub,
    method: reqwest::Method,
    path: &str,
    auth: (&str, &str),
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    runtime().block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", hub.url))
            .header(auth.0, auth.1);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    })
}

fn kiosk_bin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(common::hubs::with_database(args))
        .output()
        .unwrap()
}

#[test]
fn the_hub_keeps_its_files_private_and_refuses_an_open_data_folder() {
    let hub = TestHub::start("private-files");
    let token = hub.kiosk_token("kiosk-p");
    let (db, mut store) = kiosk_store("private-files", &hub.url, &token);
    let id = submit(&mut store, "cand-p", &test_jpeg(21));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 1);
    assert_eq!(mode(&hub.dir), 0o700);
    assert_eq!(mode(&hub.dir.join("photos")), 0o700);
    if common::hubs::Backend::current() == common::hubs::Backend::Sqlite {
        for name in ["hub.sqlite", "hub.sqlite-wal", "hub.sqlite-shm"] {
            assert_eq!(mode(&hub.dir.join(name)), 0o600, "{name}");
        }
    } else {
        // on PostgreSQL the records are in the shared database (its server keeps its files
        // private, 0700 data directory): nothing of them in the replica's folder
        assert!(!hub.dir.join("hub.sqlite").exists());
    }
    let shard = &id[id.len() - 2..];
    let photo = hub.dir.join(format!("photos/{shard}/{id}.jpg"));
    assert_eq!(mode(&photo), 0o600, "the photo");
    assert_eq!(mode(photo.parent().unwrap()), 0o700, "its folder");
    // sealed: the file is no JPEG, and its key is private too
    let sealed = std::fs::read(&photo).unwrap();
    assert!(!sealed.starts_with(&[0xff, 0xd8]) && sealed.starts_with(b"CKSEAL"));
    assert_eq!(mode(&hub.dir.join("sealing.key")), 0o600, "the sealing key");
    // a photo altered behind the hub's back is refused, saying so, not shown
    let cookie = hub.reviewer_cookie("reviewer-p", false);
    let mut altered = sealed.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    std::fs::write(&photo, &altered).unwrap();
    let (status, said) = common::hubs::review_photo(&hub, &cookie, &id);
    let said = String::from_utf8_lossy(&said);
    assert!(
        status == 500 && said.contains("sealing key"),
        "{status} {said}"
    );
    std::fs::write(&photo, &sealed).unwrap();
    let dir = hub.dir.clone();
    hub.stop();

    // a key that is not the one the hub's data was sealed with is refused at start, saying what to give
    let key = dir.join("sealing.key");
    let own = std::fs::read(&key).unwrap();
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).unwrap();
    let e = Hub::open(common::hubs::hub_config(dir.clone()))
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("is not the one"), "{e:#}");
    // nor is a key made afresh by a command run without the site's key: and it is taken away
    std::fs::remove_file(&key).unwrap();
    let e = Hub::open(common::hubs::hub_config(dir.clone()))
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("is not the one"), "{e:#}");
    assert!(!key.exists(), "the stray key is not left behind");
    std::fs::write(&key, own).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Hub::open(common::hubs::hub_config(dir)).is_ok());

    // an install an earlier version left open is refused, saying how to fix it
    let open = fresh_dir("hubs", "open-folder");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = Hub::open(HubConfig::new(open.clone())).err().unwrap();
    let shown = format!("{e:#}");
    assert!(
        shown.contains("chmod 700") && shown.contains("open-folder"),
        "{shown}"
    );
    assert!(!open.join("hub.sqlite").exists(), "nothing was written");
    let out = kiosk_bin(&["hub", "--data", open.to_str().unwrap(), "status"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 700"));
}

#[test]
fn kiosks_read_only_their_batches_and_passwords_arrive_sealed() {
    let hub = TestHub::start("batches");
    let token_a = hub.kiosk_token("kiosk-a");
    let token_b = hub.kiosk_token("kiosk-b");
    let digest = capture_kiosk::session::identify::password_digest("2026001", "123456");
    let csv = format!("考生号,姓名,身份证号,密码摘要\n2026001,张三,11010519491231002X,{digest}\n");
    let file = hub.dir.join("roster.csv");
    std::fs::write(&file, csv).unwrap();
    // the command line imports and assigns in one go; a kiosk it does not know stops it
    let data = hub.dir.to_str().unwrap();
    let roster = file.to_str().unwrap();
    let out = kiosk_bin(&[
        "hub",
        "--data",
        data,
        "import-roster",
        "--batch",
        "B1",
        "--kiosk",
        "no-such",
        roster,
    ]);
    assert!(!out.status.success());
    let out = kiosk_bin(&[
        "hub",
        "--data",
        data,
        "import-roster",
        "--batch",
        "B1",
        "--kiosk",
        "kiosk-a",
        roster,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hub.hub.db().replace_roster("B2", &[], "test").unwrap();

    let (db_a, _) = kiosk_store("batches-a", &hub.url, &token_a);
    let (db_b, _) = kiosk_store("batches-b", &hub.url, &token_b);
    let rt = runtime();
    let rows: Vec<RosterEntry> = rt.block_on(client(&db_a).roster("B1")).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].name.as_str(), rows[0].id_number.as_str()),
        ("张三", "11010519491231002X"),
        "the kiosk reads the roster in clear"
    );
    // at rest the name and the ID number are sealed: neither is in the database's files
    if common::hubs::Backend::current() == common::hubs::Backend::Sqlite {
        let raw = rusqlite::Connection::open(hub.dir.join("hub.sqlite")).unwrap();
        let (name, id): (String, String) = raw
            .query_row(
                "SELECT name, id_number FROM roster WHERE batch_id = 'B1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(
            name.starts_with("sealed1:") && id.starts_with("sealed1:"),
            "{name} {id}"
        );
        for file in ["hub.sqlite", "hub.sqlite-wal"] {
            let bytes = std::fs::read(hub.dir.join(file)).unwrap_or_default();
            assert!(
                !bytes.windows(18).any(|w| w == b"11010519491231002X"),
                "an ID number in {file}"
            );
            assert!(
                !bytes.windows(6).any(|w| w == "张三".as_bytes()),
                "a name in {file}"
            );
        }
    }
    assert!(
        rows[0].secret.starts_with("$argon2id$") && !rows[0].secret.contains(&digest),
        "only the sealed password leaves the hub: {}",
        rows[0].secret
    );
    assert!(capture_kiosk::roster::secret_matches(
        Some(&rows[0].secret),
        "2026001",
        "123456"
    ));
    // the administrators' web import seals the same way
    let admin = hub.reviewer_cookie("admin-batches", true);
    let put = runtime().block_on(async {
        reqwest::Client::new()
            .put(format!("{}/api/v1/roster?batch=B3", hub.url))
            .header("Cookie", &admin)
            .body(format!(
                "candidate_key,name,id_number,password_sha256\n2026001,张三,11010519491231002X,{digest}\n"
            ))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(put, 200);
    assert!(hub.hub.db().assign_batch("kiosk-a", "B3").unwrap());
    let web = rt.block_on(client(&db_a).roster("B3")).unwrap();
    assert!(web[0].secret.starts_with("$argon2id$"), "{}", web[0].secret);
    assert!(capture_kiosk::roster::secret_matches(
        Some(&web[0].secret),
        "2026001",
        "123456"
    ));
    // nothing in the hub's database holds the fast digest
    let stored: Vec<String> = ["B1", "B2", "B3"]
        .iter()
        .flat_map(|b| hub.hub.db().roster(b).unwrap())
        .map(|e| e.secret)
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|s| !s.contains(&digest) && s.starts_with("$argon2id$")));

    // the other kiosk, and any kiosk for a batch it was not given, is refused alike
    for (db, batch) in [(&db_b, "B1"), (&db_a, "B2"), (&db_a, "no-such-batch")] {
        let e = rt.block_on(client(db).roster(batch)).unwrap_err();
        assert!(
            matches!(&e, HubError::BatchNotAssigned(m) if m.starts_with("403") && m.contains("assign-batch")),
            "{batch}: {e:?}"
        );
    }
    // a name no batch can have is refused before it reaches the log or the answer: a stolen
    // token asking for 60 KB names flooded the log at 118 MB/s
    let long = "B".repeat(60_000);
    let e = rt.block_on(client(&db_a).roster(&long)).unwrap_err();
    let said = format!("{e:?}");
    assert!(
        said.contains("at most 64 characters") && !said.contains(&long[..100]),
        "{}",
        &said[..said.len().min(400)]
    );
    assert!(hub.hub.db().assign_batch("kiosk-b", "B1").unwrap());
    assert_eq!(rt.block_on(client(&db_b).roster("B1")).unwrap().len(), 1);
    let out = kiosk_bin(&[
        "hub",
        "--data",
        data,
        "unassign-batch",
        "--kiosk",
        "kiosk-b",
        "--batch",
        "B1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rt.block_on(client(&db_b).roster("B1")).is_err());

    // a returning candidate's records: only for the kiosk that sent them or one assigned
    // their batch (the kiosks' sessions are in batch Z3K8F7)
    let mut store_a = Store::open(&db_a).unwrap();
    let id = submit(&mut store_a, "cand-lookup", &test_jpeg(22));
    drop(store_a);
    assert_eq!(drain(&db_a, 30).sent, 1);
    let lookup_of = |token: &str, candidate: &str| -> Vec<RecordStatus> {
        let (code, v) = call(
            &hub,
            reqwest::Method::POST,
            "/api/v1/candidates/lookup",
            ("Authorization", &format!("Bearer {token}")),
            Some(serde_json::json!({"profile": "chsi-graduation", "candidate_key": candidate})),
        );
        assert_eq!(code, 200, "{v}");
        serde_json::from_value(v).unwrap()
    };
    let lookup = |token: &str| lookup_of(token, "cand-lookup");
    assert_eq!(lookup(&token_a).len(), 1, "the kiosk that sent it");
    assert!(lookup(&token_b).is_empty(), "a kiosk of another collection");
    assert!(hub.hub.db().assign_batch("kiosk-b", "Z3K8F7").unwrap());
    assert_eq!(
        lookup(&token_b)[0].record_id,
        id,
        "a kiosk of the same batch"
    );

    // a profile that files candidates under their ID number (gd-gaokao): the number is
    // found again and shown to the reviewer, and is nowhere in the database's files
    assert!(hub.hub.db().assign_batch("kiosk-a", "Z3K8F7").unwrap());
    let mut store_a = Store::open(&db_a).unwrap();
    let by_id = submit(&mut store_a, "11010519491231002X", &test_jpeg(23));
    drop(store_a);
    let r = drain(&db_a, 30);
    assert_eq!(r.sent, 1, "{r:?}");
    let queue = hub
        .hub
        .db()
        .review_items(
            capture_kiosk::hub_protocol::ReviewState::PendingReview,
            50,
            0,
        )
        .unwrap();
    let shown = queue.iter().find(|i| i.record_id == by_id).unwrap();
    assert_eq!(shown.candidate_key, "11010519491231002X");
    let found = lookup_of(&token_a, "11010519491231002X");
    assert_eq!(found[0].record_id, by_id);
    if common::hubs::Backend::current() == common::hubs::Backend::Sqlite {
        for file in ["hub.sqlite", "hub.sqlite-wal"] {
            let bytes = std::fs::read(hub.dir.join(file)).unwrap_or_default();
            for clear in ["11010519491231002X", "cand-lookup", "2026001"] {
                assert!(
                    !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                    "{clear} in {file}"
                );
            }
        }
    }
}

#[test]
fn the_retention_purge_removes_withdrawn_and_replaced_photos_and_reports_ids() {
    let hub = TestHub::start("purge");
    let token = hub.kiosk_token("kiosk-purge");
    let (db, mut store) = kiosk_store("purge", &hub.url, &token);
    let withdrawn = submit(&mut store, "cand-1", &test_jpeg(31));
    let rejected = submit(&mut store, "cand-2", &test_jpeg(32));
    let approved = submit(&mut store, "cand-3", &test_jpeg(33));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 3);
    let rt = runtime();
    rt.block_on(client(&db).withdraw(&withdrawn)).unwrap();
    let cookie = hub.reviewer_cookie("reviewer-purge", false);
    let decide = |id: &str, body: serde_json::Value| {
        let (code, v) = call(
            &hub,
            reqwest::Method::POST,
            &format!("/api/v1/review/records/{id}/decision"),
            ("Cookie", &cookie),
            Some(body),
        );
        assert_eq!(code, 200, "{v}");
    };
    decide(
        &rejected,
        serde_json::json!({"approve": false, "reasons": ["blur"]}),
    );
    decide(&approved, serde_json::json!({"approve": true}));
    let dir = hub.dir.clone();
    let photo = |id: &str| dir.join(format!("photos/{}/{id}.jpg", &id[id.len() - 2..]));
    let policy = RetentionPolicy::default();

    // nothing is due yet: the rejected record was not replaced
    let r = hub.hub.purge(&policy, now_ms()).unwrap();
    assert_eq!(r.records.len(), 1, "{r:?}");
    assert_eq!(
        (r.records[0].record_id.as_str(), r.records[0].reason),
        (withdrawn.as_str(), PurgeReason::Withdrawn)
    );
    assert_eq!(r.files_removed, 1);
    assert!(!photo(&withdrawn).exists(), "the withdrawn photo is gone");
    assert!(photo(&rejected).exists() && photo(&approved).exists());

    // the candidate sends a new photo: the rejected one goes once the grace period is over
    let mut store = Store::open(&db).unwrap();
    let replacement = submit(&mut store, "cand-2", &test_jpeg(34));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 1);
    assert!(hub.hub.purge(&policy, now_ms()).unwrap().records.is_empty());
    let later = now_ms() + 8 * 86_400_000;
    let r = hub.hub.purge(&policy, later).unwrap();
    assert_eq!(r.count(PurgeReason::Replaced), 1, "{r:?}");
    assert_eq!(r.records[0].record_id, rejected);
    assert!(!photo(&rejected).exists());
    assert!(photo(&replacement).exists() && photo(&approved).exists());
    // a purged row keeps its status (the kiosk still learns it), not the candidate
    let rec = hub.hub.db().record(&rejected).unwrap().unwrap();
    assert_eq!(rec.candidate_index, "purged");
    // a reviewer's stale page cannot approve it: its photo is gone
    let approve = capture_kiosk::hub_protocol::Decision {
        approve: true,
        reasons: vec![],
        note: String::new(),
    };
    assert!(
        hub.hub
            .db()
            .decide(&rejected, "reviewer", &approve)
            .unwrap()
            .is_err(),
        "a purged record is past deciding"
    );
    let statuses = rt
        .block_on(client(&db).statuses(std::slice::from_ref(&rejected)))
        .unwrap();
    assert_eq!(
        statuses[0].state,
        capture_kiosk::hub_protocol::ReviewState::Rejected
    );
    hub.stop();

    // the command line: decided records only when the administrator says so, ids reported
    let data = dir.to_str().unwrap().to_owned();
    let out = kiosk_bin(&["hub", "--data", &data, "purge"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("purged 0 records"), "{said}");
    let out = kiosk_bin(&["hub", "--data", &data, "purge", "--decided-days", "0"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("purged 1 records (0 withdrawn, 0 replaced, 1 decided); 1 files removed"),
        "{said}"
    );
    assert!(said.contains(&format!("decided {approved}")), "{said}");
    assert!(!said.contains("cand-"), "ids only: {said}");
    assert!(!photo(&approved).exists());
    assert!(
        photo(&replacement).exists(),
        "a pending record is never purged"
    );

    // photos no record names: one a crash left two hours ago goes with the next purge; one
    // written a moment ago may be an upload whose row the serving hub is about to commit, so
    // neither the purge nor any other command run beside the hub touches it
    let shard = dir.join("photos").join("01");
    std::fs::create_dir_all(&shard).unwrap();
    let old = shard.join("0190f3a2-0000-7000-8000-000000000301.jpg");
    let young = shard.join("0190f3a2-0000-7000-8000-000000000302.jpg");
    for f in [&old, &young] {
        std::fs::write(f, test_jpeg(5)).unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    let out = kiosk_bin(&["hub", "--data", &data, "add-kiosk", "--name", "kiosk-later"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        old.exists() && young.exists(),
        "an admin command sweeps nothing"
    );
    let out = kiosk_bin(&["hub", "--data", &data, "purge"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        said.contains("1 photo files no record names removed"),
        "{said}"
    );
    assert!(!old.exists(), "the crash's leftover is gone");
    assert!(
        young.exists(),
        "a photo that may be an upload in flight stays"
    );
}

#[test]
fn a_reset_password_ends_sessions_and_a_removed_reviewer_is_out() {
    let hub = TestHub::start("reviewers");
    let queue = |cookie: &str| {
        call(
            &hub,
            reqwest::Method::GET,
            "/api/v1/review/queue",
            ("Cookie", cookie),
            None,
        )
        .0
    };
    let cookie = hub.reviewer_cookie("rev-1", false);
    assert_eq!(queue(&cookie), 200);
    // the password is reset (leaked, or the reviewer left): the old session is over
    hub.hub
        .db()
        .add_reviewer("rev-1", "a new long password", false)
        .unwrap();
    assert_eq!(queue(&cookie), 401, "the old session ended with the reset");

    let again = hub.reviewer_cookie("rev-1", false);
    assert_eq!(queue(&again), 200);
    let data = hub.dir.to_str().unwrap().to_owned();
    let out = kiosk_bin(&["hub", "--data", &data, "remove-reviewer", "--user", "rev-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 open sessions ended"));
    assert_eq!(queue(&again), 401, "a removed reviewer is out");
    let out = kiosk_bin(&["hub", "--data", &data, "remove-reviewer", "--user", "rev-1"]);
    assert!(!out.status.success(), "no such reviewer any more");
    let login = runtime().block_on(async {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/login", hub.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("user=rev-1&password=correct+horse+battery")
            .send()
            .await
            .unwrap()
    });
    assert!(
        login.headers().get("set-cookie").is_none(),
        "no login for them"
    );
}
