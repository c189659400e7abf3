//! Whether a connection is working on a request: from the moment its headers are read until
//! its answer's body has been handed whole to the connection. A client network that holds all
//! its connections may have one that is idle (no request yet, between requests, or an answer
//! only waiting for its client to read it) and unproven closed for a newcomer of that network
//! (`connection_slots.rs`): one machine behind a college's NAT that opens its address's share
//! and sends nothing, or asks and never reads, must not keep that college's kiosks out. A
//! connection whose request is in hand (a login being checked, an answer still streaming) is
//! busy and is not closed for its own network's newcomer: cutting work half done helps nobody.
//! (With the whole hub full, the most crowded network gives up an idle unproven connection
//! first and a busy one only if it has no idle one.) The check and the close are not one
//! step: a request that begins in between on a connection just chosen is cut with it.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// How many requests a connection has in hand (HTTP/1.1 serves one at a time; the count
/// keeps a pipelined next one from reading as idle too early).
#[derive(Clone, Default)]
pub struct Busy(Arc<AtomicUsize>);

impl Busy {
    pub fn idle(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }

    pub(crate) fn start(&self) -> Working {
        self.0.fetch_add(1, Ordering::Relaxed);
        Working(self.clone())
    }
}

/// One request in hand; done when dropped (answered whole, or the connection gone).
pub(crate) struct Working(Busy);

impl Drop for Working {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
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

    #[test]
    fn a_connection_is_busy_until_its_answer_is_done_with() {
        let busy = Busy::default();
        assert!(busy.idle());
        let answer = Answering {
            body: Body::from("an answer"),
            _working: busy.start(),
        };
        let pipelined = busy.start();
        assert!(!busy.idle(), "headers read, answer not yet sent");
        // hyper drops the body once its last byte is written (or the connection is gone)
        drop(answer);
        assert!(!busy.idle(), "the next request is still in hand");
        drop(pipelined);
        assert!(busy.idle());
    }
}
