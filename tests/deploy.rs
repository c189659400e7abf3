//! Deployment: what CI can check of the Debian packages without building them (scripts/package
//! and scripts/test-packages do that): the systemd units verify, the maintainer scripts parse,
//! every file the packages name exists, the hub's build has no UI toolkit; and both programs
//! read their site config files (kiosk.toml, hub.toml), with flags overriding them.

use crate::common::{run_kiosk, scratch};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An empty scratch folder of this run's own.
fn fresh(name: &str) -> PathBuf {
    let dir = scratch("deploy", &format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest(crate_dir: &Path) -> toml::Table {
    let text = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    text.parse().unwrap()
}

fn deb_metadata(table: &toml::Table) -> &toml::Table {
    table["package"]["metadata"]["deb"].as_table().unwrap()
}

/// The files a `dir/prefix*suffix` pattern (cargo-deb's globs as this repository uses them:
/// one `*` in the file name) or a plain path names.
fn matches(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().unwrap().to_str().unwrap();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return if pattern.is_file() {
            vec![pattern.to_owned()]
        } else {
            vec![]
        };
    };
    let Ok(entries) = std::fs::read_dir(pattern.parent().unwrap()) else {
        return vec![];
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            p.is_file() && n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect()
}

const PACKAGES: [(&str, &str); 2] = [("", "capture-kiosk"), ("crates/hub", "capture-hub")];

#[test]
fn every_file_the_packages_name_exists() {
    for (dir, name) in PACKAGES {
        let crate_dir = root().join(dir);
        let m = manifest(&crate_dir);
        let deb = deb_metadata(&m);
        assert_eq!(deb["name"].as_str(), Some(name));
        let mut dests = Vec::new();
        for asset in deb["assets"].as_array().unwrap() {
            let asset = asset.as_array().unwrap();
            let (source, dest) = (asset[0].as_str().unwrap(), asset[1].as_str().unwrap());
            dests.push(dest.to_owned());
            if source.starts_with("target/release/") {
                continue; // built by cargo-deb
            }
            let found = matches(&crate_dir.join(source));
            assert!(!found.is_empty(), "{name}: asset {source} names no file");
        }
        let scripts = crate_dir.join(deb["maintainer-scripts"].as_str().unwrap());
        assert!(scripts.join("postinst").is_file(), "{name}: no postinst");
        assert!(crate_dir.join(deb["changelog"].as_str().unwrap()).is_file());
        assert!(crate_dir
            .join(deb["license-file"].as_str().unwrap())
            .is_file());
        // each unit the metadata names is a file in its folder (cargo-deb would skip it)
        let units = &deb["systemd-units"];
        let units: Vec<&toml::Value> = match units.as_array() {
            Some(list) => list.iter().collect(),
            None => vec![units],
        };
        for u in units {
            let unit = u["unit-name"].as_str().unwrap();
            let folder = crate_dir.join(u["unit-scripts"].as_str().unwrap());
            assert!(
                folder.join(format!("{unit}.service")).is_file(),
                "{name}: no {unit}.service in {}",
                folder.display()
            );
        }
        // the config file is in /etc (a conffile) and the binary in /usr/bin
        let etc = format!("etc/{}/", name);
        assert!(
            dests.iter().any(|d| d == &etc),
            "{name}: no config in {etc}"
        );
        assert!(dests.iter().any(|d| d == "usr/bin/"));
    }
    // the kiosk finds its data where the package puts it (src/kiosk/mod.rs, src/main.rs)
    let m = manifest(&root());
    let dests: Vec<String> = deb_metadata(&m)["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[1].as_str().unwrap().to_owned())
        .collect();
    for needed in [
        "usr/share/capture-kiosk/models/",
        "usr/share/capture-kiosk/hardware/cameras/",
        "usr/share/capture-kiosk/hardware/cameras/sim/",
        "usr/share/capture-kiosk/hardware/reader/",
        // the spoken prompts (src/kiosk/voice/mod.rs: clips_dir)
        "usr/share/capture-kiosk/voice/clips/zh/",
        "usr/share/capture-kiosk/voice/clips/en/",
        "usr/lib/udev/rules.d/",
    ] {
        assert!(
            dests.iter().any(|d| d == needed),
            "the kiosk package lacks {needed}"
        );
    }
}

#[test]
fn maintainer_scripts_parse_and_keep_the_debhelper_token() {
    for dir in ["packaging/kiosk", "packaging/hub"] {
        for script in ["postinst", "postrm"] {
            let path = root().join(dir).join(script);
            let text = std::fs::read_to_string(&path).unwrap();
            // cargo-deb puts the systemd units' enable/stop snippets there
            assert!(text.contains("#DEBHELPER#"), "{}", path.display());
            assert!(text.starts_with("#!/bin/sh\n"), "{}", path.display());
            let out = Command::new("sh").arg("-n").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `systemd-analyze verify` in a scratch root holding the units and stand-ins for the binaries
/// they start (it checks that ExecStart's program is there), with this machine's system units
/// for the targets and services they order against.
#[test]
fn the_units_verify() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    // scripts/setup installs it: a unit that cannot be verified must not pass unseen
    assert!(
        analyze.exists(),
        "no systemd-analyze on this machine: run scripts/setup (it installs systemd)"
    );
    let r = fresh("units-root");
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::create_dir_all(r.join("etc/systemd/system")).unwrap();
    std::fs::create_dir_all(r.join("usr/lib/systemd")).unwrap();
    let copied = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(r.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(copied.success());
    for bin in ["cage", "kiosk", "capture-hub"] {
        let p = r.join("usr/bin").join(bin);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let units = [
        "packaging/kiosk/capture-kiosk.service",
        "packaging/hub/capture-hub.service",
        "packaging/hub/capture-hub-purge.service",
        "packaging/hub/capture-hub-purge.timer",
    ];
    let mut names = Vec::new();
    for u in units {
        let name = Path::new(u).file_name().unwrap();
        std::fs::copy(root().join(u), r.join("etc/systemd/system").join(name)).unwrap();
        names.push(name.to_str().unwrap().to_owned());
    }
    let out = Command::new(analyze)
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .args(&names)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on a key it ignores; its warning names our unit
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("capture-") || l.contains(r.to_str().unwrap()))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");

    // and the check can fail: a misspelt key in the kiosk's unit is reported
    let kiosk = r.join("etc/systemd/system/capture-kiosk.service");
    let text = std::fs::read_to_string(&kiosk).unwrap();
    std::fs::write(&kiosk, text.replace("WatchdogSec=", "WatchdogSecs=")).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("capture-kiosk.service")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("WatchdogSecs"));
}

#[test]
fn the_kiosk_unit_is_a_locked_down_cage_session_with_a_watchdog() {
    let text =
        std::fs::read_to_string(root().join("packaging/kiosk/capture-kiosk.service")).unwrap();
    for line in [
        "Type=notify",
        // cage is the main process; the kiosk, its child, sends READY and WATCHDOG
        "NotifyAccess=all",
        "ExecStart=/usr/bin/cage -- /usr/bin/kiosk",
        "User=kiosk",
        "PAMName=login",
        "TTYPath=/dev/tty1",
        "Conflicts=getty@tty1.service",
        "Restart=always",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "the kiosk unit lacks {line}"
        );
    }
    // cage's -s would allow switching to another VT's login prompt
    assert!(!text.contains("cage -s") && !text.contains("cage -d -s"));
    assert!(text.lines().any(|l| l.starts_with("WatchdogSec=")));
}

/// The hub package must not drag a display stack in: walk capture-hub's dependencies in
/// Cargo.lock (normal, build and dev alike, so this errs on the strict side).
#[test]
fn the_hub_builds_without_a_ui_toolkit() {
    let lock: toml::Table = std::fs::read_to_string(root().join("Cargo.lock"))
        .unwrap()
        .parse()
        .unwrap();
    let packages = lock["package"].as_array().unwrap();
    let deps_of = |name: &str| -> Vec<String> {
        packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .flat_map(|p| {
                p.get("dependencies")
                    .and_then(|d| d.as_array())
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_owned())
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec!["capture-hub".to_owned()];
    while let Some(n) = todo.pop() {
        if seen.insert(n.clone()) {
            todo.extend(deps_of(&n));
        }
    }
    assert!(seen.len() > 50, "the walk found {} crates", seen.len());
    let gui: Vec<&String> = seen
        .iter()
        .filter(|n| {
            [
                "slint",
                "winit",
                "wayland",
                "x11",
                "fontconfig",
                "femtovg",
                "skia",
            ]
            .iter()
            .any(|g| n.contains(g))
        })
        .collect();
    assert!(gui.is_empty(), "capture-hub depends on {gui:?}");
    // and the walk does see a toolkit where there is one
    assert!(deps_of("capture-kiosk").iter().any(|d| d == "slint"));
}

#[test]
fn the_kiosk_reads_its_config_file_and_flags_override_it() {
    let dir = fresh("kiosk-config");
    let data = dir.join("site-data");
    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\nlanguage = \"en\"\n", data.display()),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    // the file's data folder holds the database the staff commands open: a command that only
    // reads names the database it looked for there, and makes none
    let out = run_kiosk(&["--config", c, "queue", "status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let wanted = data.join("kiosk.sqlite");
    assert!(err.contains(&wanted.display().to_string()), "{err}");
    assert!(!wanted.exists() && !data.exists());
    // --kiosk-data on the command line wins over the file
    let other = dir.join("flag-data");
    let out = run_kiosk(&[
        "--config",
        c,
        "--kiosk-data",
        other.to_str().unwrap(),
        "queue",
        "status",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&other.join("kiosk.sqlite").display().to_string()),
        "{err}"
    );

    // a bad file stops the kiosk with the line and the key
    std::fs::write(&config, "data_dir = \"/tmp/x\"\ncamera = true\n").unwrap();
    let out = run_kiosk(&["--config", c, "queue", "status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("kiosk.toml") && err.contains("line 2") && err.contains("camera"),
        "{err}"
    );
    // a file named on the command line must exist
    let out = run_kiosk(&[
        "--config",
        dir.join("none.toml").to_str().unwrap(),
        "queue",
        "status",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.toml"));
}

#[test]
fn the_hub_reads_its_config_file_and_flags_override_it() {
    let dir = fresh("hub-config");
    let data = dir.join("hub-data");
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata = \"{}\"\n[retention]\nreplaced_days = 3\n",
            data.display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let out = run_kiosk(&["hub", "--config", c, "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        data.join("hub.sqlite").is_file(),
        "the file's data folder was not used"
    );
    let out = run_kiosk(&["hub", "--config", c, "purge"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = dir.join("flag-data");
    let out = run_kiosk(&[
        "hub",
        "--config",
        c,
        "--data",
        other.to_str().unwrap(),
        "status",
    ]);
    assert!(out.status.success());
    assert!(other.join("hub.sqlite").is_file());

    std::fs::write(
        &config,
        "listen = \"127.0.0.1:8600\"\n\nmax_request_mib = \"lots\"\n",
    )
    .unwrap();
    let out = run_kiosk(&["hub", "--config", c, "status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("hub.toml") && err.contains("line 3") && err.contains("max_request_mib"),
        "{err}"
    );
}
