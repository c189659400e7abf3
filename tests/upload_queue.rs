//! No record holds the upload queue (issue 12, items 5 and 6), with the real uploader against
//! a real hub on loopback:
//! - a record the hub holds for another kiosk (the kiosk was registered again) is put back
//!   with its own backoff and the records behind it go; one such id does not fail the status
//!   batch; re-linking a kiosk keeps its records its own;
//! - a large record behind a slow link goes, however long it takes, as long as bytes move;
//!   one whose transfer stops is given up after the patience and the small ones pass it.
//!
//! The slow link is a proxy on loopback that relays the kiosk's bytes at a fixed rate (or stops
//! relaying them after a number of bytes).

use crate::common;

use capture_kiosk::hub_protocol::{Decision, ReviewState};
use capture_kiosk::store::{NewCapture, OutboxState, Store};
use capture_kiosk::upload::{settings, stored_link, HubClient, HubError, UploadPolicy, Worker};
use common::hubs::{kiosk_store, runtime, submit, test_jpeg, TestHub};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A short patience keeps the tests short; the slow link's figures are chosen against it.
const PATIENCE: Duration = Duration::from_millis(1500);

fn worker(db: &std::path::Path, patience: Duration) -> Worker {
    let store = Store::open(db).expect("store");
    let link = stored_link(&store).expect("settings").expect("linked");
    let policy = UploadPolicy {
        patience,
        ..UploadPolicy::default()
    };
    Worker::new(
        store,
        HubClient::with_patience(&link, patience).expect("client"),
        policy,
    )
    .expect("worker")
}

fn drain_for(db: &std::path::Path, seconds: f32) -> capture_kiosk::upload::DrainReport {
    let mut w = worker(db, PATIENCE);
    runtime()
        .block_on(w.drain(Instant::now() + Duration::from_secs_f32(seconds)))
        .expect("drain")
}

fn summary(db: &std::path::Path, id: &str) -> capture_kiosk::store::CaptureSummary {
    Store::open(db)
        .expect("store")
        .recent_captures(50)
        .expect("captures")
        .into_iter()
        .find(|c| c.id == id)
        .expect("the capture is listed")
}

fn approve(hub: &TestHub, id: &str) {
    let d = Decision {
        approve: true,
        reasons: Vec::new(),
        note: String::new(),
    };
    hub.hub
        .db()
        .decide(id, "reviewer", &d)
        .expect("database")
        .unwrap_or_else(|_| panic!("record {id} can be approved"));
}

/// Sends a pending record with `token` behind the kiosk's back, as if the kiosk had sent it
/// under its old registration and never heard the answer: the hub holds it, the kiosk's
/// outbox still has it pending.
fn stored_at_hub_under(hub: &TestHub, token: &str, db: &std::path::Path, id: &str) {
    let store = Store::open(db).expect("store");
    let (meta, photo, report) = store.upload_payload(id).expect("payload").expect("a photo");
    let client = HubClient::new(&capture_kiosk::upload::HubLink {
        url: hub.url.clone(),
        token: token.into(),
        ca_pem: None,
    })
    .expect("client");
    runtime()
        .block_on(client.submit(&meta, photo, report))
        .expect("the old registration's submit is stored");
}

#[test]
fn a_record_held_for_another_kiosk_does_not_hold_the_queue() {
    let hub = TestHub::start("foreign-head");
    let old = hub.kiosk_token("kiosk-old");
    let new = hub.kiosk_token("kiosk-new");
    let (db, mut store) = kiosk_store("foreign-head", &hub.url, &old);
    let head = submit(&mut store, "cand-head", &test_jpeg(1));
    stored_at_hub_under(&hub, &old, &db, &head);
    // the kiosk is linked again with a new registration's token; newer records queue behind
    store
        .set_setting(settings::HUB_TOKEN, &new)
        .expect("relink");
    let behind: Vec<String> = (0..3)
        .map(|n| submit(&mut store, &format!("cand-{n}"), &test_jpeg(10 + n)))
        .collect();
    drop(store);

    let report = drain_for(&db, 4.0);
    assert_eq!(
        (report.sent, report.pending_left),
        (3, 1),
        "the records behind the foreign one went: {report:?}"
    );
    let head_now = summary(&db, &head);
    assert_eq!(head_now.outbox_state, OutboxState::Pending);
    assert!(head_now.attempts >= 1, "its due time moved: {head_now:?}");
    assert!(
        head_now
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("another kiosk")),
        "{head_now:?}"
    );
    let mut at_hub = hub.hub.db().record_ids().expect("ids");
    let mut expected = behind.clone();
    expected.push(head);
    at_hub.sort();
    expected.sort();
    assert_eq!(at_hub, expected);
}

#[test]
fn one_foreign_id_does_not_fail_the_status_batch() {
    let hub = TestHub::start("foreign-status");
    let old = hub.kiosk_token("kiosk-old");
    let new = hub.kiosk_token("kiosk-new");
    let (db, mut store) = kiosk_store("foreign-status", &hub.url, &old);
    let under_old = submit(&mut store, "cand-old", &test_jpeg(1));
    assert_eq!(drain_for(&db, 10.0).sent, 1);
    store
        .set_setting(settings::HUB_TOKEN, &new)
        .expect("relink");
    let under_new = submit(&mut store, "cand-new", &test_jpeg(2));
    assert_eq!(drain_for(&db, 10.0).sent, 1);
    drop(store);
    approve(&hub, &under_new);

    let mut w = worker(&db, PATIENCE);
    let updated = runtime()
        .block_on(w.refresh_reviews(true))
        .expect("refresh");
    assert_eq!(updated, 1, "last error: {:?}", w.last_error);
    assert_eq!(
        summary(&db, &under_new).review_state,
        Some(ReviewState::Approved),
        "the approval reached the kiosk"
    );
    // the other registration's record keeps what the kiosk last heard of it
    assert_eq!(
        summary(&db, &under_old).review_state,
        Some(ReviewState::PendingReview)
    );
}

#[test]
fn relinking_a_kiosk_keeps_its_records_its_own() {
    let hub = TestHub::start("relink");
    // a new token for the same registration: the old token stops, the records stay
    let first = hub.kiosk_token("kiosk-a");
    let (db, mut store) = kiosk_store("relink", &hub.url, &first);
    let sent_before = submit(&mut store, "cand-1", &test_jpeg(1));
    assert_eq!(drain_for(&db, 10.0).sent, 1);
    // sent, but the kiosk never heard the hub's answer: still pending at the kiosk
    let unanswered = submit(&mut store, "cand-2", &test_jpeg(2));
    stored_at_hub_under(&hub, &first, &db, &unanswered);
    drop(store);
    let (_, second) = hub
        .hub
        .db()
        .relink_kiosk("kiosk-a")
        .expect("database")
        .expect("kiosk-a is registered");
    let old_client = HubClient::new(&capture_kiosk::upload::HubLink {
        url: hub.url.clone(),
        token: first.clone(),
        ca_pem: None,
    })
    .expect("client");
    let e = runtime().block_on(old_client.whoami()).unwrap_err();
    assert!(matches!(e, HubError::Unauthorized(_)), "{e:?}");
    Store::open(&db)
        .expect("store")
        .set_setting(settings::HUB_TOKEN, &second)
        .expect("relink");
    approve(&hub, &sent_before);
    let report = drain_for(&db, 10.0);
    assert_eq!((report.sent, report.pending_left), (1, 0), "{report:?}");
    assert_eq!(
        summary(&db, &sent_before).review_state,
        Some(ReviewState::Approved)
    );

    // one machine registered twice: the administrator moves the old registration's records
    let old = hub.kiosk_token("kiosk-b-old");
    let new = hub.kiosk_token("kiosk-b-new");
    let (db, mut store) = kiosk_store("relink-twice", &hub.url, &old);
    let head = submit(&mut store, "cand-3", &test_jpeg(3));
    stored_at_hub_under(&hub, &old, &db, &head);
    store
        .set_setting(settings::HUB_TOKEN, &new)
        .expect("relink");
    drop(store);
    assert_eq!(drain_for(&db, 2.0).pending_left, 1, "foreign until moved");
    let moved = hub
        .hub
        .db()
        .move_kiosk_records("kiosk-b-old", "kiosk-b-new")
        .expect("database")
        .expect("both registered");
    assert_eq!(moved, 1);
    approve(&hub, &head);
    let report = drain_for(&db, 10.0);
    assert_eq!((report.sent, report.pending_left), (1, 0), "{report:?}");
    assert_eq!(
        summary(&db, &head).review_state,
        Some(ReviewState::Approved)
    );
    let old_client = HubClient::new(&capture_kiosk::upload::HubLink {
        url: hub.url.clone(),
        token: old,
        ca_pem: None,
    })
    .expect("client");
    let e = runtime().block_on(old_client.whoami()).unwrap_err();
    assert!(
        matches!(e, HubError::Unauthorized(_)),
        "the old registration is revoked: {e:?}"
    );
}

/// A proxy between the kiosk and the hub: relays the kiosk's bytes at `rate` bytes a second,
/// and, with `stall_after`, stops reading a connection once it relayed that many bytes (the
/// connection stays open: a link that stopped moving). Answers come back at full speed.
struct SlowLink {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowLink {
    fn start(hub: SocketAddr, rate: usize, stall_after: Option<usize>) -> SlowLink {
        // a small receive buffer, so the proxy's own kernel does not soak up the record
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(16 * 1024).expect("rcvbuf");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = socket.listen(64).expect("listen");
                let accept = async {
                    while let Ok((kiosk, _)) = listener.accept().await {
                        tokio::spawn(relay(kiosk, hub, rate, stall_after));
                    }
                };
                tokio::select! { _ = accept => {}, _ = stopped => {} }
            });
        });
        SlowLink {
            url: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn relay(kiosk: tokio::net::TcpStream, hub: SocketAddr, rate: usize, stall: Option<usize>) {
    let Ok(upstream) = tokio::net::TcpStream::connect(hub).await else {
        return;
    };
    let (mut from_kiosk, mut to_kiosk) = kiosk.into_split();
    let (mut from_hub, mut to_hub) = upstream.into_split();
    let up = async move {
        // 20 slices a second
        let mut buf = vec![0u8; (rate / 20).max(1)];
        let mut relayed = 0usize;
        loop {
            if stall.is_some_and(|s| relayed >= s) {
                std::future::pending::<()>().await;
            }
            let n = match from_kiosk.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to_hub.write_all(&buf[..n]).await.is_err() {
                break;
            }
            relayed += n;
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
        let _ = to_hub.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut from_hub, &mut to_kiosk).await;
        let _ = to_kiosk.shutdown().await;
    };
    tokio::join!(up, down);
}

/// A real JPEG of noise (JPEG cannot shrink noise), about `side`² bytes at quality 95.
fn noise_jpeg(side: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xFF) as u8
        };
        image::Rgb([next(), next(), next()])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .expect("jpeg encodes");
    out
}

/// A manual-path record (R-MANUAL) whose document photograph makes it large.
fn submit_large(store: &mut Store, document: &[u8]) -> String {
    let session = store
        .start_session("chsi-graduation", "Z3K8F7")
        .expect("session");
    store
        .submit(&NewCapture {
            session_id: &session,
            profile: "chsi-graduation",
            candidate_key: "cand-large",
            spec: "chsi",
            photo_jpeg: &test_jpeg(99),
            check_report_json: r#"{"ok":true,"faces":1,"checks":[]}"#,
            verification_distance: None,
            manual_review: true,
            documents: &[document.to_vec()],
        })
        .expect("submit")
}

/// A large record first in the queue, five small ones behind it.
fn queue_large_then_small(name: &str, url: &str, token: &str) -> (std::path::PathBuf, usize) {
    let (db, mut store) = kiosk_store(name, url, token);
    let document = noise_jpeg(420, 7);
    let large = submit_large(&mut store, &document);
    for n in 0..5 {
        submit(&mut store, &format!("cand-small-{n}"), &test_jpeg(20 + n));
    }
    assert_eq!(
        store
            .recent_captures(10)
            .expect("list")
            .last()
            .map(|c| c.id.clone()),
        Some(large),
        "the large record is the oldest"
    );
    (db, document.len())
}

#[test]
fn a_large_record_on_a_slow_link_goes_as_long_as_bytes_move() {
    let hub = TestHub::start("slow-link");
    let token = hub.kiosk_token("slow");
    let rate = 100_000;
    let link = SlowLink::start(hub.addr, rate, None);
    let (db, size) = queue_large_then_small("slow-link", &link.url, &token);
    // the premise: at this rate the large record takes well over the patience
    let transfer = Duration::from_secs_f64(size as f64 / rate as f64);
    assert!(transfer > 2 * PATIENCE, "{size} bytes take {transfer:?}");

    let started = Instant::now();
    let report = drain_for(&db, 20.0);
    assert_eq!(
        (report.sent, report.pending_left),
        (6, 0),
        "after {:.1} s: {report:?}",
        started.elapsed().as_secs_f32()
    );
    println!(
        "slow link: a {size}-byte record and 5 small ones at {rate} B/s, patience {PATIENCE:?}: {report:?}"
    );
    assert!(
        started.elapsed() >= transfer,
        "it went through the slow link"
    );
    assert_eq!(hub.hub.db().record_ids().expect("ids").len(), 6);
}

#[test]
fn a_large_record_that_stops_moving_lets_the_small_ones_pass() {
    let hub = TestHub::start("stalled-link");
    let token = hub.kiosk_token("stalled");
    // a connection stops after 150 kB: the large record can never go, small ones can
    let link = SlowLink::start(hub.addr, 2_000_000, Some(150_000));
    let (db, size) = queue_large_then_small("stalled-link", &link.url, &token);
    assert!(size > 150_000, "{size}");

    let started = Instant::now();
    let report = drain_for(&db, 10.0);
    assert_eq!(
        (report.sent, report.pending_left),
        (5, 1),
        "after {:.1} s: {report:?}",
        started.elapsed().as_secs_f32()
    );
    let store = Store::open(&db).expect("store");
    let large = store
        .recent_captures(10)
        .expect("list")
        .into_iter()
        .find(|c| c.outbox_state == OutboxState::Pending)
        .expect("the large record waits");
    println!("stalled link: {report:?}; the large record: {large:?}");
    assert!(large.attempts >= 1, "{large:?}");
    // The hub keeps reading an abandoned attempt until its body has been idle for 15 s (the
    // stalled link never passes the kiosk's close on), so once two of them are held, a third
    // is refused at once with 429 (a kiosk's share) rather than stalling again: either is the
    // record waiting for a link that moves, and neither holds up the small ones.
    assert!(
        large.last_error.as_deref().is_some_and(|e| {
            e.contains("transfer stopped") || e.contains("429 this kiosk already has 2")
        }),
        "{large:?}"
    );
}

/// The administrator's two commands, through the `kiosk` binary on a hub's data folder.
#[test]
fn the_relink_commands_work_from_the_command_line() {
    let dir = common::hubs::fresh_dir("relink-cli", "hub");
    let kiosk = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["hub", "--data"])
            .arg(&dir)
            .args(args)
            .output()
            .expect("kiosk runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let token_of = |stdout: &str| stdout.lines().last().unwrap_or("").to_owned();
    let (ok, first, _) = kiosk(&["add-kiosk", "--name", "hall-1"]);
    assert!(ok);
    let (ok, again, err) = kiosk(&["relink-kiosk", "--name", "hall-1"]);
    assert!(ok, "{err}");
    assert!(token_of(&again).starts_with("ck_") && token_of(&again) != token_of(&first));
    let (ok, _, err) = kiosk(&["relink-kiosk", "--name", "nobody"]);
    assert!(!ok && err.contains("no kiosk named"), "{err}");
    assert!(kiosk(&["add-kiosk", "--name", "hall-1b"]).0);
    let (ok, out, err) = kiosk(&["move-records", "--from", "hall-1", "--to", "hall-1b"]);
    assert!(ok && out.contains("0 records moved"), "{out}{err}");
    let (ok, _, err) = kiosk(&["move-records", "--from", "hall-1b", "--to", "hall-1b"]);
    assert!(!ok && err.contains("same kiosk"), "{err}");

    let sealing = capture_kiosk::hub::sealing::SealingKey::load(
        &capture_kiosk::hub::sealing::SealingKeySource::DataFolder,
        &dir,
    )
    .expect("the hub's sealing key");
    let db =
        capture_kiosk::hub::db::HubDb::open(&dir.join("hub.sqlite"), std::sync::Arc::new(sealing))
            .expect("hub db");
    assert_eq!(
        db.kiosk_by_token(&token_of(&first)).expect("lookup"),
        None,
        "the first token stopped working"
    );
    assert_eq!(
        db.kiosk_by_token(&token_of(&again)).expect("lookup"),
        None,
        "hall-1 was revoked when its records moved"
    );
}
