//! A province's replicas behind a load balancer that speaks the PROXY protocol: the balancer's
//! connections count against each client's own address, not all against the balancer's: a
//! client at its share makes room from its own idle connections, never another client's.

use crate::common;

use common::hubs::{fresh_dir, TestHub};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `bytes` on a fresh connection and reads the answer until the hub closes it.
fn exchange(hub: &TestHub, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(hub.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// How many of `streams` the hub has closed: a close already made shows at once, and the
/// hub's own 10 s header limit must not be waited into.
/// How many of `streams` the hub closed (a closed one shows at once on loopback).
fn closed_count(streams: &mut [TcpStream]) -> usize {
    common::hubs::closed_count(streams, Duration::from_millis(30))
}

const REQUEST: &str = "GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n";

fn from(client: &str) -> String {
    format!("PROXY TCP4 {client} 127.0.0.1 50000 8600\r\n")
}

#[test]
fn a_trusted_balancers_clients_are_counted_each_on_its_own() {
    let hub = TestHub::start_configured(fresh_dir("hubs", "proxy"), 0, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    // a client named by the header is served
    let ok = exchange(&hub, format!("{}{REQUEST}", from("203.0.113.7")).as_bytes());
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");

    // sixteen connections held open (idle) for one client fill that client's share, not the
    // balancer's: a seventeenth for it takes the place of one of that client's own, another client is served with nothing given up
    let mut held: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(hub.addr).unwrap();
            s.write_all(from("203.0.113.8").as_bytes()).unwrap();
            s
        })
        .collect();
    // past the moment of grace a fresh connection has
    std::thread::sleep(Duration::from_millis(2300));
    let other = exchange(&hub, format!("{}{REQUEST}", from("203.0.113.9")).as_bytes());
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert_eq!(
        closed_count(&mut held),
        0,
        "another client took nobody's place"
    );
    let served = exchange(&hub, format!("{}{REQUEST}", from("203.0.113.8")).as_bytes());
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        closed_count(&mut held),
        1,
        "one of the client's idle connections gave way, and only one"
    );
    drop(held);

    // one client however its address is written, and an IPv6 /64 as one client: a machine
    // there can take a new address for every connection
    let hold = |line: String| {
        let mut s = TcpStream::connect(hub.addr).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s
    };
    let tcp6 = |client: &str| format!("PROXY TCP6 {client} ::1 50000 8600\r\n");
    let mut held: Vec<TcpStream> = (0..8).map(|_| hold(from("203.0.113.20"))).collect();
    held.extend((0..8).map(|_| hold(tcp6("::ffff:203.0.113.20"))));
    held.extend((1..=16).map(|i| hold(tcp6(&format!("2001:db8:7::{i:x}")))));
    // past the moment of grace a fresh connection has
    std::thread::sleep(Duration::from_millis(2300));
    // counted apart, each would hold 8 of 16 (or 1 of 16) and nobody would give way
    for (line, group) in [
        (from("203.0.113.20"), 0..16),
        (tcp6("2001:db8:7::99"), 16..32),
    ] {
        let served = exchange(&hub, format!("{line}{REQUEST}").as_bytes());
        assert!(served.starts_with("HTTP/1.1 200"), "{line}: {served}");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            closed_count(&mut held[group]),
            1,
            "{line}: one of its client's connections gave way"
        );
    }
    let other = exchange(
        &hub,
        format!("{}{REQUEST}", tcp6("2001:db8:8::1")).as_bytes(),
    );
    assert!(other.starts_with("HTTP/1.1 200"), "another /64: {other}");
    drop(held);

    // from the balancer, a connection without the header is dropped: it could be anyone's
    let bare = exchange(&hub, REQUEST.as_bytes());
    assert!(bare.is_empty(), "{bare}");
    hub.stop();

    // a hub that trusts no balancer takes a header for what it is: not HTTP
    let plain = TestHub::start("no-proxy");
    let answer = exchange(
        &plain,
        format!("{}{REQUEST}", from("203.0.113.7")).as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    plain.stop();
}
