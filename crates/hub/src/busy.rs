//! Whether a connection is working on a request, from the moment its headers are read until
//! its answer's body has been handed whole to the connection, and for how long it has been
//! idle or busy. A client network that holds all its connections may have an unproven one
//! closed for its own newcomer (`connection_slots.rs`) once it has sat idle a moment (no
//! request yet, between requests, or an answer only waiting for its client to read it), or
//! once it has been open longer than an honest client takes to prove itself, busy or not: one
//! machine behind a college's NAT that opens its address's share and sends nothing, or sends
//! login bodies a byte at a time (a helper's probe, session 41: 0 of 150 kiosk requests got
//! through), must not keep that college's kiosks out. The check and the close are not one
//! step: a request that begins in between on a connection just chosen is cut with it.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Whether a connection has requests in hand, and since when.
#[derive(Clone)]
pub struct Busy(Arc<Mutex<InHand>>);

struct InHand {
    /// How many requests are in hand (HTTP/1.1 serves one at a time; the count keeps a
    /// pipelined next one from reading as idle too early).
    requests: usize,
    /// When the connection last went from busy to idle or from idle to busy (or opened).
    since: Instant,
}

/// What a connection is doing, and for how long it has been doing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Idle(Duration),
    Busy(Duration),
}

impl Busy {
    /// A connection opened now, idle.
    pub fn new() -> Busy {
        Busy(Arc::new(Mutex::new(InHand {
            requests: 0,
            since: Instant::now(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, InHand> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn activity(&self, now: Instant) -> Activity {
        let in_hand = self.lock();
        let lasted = now.saturating_duration_since(in_hand.since);
        if in_hand.requests == 0 {
            Activity::Idle(lasted)
        } else {
            Activity::Busy(lasted)
        }
    }

    pub(crate) fn start(&self) -> Working {
        let mut in_hand = self.lock();
        if in_hand.requests == 0 {
            in_hand.since = Instant::now();
        }
        in_hand.requests += 1;
        Working(self.clone())
    }
}

/// One request in hand; done when dropped (answered whole, or the connection gone).
pub(crate) struct Working(Busy);

impl Drop for Working {
    fn drop(&mut self) {
        let mut in_hand = self.0.lock();
        in_hand.requests = in_hand.requests.saturating_sub(1);
        if in_hand.requests == 0 {
            in_hand.since = Instant::now();
        }
    }
}

/// Marks the request's connection busy until the answer's body is done with.
pub(super) async fn track(request: Request, next: Next) -> Response {
    let Some(working) = request.extensions().get::<Busy>().map(Busy::start) else {
        return next.run(request).await;
    };
    next.run(request).await.map(|body| {
        Body::new(Answering {
            body,
            _working: working,
        })
    })
}

/// An answer's body that holds its connection's `Working` until it ends or is dropped.
struct Answering {
    body: Body,
    /// Held, not read: its drop is the answer's end.
    _working: Working,
}

impl HttpBody for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(busy: &Busy) -> bool {
        matches!(busy.activity(Instant::now()), Activity::Idle(_))
    }

    #[test]
    fn a_connection_is_busy_until_its_answer_is_done_with() {
        let busy = Busy::new();
        assert!(idle(&busy));
        let answer = Answering {
            body: Body::from("an answer"),
            _working: busy.start(),
        };
        let pipelined = busy.start();
        assert!(!idle(&busy), "headers read, answer not yet sent");
        // hyper drops the body once its last byte is written (or the connection is gone)
        drop(answer);
        assert!(!idle(&busy), "the next request is still in hand");
        drop(pipelined);
        assert!(idle(&busy));
    }

    #[test]
    fn how_long_a_connection_has_been_idle_or_busy() {
        let busy = Busy::new();
        let later = Instant::now() + Duration::from_secs(4);
        assert!(matches!(busy.activity(later), Activity::Idle(d) if d >= Duration::from_secs(4)));
        let working = busy.start();
        assert!(matches!(busy.activity(later), Activity::Busy(d) if d >= Duration::from_secs(3)));
        // a pipelined request does not restart the clock: the connection never went idle
        let next = busy.start();
        drop(working);
        assert!(matches!(busy.activity(later), Activity::Busy(d) if d >= Duration::from_secs(3)));
        drop(next);
        assert!(matches!(busy.activity(later), Activity::Idle(d) if d >= Duration::from_secs(3)));
        assert!(
            matches!(busy.activity(Instant::now()), Activity::Idle(d) if d < Duration::from_secs(1))
        );
    }
}
