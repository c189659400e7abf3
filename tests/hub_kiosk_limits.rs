//! What one kiosk's token can do to the others, for real on loopback: hold every upload slot
//! with slow bodies, or put records into a batch the hub gave to other kiosks. A stolen kiosk
//! is one token; the hub's other kiosks must not feel it. Nor must a machine that shares the
//! kiosks' address (a college's NAT) and holds that address's connections.

use crate::common;

use capture_kiosk::hub::StoreAllowance;
use capture_kiosk::store::{now_ms, Store};
use capture_kiosk::upload::{stored_link, HubClient, HubError};
use common::hubs::{
    begin_upload_from, closed_count, connect_from, drain, fresh_dir, kiosk_store, runtime,
    silently_closed, submit, test_jpeg, TestHub,
};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// An upload with `token` from `from` that sends its headers and the start of a 100 kB body,
/// then nothing: it holds whatever the hub gives a submission being received.
fn held_upload(from: IpAddr, to: SocketAddr, token: &str) -> TcpStream {
    begin_upload_from(from, to, token, "JFIF")
}

/// The status line's code of what the hub has answered on `stream` within `patience`.
fn answered(stream: &mut TcpStream, patience: Duration) -> Option<u16> {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// What the hub answers a kiosk's `GET /api/v1/kiosk` with `token` from `from` (within 5 s).
fn kiosk_asks_from(from: IpAddr, hub: &TestHub, token: &str) -> Option<u16> {
    let mut kiosk = connect_from(from, hub.addr);
    kiosk
        .write_all(
            format!(
                "GET /api/v1/kiosk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .ok()?;
    answered(&mut kiosk, Duration::from_secs(5))
}

/// A submission from `token` (a multipart body sent at once): its status and how long it took.
fn submit_now(hub: &TestHub, token: &str, key: &str, batch: &str) -> (Option<u16>, Duration) {
    let meta = serde_json::json!({
        "key": key, "profile": "chsi-graduation", "batch_id": batch, "candidate_key": "Z3K8F7",
        "spec": "chsi", "captured_at_ms": 1_700_000_000_000i64,
    });
    runtime().block_on(async {
        let form = reqwest::multipart::Form::new()
            .text("metadata", meta.to_string())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(test_jpeg(7))
                    .mime_str("image/jpeg")
                    .unwrap(),
            )
            .text("report", r#"{"ok":true,"checks":[]}"#);
        let started = Instant::now();
        let status = reqwest::Client::new()
            .post(format!("{}/api/v1/records", hub.url))
            .bearer_auth(token)
            .multipart(form)
            .timeout(Duration::from_secs(8))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        (status, started.elapsed())
    })
}

#[test]
fn one_kiosks_slow_uploads_do_not_hold_up_another_kiosks() {
    // slow bodies are held for a minute here: long enough that a kiosk waiting behind them
    // would time out, as it would behind a real attacker's (300 s at 1 KiB/s by default)
    let hub = TestHub::start_configured(fresh_dir("hubs", "kiosk-share"), 0, |c| {
        c.connections.body_idle = Duration::from_secs(60);
        c.connections.body_grace = Duration::from_secs(60);
    });
    let stolen = hub.kiosk_token("kiosk-stolen");
    let honest = hub.kiosk_token("kiosk-honest");
    // the stolen token from 20 machines (four connections each, within the per-address limit):
    // more uploads than the hub receives at once (16)
    let mut held: Vec<TcpStream> = (0..20u8)
        .map(|n| held_upload(IpAddr::from([127, 0, 2, 1 + n / 4]), hub.addr, &stolen))
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    let (status, took) = submit_now(&hub, &honest, "0b9c1f52-3a4e-4d6b-9f00-5e1c2d3a4b5c", "");
    assert_eq!(
        status,
        Some(201),
        "another kiosk's record is stored while the stolen token's uploads are held ({took:?})"
    );
    assert!(took < Duration::from_secs(5), "and promptly: {took:?}");

    // the stolen token has two being received; the rest were told at once to wait
    let refused = held
        .iter_mut()
        .filter_map(|s| answered(s, Duration::from_millis(300)))
        .filter(|code| *code == 429)
        .count();
    assert_eq!(
        refused, 18,
        "all but the stolen token's two uploads are refused"
    );
    drop(held);
}

#[test]
fn a_batch_given_to_kiosks_takes_records_only_from_them() {
    let hub = TestHub::start("batch-writes");
    let college = hub.kiosk_token("kiosk-college");
    let stranger = hub.kiosk_token("kiosk-stranger");
    assert!(hub.hub.db().assign_batch("kiosk-college", "B1").unwrap());

    let (code, _) = submit_now(
        &hub,
        &stranger,
        "1a2b3c4d-0000-4000-8000-000000000001",
        "B1",
    );
    assert_eq!(code, Some(403), "a kiosk not assigned B1 cannot add to it");
    // nor to a batch that reads as B1 on the review page
    for (n, alike) in ["b1", "B1 ", "Ｂ１", "В1", "BI"].into_iter().enumerate() {
        let key = format!("1a2b3c4d-0000-4000-8000-00000000010{n}");
        let (code, _) = submit_now(&hub, &stranger, &key, alike);
        assert_eq!(code, Some(403), "look-alike {alike:?}");
    }
    let (code, _) = submit_now(&hub, &college, "1a2b3c4d-0000-4000-8000-000000000002", "B1");
    assert_eq!(code, Some(201), "the kiosk assigned B1 can");
    // a batch nobody was assigned, and no batch at all, stay open to every kiosk
    for (key, batch) in [
        ("1a2b3c4d-0000-4000-8000-000000000003", "open-day"),
        ("1a2b3c4d-0000-4000-8000-000000000004", ""),
    ] {
        let (code, _) = submit_now(&hub, &stranger, key, batch);
        assert_eq!(code, Some(201), "batch {batch:?}");
    }
    assert_eq!(
        hub.hub
            .db()
            .record("1a2b3c4d-0000-4000-8000-000000000001")
            .unwrap()
            .map(|r| r.id),
        None,
        "nothing of the refused record is stored"
    );

    // a kiosk's uploader keeps such a record and says what to do; it goes once assigned
    let token = hub.kiosk_token("kiosk-new");
    let (db, mut store) = kiosk_store("batch-writes", &hub.url, &token);
    // the kiosks' sessions are in batch Z3K8F7
    assert!(hub
        .hub
        .db()
        .assign_batch("kiosk-college", "Z3K8F7")
        .unwrap());
    submit(&mut store, "cand-batch", &test_jpeg(41));
    drop(store);
    let report = drain(&db, 3);
    assert_eq!((report.sent, report.quarantined), (0, 0), "{report:?}");
    let said = report.last_error.unwrap_or_default();
    assert!(
        said.contains("has not assigned this batch") && said.contains("assign-batch"),
        "{said}"
    );
    let link = stored_link(&Store::open(&db).unwrap()).unwrap().unwrap();
    let roster = runtime().block_on(HubClient::new(&link).unwrap().roster("Z3K8F7"));
    assert!(
        matches!(roster, Err(HubError::BatchNotAssigned(_))),
        "{roster:?}"
    );
    assert!(hub.hub.db().assign_batch("kiosk-new", "Z3K8F7").unwrap());
    // staff's "send now" makes the waiting record due at once
    Store::open(&db).unwrap().make_all_due(now_ms()).unwrap();
    assert_eq!(drain(&db, 10).sent, 1, "the record goes once assigned");
}

#[test]
fn a_hub_whose_disk_is_nearly_full_refuses_records_and_the_kiosk_keeps_them() {
    // a reserve no disk has: the hub's disk is "full" as far as the reserve goes
    let dir = fresh_dir("hubs", "disk-reserve");
    let hub = TestHub::start_configured(dir.clone(), 0, |c| c.disk_reserve_bytes = u64::MAX);
    let token = hub.kiosk_token("kiosk-full");
    let (code, _) = submit_now(&hub, &token, "2b3c4d5e-0000-4000-8000-000000000001", "");
    assert_eq!(
        code,
        Some(507),
        "a submission is refused while the disk is below the reserve"
    );
    let health = runtime().block_on(async {
        let r = reqwest::get(format!("{}/healthz", hub.url)).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(health.0, 503, "{health:?}");
    assert!(health.1.contains("disk nearly full"), "{health:?}");

    // the kiosk's uploader keeps the record (not quarantined) and pauses
    let (db, mut store) = kiosk_store("disk-reserve", &hub.url, &token);
    submit(&mut store, "cand-full", &test_jpeg(43));
    drop(store);
    let report = drain(&db, 3);
    assert_eq!(
        (report.sent, report.quarantined, report.pending_left),
        (0, 0, 1),
        "{report:?}"
    );
    assert!(
        report
            .last_error
            .unwrap_or_default()
            .contains("disk is nearly full"),
        "the kiosk is told why"
    );

    // room made: the same hub's data takes the record
    let port = hub.addr.port();
    hub.stop();
    let hub = TestHub::start_configured(dir, port, |_| {});
    let health = runtime().block_on(async {
        reqwest::get(format!("{}/healthz", hub.url))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(health, 200);
    Store::open(&db).unwrap().make_all_due(now_ms()).unwrap();
    assert_eq!(
        drain(&db, 10).sent,
        1,
        "the kept record goes once there is room"
    );
}

#[test]
fn one_kiosks_token_cannot_fill_the_disk_every_kiosk_stores_on() {
    // a small allowance (three records at once, one more every 36 s) for the test's sake; a
    // helper's probe stored 255 MB in 2.2 s with one token before there was any
    let dir = fresh_dir("hubs", "store-quota");
    let hub = TestHub::start_configured(dir, 0, |c| {
        c.store_allowance = StoreAllowance {
            burst_records: 3.0,
            records_per_hour: 100.0,
            ..StoreAllowance::default()
        }
    });
    let stolen = hub.kiosk_token("kiosk-stolen");
    let honest = hub.kiosk_token("kiosk-honest");
    for n in 0..3 {
        let key = format!("3c4d5e6f-0000-4000-8000-00000000000{n}");
        assert_eq!(
            submit_now(&hub, &stolen, &key, "").0,
            Some(201),
            "record {n}"
        );
    }
    // the fourth is refused before its body is read, saying when to come back
    let answer = runtime().block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/records", hub.url))
            .bearer_auth(&stolen)
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body("")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status().as_u16(), 429);
    let wait: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..=40).contains(&wait), "{wait}");
    // and so is a whole record
    let key = "3c4d5e6f-0000-4000-8000-000000000009";
    assert_eq!(submit_now(&hub, &stolen, key, "").0, Some(429));
    // every other kiosk goes on storing
    assert_eq!(
        submit_now(&hub, &honest, "3c4d5e6f-0000-4000-8000-000000000010", "").0,
        Some(201)
    );
    assert_eq!(
        hub.hub.db().record(key).unwrap().map(|r| r.id),
        None,
        "nothing of the refused record is stored"
    );
}

/// `kiosk hub` on the test's database, as an administrator runs it.
fn hub_admin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(common::hubs::with_database(args))
        .output()
        .unwrap()
}

#[test]
fn a_stolen_kiosks_undecided_uploads_are_purged_once_it_is_revoked() {
    use capture_kiosk::hub::db::retention::{KioskPurgeError, PurgeReason};
    let hub = TestHub::start("stolen-purge");
    let stolen = hub.kiosk_token("kiosk-stolen");
    let other = hub.kiosk_token("kiosk-honest");
    let (db_stolen, mut store) = kiosk_store("stolen-purge-a", &hub.url, &stolen);
    let before = submit(&mut store, "cand-before", &test_jpeg(41));
    assert_eq!(drain(&db_stolen, 30).sent, 1);
    // the theft: from here on, what this token sends is the thief's
    std::thread::sleep(Duration::from_millis(5));
    let since = now_ms();
    let junk: Vec<String> = (0..2)
        .map(|n| submit(&mut store, &format!("cand-junk-{n}"), &test_jpeg(42 + n)))
        .collect();
    let decided = submit(&mut store, "cand-decided", &test_jpeg(45));
    drop(store);
    assert_eq!(drain(&db_stolen, 30).sent, 3);
    let (db_honest, mut store) = kiosk_store("stolen-purge-b", &hub.url, &other);
    let honest = submit(&mut store, "cand-honest", &test_jpeg(46));
    drop(store);
    assert_eq!(drain(&db_honest, 30).sent, 1);
    let approve = capture_kiosk::hub_protocol::Decision {
        approve: true,
        reasons: vec![],
        note: String::new(),
    };
    assert!(hub
        .hub
        .db()
        .decide(&decided, "reviewer", &approve)
        .unwrap()
        .is_ok());

    // a kiosk whose token still works is refused: it would go on uploading behind the purge
    let refused = hub.hub.purge_revoked_kiosk("kiosk-stolen", since, now_ms());
    assert!(
        matches!(refused, Err(KioskPurgeError::NotRevoked(_))),
        "{refused:?}"
    );
    let unknown = hub.hub.purge_revoked_kiosk("kiosk-nobody", since, now_ms());
    assert!(
        matches!(unknown, Err(KioskPurgeError::Unknown(_))),
        "{unknown:?}"
    );
    assert!(hub.hub.db().revoke_kiosk("kiosk-stolen").unwrap());
    let report = hub
        .hub
        .purge_revoked_kiosk("kiosk-stolen", since, now_ms())
        .unwrap();
    let mut purged: Vec<&str> = report
        .records
        .iter()
        .map(|r| r.record_id.as_str())
        .collect();
    purged.sort_unstable();
    let mut wanted: Vec<&str> = junk.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    assert_eq!(
        purged, wanted,
        "only what it sent since the theft, undecided"
    );
    assert_eq!(report.count(PurgeReason::RevokedKiosk), 2);
    assert_eq!(report.files_removed, 2);

    // what the thief sent is gone and out of the queue; the rest stays for a person to judge
    let dir = hub.dir.clone();
    let photo = |id: &str| dir.join(format!("photos/{}/{id}.jpg", &id[id.len() - 2..]));
    for id in &junk {
        assert!(!photo(id).exists(), "{id}'s photo is gone");
        let rec = hub.hub.db().record(id).unwrap().unwrap();
        assert_eq!(rec.candidate_index, "purged");
        assert_eq!(
            rec.status.state,
            capture_kiosk::hub_protocol::ReviewState::Withdrawn
        );
    }
    for id in [&before, &decided, &honest] {
        assert!(photo(id).exists(), "{id} stays");
        assert_ne!(
            hub.hub.db().record(id).unwrap().unwrap().candidate_index,
            "purged"
        );
    }
    hub.stop();

    // the command line counts back in hours: the last hour takes the earlier undecided
    // record too, never the decided one or another kiosk's
    let data = dir.to_str().unwrap().to_owned();
    let out = hub_admin(&[
        "hub",
        "--data",
        &data,
        "purge-kiosk",
        "--name",
        "kiosk-stolen",
        "--hours",
        "1",
    ]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("purged 1 undecided records"), "{said}");
    assert!(said.contains(&format!("revoked_kiosk {before}")), "{said}");
    assert!(!said.contains("cand-"), "ids only: {said}");
    assert!(!photo(&before).exists());
    assert!(photo(&decided).exists() && photo(&honest).exists());
    // a kiosk still in service is refused, saying what to run first
    let out = hub_admin(&[
        "hub",
        "--data",
        &data,
        "purge-kiosk",
        "--name",
        "kiosk-honest",
        "--hours",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && err.contains("revoke-kiosk"),
        "{err}"
    );
    assert!(photo(&honest).exists());
}

#[test]
fn a_machine_behind_the_kiosks_nat_cannot_keep_them_out() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "nat-neighbour"), 0, |c| {
        c.connections.max_per_address = 4;
    });
    let token = hub.kiosk_token("kiosk-behind-nat");
    let college = IpAddr::from([127, 0, 9, 1]);
    // a machine on the college's network opens the address's share and sends nothing
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect_from(college, hub.addr)).collect();
    // past the moment of grace a fresh connection has (`connection_slots.rs`)
    std::thread::sleep(Duration::from_millis(2300));
    // the college's kiosk, behind the same address, is served
    assert_eq!(kiosk_asks_from(college, &hub, &token), Some(200));
    // one of the idle connections gave way for it, and only one
    let closed = closed_count(&mut idle, Duration::from_millis(500));
    assert_eq!(closed, 1, "idle connections closed for the kiosk");
}

#[test]
fn login_bodies_sent_slowly_from_the_kiosks_nat_do_not_keep_them_out() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "nat-slow-logins"), 0, |c| {
        c.connections.max_per_address = 4;
    });
    let token = hub.kiosk_token("kiosk-behind-nat");
    let college = IpAddr::from([127, 0, 9, 2]);
    // a machine on the college's network holds the address's share with login forms whose
    // bodies never finish: each connection has a request in hand (a helper's probe, session
    // 41, kept every kiosk request out this way)
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect_from(college, hub.addr);
            s.write_all(
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\nuser=a",
            )
            .unwrap();
            s
        })
        .collect();
    // while they are younger than an honest login takes, they stay
    std::thread::sleep(Duration::from_millis(300));
    let mut early = connect_from(college, hub.addr);
    assert!(silently_closed(&mut early, Duration::from_secs(1)));
    // once they have held their requests for longer, the college's kiosk is served
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(kiosk_asks_from(college, &hub, &token), Some(200));
    let closed = closed_count(&mut stalled, Duration::from_millis(500));
    assert_eq!(closed, 1, "stalled logins closed for the kiosk");
}

#[test]
fn small_requests_kept_going_from_the_kiosks_nat_do_not_keep_them_out() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "nat-busy"), 0, |c| {
        c.connections.max_per_address = 4;
    });
    let token = hub.kiosk_token("kiosk-behind-nat");
    let college = IpAddr::from([127, 0, 9, 3]);
    // a machine on the college's network keeps each of the address's connections working
    // with a request every half second: never idle long, never stalled on one request (a
    // helper's review, session 42)
    let mut busy: Vec<TcpStream> = (0..4).map(|_| connect_from(college, hub.addr)).collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        for s in &mut busy {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            let _ = answered(s, Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(400));
    }
    // connections open that long without proving anything give way to the kiosk
    assert_eq!(kiosk_asks_from(college, &hub, &token), Some(200));
}
