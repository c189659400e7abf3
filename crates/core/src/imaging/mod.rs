//! Image buffers for the engine: safe decoding of untrusted files, and the few pixel operations
//! the engine needs (warped crops into model inputs, luminance, box statistics). Pure: bytes in,
//! pixels out; reading files is the caller's job.

mod decode;
mod jpeg_scan;
mod pixels;
mod qr;

pub use decode::{decode_image, has_jpeg_end, DecodeError, DecodeLimits};
pub use jpeg_scan::{decode_jpeg_strict, jpeg_is_complete, DecodedRgb, JpegFault};
pub use pixels::{
    area_spans, lab_of, luma, resize_rgb, rgb_to_lab, shrink_by_area, square_crop_unit,
    warp_into_f32, warp_rgb, Border, ChannelOrder, InputLayout, PixelRange,
};
pub use qr::read_qr_codes;
