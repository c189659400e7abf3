//! A request body must keep arriving at a minimum average rate once its grace period is over:
//! a stranger trickling a byte every few seconds (under the idle limit) would otherwise hold a
//! connection, and an upload slot, for the whole request limit.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The minimum average rate and how long a body may take before it is held against it.
#[derive(Clone, Copy, Debug)]
pub(super) struct MinimumRate {
    pub bytes_per_second: u64,
    pub grace: Duration,
}

pub(super) async fn enforce(request: Request, next: Next, minimum: MinimumRate) -> Response {
    let (parts, body) = request.into_parts();
    let body = Body::new(MinRate {
        inner: body,
        started: None,
        received: 0,
        minimum,
    });
    next.run(Request::from_parts(parts, body)).await
}

struct MinRate {
    inner: Body,
    /// The first time the handler asked for the body: a request waiting for an upload slot
    /// is not the sender's slowness.
    started: Option<Instant>,
    received: u64,
    minimum: MinimumRate,
}

impl MinRate {
    fn too_slow(&self) -> bool {
        let Some(started) = self.started else {
            return false;
        };
        let elapsed = started.elapsed();
        elapsed > self.minimum.grace
            && (self.received as f64) < self.minimum.bytes_per_second as f64 * elapsed.as_secs_f64()
    }
}

impl HttpBody for MinRate {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.received += data.len() as u64;
            }
        }
        // checked as each piece arrives: a trickle is cut at its first piece after the grace
        if matches!(polled, Poll::Ready(Some(Ok(_)))) && self.too_slow() {
            return Poll::Ready(Some(Err(axum::Error::new(
                "the request body arrives too slowly",
            ))));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
