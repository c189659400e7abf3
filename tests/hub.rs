//! The hub for real on loopback with the real uploader against it: a record goes once, review
//! results flow back, refusals are sorted (quarantine vs retry), a hub that is away for the
//! whole run costs nothing, near-duplicate photos are flagged, withdraw and locking, rosters.

use crate::common;

use capture_kiosk::hub::sealing::{SealingKey, SealingKeySource};
use capture_kiosk::hub_protocol::{Decision, RecordMeta, RejectReason, ReviewState};
use capture_kiosk::store::{now_ms, Store};
use capture_kiosk::upload::{stored_link, HubClient, HubError, HubLink, UploadPolicy, Worker};
use common::hubs::{drain, free_port, kiosk_store, runtime, submit, test_jpeg, TestHub};
use std::time::{Duration, Instant};

fn reviewer_post(
    hub: &TestHub,
    cookie: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    runtime().block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", hub.url))
            .header("Cookie", cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    })
}

#[test]
fn a_record_reaches_the_hub_once_and_its_rejection_comes_back() {
    let hub = TestHub::start("once");
    let token = hub.kiosk_token("kiosk-1");
    let (db, mut store) = kiosk_store("once", &hub.url, &token);
    let photo = test_jpeg(1);
    let id = submit(&mut store, "440106199903070015", &photo);
    drop(store);

    let first = drain(&db, 30);
    assert_eq!(
        (first.sent, first.pending_left, first.quarantined),
        (1, 0, 0),
        "{first:?}"
    );
    assert_eq!(hub.hub.db().record_ids().unwrap(), vec![id.clone()]);
    let name = format!("{}/{id}.jpg", &id[id.len() - 2..]);
    let stored = std::fs::read(hub.dir.join("photos").join(&name)).unwrap();
    // sealed at rest: no JPEG on the disk, and the photo comes back byte for byte with the key
    assert!(!stored.starts_with(&[0xff, 0xd8]));
    assert!(!stored
        .windows(64)
        .any(|w| w == &photo[photo.len() / 2..][..64]));
    let key = SealingKey::load(&SealingKeySource::DataFolder, &hub.dir).unwrap();
    assert_eq!(
        key.open(&name, stored).unwrap(),
        photo,
        "the hub keeps the photo byte for byte"
    );

    // a replay of the same record is answered as the first time and stored once
    let store = Store::open(&db).unwrap();
    let (meta, jpeg, report) = store.upload_payload(&id).unwrap().unwrap();
    let client = HubClient::new(&stored_link(&store).unwrap().unwrap()).unwrap();
    let rt = runtime();
    let again = rt
        .block_on(client.submit(&meta, jpeg.clone(), report.clone()))
        .unwrap();
    let again2 = rt
        .block_on(client.submit(&meta, jpeg.clone(), report.clone()))
        .unwrap();
    assert_eq!(again, again2);
    assert_eq!(again.record_id, id);
    assert_eq!(hub.hub.db().record_ids().unwrap().len(), 1);
    // the same key with other content is refused (and would be quarantined)
    let mut other = meta.clone();
    other.candidate_key = "somebody-else".into();
    let refused = rt
        .block_on(client.submit(&other, jpeg, report))
        .unwrap_err();
    assert!(
        matches!(&refused, HubError::Refused(m) if m.starts_with("409")),
        "{refused:?}"
    );

    // a reviewer rejects it; the kiosk's next drain brings the reason back
    let cookie = hub.reviewer_cookie("reviewer-a", false);
    let (code, status) = reviewer_post(
        &hub,
        &cookie,
        &format!("/api/v1/review/records/{id}/decision"),
        serde_json::json!({"approve": false, "reasons": ["glasses"], "note": ""}),
    );
    assert_eq!(code, 200, "{status}");
    drop(store);
    let second = drain(&db, 30);
    assert_eq!((second.sent, second.reviews_updated), (0, 1), "{second:?}");
    let store = Store::open(&db).unwrap();
    let mine = store
        .candidate_captures("chsi-graduation", "440106199903070015")
        .unwrap();
    assert_eq!(mine[0].review_state, Some(ReviewState::Rejected));
    assert_eq!(mine[0].review_reasons, vec![RejectReason::Glasses]);
    assert!(
        mine[0].status_line().contains("rejected: wearing glasses"),
        "{}",
        mine[0].status_line()
    );
}

#[test]
fn the_hub_away_for_the_whole_run_loses_nothing_and_the_queue_drains_when_it_returns() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = common::hubs::fresh_dir("hubs", "away");
    // register the kiosk in the hub's data folder while the hub is not serving
    let token = {
        let hub = capture_kiosk::hub::Hub::open(common::hubs::hub_config(dir.clone())).unwrap();
        let t = hub.db().add_kiosk("kiosk-away").unwrap().1;
        t
    };
    let (db, mut store) = kiosk_store("away", &url, &token);
    let ids: Vec<String> = (0..40)
        .map(|i| submit(&mut store, &format!("cand-{i}"), &test_jpeg(i)))
        .collect();
    drop(store);

    let started = Instant::now();
    let away = drain(&db, 3);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "drain honours its timeout"
    );
    assert_eq!(
        (away.sent, away.quarantined, away.pending_left),
        (0, 0, 40),
        "{away:?}"
    );
    assert!(
        away.last_error
            .as_deref()
            .unwrap_or("")
            .contains("not reachable"),
        "{away:?}"
    );
    let store = Store::open(&db).unwrap();
    let q = store.queue_status().unwrap();
    assert_eq!((q.pending, q.sent, q.quarantined), (40, 0, 0));
    // an outage is not the records' fault: no record was charged an attempt
    assert!(store
        .recent_captures(100)
        .unwrap()
        .iter()
        .all(|c| c.attempts == 0));
    drop(store);

    let hub = TestHub::start_in(dir, port);
    let back = drain(&db, 60);
    assert_eq!((back.sent, back.pending_left), (40, 0), "{back:?}");
    let mut at_hub = hub.hub.db().record_ids().unwrap();
    at_hub.sort();
    let mut sent = ids.clone();
    sent.sort();
    assert_eq!(at_hub, sent);
}

#[test]
fn bad_tokens_other_kiosks_and_invalid_records_are_refused() {
    let hub = TestHub::start("refusals");
    let token_a = hub.kiosk_token("kiosk-a");
    let token_b = hub.kiosk_token("kiosk-b");
    let rt = runtime();
    let client = |token: &str| {
        HubClient::new(&HubLink {
            url: hub.url.clone(),
            token: token.into(),
            ca_pem: None,
        })
        .unwrap()
    };
    // unauthenticated and unknown tokens
    let plain = rt
        .block_on(reqwest::get(format!("{}/api/v1/kiosk", hub.url)))
        .unwrap();
    assert_eq!(plain.status(), 401);
    let e = rt.block_on(client("ck_nonsense").whoami()).unwrap_err();
    assert!(matches!(e, HubError::Unauthorized(_)), "{e:?}");
    assert_eq!(
        rt.block_on(client(&token_a).whoami()).unwrap().name,
        "kiosk-a"
    );

    // plain http to another machine is refused before anything is sent
    let e = HubClient::new(&HubLink {
        url: "http://192.0.2.7:8600".into(),
        token: "t".into(),
        ca_pem: None,
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("https://"), "{e}");

    // kiosk A's record: kiosk B can neither read, withdraw nor overwrite it
    let (db, mut store) = kiosk_store("refusals-a", &hub.url, &token_a);
    let id = submit(&mut store, "cand-a", &test_jpeg(3));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 1);
    // (a status batch leaves another kiosk's records out instead of failing)
    let seen = rt
        .block_on(client(&token_b).statuses(std::slice::from_ref(&id)))
        .unwrap();
    assert!(seen.is_empty(), "{seen:?}");
    let e = rt.block_on(client(&token_b).withdraw(&id)).unwrap_err();
    assert!(
        matches!(&e, HubError::ForeignRecord(m) if m.starts_with("403")),
        "{e:?}"
    );
    let store = Store::open(&db).unwrap();
    let (meta, jpeg, report) = store.upload_payload(&id).unwrap().unwrap();
    let e = rt
        .block_on(client(&token_b).submit(&meta, jpeg, report.clone()))
        .unwrap_err();
    assert!(
        matches!(&e, HubError::ForeignRecord(m) if m.starts_with("403")),
        "{e:?}"
    );

    // a record the hub cannot accept is quarantined at the kiosk, kept and shown, not retried
    let (db2, mut store2) = kiosk_store("refusals-bad", &hub.url, &token_a);
    let bad = submit(&mut store2, "cand-bad", b"\xFF\xD8 not really a jpeg");
    drop(store2);
    let r = drain(&db2, 30);
    assert_eq!((r.sent, r.quarantined, r.pending_left), (0, 1, 0), "{r:?}");
    let store2 = Store::open(&db2).unwrap();
    let shown = &store2.recent_captures(5).unwrap()[0];
    assert_eq!(
        (shown.id.as_str(), shown.outbox_state.as_str()),
        (bad.as_str(), "quarantined")
    );
    assert!(
        shown
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("photo cannot be read"),
        "{shown:?}"
    );
    assert!(
        store2.capture_photo(&bad).unwrap().is_some(),
        "a quarantined record keeps its photo"
    );

    // metadata the hub cannot use, and a body over the size limit
    let mut broken: RecordMeta = meta.clone();
    broken.key = "not-a-uuid".into();
    let e = rt
        .block_on(client(&token_a).submit(&broken, test_jpeg(4), report.clone()))
        .unwrap_err();
    assert!(
        matches!(&e, HubError::Refused(m) if m.starts_with("422")),
        "{e:?}"
    );
    let mut big = meta.clone();
    big.key = uuid::Uuid::now_v7().to_string();
    let e = rt
        .block_on(client(&token_a).submit(&big, vec![0xFF; 5 << 20], report))
        .unwrap_err();
    assert!(
        matches!(&e, HubError::Refused(m) if m.starts_with("413")),
        "{e:?}"
    );
    // over the hub's whole-request limit: refused by the kiosk itself, never half-sent
    let e = rt
        .block_on(client(&token_a).submit(&big, vec![0xFF; 9 << 20], String::new()))
        .unwrap_err();
    assert!(
        matches!(&e, HubError::Refused(m) if m.contains("more than")),
        "{e:?}"
    );
    assert_eq!(hub.hub.db().record_ids().unwrap(), vec![id]);
}

#[test]
fn withdraw_while_pending_and_approved_records_are_locked() {
    let hub = TestHub::start("withdraw");
    let token = hub.kiosk_token("kiosk-w");
    let (db, mut store) = kiosk_store("withdraw", &hub.url, &token);
    let first = submit(&mut store, "cand-w", &test_jpeg(5));
    let second = submit(&mut store, "cand-w", &test_jpeg(6));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 2);
    let store = Store::open(&db).unwrap();
    let client = HubClient::new(&stored_link(&store).unwrap().unwrap()).unwrap();
    let rt = runtime();
    assert_eq!(
        rt.block_on(client.withdraw(&first)).unwrap().state,
        ReviewState::Withdrawn
    );
    let e = rt.block_on(client.withdraw(&first)).unwrap_err();
    assert!(
        matches!(&e, HubError::Refused(m) if m.starts_with("409")),
        "{e:?}"
    );

    let cookie = hub.reviewer_cookie("reviewer-w", false);
    let decide = |id: &str, d: Decision| {
        reviewer_post(
            &hub,
            &cookie,
            &format!("/api/v1/review/records/{id}/decision"),
            serde_json::to_value(d).unwrap(),
        )
    };
    let (code, _) = decide(
        &first,
        Decision {
            approve: true,
            reasons: vec![],
            note: String::new(),
        },
    );
    assert_eq!(code, 409, "a withdrawn record cannot be decided");
    let (code, body) = decide(
        &second,
        Decision {
            approve: false,
            reasons: vec![],
            note: String::new(),
        },
    );
    assert_eq!(code, 422, "a rejection needs a reason: {body}");
    let (code, _) = decide(
        &second,
        Decision {
            approve: true,
            reasons: vec![],
            note: String::new(),
        },
    );
    assert_eq!(code, 200);
    let (code, body) = decide(
        &second,
        Decision {
            approve: false,
            reasons: vec![RejectReason::Blur],
            note: String::new(),
        },
    );
    assert_eq!(code, 409, "approved records are locked: {body}");
    let e = rt.block_on(client.withdraw(&second)).unwrap_err();
    assert!(
        matches!(&e, HubError::Refused(m) if m.starts_with("409")),
        "{e:?}"
    );
    let statuses = rt
        .block_on(client.statuses(&[first.clone(), second.clone()]))
        .unwrap();
    let states: Vec<ReviewState> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(states, vec![ReviewState::Withdrawn, ReviewState::Approved]);
    // without a login the review API refuses
    let (code, _) = reviewer_post(
        &hub,
        "hub_session=forged",
        &format!("/api/v1/review/records/{second}/decision"),
        serde_json::json!({"approve": true}),
    );
    assert_eq!(code, 401);
}

#[test]
fn rosters_go_from_an_administrator_to_the_kiosks() {
    let hub = TestHub::start("roster");
    let token = hub.kiosk_token("kiosk-r");
    let admin = hub.reviewer_cookie("admin-r", true);
    let plain = hub.reviewer_cookie("reviewer-r", false);
    let csv = "考生号,姓名,身份证号,民族\n2026001,张三,11010519491231002X,汉\n2026002,𠮷田,440106199903070015,汉\n";
    let put = |cookie: &str, body: &str| {
        runtime().block_on(async {
            reqwest::Client::new()
                .put(format!("{}/api/v1/roster?batch=Z3K8F7", hub.url))
                .header("Cookie", cookie)
                .body(body.to_owned())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(put(&plain, csv), 403, "only administrators import rosters");
    assert_eq!(put(&admin, "姓名\n张三\n"), 422);
    assert_eq!(put(&admin, csv), 200);
    // a roster as Excel on a Chinese Windows saves it (GBK) is read; a workbook is refused
    let put_bytes = |batch: &str, body: Vec<u8>| {
        runtime().block_on(async {
            let answer = reqwest::Client::new()
                .put(format!("{}/api/v1/roster?batch={batch}", hub.url))
                .header("Cookie", &admin)
                .body(body)
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        })
    };
    let (gbk, _, _) =
        encoding_rs::GBK.encode("考生号,姓名,身份证号\n2026003,李四,11010519491231002X\n");
    assert_eq!(
        put_bytes("GBK1", gbk.into_owned()),
        (200, r#"{"batch":"GBK1","rows":1}"#.to_owned())
    );
    let (status, said) = put_bytes("GBK2", vec![0x50, 0x4b, 0x03, 0x04, 0xff, 0xff, 0x81]);
    assert_eq!(status, 422, "{said}");
    assert!(said.contains("GBK"), "{said}");
    // a batch name whose bytes are not UTF-8 is refused, not stored as "�"
    let (status, said) = put_bytes("%FF", csv.as_bytes().to_vec());
    assert_eq!(status, 422, "{said}");
    assert!(said.contains("not UTF-8 text"), "{said}");
    // more passwords than one upload may seal: refused whole, before any is sealed (at 20 ms
    // each, 20,001 would hold the hub's cores for minutes)
    let digest = "ab".repeat(32);
    let many: String = std::iter::once("考生号,姓名,身份证号,密码摘要\n".to_owned())
        .chain((0..20_001).map(|n| format!("K{n},张三,11010519491231002X,{digest}\n")))
        .collect();
    let (status, said) = put_bytes("MANY", many.into_bytes());
    assert_eq!(status, 422, "{said}");
    assert!(said.contains("20000") && said.contains("20001"), "{said}");
    // kiosks read only the batches the administrator assigned them
    assert!(hub.hub.db().assign_batch("kiosk-r", "Z3K8F7").unwrap());
    let (_, mut store) = kiosk_store("roster", &hub.url, &token);
    let client = HubClient::new(&stored_link(&store).unwrap().unwrap()).unwrap();
    let rows = runtime().block_on(client.roster("Z3K8F7")).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].name, "𠮷田",
        "a name outside the BMP arrives exactly"
    );
    store.replace_roster("Z3K8F7", &rows).unwrap();
    assert_eq!(store.roster_size("Z3K8F7").unwrap(), 2);
}

#[test]
fn retention_deletes_personal_data_but_the_status_still_flows_back() {
    let hub = TestHub::start("retention");
    let token = hub.kiosk_token("kiosk-t");
    let (db, mut store) = kiosk_store("retention", &hub.url, &token);
    let id = submit(&mut store, "440106199903070015", &test_jpeg(9));
    drop(store);
    let mut w = Worker::new(
        Store::open(&db).unwrap(),
        HubClient::new(&HubLink {
            url: hub.url.clone(),
            token: token.clone(),
            ca_pem: None,
        })
        .unwrap(),
        UploadPolicy {
            retention: Duration::ZERO,
            ..UploadPolicy::default()
        },
    )
    .unwrap();
    let r = runtime()
        .block_on(w.drain(Instant::now() + Duration::from_secs(30)))
        .unwrap();
    assert_eq!((r.sent, r.purged), (1, 1), "{r:?}");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.capture_photo(&id).unwrap(), None);
    let kept = &store.recent_captures(1).unwrap()[0];
    assert!(
        !kept.candidate_key.contains("440106"),
        "the ID number is gone: {}",
        kept.candidate_key
    );
    drop(store);
    let cookie = hub.reviewer_cookie("reviewer-t", false);
    let (code, _) = reviewer_post(
        &hub,
        &cookie,
        &format!("/api/v1/review/records/{id}/decision"),
        serde_json::json!({"approve": true}),
    );
    assert_eq!(code, 200);
    let r = runtime()
        .block_on(w.drain(Instant::now() + Duration::from_secs(30)))
        .unwrap();
    assert_eq!(r.reviews_updated, 1);
    let store = Store::open(&db).unwrap();
    // the returning candidate still finds the record by their number
    let mine = store
        .candidate_captures("chsi-graduation", "440106199903070015")
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].review_state, Some(ReviewState::Approved));
    assert!(now_ms() > 0);
}
