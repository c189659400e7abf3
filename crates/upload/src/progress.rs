//! Watching a request for progress instead of timing it as a whole: a 4 MB record behind a
//! 100 KB/s link needs 40 s and is fine as long as bytes keep moving, while a link that stopped
//! must be given up within the patience whatever the record's size.
//!
//! Three watchers, because no single one sees everything:
//! - the request body is handed to the connection in small chunks ([`ProgressBody`]); while
//!   chunks are taken the link is moving, and `patience` without one is a stall;
//! - the kernel holds what was handed over but not yet delivered (on Linux up to ~4 MB per
//!   connection) and the uploader cannot see it drain, so the socket's `TCP_USER_TIMEOUT`
//!   (set by the client) aborts a connection whose sent data stays unacknowledged, or stuck
//!   behind a closed window, for `patience`;
//! - once the whole body is handed over, the answer is awaited for `patience` plus the time
//!   the body would take at [`SLOWEST_LINK_BYTES_PER_S`]: enough for the kernel's buffers to
//!   drain on a slow link, and still an end for a hub that took everything and never answers.

use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The slowest link an upload is waited for once its body is with the kernel (128 kbit/s).
pub const SLOWEST_LINK_BYTES_PER_S: u64 = 16 * 1024;

/// Chunks small enough that a slow link takes one every fraction of a second.
const CHUNK: usize = 16 * 1024;

/// How far one request got: bytes handed to the connection and when the last ones went.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    total: u64,
    sent: AtomicU64,
    /// Milliseconds after `started` when a chunk was last taken.
    last_ms: AtomicU64,
}

impl Progress {
    pub fn new(total: u64) -> Arc<Progress> {
        Arc::new(Progress {
            started: Instant::now(),
            total,
            sent: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        })
    }

    fn mark(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::SeqCst);
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::SeqCst);
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    fn last_moved(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::SeqCst))
    }

    /// When the request counts as stalled if no answer has come by then: `patience` after the
    /// last chunk while the body is being sent; after the whole body was handed over,
    /// `patience` plus the body's time at the slowest link (see the module's comment).
    pub fn deadline(&self, patience: Duration) -> Instant {
        let last = self.last_moved();
        if self.sent() < self.total {
            last + patience
        } else {
            last + patience + drain_allowance(self.total)
        }
    }
}

/// How long `bytes` already handed to the kernel may take to reach the hub on a slow link.
pub fn drain_allowance(bytes: u64) -> Duration {
    Duration::from_millis(bytes.saturating_mul(1000) / SLOWEST_LINK_BYTES_PER_S)
}

/// A request body that reports each chunk the connection takes.
pub struct ProgressBody {
    data: Bytes,
    at: usize,
    progress: Arc<Progress>,
}

impl ProgressBody {
    pub fn new(data: impl Into<Bytes>, progress: Arc<Progress>) -> Self {
        ProgressBody {
            data: data.into(),
            at: 0,
            progress,
        }
    }
}

impl Body for ProgressBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.at >= self.data.len() {
            return Poll::Ready(None);
        }
        let end = (self.at + CHUNK).min(self.data.len());
        let chunk = self.data.slice(self.at..end);
        self.at = end;
        self.progress.mark(chunk.len());
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.at >= self.data.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.at) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_follows_the_last_chunk_then_allows_for_the_drain() {
        let p = Progress::new(40 * 1024);
        let patience = Duration::from_secs(2);
        let start = p.started;
        assert_eq!(p.deadline(patience), start + patience);
        p.mark(16 * 1024);
        assert!(p.deadline(patience) < start + patience + Duration::from_millis(100));
        p.mark(24 * 1024);
        // all handed over: 40 KiB at 16 KiB/s may still be in the kernel for 2.5 s
        let d = p.deadline(patience) - p.last_moved();
        assert_eq!(d, patience + Duration::from_millis(2500));
    }

    #[test]
    fn the_body_goes_in_chunks_and_says_its_size() {
        let p = Progress::new(40_000);
        let mut body = ProgressBody::new(vec![7u8; 40_000], p.clone());
        assert_eq!(body.size_hint().exact(), Some(40_000));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut got = 0;
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            let n = frame.into_data().map(|d| d.len()).unwrap_or(0);
            assert!(n <= CHUNK);
            got += n;
        }
        assert_eq!((got, p.sent()), (40_000, 40_000));
        assert!(body.is_end_stream());
    }
}
