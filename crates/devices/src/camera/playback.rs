//! A simulated MJPEG camera: plays JPEG frames (encoded once, beforehand) at a fixed frame
//! rate, paced by the clock like a real camera. A reader that falls behind does not slow the
//! camera: the frames it missed are gone (a UVC camera overwrites its buffers) and counted.

use super::{CameraError, Frame, FrameSource};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct JpegPlayback {
    frames: Vec<Arc<[u8]>>,
    interval: Duration,
    started: Option<Instant>,
    /// Frames handed out so far.
    next: u64,
    missed: Arc<AtomicU64>,
}

impl JpegPlayback {
    /// Plays `frames` in a loop at `fps`.
    pub fn new(frames: Vec<Vec<u8>>, fps: u32) -> Self {
        Self {
            frames: frames.into_iter().map(Arc::from).collect(),
            interval: Duration::from_secs_f64(1.0 / fps.max(1) as f64),
            started: None,
            next: 0,
            missed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Frames the camera sent that nobody read in time (shared: read it while it plays).
    pub fn missed(&self) -> Arc<AtomicU64> {
        self.missed.clone()
    }
}

impl FrameSource for JpegPlayback {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.frames.is_empty() {
            return Err(CameraError::Device("the playback has no frames".into()));
        }
        let start = *self.started.get_or_insert_with(Instant::now);
        let now = Instant::now();
        // the newest frame the camera has sent by now; a reader that was late skips the rest
        let sent = (now.duration_since(start).as_secs_f64() / self.interval.as_secs_f64()) as u64;
        let index = if sent >= self.next {
            let skipped = sent - self.next;
            if skipped > 0 {
                self.missed.fetch_add(skipped, Ordering::Relaxed);
            }
            sent
        } else {
            // early: wait for the frame to be sent
            let due = start + self.interval.mul_f64(self.next as f64);
            std::thread::sleep(due.saturating_duration_since(now));
            self.next
        };
        self.next = index + 1;
        let frame = &self.frames[(index % self.frames.len() as u64) as usize];
        Ok(Frame::Jpeg(frame.clone()))
    }

    fn describe(&self) -> String {
        format!(
            "MJPEG playback, {} frames at {:.0} fps",
            self.frames.len(),
            1.0 / self.interval.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_at_the_frame_rate_and_a_late_reader_misses_some() {
        let mut cam = JpegPlayback::new(vec![vec![1], vec![2], vec![3]], 100);
        let t = Instant::now();
        for _ in 0..5 {
            cam.next_frame().unwrap();
        }
        // five frames at 100 fps: the fifth is due 40 ms after the first
        assert!(
            t.elapsed() >= Duration::from_millis(35),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(cam.missed().load(Ordering::Relaxed), 0);
        std::thread::sleep(Duration::from_millis(55));
        let Frame::Jpeg(bytes) = cam.next_frame().unwrap() else {
            panic!("not a JPEG frame")
        };
        assert!(cam.missed().load(Ordering::Relaxed) >= 3);
        assert_eq!(bytes.len(), 1);
    }
}
