//! The live preview: each camera frame mirrored (the candidate sees a mirror; the capture is
//! not) and shrunk by area averaging, in one pass, straight into pixel buffers the window
//! shows without copying. The buffers are reused in turn: once the window has let go of one
//! (it shows only the newest), writing the next frame into it allocates nothing.

use crate::imaging::area_spans;
use image::RgbImage;
use slint::{Rgb8Pixel, SharedPixelBuffer};

/// Buffers in turn: one on screen, one in the channel to the UI, one being written.
const POOL: usize = 3;

pub struct PreviewMaker {
    width: u32,
    /// The frame size the spans below were made for.
    frame_size: (u32, u32),
    /// For each preview column and row, the source columns and rows it averages.
    spans_x: Vec<(u32, u32)>,
    spans_y: Vec<(u32, u32)>,
    pool: Vec<SharedPixelBuffer<Rgb8Pixel>>,
    next: usize,
}

impl PreviewMaker {
    /// Previews about `width` pixels wide.
    pub fn new(width: u32) -> PreviewMaker {
        PreviewMaker {
            width: width.max(1),
            frame_size: (0, 0),
            spans_x: Vec::new(),
            spans_y: Vec::new(),
            pool: Vec::new(),
            next: 0,
        }
    }

    /// `frame` mirrored and shrunk to the preview width (never enlarged); an empty frame (a
    /// device's glitch) gives an empty preview.
    pub fn make(&mut self, frame: &RgbImage) -> SharedPixelBuffer<Rgb8Pixel> {
        let (fw, fh) = frame.dimensions();
        if fw == 0 || fh == 0 {
            return SharedPixelBuffer::new(0, 0);
        }
        if (fw, fh) != self.frame_size {
            let w = self.width.min(fw).max(1);
            let h = ((fh as u64 * w as u64 / fw.max(1) as u64) as u32).max(1);
            self.spans_x = area_spans(fw, w);
            self.spans_y = area_spans(fh, h);
            self.pool = (0..POOL).map(|_| SharedPixelBuffer::new(w, h)).collect();
            self.frame_size = (fw, fh);
        }
        let w = self.spans_x.len();
        let slot = self.next % POOL;
        self.next = self.next.wrapping_add(1);
        let buffer = &mut self.pool[slot];
        // copies only if the window still holds this buffer (it has fallen behind)
        let out = buffer.make_mut_slice();
        let src = frame.as_raw();
        let stride = fw as usize * 3;
        for (row, &(y0, y1)) in self.spans_y.iter().enumerate() {
            let line = &mut out[row * w..(row + 1) * w];
            for (col, px) in line.iter_mut().enumerate() {
                // mirrored: the preview's left is the frame's right
                let (x0, x1) = self.spans_x[w - 1 - col];
                let mut sum = [0u32; 3];
                for y in y0..y1 {
                    let start = y as usize * stride;
                    for p in src[start + x0 as usize * 3..start + x1 as usize * 3].chunks_exact(3) {
                        sum[0] += p[0] as u32;
                        sum[1] += p[1] as u32;
                        sum[2] += p[2] as u32;
                    }
                }
                let n = (y1 - y0) * (x1 - x0);
                *px = Rgb8Pixel::new((sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8);
            }
        }
        buffer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn the_preview_is_a_shrunk_mirror_and_reuses_its_buffers() {
        // left half red, right half blue, 1920×1080 like the kiosk camera
        let frame = RgbImage::from_fn(1920, 1080, |x, _| {
            if x < 960 {
                Rgb([200, 0, 0])
            } else {
                Rgb([0, 0, 200])
            }
        });
        let mut maker = PreviewMaker::new(720);
        let first = maker.make(&frame);
        assert_eq!((first.width(), first.height()), (720, 405));
        let px = |b: &SharedPixelBuffer<Rgb8Pixel>, x: usize| b.as_slice()[100 * 720 + x];
        assert_eq!(px(&first, 0), Rgb8Pixel::new(0, 0, 200), "mirrored");
        assert_eq!(px(&first, 719), Rgb8Pixel::new(200, 0, 0));
        let address = first.as_bytes().as_ptr();
        drop(first);
        for _ in 0..POOL - 1 {
            maker.make(&frame);
        }
        // the window let go of the first buffer: the fourth frame is written into it
        let fourth = maker.make(&frame);
        assert_eq!(fourth.as_bytes().as_ptr(), address);
        // a buffer the window still shows is not overwritten under it
        let held = maker.make(&frame);
        let held_address = held.as_bytes().as_ptr();
        for _ in 0..POOL {
            maker.make(&frame);
        }
        assert_eq!(held.as_bytes().as_ptr(), held_address);
        assert_eq!(px(&held, 0), Rgb8Pixel::new(0, 0, 200));
        // small frames are not enlarged; an empty one does not stop the camera thread
        let small = maker.make(&RgbImage::new(320, 240));
        assert_eq!((small.width(), small.height()), (320, 240));
        assert_eq!(maker.make(&RgbImage::new(0, 0)).width(), 0);
    }
}
