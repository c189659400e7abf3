//! One camera frame as the camera sent it. A UVC camera at 1080p and 30 fps sends MJPEG; the
//! live screen needs a fraction of those pixels and the capture all of them, so a JPEG frame
//! stays compressed until someone asks for pixels, at the size they need: libjpeg-turbo
//! (through mozjpeg, already in the tree for nokhwa) scales in its inverse DCT, so a frame
//! decoded at half or a quarter of its width costs a fraction of a full decode.

use super::CameraError;
use capture_core::imaging::decode_jpeg_strict;
use image::RgbImage;
use std::sync::Arc;

/// Frames wider or taller than this are not from a camera the kiosk supports: refused before
/// decoding, so a garbled header cannot ask for gigabytes.
const MAX_SIDE: usize = 8192;

/// A frame from a camera: pixels already (a simulator, a YUYV camera), or a JPEG.
#[derive(Clone, Debug)]
pub enum Frame {
    Rgb(Arc<RgbImage>),
    Jpeg(Arc<[u8]>),
}

impl From<RgbImage> for Frame {
    fn from(img: RgbImage) -> Self {
        Frame::Rgb(Arc::new(img))
    }
}

/// The width a `width`-pixel JPEG decodes to at the smallest DCT scale (8/8, 4/8, 2/8 or
/// 1/8) that keeps at least `min_width` pixels.
pub fn scaled_width(width: u32, min_width: u32) -> u32 {
    scale_for(width, min_width).1
}

fn scale_for(width: u32, min_width: u32) -> (u8, u32) {
    for eighths in [1u8, 2, 4] {
        let w = (width as u64 * eighths as u64).div_ceil(8) as u32;
        if w >= min_width {
            return (eighths, w);
        }
    }
    (8, width)
}

impl Frame {
    /// The frame's pixels, at least `min_width` wide where the frame is that wide: a JPEG is
    /// decoded at the smallest DCT scale that keeps that width; pixels are shared as they are.
    pub fn pixels_at_least(&self, min_width: u32) -> Result<Arc<RgbImage>, CameraError> {
        match self {
            Frame::Rgb(img) => Ok(img.clone()),
            Frame::Jpeg(bytes) => decode_jpeg(bytes, min_width).map(Arc::new),
        }
    }

    /// Every pixel (the capture the checks and the photo are made from).
    pub fn full(&self) -> Result<Arc<RgbImage>, CameraError> {
        self.pixels_at_least(u32::MAX)
    }

    /// The frame as a JPEG file: a camera's own bytes as they came (no second compression),
    /// pixels encoded at `quality`.
    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, CameraError> {
        match self {
            Frame::Jpeg(bytes) => Ok(bytes.to_vec()),
            Frame::Rgb(img) => {
                let mut out = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                    .encode_image(img.as_ref())
                    .map_err(|e| CameraError::Device(format!("encoding a frame: {e}")))?;
                Ok(out)
            }
        }
    }
}

/// Decodes a camera's JPEG at the DCT scale that keeps at least `min_width` pixels across.
fn decode_jpeg(bytes: &[u8], min_width: u32) -> Result<RgbImage, CameraError> {
    let bad = |e: String| CameraError::Device(format!("a damaged frame from the camera: {e}"));
    // libjpeg fills a cut-off frame with grey and carries on: a frame cut short on the USB
    // link must not be guided on, let alone become a capture
    if !capture_core::imaging::has_jpeg_end(bytes) {
        return Err(bad("cut off before its end marker".into()));
    }
    // libjpeg reports errors by unwinding out of its callbacks, and a frame whose data stops
    // before its last block (packets lost on the link, the end marker still sent) as one: a
    // damaged frame costs one frame, never the camera thread
    let (w, h, pixels) =
        decode_jpeg_strict(bytes, MAX_SIDE, |w, _| scale_for(w as u32, min_width).0)
            .map_err(|e| bad(e.to_string()))?;
    RgbImage::from_raw(w as u32, h as u32, pixels).ok_or_else(|| bad("short of pixels".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_of(img: &RgbImage) -> Frame {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(img)
            .unwrap();
        Frame::Jpeg(out.into())
    }

    #[test]
    fn a_frame_whose_packets_were_lost_is_refused_though_its_end_marker_came() {
        let img = RgbImage::from_fn(1280, 720, |x, y| {
            image::Rgb([(x / 5) as u8, (y / 3) as u8, 60])
        });
        let Frame::Jpeg(whole) = jpeg_of(&img) else {
            unreachable!()
        };
        let lost = [&whole[..whole.len() * 2 / 3], &[0xFF, 0xD9][..]].concat();
        let frame = Frame::Jpeg(lost.into());
        for min_width in [320, u32::MAX] {
            let r = frame.pixels_at_least(min_width);
            assert!(
                matches!(&r, Err(CameraError::Device(m)) if m.contains("stops before")),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_jpeg_frame_decodes_at_the_smallest_scale_that_keeps_the_width() {
        let img = RgbImage::from_fn(1920, 1080, |x, _| image::Rgb([(x / 8) as u8, 90, 200]));
        let frame = jpeg_of(&img);
        assert_eq!(frame.pixels_at_least(640).unwrap().dimensions(), (960, 540));
        assert_eq!(
            frame.pixels_at_least(961).unwrap().dimensions(),
            (1920, 1080)
        );
        assert_eq!(frame.pixels_at_least(200).unwrap().dimensions(), (240, 135));
        let full = frame.full().unwrap();
        assert_eq!(full.dimensions(), (1920, 1080));
        // the colours survive the round trip
        let p = full.get_pixel(800, 500).0;
        assert!(
            (p[0] as i32 - 100).abs() < 6 && (p[2] as i32 - 200).abs() < 6,
            "{p:?}"
        );
        assert_eq!(scaled_width(1920, 640), 960);
        assert_eq!(scaled_width(640, 640), 640);
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_crash() {
        let Frame::Jpeg(good) = jpeg_of(&RgbImage::new(64, 48)) else {
            unreachable!()
        };
        for bad in [
            &b"not a jpeg"[..],
            &good[..20],
            &[0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xFF, 0xFF, 0xFF],
        ] {
            assert!(Frame::Jpeg(bad.into()).pixels_at_least(32).is_err());
        }
        // pixels pass through without a copy
        let img = Arc::new(RgbImage::new(4, 4));
        let shared = Frame::Rgb(img.clone()).pixels_at_least(640).unwrap();
        assert!(Arc::ptr_eq(&img, &shared));
    }
}
