//! Who holds the hub's connections. Each client network (`server::client_network`) may hold
//! a few; all together at most the total. A stranger with many addresses (256 loopback or
//! IPv6 addresses are free to take) could still fill the total with a few connections from
//! each, and every kiosk would then be turned away at the door. So a connection from a network
//! holding fewer than the heaviest one does not wait for a place: the heaviest network's
//! oldest connection that has not proven itself (no request on it authenticated yet: `Proof`,
//! set by `auth.rs`) is closed to make it (a fair share: crowding the hub only ever costs the
//! crowd its own connections). A kiosk's or a reviewer's connection, once a request on it was
//! authenticated, is never closed for another: a helper's probe (session 40) cut 460 kiosk
//! requests and an upload mid-body when any oldest connection gave way. A network at its own
//! share makes room the same way inside itself, from its oldest unproven connection that has
//! sat idle a moment (`busy.rs`) or has been open longer than an honest client takes to prove
//! itself: a kiosk behind a college's NAT is not kept out by a machine beside it that opens
//! the address's share and sends nothing, sends login bodies a byte at a time, or keeps each
//! connection busy with small requests (a helper's review, session 42: a request every 0.9 s
//! kept connections from ever reading idle or stalled). That machine can still compete for
//! the places its own connections give back; it cannot hold them.

use super::busy::{Activity, Busy};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// How long a connection that had another closed for it waits for that one's place.
const EVICTION_WAIT: Duration = Duration::from_secs(2);

/// How long an unproven connection sits idle before a newcomer may take its place: a kiosk's
/// fresh connection is idle through its TLS handshake (a few round trips of up to half a
/// second on a mobile link), and a stranger's next connection must not take it then.
const IDLE_GRACE: Duration = Duration::from_secs(2);

/// How long a connection may stay unproven before its network's newcomer may take its place,
/// busy or not: a kiosk proves itself with its first request, a reviewer with a login (one
/// packet of body, argon2, an answer slowed by at most 2 s).
const UNPROVEN_FOR: Duration = Duration::from_secs(3);

pub struct Connections {
    total: Arc<Semaphore>,
    per_network: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Each network's connections, oldest first.
    by_network: HashMap<IpAddr, VecDeque<Holder>>,
    next_id: u64,
}

struct Holder {
    id: u64,
    opened: Instant,
    close: Arc<Notify>,
    proof: Proof,
    busy: Busy,
}

/// Which unproven connection may be closed to make room when none has sat idle or stalled:
/// none for its own network's newcomer, but any for another network's when the whole hub is
/// full (a crowd that keeps every connection working still gives way).
#[derive(Clone, Copy)]
enum Otherwise {
    NoneGoes,
    AnyUnprovenGoes,
}

/// Whether a request on a connection was authenticated (a kiosk's token, a login's session):
/// such a connection is never closed to make room for another.
#[derive(Clone, Default)]
pub struct Proof(Arc<AtomicBool>);

impl Proof {
    pub fn prove(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn proven(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One connection's place; given back when dropped.
pub struct ConnectionSlot {
    owner: Arc<Connections>,
    network: IpAddr,
    id: u64,
    /// Notified when the connection is closed to make room for another.
    pub close: Arc<Notify>,
    /// Set once a request on the connection is authenticated.
    pub proof: Proof,
    /// Whether a request on the connection is in hand (`busy.rs`).
    pub busy: Busy,
    permit: Option<OwnedSemaphorePermit>,
}

impl Connections {
    pub fn new(total: usize, per_network: usize) -> Arc<Connections> {
        Arc::new(Connections {
            total: Arc::new(Semaphore::new(total)),
            per_network,
            held: Mutex::new(Held::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place in the total with no network yet (a trusted balancer's connection, counted
    /// against its client once the PROXY header names it).
    pub fn take_unnamed(&self) -> Option<OwnedSemaphorePermit> {
        self.total.clone().try_acquire_owned().ok()
    }

    /// A slot for `network`'s connection, or None when there is no place and no unproven
    /// connection to take one from. Without a place in the total, the slot comes without it:
    /// [`ConnectionSlot::admitted`] waits for the place of the connection closed for it.
    pub fn take(self: &Arc<Self>, network: IpAddr) -> Option<ConnectionSlot> {
        self.take_at(network, Instant::now())
    }

    fn take_at(self: &Arc<Self>, network: IpAddr, now: Instant) -> Option<ConnectionSlot> {
        let permit = self.total.clone().try_acquire_owned().ok();
        let mut held = self.lock();
        let own = held.by_network.get(&network).map_or(0, VecDeque::len);
        // a network holding its share makes room in it from its own unproven connections
        // that sit idle or stalled: a machine behind the same NAT as a college's kiosks that
        // opens the share and sends nothing, or trickles, must not keep them out
        let made_room = own >= self.per_network;
        if made_room {
            Self::close_unproven(&mut held, network, Otherwise::NoneGoes, now)?;
            tracing::debug!(network = %network, "an idle or stalled connection closed to make room for its own network's newcomer");
        }
        if permit.is_none() && !made_room {
            // the heaviest network with an unproven connection gives up its oldest, if it
            // holds more than this one (among equals nobody gives way: that would only trade
            // places); between networks holding as many, the one whose unproven connection is
            // oldest gives way
            let heaviest = held
                .by_network
                .iter()
                .filter(|(_, c)| c.len() > own)
                .filter_map(|(n, c)| {
                    let oldest = c.iter().find(|h| !h.proof.proven())?;
                    Some((c.len(), std::cmp::Reverse(oldest.id), *n))
                })
                .max()
                .map(|(_, _, n)| n)?;
            Self::close_unproven(&mut held, heaviest, Otherwise::AnyUnprovenGoes, now)?;
            tracing::debug!(network = %heaviest, "connection closed to make room for a less crowded network");
        }
        Some(Self::register(self, &mut held, network, permit))
    }

    /// Closes `network`'s oldest connection on which nothing was authenticated and that has
    /// sat idle past [`IDLE_GRACE`] or been open past [`UNPROVEN_FOR`]; failing that, what
    /// `otherwise` says. None if there is none to close.
    fn close_unproven(
        held: &mut Held,
        network: IpAddr,
        otherwise: Otherwise,
        now: Instant,
    ) -> Option<()> {
        let list = held.by_network.get_mut(&network)?;
        let unproductive = list.iter().position(|h| {
            !h.proof.proven()
                && (now.saturating_duration_since(h.opened) > UNPROVEN_FOR
                    || matches!(h.busy.activity(now), Activity::Idle(lasted) if lasted > IDLE_GRACE))
        });
        let at = match otherwise {
            Otherwise::NoneGoes => unproductive,
            Otherwise::AnyUnprovenGoes => {
                unproductive.or_else(|| list.iter().position(|h| !h.proof.proven()))
            }
        }?;
        let closed = list.remove(at)?;
        closed.close.notify_one();
        Some(())
    }

    /// A slot for `network` with the total's place already taken (a balancer's connection).
    pub fn take_with(
        self: &Arc<Self>,
        network: IpAddr,
        permit: OwnedSemaphorePermit,
    ) -> Option<ConnectionSlot> {
        let mut held = self.lock();
        if held.by_network.get(&network).map_or(0, VecDeque::len) >= self.per_network {
            Self::close_unproven(&mut held, network, Otherwise::NoneGoes, Instant::now())?;
        }
        Some(Self::register(self, &mut held, network, Some(permit)))
    }

    fn register(
        self: &Arc<Self>,
        held: &mut Held,
        network: IpAddr,
        permit: Option<OwnedSemaphorePermit>,
    ) -> ConnectionSlot {
        held.next_id += 1;
        let id = held.next_id;
        let close = Arc::new(Notify::new());
        let proof = Proof::default();
        let busy = Busy::new();
        held.by_network
            .entry(network)
            .or_default()
            .push_back(Holder {
                id,
                opened: Instant::now(),
                close: close.clone(),
                proof: proof.clone(),
                busy: busy.clone(),
            });
        ConnectionSlot {
            owner: self.clone(),
            network,
            id,
            close,
            proof,
            busy,
            permit,
        }
    }
}

impl ConnectionSlot {
    /// Whether the connection has its place in the total, waiting a moment for the one closed
    /// for it to give its place back.
    pub async fn admitted(&mut self) -> bool {
        if self.permit.is_some() {
            return true;
        }
        let total = self.owner.total.clone();
        match tokio::time::timeout(EVICTION_WAIT, total.acquire_owned()).await {
            Ok(Ok(permit)) => {
                self.permit = Some(permit);
                true
            }
            _ => false,
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut held = self.owner.lock();
        if let Some(list) = held.by_network.get_mut(&self.network) {
            list.retain(|h| h.id != self.id);
            if list.is_empty() {
                held.by_network.remove(&self.network);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[tokio::test]
    async fn a_full_hub_closes_the_crowdings_oldest_unproven_for_a_newcomer() {
        let c = Connections::new(4, 3);
        let mut crowd: Vec<ConnectionSlot> = Vec::new();
        for n in [1, 1, 2, 2] {
            let mut s = c.take(net(n)).unwrap();
            assert!(s.admitted().await);
            crowd.push(s);
        }
        // a kiosk's token was read on the first network's oldest: it stays
        crowd[0].proof.prove();
        let mut newcomer = c.take(net(3)).unwrap();
        let closed = crowd.remove(1);
        tokio::time::timeout(Duration::from_secs(1), closed.close.notified())
            .await
            .unwrap();
        drop(closed);
        assert!(newcomer.admitted().await);
        // the second network holds 2 now, the heaviest: its oldest gives way next
        let _second = c.take(net(4)).unwrap();
        tokio::time::timeout(Duration::from_secs(1), crowd[1].close.notified())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_network_at_its_share_makes_room_from_its_own_idle_unproven() {
        let c = Connections::new(10, 3);
        let held: Vec<ConnectionSlot> = (0..3).map(|_| c.take(net(1)).unwrap()).collect();
        // just opened: even idle ones are given a moment (a kiosk's TLS handshake)
        assert!(c.take(net(1)).is_none());
        // the oldest is a kiosk's (proven), the next has a request in hand (busy): a moment
        // later the third, idle and unproven, gives way
        held[0].proof.prove();
        let in_hand = held[1].busy.start();
        let later = Instant::now() + IDLE_GRACE + Duration::from_millis(100);
        let newcomer = c.take_at(net(1), later).expect("room made");
        tokio::time::timeout(Duration::from_secs(1), held[2].close.notified())
            .await
            .unwrap();
        // the newcomer is in its moment of grace and the one in hand still works: refused
        assert!(c.take(net(1)).is_none());
        // unproven for longer than an honest client takes, working or not: it gives way
        let stalled = Instant::now() + UNPROVEN_FOR + Duration::from_millis(100);
        let _last = c.take_at(net(1), stalled).expect("room made");
        tokio::time::timeout(Duration::from_secs(1), held[1].close.notified())
            .await
            .unwrap();
        // with every one proven or working, the network is refused
        let c = Connections::new(10, 2);
        let a = c.take(net(2)).unwrap();
        let b = c.take(net(2)).unwrap();
        a.proof.prove();
        let _b_working = b.busy.start();
        assert!(c.take_at(net(2), later).is_none());
        drop((in_hand, newcomer));
    }

    #[tokio::test]
    async fn a_network_holding_as_many_as_the_heaviest_waits_its_turn() {
        let c = Connections::new(2, 2);
        let _a = c.take(net(1)).unwrap();
        let _b = c.take(net(2)).unwrap();
        assert!(
            c.take(net(3)).is_some(),
            "1 against 0: the oldest gives way"
        );
        let c = Connections::new(2, 2);
        let _a = c.take(net(1)).unwrap();
        let _b = c.take(net(2)).unwrap();
        assert!(c.take(net(1)).is_none(), "1 against 1: nobody gives way");
    }
}
