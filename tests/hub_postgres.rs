//! What only PostgreSQL has to show (issue 15): replicas that start at once on one database
//! migrate it once, the same record sent to two replicas at once is stored once, and a
//! database that goes away is a 500 the next request recovers from. The rest of the hub's
//! behaviour is the same suite as on SQLite (`CAPTURE_TEST_HUB_DATABASE=postgres`).

use crate::common;

use capture_kiosk::hub::pg_cluster::{self, ThrowawayCluster};
use capture_kiosk::hub::{PgSettings, RecordStorage};
use capture_kiosk::hub_protocol::RecordMeta;
use capture_kiosk::upload::{HubClient, HubLink};
use common::hubs::{fresh_dir, runtime, test_jpeg, TestHub};

/// A hub on the PostgreSQL database `url`, whatever this run's default backend.
fn hub_on(name: &str, url: &str) -> TestHub {
    let settings = PgSettings::new(url, None).unwrap();
    let key = common::hubs::replicas_key(url);
    TestHub::start_configured(fresh_dir("hubs", name), 0, move |c| {
        c.database = RecordStorage::Postgres(settings);
        c.sealing_key = capture_kiosk::hub::sealing::SealingKeySource::File(key);
    })
}

fn meta(n: u32) -> RecordMeta {
    RecordMeta {
        key: uuid::Uuid::now_v7().to_string(),
        profile: "chsi-graduation".into(),
        batch_id: "Z3K8F7".into(),
        candidate_key: format!("cand-{n}"),
        spec: "chsi".into(),
        captured_at_ms: capture_kiosk::store::now_ms(),
        verification_distance: Some(0.3),
        manual_review: false,
    }
}

#[test]
fn two_replicas_starting_at_once_migrate_one_schema() {
    let cluster = pg_cluster::shared().unwrap();
    let url = cluster.create_database("replicas_start").unwrap();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| hub_on("replica-start-a", &url));
        let b = s.spawn(|| hub_on("replica-start-b", &url));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i64> = c
        .query("SELECT version FROM schema_version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        versions,
        vec![capture_kiosk::hub::db::pg::SCHEMA_VERSION],
        "one row, the one schema version"
    );
    // one database behind both: a kiosk registered at one is known at the other
    let token = a.kiosk_token("kiosk-start");
    assert!(b.hub.db().kiosk_by_token(&token).unwrap().is_some());
}

#[test]
fn the_same_record_sent_to_two_replicas_at_once_is_stored_once() {
    let cluster = pg_cluster::shared().unwrap();
    let url = cluster.create_database("replicas_race").unwrap();
    let a = hub_on("replica-race-a", &url);
    let b = hub_on("replica-race-b", &url);
    let token = a.kiosk_token("kiosk-race");
    let client = |hub: &TestHub| {
        HubClient::new(&HubLink {
            url: hub.url.clone(),
            token: token.clone(),
            ca_pem: None,
        })
        .unwrap()
    };
    let (to_a, to_b) = (client(&a), client(&b));
    let rounds = 20u32;
    runtime().block_on(async {
        for n in 0..rounds {
            let m = meta(n);
            let photo = test_jpeg(100 + n);
            let report = r#"{"ok":true,"faces":1,"checks":[]}"#.to_owned();
            // each record twice to each replica, all four at once
            let (r1, r2, r3, r4) = tokio::join!(
                to_a.submit(&m, photo.clone(), report.clone()),
                to_b.submit(&m, photo.clone(), report.clone()),
                to_a.submit(&m, photo.clone(), report.clone()),
                to_b.submit(&m, photo.clone(), report.clone()),
            );
            let replies = [r1.unwrap(), r2.unwrap(), r3.unwrap(), r4.unwrap()];
            assert!(
                replies
                    .iter()
                    .all(|r| r.record_id == m.key && r.received_at_ms == replies[0].received_at_ms),
                "every answer is the one stored record: {replies:?}"
            );
        }
    });
    assert_eq!(a.hub.db().record_ids().unwrap().len(), rounds as usize);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let events: i64 = c
        .query_one("SELECT COUNT(*) FROM records", &[])
        .unwrap()
        .get(0);
    assert_eq!(events, i64::from(rounds), "stored once each");
}

#[test]
fn a_database_that_goes_away_is_a_500_and_the_next_request_after_it_returns_succeeds() {
    // a cluster of its own: stopping the shared one would fail other tests' hubs
    let cluster = ThrowawayCluster::start().unwrap();
    let url = cluster.create_database("outage").unwrap();
    let hub = hub_on("pg-outage", &url);
    let token = hub.kiosk_token("kiosk-outage");
    let whoami = || {
        runtime().block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{}/api/v1/kiosk", hub.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        })
    };
    assert_eq!(whoami().0, 200);
    cluster.stop().unwrap();
    let (status, body) = whoami();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("the hub's database failed; try again later"),
        "{body}"
    );
    // still down: a new connection is refused, still a 500, no panic
    assert_eq!(whoami().0, 500);
    cluster.start_again().unwrap();
    let (status, body) = whoami();
    assert_eq!(status, 200, "the first request after the restart: {body}");
}

#[test]
fn a_database_restart_costs_the_pool_one_failed_statement_however_many_connections_it_held() {
    use capture_kiosk::hub::db::pg::Pool;
    use capture_kiosk::hub::db::sql::Sql;
    // a cluster of its own: stopping the shared one would fail other tests' hubs
    let cluster = ThrowawayCluster::start().unwrap();
    let url = cluster.create_database("restart_pool").unwrap();
    let pool = Pool::open(url.parse().unwrap(), None).unwrap();
    // four connections at work at once (a busy replica), then idle in the pool
    let mut busy: Vec<_> = (0..4).map(|_| pool.lease()).collect();
    for conn in &mut busy {
        conn.query("SELECT 1", &[]).unwrap();
    }
    drop(busy);
    cluster.stop().unwrap();
    cluster.start_again().unwrap();
    // the first statement finds its connection cut; the other three idle ones were cut at
    // the same moment and go with it, so every later statement connects afresh (each used
    // to fail a request of its own: a reviewer's page after a restart, a 500 in turn)
    let answered: Vec<bool> = (0..5)
        .map(|_| pool.lease().query("SELECT 1", &[]).is_ok())
        .collect();
    assert_eq!(answered, [false, true, true, true, true]);
}

#[test]
fn the_command_line_takes_a_database_url_but_never_its_password() {
    let kiosk = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(args)
            .env_remove("HUB_DATABASE_PASSWORD")
            .output()
            .unwrap()
    };
    let dir = fresh_dir("hubs", "pg-cli");
    let data = dir.to_str().unwrap();
    let out = kiosk(&[
        "hub",
        "--data",
        data,
        "--database",
        "postgres://hub:hunter2@localhost/capture_hub",
        "status",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("HUB_DATABASE_PASSWORD")
            && said.contains("database_password_file")
            && !said.contains("hunter2"),
        "{said}"
    );
    assert!(!dir.join("hub.sqlite").exists(), "nothing was opened");

    // without a password: the administrator's commands work on the shared database
    let url = pg_cluster::shared()
        .unwrap()
        .create_database("cli_admin")
        .unwrap();
    // the command is given the key the replicas share, as a site gives its commands
    let key = common::hubs::replicas_key(&url);
    let out = kiosk(&[
        "hub",
        "--data",
        data,
        "--database",
        &url,
        "--sealing-key",
        key.to_str().unwrap(),
        "add-kiosk",
        "--name",
        "point-1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hub = hub_on("pg-cli-serve", &url);
    let token = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("ck_"))
        .unwrap()
        .to_owned();
    assert!(
        hub.hub.db().kiosk_by_token(&token).unwrap().is_some(),
        "a kiosk added on the command line is known to a replica"
    );
    assert!(
        !dir.join("hub.sqlite").exists(),
        "records are not in the folder"
    );
}

#[test]
fn a_database_across_the_network_is_reached_only_over_verified_tls() {
    // the server takes TCP connections only over TLS, with a certificate the test CA signed
    let dir = fresh_dir("hubs", "pg-tls");
    let certs = common::certs::make(&dir);
    let (cert, key) = (
        std::fs::read(&certs.cert).unwrap(),
        std::fs::read(&certs.key).unwrap(),
    );
    let port = common::hubs::free_port();
    let cluster = ThrowawayCluster::start_tls(port, &cert, &key).unwrap();
    cluster.create_database("over_tls").unwrap();
    let url = cluster.tcp_url("over_tls");

    // with the CA: the hub migrates and serves over TLS
    let settings = PgSettings::with_ca(&url, None, Some(&certs.ca)).unwrap();
    let hub = TestHub::start_configured(fresh_dir("hubs", "pg-tls-hub"), 0, move |c| {
        c.database = RecordStorage::Postgres(settings);
    });
    let token = hub.kiosk_token("kiosk-tls");
    assert!(hub.hub.db().kiosk_by_token(&token).unwrap().is_some());
    hub.stop();

    // a CA that did not sign the server's certificate: refused at the handshake
    let other = common::certs::make(&fresh_dir("hubs", "pg-tls-other"));
    let settings = PgSettings::with_ca(&url, None, Some(&other.ca)).unwrap();
    let mut config = capture_kiosk::hub::HubConfig::new(fresh_dir("hubs", "pg-tls-wrong"));
    config.database = RecordStorage::Postgres(settings);
    let refused = capture_kiosk::hub::Hub::open(config)
        .err()
        .expect("refused");
    assert!(
        format!("{refused:#}").contains("certificate"),
        "{refused:#}"
    );

    // a server that offers no TLS at all: refused, never fallen back to the clear
    let plain = ThrowawayCluster::start_plain_tcp(common::hubs::free_port()).unwrap();
    plain.create_database("in_clear").unwrap();
    let settings = PgSettings::with_ca(&plain.tcp_url("in_clear"), None, Some(&certs.ca)).unwrap();
    let mut config = capture_kiosk::hub::HubConfig::new(fresh_dir("hubs", "pg-tls-clear"));
    config.database = RecordStorage::Postgres(settings);
    let refused = capture_kiosk::hub::Hub::open(config)
        .err()
        .expect("refused");
    assert!(format!("{refused:#}").contains("TLS"), "{refused:#}");

    // the command line: a host across the network without a CA is refused before connecting
    // (not run_kiosk, which gives a PostgreSQL run's hubs their test database)
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "hub",
            "--data",
            fresh_dir("hubs", "pg-tls-cli").to_str().unwrap(),
            "--database",
            "postgres://hub@db.exam-office.example:5432/capture_hub",
            "status",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--database-ca"), "{said}");
}
