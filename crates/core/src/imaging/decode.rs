//! Decoding untrusted image bytes into RGB with bounded memory and EXIF orientation applied.

use super::jpeg_scan::{jpeg_is_complete, JpegFault};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use std::io::Cursor;
use thiserror::Error;

/// Bounds that keep a decompression bomb from taking the kiosk's memory.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    pub max_file_bytes: usize,
    pub max_side: u32,
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        // 12000 px covers every camera the kiosk will meet; 512 MiB bounds the decoder.
        Self {
            max_file_bytes: 64 << 20,
            max_side: 12_000,
            max_alloc_bytes: 512 << 20,
        }
    }
}

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("文件是空的 / the file is empty")]
    Empty,
    #[error("文件有 {0} 字节，超过允许的 {1} 字节 / the file is {0} bytes, more than the {1} bytes allowed")]
    TooLarge(usize, usize),
    #[error("不是可识别格式的图片（JPEG、PNG、TIFF、WebP、BMP、GIF） / not an image in a known format (JPEG, PNG, TIFF, WebP, BMP, GIF)")]
    UnknownFormat,
    #[error("图片声明为 {0}×{1} 像素，边长超过允许的 {2} 像素 / the image declares {0}×{1} pixels, more than the {2}-pixel side allowed")]
    TooManyPixels(u32, u32, u32),
    #[error("文件不完整：图像数据在图片结束之前中断，请重新拍摄或重新复制 / the file is truncated: its image data stops before the end of the picture; take or copy it again")]
    Truncated,
    #[error("图片已损坏或不完整（{0}） / the image is damaged or truncated: {0}")]
    Corrupt(String),
}

/// Decodes `bytes` into 8-bit RGB. Grayscale, 16-bit and CMYK inputs are converted; transparent
/// pixels are laid on white, as a viewer shows a cut-out portrait on a page; the EXIF
/// orientation is applied so the face is upright as the photographer saw it.
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_file_bytes {
        return Err(DecodeError::TooLarge(bytes.len(), limits.max_file_bytes));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let is_jpeg = match reader.format() {
        None => return Err(DecodeError::UnknownFormat),
        // the JPEG decoder quietly fills a cut-off file with grey; a kiosk must not check half
        // a photo, so a JPEG without its end marker near the end is refused
        Some(image::ImageFormat::Jpeg) if !has_jpeg_end(bytes) => {
            return Err(DecodeError::Truncated)
        }
        Some(format) => format == image::ImageFormat::Jpeg,
    };
    // read the declared size from the header first: a bomb is named as one, before any allocation
    if let Ok((w, h)) = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ())
        .and_then(|r| r.into_dimensions().map_err(|_| ()))
    {
        if w > limits.max_side || h > limits.max_side {
            return Err(DecodeError::TooManyPixels(w, h, limits.max_side));
        }
    }
    // and a JPEG whose data stops short of the picture's last block, though an end marker was
    // put after the cut
    if is_jpeg {
        match jpeg_is_complete(bytes, limits.max_side as usize) {
            Ok(()) => {}
            Err(JpegFault::CutShort) => return Err(DecodeError::Truncated),
            Err(JpegFault::Damaged(why)) => return Err(DecodeError::Corrupt(why)),
        }
    }
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(l);
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (w, h) = decoder.dimensions();
    if w > limits.max_side || h > limits.max_side {
        return Err(DecodeError::TooManyPixels(w, h, limits.max_side));
    }
    if w == 0 || h == 0 {
        return Err(DecodeError::Corrupt("zero-sized image".into()));
    }
    // A broken EXIF block is not worth refusing the photo for: keep it upright as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    img.apply_orientation(orientation);
    Ok(match img {
        // grey with alpha is laid on white as it is, not first widened to four channels (a
        // 12000-pixel-side picture would take another 576 MB)
        DynamicImage::ImageLumaA8(la) => over_white(
            la.dimensions(),
            la.pixels().map(|p| {
                let [l, a] = p.0;
                [l, l, l, a]
            }),
        ),
        DynamicImage::ImageRgba8(rgba) => over_white(rgba.dimensions(), rgba.pixels().map(|p| p.0)),
        other if other.color().has_alpha() => {
            let rgba = other.into_rgba8();
            over_white(rgba.dimensions(), rgba.pixels().map(|p| p.0))
        }
        other => other.into_rgb8(),
    })
}

/// Lays a picture with transparency on white. Dropping the alpha instead would show whatever
/// colour the transparent pixels happen to store (black, in most cut-outs), which no person who
/// opens the file sees, and the checks would judge a background that is not there.
fn over_white((w, h): (u32, u32), pixels: impl Iterator<Item = [u8; 4]>) -> RgbImage {
    let mut rgb = RgbImage::new(w, h);
    for (out, [r, g, b, a]) in rgb.pixels_mut().zip(pixels) {
        let a = u32::from(a);
        // round(c·a/255 + 255·(255 − a)/255), in integers
        let lay = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        out.0 = [lay(r), lay(g), lay(b)];
    }
    rgb
}

/// An end-of-image marker in the last 4 KiB (some cameras append a little after it).
/// Whether a JPEG file ends (its end marker is in its last 4 KB; cameras may pad after it).
pub fn has_jpeg_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn map_image_error(e: image::ImageError) -> DecodeError {
    match e {
        image::ImageError::Limits(l) => {
            DecodeError::Corrupt(format!("over the memory limit ({l})"))
        }
        image::ImageError::Unsupported(u) => DecodeError::Corrupt(format!("unsupported: {u}")),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `img` saved as PNG, then decoded as the kiosk decodes a file.
    fn through_png(img: impl Into<DynamicImage>) -> RgbImage {
        let mut buf = Vec::new();
        img.into()
            .write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png)
            .unwrap();
        decode_image(&buf, DecodeLimits::default()).unwrap()
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        assert!(matches!(
            decode_image(&[], DecodeLimits::default()),
            Err(DecodeError::Empty)
        ));
        let r = decode_image(b"hello, not an image at all", DecodeLimits::default());
        assert!(matches!(r, Err(DecodeError::UnknownFormat)), "{r:?}");
    }

    #[test]
    fn a_jpeg_cut_off_is_refused_with_or_without_an_end_marker_after_the_cut() {
        let img = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut whole = Vec::new();
        img.write_to(&mut Cursor::new(&mut whole), image::ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(
            decode_image(&whole, DecodeLimits::default())
                .unwrap()
                .dimensions(),
            (320, 240)
        );
        let half = &whole[..whole.len() / 2];
        let r = decode_image(half, DecodeLimits::default());
        assert!(matches!(r, Err(DecodeError::Truncated)), "{r:?}");
        // closed with an end marker, the image crate's decoder would paint the rest flat
        let closed = [half, &[0xFF, 0xD9][..]].concat();
        let r = decode_image(&closed, DecodeLimits::default());
        assert!(matches!(r, Err(DecodeError::Truncated)), "{r:?}");
        // a whole JPEG over the side allowed is named as too large, not as damaged
        let small = DecodeLimits {
            max_side: 200,
            ..DecodeLimits::default()
        };
        let r = decode_image(&whole, small);
        assert!(
            matches!(r, Err(DecodeError::TooManyPixels(320, 240, 200))),
            "{r:?}"
        );
    }

    #[test]
    fn grayscale_png_becomes_rgb() {
        let rgb = through_png(image::GrayImage::from_pixel(8, 4, image::Luma([77])));
        assert_eq!(rgb.dimensions(), (8, 4));
        assert_eq!(rgb.get_pixel(3, 2).0, [77, 77, 77]);
    }

    #[test]
    fn transparent_pixels_lie_on_white_and_opaque_ones_keep_their_colour() {
        // a cut-out as photo tools save it: the background transparent black
        let mut rgba = image::RgbaImage::from_pixel(6, 2, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([200, 40, 10, 255]));
        rgba.put_pixel(2, 0, image::Rgba([0, 0, 0, 128]));
        let rgb = through_png(rgba);
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [200, 40, 10]);
        assert_eq!(rgb.get_pixel(2, 0).0, [127, 127, 127]);
        // grey with alpha, and 16-bit RGBA, the same way
        let mut la = image::GrayAlphaImage::from_pixel(2, 1, image::LumaA([0, 0]));
        la.put_pixel(1, 0, image::LumaA([90, 255]));
        let rgb = through_png(la);
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [90, 90, 90]);
        let wide = image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(2, 1, image::Rgba([0; 4]));
        let rgb = through_png(DynamicImage::ImageRgba16(wide));
        assert_eq!(rgb.get_pixel(1, 0).0, [255, 255, 255]);
    }
}
