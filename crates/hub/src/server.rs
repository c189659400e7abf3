//! The hub's connections: accepted here rather than by `axum::serve`, because a hub on a
//! college network must bound what a stranger can hold open, and axum exposes none of it.
//!
//! - at most [`ConnectionLimits::max_connections`] open connections, and at most
//!   [`ConnectionLimits::max_per_address`] from one address, so 300 half-sent requests from one
//!   machine cannot crowd out the kiosks; with the total full, a less crowded network's
//!   connection closes the most crowded one's oldest (`connection_slots.rs`), so many
//!   addresses cannot either;
//! - a request's headers (and the wait for the next request on a kept-alive connection) must
//!   arrive within [`ConnectionLimits::header_read`];
//! - a request body that stops moving for [`ConnectionLimits::body_idle`], or averages less
//!   than [`ConnectionLimits::body_min_rate`] after [`ConnectionLimits::body_grace`], is dropped, and no request may take
//!   longer than [`ConnectionLimits::request_total`] (a 4 MB record on a 100 KB/s link takes
//!   40 s);
//! - a TLS handshake must finish within [`ConnectionLimits::tls_handshake`], off the accept loop;
//! - an answer the client stops reading ends the connection once no byte of it has gone out
//!   for [`ConnectionLimits::write_idle`]: hyper writes the answers of every request it was
//!   sent, pipelined or not, and waits for room in the socket as long as it takes, so a
//!   stranger who sent a hundred requests and never read held the connection, its address's
//!   slot and the kernel's send buffers for good (a helper's probe, session 37: 16 such
//!   sockets held 45 MB of unsent answers on loopback after 390 s).

use super::connection_slots::{ConnectionSlot, Connections};
use super::Hub;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// What one client may hold of the hub.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub header_read: Duration,
    pub tls_handshake: Duration,
    pub body_idle: Duration,
    /// Bytes per second a body must average once it has taken `body_grace` (a trickle of a
    /// byte every few seconds would otherwise hold a connection for the whole request limit).
    pub body_min_rate: u64,
    pub body_grace: Duration,
    pub request_total: Duration,
    /// How long a write to the client may wait for room without a byte going out.
    pub write_idle: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // idle connections are cheap (a task and a small buffer): many, so a few dozen
            // machines cannot take them all
            max_connections: 4096,
            // a collection point's kiosks may share one address behind NAT: a dozen at most
            max_per_address: 16,
            header_read: Duration::from_secs(10),
            tls_handshake: Duration::from_secs(10),
            body_idle: Duration::from_secs(15),
            body_min_rate: 1024,
            body_grace: Duration::from_secs(10),
            request_total: Duration::from_secs(300),
            // as long as a body may stall: a kiosk on a slow link still reads steadily
            write_idle: Duration::from_secs(15),
        }
    }
}

/// The address a request came from, for per-address login limits.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub IpAddr);

/// Serves `hub` over plain http on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, None, hub, shutdown).await
}

/// Serves `hub` over https (rustls) on `listener` until `shutdown` completes.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    hub: Arc<Hub>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, Some(TlsAcceptor::from(config)), hub, shutdown).await
}

/// The network one client counts as: an IPv4 address (also when written IPv4-mapped in
/// IPv6), or an IPv6 address's /64, one subscriber's network, where a machine can take a new
/// address for every connection or guess.
pub(crate) fn client_network(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// What an accepted connection holds before its first byte is read.
enum Early {
    /// Its own network's slot.
    Direct(ConnectionSlot),
    /// A trusted balancer's: a place in the total until the header names the client.
    Balancer(OwnedSemaphorePermit),
}

async fn serve_with(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    hub: Arc<Hub>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = hub.config().connections;
    let min_rate = super::min_rate::MinimumRate {
        bytes_per_second: limits.body_min_rate,
        grace: limits.body_grace,
    };
    let app = hub
        .router()
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                super::min_rate::enforce(req, next, min_rate)
            },
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_idle))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_total,
        ))
        // outermost: busy from the headers read until the answer is out, whatever answers
        .layer(axum::middleware::from_fn(super::busy::track));
    let app = if tls.is_some() {
        app.layer(axum::middleware::from_fn(super::headers::strict_transport))
    } else {
        app
    };
    let trusted: Arc<[IpAddr]> = hub.config().trusted_proxies.clone().into();
    let connections = Connections::new(limits.max_connections, limits.max_per_address);
    // refusals are said, a line a minute per network: staff must be able to see that a
    // machine behind a college's address is crowding its kiosks (a helper's probe, session
    // 42: 230,000 refusals left no trace)
    let refusals = super::log_limit::LogLimit::<IpAddr>::default();
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(64 << 10);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // out of file descriptors and the like: pause rather than spin
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // a trusted balancer's connections are its clients': each is counted against its
        // client's address once the PROXY header has named it
        let from_balancer = trusted.contains(&peer.ip());
        let early = if from_balancer {
            match connections.take_unnamed() {
                Some(permit) => Early::Balancer(permit),
                None => continue,
            }
        } else {
            match connections.take(client_network(peer.ip())) {
                Some(slot) => Early::Direct(slot),
                None => {
                    // closing at once costs the attacker a reconnect and us nothing
                    let network = client_network(peer.ip());
                    if let Some(held_back) = refusals.allow(network, std::time::Instant::now()) {
                        tracing::warn!(
                            target: "hub",
                            network = %network,
                            refused_before = held_back,
                            "connections refused: this address holds all the connections it may and none of them may give way (a machine crowding it, or more kiosks behind it than its share)"
                        );
                    }
                    continue;
                }
            }
        };
        let mut stream = stream;
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let connections = connections.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let (mut slot, client) = match early {
                Early::Direct(slot) => (slot, peer.ip()),
                Early::Balancer(permit) => {
                    let client = match super::proxy_protocol::read_client(
                        &mut stream,
                        limits.header_read,
                    )
                    .await
                    {
                        Ok(named) => named.unwrap_or(peer.ip()),
                        Err(e) => {
                            tracing::debug!(peer = %peer.ip(), error = ?e, "no PROXY header from a trusted balancer");
                            return;
                        }
                    };
                    let Some(slot) = connections.take_with(client_network(client), permit) else {
                        tracing::debug!(peer = %client, "connection refused: too many open");
                        return;
                    };
                    (slot, client)
                }
            };
            // with the hub full, another network's connection was closed to make room
            if !slot.admitted().await {
                tracing::debug!(peer = %client, "connection refused: the hub is full");
                return;
            }
            let close = slot.close.clone();
            let proof = slot.proof.clone();
            let busy = slot.busy.clone();
            let service = app.map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(client));
                req.extensions_mut().insert(proof.clone());
                req.extensions_mut().insert(busy.clone());
                req
            });
            let service = TowerToHyperService::new(service);
            let served = async move {
                match tls {
                    None => {
                        let stream = unread_answers_time_out(stream, limits.write_idle);
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn).await
                    }
                    Some(acceptor) => {
                        let Some(stream) = handshake(&acceptor, stream, peer, limits).await else {
                            return Ok(());
                        };
                        let stream = unread_answers_time_out(stream, limits.write_idle);
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn).await
                    }
                }
            };
            // dropping the connection closes it, answered or not (`connection_slots.rs`)
            let result = tokio::select! {
                r = served => r,
                () = close.notified() => Ok(()),
            };
            drop(slot);
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // requests in flight finish (a submit mid-commit is answered); stragglers are cut off
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 10 s after shutdown began; closing them");
    }
    Ok(())
}

/// `stream`, whose writes fail with `TimedOut` once one has waited `limit` without a byte
/// going out (hyper then closes the connection).
fn unread_answers_time_out<S>(stream: S, limit: Duration) -> Pin<Box<TimeoutStream<S>>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(limit));
    Box::pin(stream)
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    limits: ConnectionLimits,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(limits.tls_handshake, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer.ip(), error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = %peer.ip(), "TLS handshake timed out");
            None
        }
    }
}
