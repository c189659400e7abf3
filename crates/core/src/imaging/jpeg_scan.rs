//! Decoding a JPEG with libjpeg-turbo (through mozjpeg, already in the tree for the encoder and
//! the camera) so that a picture whose compressed data stops short is refused, not filled in.
//!
//! A JPEG cut off and then closed with an end-of-image marker (FF D9) is what a USB camera
//! sends when packets of a frame are lost, and what a careless copy or a forger makes. Both
//! decoders the kiosk uses accept it quietly: the `image` crate's (zune-jpeg, strict or not)
//! paints the missing part flat, and libjpeg only warns ("premature end of data segment") and
//! fills it with grey. The checks would then judge half a face, and the photo maker crop a
//! picture whose shoulders are a grey block. Here that warning ends the decode.

use mozjpeg_sys as ffi;
use std::os::raw::c_int;

/// Why libjpeg stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpegFault {
    /// The compressed data ends before every block of the picture was read.
    CutShort,
    /// Another error libjpeg cannot decode past, with its message.
    Damaged(String),
}

impl std::fmt::Display for JpegFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JpegFault::CutShort => {
                f.write_str("the compressed data stops before the end of the picture")
            }
            JpegFault::Damaged(why) => f.write_str(why),
        }
    }
}

/// libjpeg's fatal errors end the decode by unwinding out of its callback, as mozjpeg's own
/// handler does (libjpeg's default handler would end the process).
extern "C-unwind" fn stop_on_error(cinfo: &mut ffi::jpeg_common_struct) {
    // SAFETY: libjpeg calls this with the `cinfo` whose error manager holds the message code;
    // `err` points at the manager given to the decompressor, which outlives the decode
    let code = unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code);
    std::panic::resume_unwind(Box::new(JpegFault::Damaged(format!(
        "libjpeg error {code}"
    ))));
}

/// Warnings pass (stray bytes before a marker, which some cameras leave) but for the two that
/// say the picture is incomplete: the data hit a marker, or the file, before its last block.
extern "C-unwind" fn stop_on_missing_data(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    if level >= 0 {
        return; // trace messages
    }
    // SAFETY: as in `stop_on_error`
    let code = unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code);
    if code == ffi::JWRN_HIT_MARKER as c_int || code == ffi::JWRN_JPEG_EOF as c_int {
        std::panic::resume_unwind(Box::new(JpegFault::CutShort));
    }
}

fn strict_error_manager() -> ffi::jpeg_error_mgr {
    // SAFETY: `jpeg_error_mgr` is a plain C struct for which all-zero is a valid start, and
    // `jpeg_std_error` fills in every field before the two handlers are replaced
    let mut err: ffi::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { ffi::jpeg_std_error(&mut err) };
    err.error_exit = Some(stop_on_error);
    err.emit_message = Some(stop_on_missing_data);
    err
}

/// A decoded picture: width, height and RGB bytes row by row.
pub type DecodedRgb = (usize, usize, Vec<u8>);

/// Decodes `bytes` to RGB at `eighths`/8 of its size (1, 2, 4 or 8: libjpeg scales in its
/// inverse DCT), refusing a picture wider or taller than `max_side` before any pixel is
/// decoded and one whose data stops short. `scale` gets the picture's full width and height
/// and returns `eighths`.
pub fn decode_jpeg_strict(
    bytes: &[u8],
    max_side: usize,
    scale: impl FnOnce(usize, usize) -> u8,
) -> Result<DecodedRgb, JpegFault> {
    strictly(|| {
        let mut d = opened(bytes, max_side)?;
        d.scale(scale(d.width(), d.height()));
        let mut started = d.rgb().map_err(damaged)?;
        let (w, h) = (started.width(), started.height());
        let pixels = started.read_scanlines::<u8>().map_err(damaged)?;
        started.finish().map_err(damaged)?;
        Ok((w, h, pixels))
    })
}

/// Whether every block of a JPEG's picture is in its data: decoded at an eighth of its size
/// in its own colour space (grey, RGB, CMYK alike), which reads all the compressed data for
/// little of the work.
pub fn jpeg_is_complete(bytes: &[u8], max_side: usize) -> Result<(), JpegFault> {
    strictly(|| {
        let mut d = opened(bytes, max_side)?;
        d.scale(1);
        let own = d.color_space();
        let mut started = d.to_colorspace(own).map_err(damaged)?;
        started.read_scanlines::<u8>().map_err(damaged)?;
        started.finish().map_err(damaged)
    })
}

fn damaged(e: std::io::Error) -> JpegFault {
    JpegFault::Damaged(e.to_string())
}

/// A decompressor on `bytes` with the strict error manager, its header read and its size
/// within `max_side`.
fn opened(bytes: &[u8], max_side: usize) -> Result<mozjpeg::Decompress<&[u8]>, JpegFault> {
    let d = mozjpeg::Decompress::with_err(strict_error_manager())
        .from_mem(bytes)
        .map_err(damaged)?;
    let (w, h) = (d.width(), d.height());
    if w == 0 || h == 0 || w > max_side || h > max_side {
        return Err(JpegFault::Damaged(format!("{w}×{h} pixels")));
    }
    Ok(d)
}

/// Runs a decode, turning libjpeg's unwinding out of its callbacks back into a fault: a
/// damaged picture costs its caller an error, never the thread.
fn strictly<T>(decode: impl FnOnce() -> Result<T, JpegFault>) -> Result<T, JpegFault> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)) {
        Ok(result) => result,
        Err(payload) => Err(match payload.downcast::<JpegFault>() {
            Ok(fault) => *fault,
            Err(payload) => JpegFault::Damaged(
                payload
                    .downcast::<String>()
                    .map(|s| *s)
                    .unwrap_or_else(|_| "the decoder gave up".into()),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn a_picture_cut_off_and_closed_with_an_end_marker_is_refused() {
        let whole = jpeg(640, 480);
        assert_eq!(jpeg_is_complete(&whole, 8192), Ok(()));
        let (w, h, px) = decode_jpeg_strict(&whole, 8192, |_, _| 4).unwrap();
        assert_eq!((w, h, px.len()), (320, 240, 320 * 240 * 3));
        // half the data, then FF D9: what a camera sends when a frame's packets are lost
        let mut cut = whole[..whole.len() / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(jpeg_is_complete(&cut, 8192), Err(JpegFault::CutShort));
        // and cut with no end marker at all
        let bare = &whole[..whole.len() / 2];
        assert_eq!(jpeg_is_complete(bare, 8192), Err(JpegFault::CutShort));
    }

    #[test]
    fn garbage_and_oversized_pictures_are_refused_without_taking_the_thread() {
        // libjpeg skips what is not a marker and runs out of data looking for one
        assert_eq!(
            jpeg_is_complete(b"\xFF\xD8not a jpeg at all", 8192),
            Err(JpegFault::CutShort)
        );
        // a frame header that says the picture has no rows: libjpeg's own error
        let mut empty = jpeg(64, 48);
        let sof = empty.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        empty[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
        let r = jpeg_is_complete(&empty, 8192);
        assert!(matches!(r, Err(JpegFault::Damaged(_))), "{r:?}");
        assert!(matches!(
            jpeg_is_complete(&jpeg(64, 48), 32),
            Err(JpegFault::Damaged(_))
        ));
    }
}
