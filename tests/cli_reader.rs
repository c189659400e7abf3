//! `kiosk reader simulate` and `kiosk reader read` as two real processes on a pseudo-terminal.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

fn kiosk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiosk"))
}

struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn read_a_card_from_a_simulated_reader_in_another_process() {
    let link = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-reader");
    let mut child = kiosk()
        .args([
            "reader",
            "simulate",
            "--manual",
            "--link",
            link.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), link.to_str().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let _sim = Sim(child);

    writeln!(stdin, "present 2").unwrap();
    let out = kiosk()
        .args([
            "reader",
            "read",
            "--port",
            link.to_str().unwrap(),
            "--json",
            "--timeout",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "card_type",
        "name",
        "sex",
        "ethnicity",
        "birth_date",
        "address",
        "id_number",
        "id_number_valid",
        "authority",
        "valid_from",
        "valid_to",
        "photo_wlt_bytes",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert_eq!(v["card_type"], "hk-macao-taiwan-permit");
    assert_eq!(v["name"], "陈家乐");
    assert_eq!(v["id_number_valid"], true);
    assert_eq!(v["expired"], true);
    assert_eq!(v["photo_wlt_bytes"], 1024);
    assert!(
        v["chip_photo"].as_str().unwrap().starts_with("unavailable"),
        "{v}"
    );

    writeln!(stdin, "lift").unwrap();
    let out = kiosk()
        .args([
            "reader",
            "read",
            "--port",
            link.to_str().unwrap(),
            "--timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no card within"));

    let out = kiosk()
        .args([
            "reader",
            "read",
            "--port",
            "/dev/serial/by-id/absent",
            "--timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/serial/by-id/absent"));
    writeln!(stdin, "quit").unwrap();
}
