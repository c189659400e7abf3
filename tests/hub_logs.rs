//! The hub's log as a running program: a log that cannot be written (a full disk: stderr is
//! /dev/full) never costs a request, and a value with a newline cannot forge a log line.

use crate::common;

use common::hubs::{await_listening, free_port, fresh_dir, runtime, test_jpeg};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn kiosk(args: &[&str]) -> std::process::Output {
    common::run_kiosk(args)
}

struct RunningHub {
    child: Child,
    url: String,
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kiosk hub` on `data` with its stderr going to `stderr`.
fn start(data: &Path, stderr: Stdio) -> RunningHub {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["hub", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .args(common::hubs::database_args(data))
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("hub starts");
    await_listening(&mut child, "http");
    RunningHub {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Starts `kiosk hub` on `data` with its log going to `data/hub.log`, and that file's path.
fn start_logging(data: &Path) -> (RunningHub, std::path::PathBuf) {
    let log = data.join("hub.log");
    let file = std::fs::File::create(&log).expect("the log file can be made");
    (start(data, Stdio::from(file)), log)
}

fn add_kiosk(data: &Path) -> String {
    let added = kiosk(&[
        "hub",
        "--data",
        data.to_str().unwrap(),
        "add-kiosk",
        "--name",
        "k",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    String::from_utf8(added.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

fn submit(url: &str, token: &str, n: u32) -> u16 {
    runtime().block_on(async {
        let meta = serde_json::json!({
            "key": format!("0190f3a2-0000-7000-8000-{n:012}"), "profile": "chsi-graduation",
            "batch_id": "b1", "candidate_key": "Z3K8F7", "spec": "chsi",
            "captured_at_ms": 1_700_000_000_000i64,
        });
        let form = reqwest::multipart::Form::new()
            .text("metadata", meta.to_string())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(test_jpeg(n))
                    .mime_str("image/jpeg")
                    .unwrap(),
            )
            .text("report", r#"{"ok":true,"checks":[]}"#);
        reqwest::Client::new()
            .post(format!("{url}/api/v1/records"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

#[test]
fn a_log_that_cannot_be_written_costs_no_request() {
    let data = fresh_dir("hub-logs", "full");
    let token = add_kiosk(&data);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let hub = start(&data, Stdio::from(full));
    for n in 1..=3 {
        assert_eq!(
            submit(&hub.url, &token, n),
            201,
            "record {n} is stored and answered"
        );
    }
    // a replay is logged too, and still answered
    assert_eq!(submit(&hub.url, &token, 1), 200);
}

#[test]
fn a_value_with_a_newline_is_refused_and_forges_no_log_line() {
    let data = fresh_dir("hub-logs", "forged");
    add_reviewer(&data, "admin", true);
    let (hub, log) = start_logging(&data);
    let status = runtime().block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = client
            .post(format!("{}/login", hub.url))
            .form(&[("user", "admin"), ("password", "correct horse battery")])
            .send()
            .await
            .unwrap();
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        client
            .put(format!(
                "{}/api/v1/roster?batch=b1%0A2026-01-01T00:00:00Z%20FORGED",
                hub.url
            ))
            .header("Cookie", cookie)
            .body("candidate_key,name,id_number\nZ3K8F7,张三,440106199903070015\n")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 422, "a batch name with a newline is refused");
    drop(hub);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "a forged line:\n{text}"
    );
    assert!(!text.contains("440106199903070015") && !text.contains("张三"));
}

/// A reviewer (an admin if `admin`) whose password is "correct horse battery", added the way
/// staff add one: `kiosk hub add-reviewer`, the password on stdin.
fn add_reviewer(data: &std::path::Path, user: &str, admin: bool) {
    let mut args = vec![
        "hub".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "add-reviewer".as_ref(),
        "--user".as_ref(),
        user.as_ref(),
    ];
    if admin {
        args.push("--admin".as_ref());
    }
    let add = common::run_kiosk_with_input(&args, b"correct horse battery\n");
    assert!(add.status.success(), "{add:?}");
}

/// `n` logins as `user` with a wrong password, one after another; their statuses.
fn wrong_logins(url: &str, user: &str, n: usize) -> Vec<u16> {
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..n {
            let status = client
                .post(format!("{url}/login"))
                .form(&[("user", user), ("password", "x")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            statuses.push(status);
        }
        statuses
    })
}

#[test]
fn a_stranger_s_huge_login_name_is_refused_before_the_log() {
    let data = fresh_dir("hub-logs", "huge-name");
    let (hub, log) = start_logging(&data);
    // far past a name's 64 characters, yet inside the login form's 16 KiB, so the name check
    // answers it (a larger form is refused whole: `hub_login_guard`)
    let name = "v".repeat(12_000);
    // more than the guard's free attempts: a throttled answer must not log it either
    let statuses = wrong_logins(&hub.url, &name, 8);
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    drop(hub);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.len() < 20_000, "the log grew to {} bytes", text.len());
    // nor is an account with such a name made on the command line
    let long = "v".repeat(65);
    let made = kiosk(&[
        "hub",
        "--data",
        data.to_str().unwrap(),
        "add-staff",
        "--user",
        &long,
    ]);
    assert!(!made.status.success());
}

#[test]
fn a_name_that_is_no_account_is_neither_logged_nor_kept() {
    // a candidate who types their ID number into the reviewers' login, again and again
    let data = fresh_dir("hub-logs", "no-account");
    add_reviewer(&data, "wangfang", false);
    let (hub, log) = start_logging(&data);
    // a reviewer's own name is not logged either (the events table keeps her failures)
    assert_eq!(wrong_logins(&hub.url, "wangfang", 1), [401]);
    let id_number = "440106199903070015";
    let statuses = wrong_logins(&hub.url, id_number, 9);
    assert!(
        statuses.contains(&401) && statuses.iter().filter(|s| **s == 429).count() >= 2,
        "{statuses:?}"
    );
    drop(hub);
    let text = std::fs::read_to_string(&log).unwrap();
    // one line a minute per address for throttled attempts: a stranger's refused guesses do
    // not fill the disk with the log
    assert_eq!(text.matches("login throttled").count(), 1, "{text}");
    assert!(text.contains("login failed"), "{text}");
    assert!(
        !text.contains(id_number),
        "the log holds the typed name: {text}"
    );
    assert!(text.contains("account=false"), "{text}");
    assert!(text.contains("account=true"), "{text}");
    assert!(
        !text.contains("wangfang"),
        "the log names the reviewer: {text}"
    );
    // nor a row for each guess: a stranger cycling names would grow the table without end;
    // the reviewer's one failure is kept, none of the typed ID number's
    assert_eq!(failures_kept(&data), 1);
}

/// The failed logins the hub keeps as events (an admin's to read).
fn failures_kept(data: &Path) -> i64 {
    let sql = "SELECT COUNT(*) FROM events WHERE action = 'login_failed'";
    match common::hubs::database_url(data) {
        Some(url) => postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .query_one(sql, &[])
            .unwrap()
            .get(0),
        None => rusqlite::Connection::open(data.join("hub.sqlite"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap(),
    }
}

#[test]
fn a_guesser_that_hangs_up_mid_login_still_leaves_the_account_s_failure() {
    // a guesser need not wait for answers: it posts a password and closes the connection
    // while the hub is still at it. Each password the hub checked and found wrong at the
    // account (its log line) must be kept as an event all the same: the two are written by
    // the one task that checks the password, which a hang-up does not end. (A hang-up before
    // that task starts, while the attempt is counted or queued, checks and writes neither.)
    let data = fresh_dir("hub-logs", "hang-up");
    add_reviewer(&data, "wangfang", false);
    let (hub, log) = start_logging(&data);
    let address = hub.url.trim_start_matches("http://").to_owned();
    // the passwords checked: a hang-up before the hub has read the form checks none
    let checked = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("login failed account=true")
            .count() as i64
    };
    // within the guard's five free attempts, until one is checked: a hang-up while the
    // attempt is still counted or queued for a hash slot checks nothing, one mid-hash is
    // what this is about, and the last, after the answer, is checked on any machine
    for hang_up_after_ms in [3, 10, 20, 35, 300] {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        let body = "user=wangfang&password=guess";
        let request = format!(
            "POST /login HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(hang_up_after_ms));
        stream.shutdown(std::net::Shutdown::Both).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        if checked() > 0 {
            break;
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (checked() == 0 || failures_kept(&data) < checked())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(checked() > 0, "no password was checked");
    assert_eq!(
        failures_kept(&data),
        checked(),
        "every checked guess is kept"
    );
}

#[test]
fn a_stolen_token_s_refused_requests_do_not_fill_the_log() {
    // a helper's probe: 9,300 refused roster requests a second, a line each, 3.5 MB/s of log
    let data = fresh_dir("hub-logs", "kiosk-lines");
    let token = add_kiosk(&data);
    let (hub, log) = start_logging(&data);
    let statuses: Vec<u16> = runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..50 {
            let r = client
                .get(format!("{}/api/v1/roster?batch=B9", hub.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        statuses
    });
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");
    drop(hub);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("roster refused").count(),
        1,
        "one line a minute per kiosk: {text}"
    );
}
