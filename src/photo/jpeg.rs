//! JPEG output to a spec's file-size window: the quality is searched (never padded), and the
//! dpi is written into the JFIF header.

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::RgbImage;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum JpegError {
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
    #[error("even at quality {quality} the photo is {bytes} bytes, over the {max}-byte limit")]
    TooLarge {
        quality: u8,
        bytes: usize,
        max: usize,
    },
    #[error("even at quality 100 the photo is {bytes} bytes, under the {min}-byte minimum (files are never padded)")]
    TooSmall { bytes: usize, min: usize },
}

pub fn encode(img: &RgbImage, quality: u8, dpi: u16) -> Result<Vec<u8>, JpegError> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut enc = JpegEncoder::new_with_quality(&mut out, quality);
    enc.set_pixel_density(PixelDensity::dpi(dpi));
    enc.encode_image(img)
        .map_err(|e| JpegError::Encode(e.to_string()))?;
    Ok(out)
}

/// The highest quality in `[quality_min, 100]` whose file fits `[min, max]` bytes.
pub fn encode_to_window(
    img: &RgbImage,
    quality_min: u8,
    window: [usize; 2],
    dpi: u16,
) -> Result<(Vec<u8>, u8), JpegError> {
    let [min, max] = window;
    let (mut lo, mut hi) = (quality_min.max(1), 100u8);
    let at_lo = encode(img, lo, dpi)?;
    if at_lo.len() > max {
        return Err(JpegError::TooLarge {
            quality: lo,
            bytes: at_lo.len(),
            max,
        });
    }
    let mut best = (at_lo, lo);
    // file size grows with quality: find the highest quality still under the ceiling
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let bytes = encode(img, mid, dpi)?;
        if bytes.len() <= max {
            best = (bytes, mid);
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if best.0.len() < min {
        return Err(JpegError::TooSmall {
            bytes: best.0.len(),
            min,
        });
    }
    Ok(best)
}

/// The dpi in a JPEG's JFIF header, if it states one in dots per inch.
pub fn read_jfif_dpi(bytes: &[u8]) -> Option<u16> {
    // SOI, then APP0 "JFIF\0" version(2) units(1) xdensity(2) ydensity(2)
    let app0 = bytes.windows(5).position(|w| w == b"JFIF\0")?;
    let units = *bytes.get(app0 + 7)?;
    let x = u16::from_be_bytes([*bytes.get(app0 + 8)?, *bytes.get(app0 + 9)?]);
    (units == 1).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured() -> RgbImage {
        RgbImage::from_fn(200, 200, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn dpi_is_written() {
        let bytes = encode(&textured(), 80, 300).unwrap();
        assert_eq!(read_jfif_dpi(&bytes), Some(300));
    }

    #[test]
    fn search_lands_in_the_window_or_says_why_not() {
        let img = textured();
        let full = encode(&img, 100, 300).unwrap().len();
        let low = encode(&img, 30, 300).unwrap().len();
        let window = [low, (low + full) / 2];
        let (bytes, q) = encode_to_window(&img, 30, window, 300).unwrap();
        assert!(
            bytes.len() >= window[0] && bytes.len() <= window[1],
            "{} q{q}",
            bytes.len()
        );
        let err = encode_to_window(&img, 30, [full + 1, full * 2], 300).unwrap_err();
        assert!(matches!(err, JpegError::TooSmall { .. }), "{err}");
        let err = encode_to_window(&img, 90, [1, 100], 300).unwrap_err();
        assert!(matches!(err, JpegError::TooLarge { .. }), "{err}");
    }
}
