//! The kiosk and the hub as two programs over https, the way a collection point runs them:
//! the hub serves TLS with a self-signed certificate, the kiosk is linked with that certificate
//! as its CA (`kiosk queue link --ca`), drains its queue and shows the result. Without the
//! certificate the link is refused with a message saying what to do.

use crate::common;

use common::hubs::{await_listening, free_port, fresh_dir, kiosk_store, submit, test_jpeg};
use std::process::{Command, Stdio};

fn kiosk(args: &[&str]) -> std::process::Output {
    common::run_kiosk(args)
}

#[test]
fn a_kiosk_uploads_to_an_https_hub_it_was_linked_to_with_the_hubs_certificate() {
    let dir = fresh_dir("tls", "run");
    // a college's own CA, and the hub's certificate signed by it
    let common::certs::Certs { ca, cert, key } = common::certs::make(&dir);

    let hub_dir = dir.join("hub");
    let hub_data = hub_dir.to_str().unwrap();
    let added = kiosk(&[
        "hub",
        "--data",
        hub_data,
        "add-kiosk",
        "--name",
        "tls-kiosk",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = String::from_utf8(added.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let port = free_port();
    let mut hub = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(common::hubs::with_database(&[
            "hub",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
            hub_data,
            "--tls-cert",
        ]))
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hub starts");
    await_listening(&mut hub, "https");

    let url = format!("https://localhost:{port}");
    // a browser that has seen the hub once keeps to https
    let pem = std::fs::read(&ca).unwrap();
    let hsts = common::hubs::runtime().block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let r = client.get(format!("{url}/login")).send().await.unwrap();
        let value = r.headers().get("strict-transport-security").cloned();
        value.map(|v| v.to_str().unwrap_or_default().to_owned())
    });
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
    let (db, mut store) = kiosk_store("tls", "unset", "unset");
    let id = submit(&mut store, "cand-tls", &test_jpeg(11));
    drop(store);
    let db = db.to_str().unwrap();

    let untrusted = kiosk(&[
        "queue", "link", "--db", db, "--hub", &url, "--token", &token,
    ]);
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        !untrusted.status.success() && said.contains("--ca"),
        "{said}"
    );

    let linked = kiosk(&[
        "queue",
        "link",
        "--db",
        db,
        "--hub",
        &url,
        "--token",
        &token,
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert!(
        linked.status.success(),
        "{}",
        String::from_utf8_lossy(&linked.stderr)
    );
    assert!(String::from_utf8_lossy(&linked.stdout).contains("as kiosk tls-kiosk"));

    let drained = kiosk(&["queue", "drain", "--db", db, "--timeout", "30"]);
    let out = String::from_utf8_lossy(&drained.stdout);
    assert!(
        drained.status.success() && out.contains("sent 1"),
        "{out} {}",
        String::from_utf8_lossy(&drained.stderr)
    );
    let shown = kiosk(&["queue", "show", "--db", db]);
    let out = String::from_utf8_lossy(&shown.stdout);
    assert!(out.contains(&id) && out.contains("pending review"), "{out}");
    let _ = hub.kill();
    let _ = hub.wait();
}

#[test]
fn a_hub_refuses_to_serve_plain_http_beyond_this_machine() {
    let dir = fresh_dir("tls", "plain");
    let data = dir.join("hub");
    let out = kiosk(&[
        "hub",
        "--listen",
        "0.0.0.0:0",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plain http") && err.contains("--tls-cert"),
        "{err}"
    );
}
