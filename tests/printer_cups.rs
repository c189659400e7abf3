//! The printer's state read from a real CUPS: Debian's cupsd (unpacked by scripts/setup into
//! target/cups-root) runs on a loopback port in a temp folder with one queue whose backend
//! is a stand-in printer that reports what a photo printer's driver reports (out of paper,
//! a jam) or hangs; reprints go through Debian's real `lp`. Staff's tools pause it
//! (`cupsdisable`). What the kiosk reads over IPP is what CUPS itself says.

use capture_kiosk::kiosk::print::{print_sheet, PrintSetup, Printed};
use capture_kiosk::kiosk::printer_state::{ask, ask_with, PrinterState};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QUEUE: &str = "kiosk-photo";

/// One cupsd in its own folder, stopped (with its jobs) when dropped.
struct Cups {
    dir: PathBuf,
    root: PathBuf,
    port: u16,
    child: Child,
}

impl Cups {
    fn start(name: &str) -> Cups {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cups-root");
        assert!(
            root.join("usr/sbin/cupsd").exists(),
            "no cupsd in {}: run scripts/setup, it unpacks Debian's CUPS there",
            root.display()
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("printer-cups")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        for sub in [
            "etc",
            "bin/backend",
            "bin/daemon",
            "spool",
            "log",
            "cache",
            "state",
            "tmp",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::copy(
            root.join("usr/lib/cups/daemon/cups-exec"),
            dir.join("bin/daemon/cups-exec"),
        )
        .unwrap();
        // the stand-in printer: like a real printer's driver it first clears what it said in
        // the last job, then reports what `mode` says when a job starts; a
        // backend readable only by its owner is run by cupsd as root, so the folder needs no
        // access for cupsd's unprivileged user
        let backend = dir.join("bin/backend/sim");
        std::fs::write(
            &backend,
            format!(
                "#!/bin/sh\n[ $# -eq 0 ] && exit 0\necho 'STATE: -media-empty-error,media-jam-error' >&2\ncase \"$(cat {mode} 2>/dev/null)\" in\n  empty) echo 'STATE: +media-empty-error' >&2; exec sleep 120;;\n  jam) echo 'STATE: +media-jam-error' >&2; exec sleep 120;;\n  hang) exec sleep 120;;\nesac\nexit 0\n",
                mode = dir.join("mode").display()
            ),
        )
        .unwrap();
        chmod(&backend, 0o700);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        std::fs::write(
            dir.join("etc/cupsd.conf"),
            format!(
                "Listen 127.0.0.1:{port}\nLogLevel debug\nBrowsing No\nWebInterface No\nDefaultAuthType None\n\
                 <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/cups-files.conf"),
            format!(
                "ServerRoot {d}/etc\nServerBin {d}/bin\nDataDir {data}\nRequestRoot {d}/spool\n\
                 TempDir {d}/tmp\nCacheDir {d}/cache\nStateDir {d}/state\nPrintcap {d}/printcap\n\
                 AccessLog {d}/log/access_log\nErrorLog {d}/log/error_log\nPageLog {d}/log/page_log\n\
                 User nobody\nGroup nogroup\nSystemGroup root\nSandboxing Relaxed\n",
                data = root.join("usr/share/cups").display()
            ),
        )
        .unwrap();
        let printers = dir.join("etc/printers.conf");
        std::fs::write(
            &printers,
            format!("<Printer {QUEUE}>\nState Idle\nAccepting Yes\nDeviceURI sim:/\n</Printer>\n"),
        )
        .unwrap();
        chmod(&printers, 0o600);
        let child = Command::new(root.join("usr/sbin/cupsd"))
            .arg("-f")
            .arg("-c")
            .arg(dir.join("etc/cupsd.conf"))
            .arg("-s")
            .arg(dir.join("etc/cups-files.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cups = Cups {
            dir,
            root,
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cupsd did not listen; see {}",
                cups.dir.join("log/error_log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cups
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    /// A CUPS admin tool (`cupsdisable`, `cupsenable`, `cancel`) against this cupsd.
    fn admin(&self, tool: &str, args: &[&str]) {
        let bin = ["usr/sbin", "usr/bin"]
            .iter()
            .map(|d| self.root.join(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        let out = Command::new(bin)
            .arg("-h")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The print command the kiosk runs: Debian's `lp`, talking to this cupsd.
    fn lp(&self) -> PathBuf {
        let lp = self.dir.join("lp");
        std::fs::write(
            &lp,
            format!(
                "#!/bin/sh\nexec {} -h 127.0.0.1:{} \"$@\"\n",
                self.root.join("usr/bin/lp").display(),
                self.port
            ),
        )
        .unwrap();
        chmod(&lp, 0o755);
        lp
    }

    /// Asks until `want` holds (CUPS changes state as its backend starts), at most 15 s.
    fn wait_for(&self, what: &str, want: impl Fn(&PrinterState) -> bool) -> PrinterState {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let state = ask_with(&self.url(), QUEUE, Duration::from_secs(2)).unwrap();
            if want(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: CUPS still says {state:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        // SIGTERM: cupsd stops its jobs' backends before it exits
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

#[test]
fn a_real_cups_tells_paused_out_of_paper_jammed_stuck_and_offline() {
    let cups = Cups::start("states");
    let folder = cups.dir.join("prints");
    let setup = PrintSetup {
        layout: "1in*8+2in*4".into(),
        printer: Some(QUEUE.into()),
        server: cups.url(),
        command: cups.lp().to_str().unwrap().into(),
        folder: folder.clone(),
    };
    let photo = crate::common::hubs::test_jpeg(2);
    assert_eq!(ask(&cups.url(), QUEUE).unwrap(), PrinterState::Ready);

    // staff pause the queue: the reprint is refused before lp, nothing queued
    cups.admin("cupsdisable", &[QUEUE]);
    assert_eq!(ask(&cups.url(), QUEUE).unwrap(), PrinterState::Paused);
    assert_eq!(
        print_sheet(&setup, &photo, "0190aaaa0001").unwrap(),
        Printed::Refused {
            queue: QUEUE.into(),
            state: PrinterState::Paused
        }
    );
    cups.admin("cupsenable", &[QUEUE]);
    assert_eq!(ask(&cups.url(), QUEUE).unwrap(), PrinterState::Ready);

    // the printer runs out of paper while it prints: lp's job id is kept, CUPS reports it
    cups.set_mode("empty");
    let Printed::Sent {
        job: Some(first), ..
    } = print_sheet(&setup, &photo, "0190aaaa0002").unwrap()
    else {
        panic!("lp gave no job id");
    };
    cups.wait_for("out of paper", |s| *s == PrinterState::OutOfPaper);
    assert!(
        !folder.join("0190aaaa0002.jpg").exists(),
        "the spooler has its copy; the kiosk's is gone"
    );
    // the next reprint is refused while it lasts
    assert!(matches!(
        print_sheet(&setup, &photo, "0190aaaa0003").unwrap(),
        Printed::Refused {
            state: PrinterState::OutOfPaper,
            ..
        }
    ));
    cups.admin("cancel", &[&format!("{QUEUE}-{first}")]);

    // a jam on the next job
    cups.set_mode("jam");
    cups.wait_for("the queue free again", |s| s.can_print());
    assert!(matches!(
        print_sheet(&setup, &photo, "0190aaaa0004").unwrap(),
        Printed::Sent { job: Some(_), .. }
    ));
    cups.wait_for("the jam", |s| *s == PrinterState::Jammed);
    cups.admin("cancel", &["-a", QUEUE]);

    // a job that never finishes and reports nothing: stuck, with its id and age
    cups.set_mode("hang");
    cups.wait_for("the queue free again", |s| s.can_print());
    let Printed::Sent {
        job: Some(hung), ..
    } = print_sheet(&setup, &photo, "0190aaaa0005").unwrap()
    else {
        panic!("lp gave no job id");
    };
    let stuck = cups.wait_for("the stuck job", |s| {
        matches!(s, PrinterState::JobStuck { .. })
    });
    let PrinterState::JobStuck { job_id, age_s } = stuck else {
        unreachable!()
    };
    assert_eq!(job_id, hung);
    assert!((2..30).contains(&age_s), "{age_s}");

    // CUPS itself gone: offline, told within the query's bound
    let url = cups.url();
    drop(cups);
    let started = Instant::now();
    assert_eq!(ask(&url, QUEUE).unwrap(), PrinterState::Offline);
    assert!(started.elapsed() < Duration::from_secs(5));
}
