//! A small round-robin TCP proxy on loopback in front of the hub replicas, as a load balancer
//! is in front of a province's hubs: each kiosk connection goes to the next replica, a replica
//! whose connect fails is skipped (a killed one), and connections are bounded.
//!
//! Every connection to a replica leaves from its own loopback address (127.1.x.y): the hub
//! bounds connections per client address (16), and behind one proxy address the whole fleet
//! would share those 16. A real load balancer needs the same care (see the report).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;

/// Connections held open at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Source addresses the proxy's connections to the replicas rotate through.
const SOURCE_ADDRESSES: u32 = 2000;

#[derive(Default)]
pub struct ProxyCounts {
    pub connections: AtomicU64,
    /// Connects to a replica that failed (it was down) and were tried on the next one.
    pub skipped: AtomicU64,
    /// Client connections closed because no replica answered.
    pub refused: AtomicU64,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub counts: Arc<ProxyCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `backends` in turn.
    pub async fn start(backends: Vec<SocketAddr>) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(ProxyCounts::default());
        let task = tokio::spawn(accept_loop(listener, Arc::new(backends), counts.clone()));
        Ok(Proxy { addr, counts, task })
    }
}

async fn accept_loop(
    listener: TcpListener,
    backends: Arc<Vec<SocketAddr>>,
    counts: Arc<ProxyCounts>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let next = Arc::new(AtomicUsize::new(0));
    let mut source = 0u32;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let client = match listener.accept().await {
            Ok((c, _)) => c,
            Err(e) => {
                tracing::warn!(error = %e, "proxy accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        source = (source + 1) % SOURCE_ADDRESSES;
        let from = IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(127, 1, 0, 1)) + source,
        ));
        let (backends, next, counts) = (backends.clone(), next.clone(), counts.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let first = next.fetch_add(1, Ordering::Relaxed);
            let mut upstream = None;
            for i in 0..backends.len() {
                let to = backends[(first + i) % backends.len()];
                match connect(from, to).await {
                    Ok(s) => {
                        upstream = Some(s);
                        break;
                    }
                    Err(_) => {
                        counts.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let Some(mut upstream) = upstream else {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let mut client = client;
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

async fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}
