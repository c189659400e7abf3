//! The fleet test: a small `kiosk bench-fleet` (hub replicas sharing a database and a bucket
//! behind a round-robin proxy, kiosks with their real uploaders, a replica SIGKILLed and
//! restarted mid-run) must end with every record stored once, every photo readable and every
//! near-duplicate sent through another replica flagged.

use crate::common;

use serde_json::Value;

#[test]
fn a_small_fleet_loses_nothing_when_a_replica_is_killed() {
    let dir = common::hubs::fresh_dir("fleet", "small");
    let report = dir.join("report.json");
    let moto =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    assert!(
        moto.is_file(),
        "{} is missing: run scripts/setup",
        moto.display()
    );
    let out = common::run_kiosk(&[
        "bench-fleet",
        "--replicas",
        "1",
        "--kiosks",
        "10",
        "--records",
        "300",
        "--photo-sample",
        "0",
        "--down-seconds",
        "2",
        "--deadline-seconds",
        "120",
        "--s3-server",
        moto.to_str().expect("utf-8 path"),
        "--scratch",
        dir.to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let runs: Vec<Value> = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let f = &run["findings"];
    assert_eq!(f["expected"], 300);
    assert_eq!(f["stored"], 300, "{f}");
    assert_eq!(f["lost"], 0, "{f}");
    assert_eq!(f["duplicated"], 0, "{f}");
    assert_eq!(f["unexpected"], 0, "{f}");
    assert_eq!(f["photos_checked"], 300, "{f}");
    assert_eq!(f["photos_unreadable"], 0, "{f}");
    assert_eq!(f["objects_missing"], 0, "{f}");
    assert_eq!(f["wrong_flags"], 0, "{f}");
    let copies = f["near_copies"].as_u64().expect("a count");
    assert!(copies >= 5, "{f}");
    assert_eq!(f["near_copies_flagged"].as_u64(), Some(copies), "{f}");
    let faults = run["faults"].to_string();
    assert!(
        faults.contains("SIGKILLed") && faults.contains("restarted"),
        "{faults}"
    );
    assert_eq!(run["pending_left"], 0);
    assert_eq!(run["quarantined"], 0);
    assert!(out.status.success(), "{stdout}");
    // the scratch folder and its children are gone
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("scratch parent")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("kiosk-bench-fleet-")
        })
        .collect();
    assert!(left.is_empty(), "scratch folders left behind: {left:?}");
}
