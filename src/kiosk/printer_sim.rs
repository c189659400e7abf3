//! A simulated CUPS print queue for tests and demo mode: an HTTP server on loopback that
//! answers real IPP (Get-Printer-Attributes, Get-Jobs, encoded by the `ipp` crate) at
//! `/printers/<queue>`, with a state the test sets: paused, out of paper, jammed, a job stuck.
//!
//! The kiosk's own tests of the staff screens use it: its state is set in one call, where a
//! real cupsd (tests/printer_cups.rs checks the same questions against Debian's) needs a
//! job and a driver to report each one. Debian's `ippeveprinter` would have been the
//! ready-made simulator, but it refuses to start without a DNS-SD daemon (avahi over D-Bus).

use anyhow::{Context, Result};
use ipp::attribute::{IppAttribute, IppAttributeGroup};
use ipp::model::{DelimiterTag, Operation, StatusCode};
use ipp::parser::IppParser;
use ipp::reader::IppReader;
use ipp::request::IppRequestResponse;
use ipp::value::{IppKeyword, IppValue};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the simulated queue reports.
#[derive(Clone, Debug)]
pub struct SimQueue {
    /// `printer-state`: 3 idle, 4 processing, 5 stopped.
    pub state: i32,
    /// `printer-state-reasons`; empty is sent as "none".
    pub reasons: Vec<String>,
    /// Jobs not completed: (job-id, job-state, how long ago it was created).
    pub jobs: Vec<(i32, i32, Duration)>,
}

impl SimQueue {
    pub fn ready() -> SimQueue {
        SimQueue {
            state: 3,
            reasons: Vec::new(),
            jobs: Vec::new(),
        }
    }

    pub fn stopped(reasons: &[&str]) -> SimQueue {
        SimQueue {
            state: 5,
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
            jobs: Vec::new(),
        }
    }
}

/// The running simulator; stops when dropped.
pub struct SimPrinter {
    pub addr: SocketAddr,
    pub queue_name: String,
    queue: Arc<Mutex<SimQueue>>,
    /// How many IPP requests it read (tests check the kiosk asked).
    asked: Arc<Mutex<u32>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimPrinter {
    /// Serves `queue_name` on 127.0.0.1 (a free port).
    pub fn start(queue_name: &str, queue: SimQueue) -> Result<SimPrinter> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the printer simulator")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (queue, asked, stop) = (
            Arc::new(Mutex::new(queue)),
            Arc::new(Mutex::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let started = Instant::now();
        let thread = {
            let (queue, asked, stop, name) = (
                queue.clone(),
                asked.clone(),
                stop.clone(),
                queue_name.to_owned(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            if let Err(e) = serve(conn, &name, &queue, &asked, started) {
                                tracing::warn!(error = %e, "printer simulator: a bad request");
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "printer simulator: accept failed");
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            })
        };
        Ok(SimPrinter {
            addr,
            queue_name: queue_name.to_owned(),
            queue,
            asked,
            stop,
            thread: Some(thread),
        })
    }

    /// The server URL the kiosk's `printer_server` setting takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, queue: SimQueue) {
        if let Ok(mut q) = self.queue.lock() {
            *q = queue;
        }
    }

    pub fn asked(&self) -> u32 {
        self.asked.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Drop for SimPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request per connection (`Connection: close`), read within two seconds.
fn serve(
    mut conn: TcpStream,
    name: &str,
    queue: &Mutex<SimQueue>,
    asked: &Mutex<u32>,
    started: Instant,
) -> Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        anyhow::ensure!(n > 0, "the connection closed mid-request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(buf.len() < 16 << 10, "headers over 16 KiB");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no content-length")?;
    anyhow::ensure!(length < 1 << 20, "a body over 1 MiB");
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk)?;
        anyhow::ensure!(n > 0, "the connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let path_ok = head.starts_with(&format!("post /printers/{} ", name.to_ascii_lowercase()));
    let body = buf[head_end..head_end + length].to_vec();
    let request = IppParser::new(IppReader::new(std::io::Cursor::new(body)))
        .parse()
        .map_err(|e| anyhow::anyhow!("not IPP: {e}"))?;
    // counted before the answer goes out: a client that has its answer finds it counted
    if let Ok(mut n) = asked.lock() {
        *n += 1;
    }
    let header = request.header();
    let q = queue
        .lock()
        .map_err(|_| anyhow::anyhow!("the simulator's state is poisoned"))?
        .clone();
    let up = i32::try_from(started.elapsed().as_secs()).unwrap_or(i32::MAX) + 100_000;
    let op = header.operation_or_status;
    let status = if !path_ok {
        StatusCode::ClientErrorNotFound
    } else if op == Operation::GetPrinterAttributes as i16 || op == Operation::GetJobs as i16 {
        StatusCode::SuccessfulOk
    } else {
        StatusCode::ServerErrorOperationNotSupported
    };
    let mut answer = IppRequestResponse::new_response(header.version, status, header.request_id)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if status == StatusCode::SuccessfulOk && op == Operation::GetPrinterAttributes as i16 {
        let reasons = if q.reasons.is_empty() {
            vec!["none".to_owned()]
        } else {
            q.reasons.clone()
        };
        let reasons = reasons
            .into_iter()
            .map(|r| IppKeyword::new(r).map(IppValue::Keyword))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (n, v) in [
            ("printer-state", IppValue::Enum(q.state)),
            ("printer-state-reasons", IppValue::Array(reasons)),
            ("printer-up-time", IppValue::Integer(up)),
        ] {
            answer.attributes_mut().add(
                DelimiterTag::PrinterAttributes,
                IppAttribute::with_name(n, v).map_err(|e| anyhow::anyhow!("{e}"))?,
            );
        }
    } else if status == StatusCode::SuccessfulOk {
        for (id, state, age) in &q.jobs {
            let mut group = IppAttributeGroup::new(DelimiterTag::JobAttributes);
            let created = up - i32::try_from(age.as_secs()).unwrap_or(0);
            for (n, v) in [
                ("job-id", IppValue::Integer(*id)),
                ("job-state", IppValue::Enum(*state)),
                ("time-at-creation", IppValue::Integer(created)),
            ] {
                group
                    .attributes_mut()
                    .push(IppAttribute::with_name(n, v).map_err(|e| anyhow::anyhow!("{e}"))?);
            }
            answer.attributes_mut().groups_mut().push(group);
        }
    }
    let bytes = answer.to_bytes();
    conn.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )
        .as_bytes(),
    )?;
    conn.write_all(&bytes)?;
    conn.flush()?;
    Ok(())
}
