//! A connection whose client stops reading: hyper writes the answers of every request it was
//! sent, pipelined or not, and waits for room in the socket for as long as it takes. None of
//! the read limits cover that wait, so a stranger who sends a hundred requests and never reads
//! held the connection, its address's slot and the kernel's send buffers for good (a helper's
//! probe, session 37: 16 such sockets held 45 MB of unsent answers on loopback after 390 s).
//! Here a write that makes no progress for the limit ends the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `inner`, whose writes fail with `TimedOut` once one has waited `limit` without a byte
/// going out.
pub(crate) struct WriteStall<S> {
    inner: S,
    limit: Duration,
    /// When the wait that began with the first write left pending ends; none while writes go
    /// through.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteStall<S> {
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        WriteStall {
            inner,
            limit,
            deadline: None,
        }
    }

    /// What a write's poll answers: its own answer when it has one (progress: the wait is
    /// over), else pending until the wait has lasted the limit.
    fn watch<T>(
        &mut self,
        polled: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.deadline = None;
            return polled;
        }
        let limit = self.limit;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading its answers",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(polled, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(polled, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_limit() {
        // a pipe with room for 16 bytes, its far end never read
        let (near, _far) = tokio::io::duplex(16);
        let mut stalled = WriteStall::new(near, LIMIT);
        let started = std::time::Instant::now();
        let e = stalled.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= LIMIT);
    }

    #[tokio::test]
    async fn a_write_read_slowly_but_steadily_goes_through() {
        // each wait for room is shorter than the limit, all of them together much longer
        let (near, mut far) = tokio::io::duplex(16);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let mut got = 0;
            while got < 256 {
                tokio::time::sleep(LIMIT / 6).await;
                got += far.read(&mut buf).await.unwrap();
            }
        });
        let mut read = WriteStall::new(near, LIMIT);
        let started = std::time::Instant::now();
        read.write_all(&[0u8; 256]).await.unwrap();
        read.flush().await.unwrap();
        assert!(started.elapsed() > LIMIT * 2);
        reader.await.unwrap();
    }
}
