//! A test CA and a server certificate it signed for localhost and 127.0.0.1, made with
//! openssl (Debian's) in a test's folder: for the hub's https and the database's TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Certs {
    /// The CA's certificate (PEM), what a client is told to trust.
    pub ca: PathBuf,
    /// The server's certificate and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make(dir: &Path) -> Certs {
    let (ca, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (csr, cert, key) = (
        dir.join("hub.csr"),
        dir.join("hub.crt"),
        dir.join("hub.key"),
    );
    let ext = dir.join("hub.ext");
    std::fs::write(
        &ext,
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for args in [
        [
            &["req", "-x509"][..],
            &ec[..],
            &[
                "-days",
                "2",
                "-subj",
                "/CN=Test College CA",
                "-keyout",
                &p(&ca_key),
                "-out",
                &p(&ca),
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec[..],
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                &p(&key),
                "-out",
                &p(&csr),
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            &p(&ca),
            "-CAkey",
            &p(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&cert),
        ],
    ] {
        let made = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }

    Certs { ca, cert, key }
}
