//! An S3-compatible server on loopback for the hub's object-store tests: Moto's server
//! (`scripts/setup` installs it, pinned, in `target/moto-venv`), a process of its own on a free
//! port, stopped when the test is done.

use capture_kiosk::hub::BucketSettings;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestBucket {
    child: Child,
    pub endpoint: String,
}

impl TestBucket {
    /// Starts the server and makes an empty bucket `name` on it.
    pub fn start(name: &str) -> TestBucket {
        let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/moto-venv/bin/moto_server");
        assert!(
            server.is_file(),
            "{} is missing: run scripts/setup",
            server.display()
        );
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server starts");
        // it says where it listens on stderr (werkzeug), on stdout in some versions
        let (tx, rx) = std::sync::mpsc::channel();
        for out in [
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("http://127.0.0.1:") {
                        let _ = tx.send(line[at..].trim().to_owned());
                    }
                }
            });
        }
        let endpoint = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto_server says where it listens");
        let bucket = TestBucket { child, endpoint };
        bucket.create(name);
        bucket
    }

    /// CreateBucket as a bare request: the test server does not check signatures.
    fn create(&self, name: &str) {
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).expect("bucket server");
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Settings for `s3://BUCKET[/PREFIX]` on this server.
    pub fn settings(&self, address: &str) -> BucketSettings {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        BucketSettings {
            address: address.to_owned(),
            options: vec![
                pair("AWS_ENDPOINT", &self.endpoint),
                pair("AWS_REGION", "us-east-1"),
                pair("AWS_ACCESS_KEY_ID", "hub-test"),
                pair("AWS_SECRET_ACCESS_KEY", "hub-test-secret"),
                pair("AWS_ALLOW_HTTP", "true"),
                pair("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
            ],
        }
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
