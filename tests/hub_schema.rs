//! The hub against its own OpenAPI document: Schemathesis generates requests from the document
//! the hub serves (`crates/hub/src/openapi.yaml`), valid and invalid, sends them to a real hub on
//! loopback and runs all its checks on the answers (no server error, every status, content
//! type, header and body as documented, invalid data refused, valid data accepted, auth not
//! ignored), once with a kiosk token and once with an administrator's session. The document and
//! the code cannot drift apart without this failing. `scripts/setup` installs the pinned
//! Schemathesis into `target/schemathesis-venv`; `crates/hub/src/schemathesis.toml` holds the few
//! per-route allowances, each with its reason.

use crate::common;

use common::hubs::TestHub;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generated requests per operation and phase: enough to cover each documented constraint's
/// edges, few enough that both runs stay well under two minutes on a 2-core machine.
const MAX_EXAMPLES: &str = "50";
/// A run that takes longer than this has hung (a request the hub never answers).
const RUN_LIMIT: Duration = Duration::from_secs(150);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Schemathesis command line, or a failure that says how to install it: a missing tool
/// must not pass silently.
fn schemathesis() -> PathBuf {
    let st = repo().join("target/schemathesis-venv/bin/st");
    assert!(
        st.is_file(),
        "Schemathesis is not installed at {}: run scripts/setup (it installs the pinned \
         version into that venv)",
        st.display()
    );
    st
}

/// Runs `st run` against `hub` as a kiosk (`token`) or a reviewer (`session`, the cookie's
/// value), with `extra` arguments; fails the test with Schemathesis's report unless it found
/// nothing. The config file hands the credentials to the document's security schemes.
fn fuzz(hub: &TestHub, run: &str, token: &str, session: &str, extra: &[&str]) {
    let st = schemathesis();
    let out = common::hubs::fresh_dir("schemathesis", run);
    let log = out.join("output.txt");
    let started = Instant::now();
    let mut child = Command::new(&st)
        .arg("--config-file")
        .arg(repo().join("crates/hub/src/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.yaml", hub.url))
        .args(["--url", &hub.url])
        .args(["--checks", "all"])
        .env("HUB_KIOSK_TOKEN", token)
        .env("HUB_SESSION", session)
        .args(["--max-examples", MAX_EXAMPLES])
        // the same requests on every run, so a failure here is a failure for whoever looks
        .args(["--seed", "20240610", "--generation-deterministic"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--no-color"])
        .arg("--report-dir")
        .arg(out.join("report"))
        .args(extra)
        .current_dir(&out)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::from(
            std::fs::File::options()
                .append(true)
                .open(&log)
                .expect("log file"),
        ))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}; run scripts/setup", st.display()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("schemathesis runs") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "schemathesis ({run}) ran longer than {RUN_LIMIT:?}; its output so far:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!(
        "schemathesis ({run}) took {:.1} s:\n{output}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "schemathesis ({run}) found the hub and crates/hub/src/openapi.yaml disagree ({status}); \
         its report is above and in {}",
        log.display()
    );
}

#[test]
fn the_hub_answers_what_its_openapi_document_says() {
    let hub = TestHub::start("schema");
    let token = hub.kiosk_token("schema-kiosk");
    // an administrator, so the admin routes (kiosks, roster import) run their own checks too
    let cookie = hub.reviewer_cookie("schema-admin", true);

    let session = cookie
        .strip_prefix("hub_session=")
        .expect("the session cookie");

    fuzz(&hub, "kiosk", &token, "", &[]);
    // logging out would end the very session this run authenticates with, and every later
    // request would test only the 401; the kiosk run (no session) covers /logout
    fuzz(
        &hub,
        "reviewer",
        "",
        session,
        &["--exclude-operation-id", "logout"],
    );
    hub.stop();
}
