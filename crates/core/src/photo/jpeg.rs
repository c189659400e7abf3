//! JPEG output to a spec's file-size window: the quality is searched (never padded), and the
//! dpi is written into the JFIF header.

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

/// Encodes with libjpeg-turbo (through mozjpeg, already in the tree for the camera): baseline,
/// 4:2:0, optimised Huffman tables. The quality search encodes a photo six or seven times;
/// the pure-Rust encoder took 111 ms for them on a 480×640 photo.
pub fn encode(img: &RgbImage, quality: u8, dpi: u16) -> Result<Vec<u8>, JpegError> {
    let (w, h) = img.dimensions();
    // libjpeg reports errors by unwinding out of its callbacks
    let encoded = std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        // libjpeg-turbo's own settings, not mozjpeg's slow trellis search
        c.set_fastest_defaults();
        c.set_size(w as usize, h as usize);
        c.set_quality(quality.clamp(1, 100) as f32);
        c.set_optimize_coding(true);
        c.set_pixel_density(mozjpeg::PixelDensity {
            unit: mozjpeg::PixelDensityUnit::Inches,
            x: dpi,
            y: dpi,
        });
        let mut started = c.start_compress(Vec::with_capacity(64 * 1024))?;
        started.write_scanlines(img.as_raw())?;
        started.finish()
    });
    match encoded {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(JpegError::Encode(e.to_string())),
        Err(_) => Err(JpegError::Encode("the encoder gave up".into())),
    }
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
