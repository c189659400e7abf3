//! The hub's connections under a stranger who holds them, for real on loopback: half-sent
//! requests, idle connections, stalled and trickling bodies, answers never read, one machine
//! or hundreds of addresses holding every connection; and a kiosk's own connections, which
//! are never closed to make room. Attackers come from other loopback addresses (127.0.0.2 and
//! up), as they would from other machines.

use crate::common;

use common::hubs::{
    begin_upload_from, client_from, connect_from, fresh_dir, loopback, runtime, TestHub,
};
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long until the hub closes `stream` (None: still open after `patience`). Anything the
/// hub sends first (a 408) is read and ignored.
fn closed_within(stream: &mut TcpStream, patience: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while started.elapsed() < patience {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// An upload from 127.0.0.2 that declares a 100 kB body and sends its start and then `first`.
fn begin_upload(hub: &TestHub, token: &str, first: &str) -> TcpStream {
    begin_upload_from(loopback(0, 0, 2), hub.addr, token, first)
}

#[test]
fn half_sent_requests_idle_connections_and_stalled_bodies_are_closed() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "slow"), 0, |c| {
        c.connections.header_read = Duration::from_secs(1);
        c.connections.body_idle = Duration::from_secs(1);
    });
    let token = hub.kiosk_token("k");

    // headers that never end
    let mut half = connect_from(loopback(0, 0, 2), hub.addr);
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let t = closed_within(&mut half, Duration::from_secs(5));
    assert!(t.is_some(), "a half-sent request is closed");

    // a kept-alive connection that goes quiet after one answer
    let mut idle = connect_from(loopback(0, 0, 2), hub.addr);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t = closed_within(&mut idle, Duration::from_secs(5));
    assert!(t.is_some(), "an idle kept-alive connection is closed");

    // a body that stops arriving
    let mut stalled = begin_upload(&hub, &token, "JFIF");
    let t = closed_within(&mut stalled, Duration::from_secs(6));
    assert!(t.is_some(), "a stalled body is dropped");
}

/// A connection from `from` that asks for the API description `n` times in one go, with
/// room for 4 kB of answers in its receive buffer, and never reads them.
fn ask_and_never_read(hub: &TestHub, from: IpAddr, n: usize) -> TcpStream {
    let mut stream = runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
        socket.connect(hub.addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    let ask = b"GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n);
    stream.write_all(&ask).unwrap();
    stream
}

/// The status line of a /healthz asked on a new connection from `from` (None: refused).
fn health_from(hub: &TestHub, from: IpAddr) -> Option<String> {
    let mut s = connect_from(from, hub.addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    status_line(&answer)
}

/// The first line of an answer (None: nothing came).
fn status_line(answer: &[u8]) -> Option<String> {
    String::from_utf8_lossy(answer)
        .lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

#[test]
fn answers_the_client_never_reads_do_not_hold_its_connections() {
    // a stranger asks 300 times for a 50 kB answer on each of its two connections and reads
    // none: the hub's writes wait for room that never comes. They once waited for good,
    // holding the address's slots and the kernel's buffers (a helper's probe, session 37)
    let hub = TestHub::start_configured(fresh_dir("hubs", "unread"), 0, |c| {
        c.connections.max_per_address = 2;
        c.connections.write_idle = Duration::from_secs(1);
    });
    let stranger = loopback(0, 0, 4);
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| ask_and_never_read(&hub, stranger, 300))
        .collect();
    // past the moment of grace a fresh connection has (`connection_slots.rs`)
    std::thread::sleep(Duration::from_millis(2300));
    // a newcomer from that address (a kiosk behind the same NAT) takes the place of one at
    // once: a connection whose answer waits on its client has no request in hand
    let status = health_from(&hub, stranger);
    assert!(
        status.as_deref().is_some_and(|l| l.contains(" 200 ")),
        "locked out by unread answers: {status:?}"
    );
    // and once no byte has gone out for the limit, the hub lets go of them itself: reading
    // now finds each cut off long before its 300 answers (15 MB)
    std::thread::sleep(Duration::from_secs(3));
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let ended = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        assert!(ended && got < 300 * 50_000, "still open after {got} bytes");
    }
}

#[test]
fn a_body_that_trickles_in_is_cut_off() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "trickle"), 0, |c| {
        c.connections.body_grace = Duration::from_secs(1);
        c.connections.body_min_rate = 1000;
    });
    let token = hub.kiosk_token("k");
    let mut trickle = begin_upload(&hub, &token, "");
    // a byte every 200 ms never stalls long enough for the idle limit (15 s)
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(8) {
        if trickle.write_all(b"x").is_err() {
            cut = true;
            break;
        }
        if closed_within(&mut trickle, Duration::from_millis(200)).is_some() {
            cut = true;
            break;
        }
    }
    assert!(cut, "a body averaging 5 B/s is still being read after 8 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before its grace"
    );
}

#[test]
fn one_machine_cannot_hold_every_connection() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "crowd"), 0, |c| {
        c.connections.max_per_address = 4;
    });
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut s = connect_from(loopback(0, 0, 3), hub.addr);
        // a request that is never finished holds the connection if the hub lets it
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n");
        held.push(s);
    }
    let still_open = held
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_millis(600)))
        .filter(Option::is_none)
        .count();
    assert!(
        still_open <= 4,
        "{still_open} of 10 connections from one address stayed open (limit 4)"
    );
    // a kiosk from another address is served at once
    let status = runtime().block_on(async {
        client_from(loopback(0, 0, 1))
            .get(format!("{}/healthz", hub.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
}

#[test]
fn many_addresses_cannot_hold_every_connection() {
    // a stranger with many addresses (here 4, each within its share of 2) fills the total of 8
    let hub = TestHub::start_configured(fresh_dir("hubs", "crowds"), 0, |c| {
        c.connections.max_connections = 8;
        c.connections.max_per_address = 2;
    });
    let mut held = Vec::new();
    for n in 0..8u8 {
        let mut s = connect_from(loopback(0, 1, 1 + n / 2), hub.addr);
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n");
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    // a kiosk from an address holding nothing is served: a crowded address gives way
    for n in 0..3u8 {
        let status = runtime().block_on(async {
            client_from(loopback(0, 2, 1 + n))
                .get(format!("{}/healthz", hub.url))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(
            status.ok(),
            Some(200),
            "kiosk {n} is served while the hub is full"
        );
    }
    let closed = held
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(300)))
        .count();
    assert!(closed >= 1, "a held connection was closed to make room");
}

#[test]
fn a_body_the_client_stops_sending_is_the_client_s_error() {
    // a helper saw 500s for submissions whose sender hung up mid-body: noise for whoever
    // watches the hub's failures
    let hub = TestHub::start("hang-up");
    let token = hub.kiosk_token("k");
    let mut upload = begin_upload(&hub, &token, "partial");
    upload.shutdown(std::net::Shutdown::Write).unwrap();
    upload
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = upload.read_to_end(&mut answer);
    let status = status_line(&answer);
    assert!(
        status.as_deref().is_some_and(|l| l.contains(" 400 ")),
        "{status:?}"
    );
}

/// Asks who the kiosk is on `stream` (kept alive) and returns the answer's status line.
fn whoami_on(stream: &mut TcpStream, token: &str) -> Option<String> {
    let ask =
        format!("GET /api/v1/kiosk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(ask.as_bytes()).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut answer = [0u8; 4096];
    let n = stream.read(&mut answer).ok()?;
    status_line(&answer[..n])
}

#[test]
fn a_kiosks_connections_are_never_closed_to_make_room() {
    // a kiosk's connections, once its token was read on them, are not the crowd's: a helper's
    // probe cut 460 kiosk requests and an upload mid-body when any oldest connection gave way
    let hub = TestHub::start_configured(fresh_dir("hubs", "proven"), 0, |c| {
        c.connections.max_connections = 4;
        c.connections.max_per_address = 2;
    });
    let token = hub.kiosk_token("k");
    let mut kiosk: Vec<TcpStream> = (0..2)
        .map(|_| connect_from(loopback(0, 3, 1), hub.addr))
        .collect();
    for s in &mut kiosk {
        let status = whoami_on(s, &token);
        assert!(
            status.as_deref().is_some_and(|l| l.contains(" 200 ")),
            "{status:?}"
        );
    }
    let mut crowd: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect_from(loopback(0, 3, 2), hub.addr);
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // the hub is full; newcomers from two more addresses take the crowd's places, though the
    // kiosk's connections are as many and older
    for n in 3..5u8 {
        let status = runtime().block_on(async {
            client_from(loopback(0, 3, n))
                .get(format!("{}/healthz", hub.url))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(status.ok(), Some(200), "newcomer {n}");
    }
    let closed = crowd
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(300)))
        .count();
    // (the first newcomer's room is given back when it is answered: one is enough)
    assert!(closed >= 1, "the crowd's connections made the room");
    for s in &mut kiosk {
        let status = whoami_on(s, &token);
        assert!(
            status.as_deref().is_some_and(|l| l.contains(" 200 ")),
            "the kiosk's connection was closed: {status:?}"
        );
    }
}
