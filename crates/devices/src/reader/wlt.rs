//! The chip photo. It is WLT-compressed, and only the reader vendor's licensed library decodes
//! it; the kiosk never ships or imitates that library. When staff configure its path, it is
//! loaded at run time; without it the chip photo is reported unavailable and identity checks
//! fall back to the roster photo or manual review.

use image::RgbImage;
use std::path::{Path, PathBuf};

/// The decoded photo is a 102×126 24-bit BMP: 54 header bytes and rows padded to 308 bytes.
const BMP_BYTES: usize = 54 + 308 * 126;

/// How a vendor's `unpack` takes its arguments (the order differs between vendors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackOrder {
    /// `int unpack(char *wlt, char *bmp, int flag)`
    SourceFirst,
    /// `int unpack(char *bmp, char *wlt, int flag)`
    DestinationFirst,
}

type Unpack = unsafe extern "C" fn(*mut u8, *mut u8, i32) -> i32;

pub struct WltDecoder {
    path: PathBuf,
    order: UnpackOrder,
    // the library must outlive the function pointer taken from it
    _library: libloading::Library,
    unpack: Unpack,
}

/// The chip photo, or why there is none.
pub enum ChipPhoto {
    Decoded(RgbImage),
    Unavailable(String),
}

impl WltDecoder {
    /// Loads the vendor library at `path` and finds its `symbol` (often `unpack`).
    pub fn load(path: &Path, symbol: &str, order: UnpackOrder) -> Result<Self, String> {
        if !path.is_file() {
            return Err(format!(
                "the chip photo decoder {} is not installed",
                path.display()
            ));
        }
        // SAFETY: loading a library runs its initialisers; the path is the vendor library that
        // staff configured for this purpose.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: the symbol's signature is the vendor's documented `unpack`; `order` says which
        // argument is which.
        let unpack = unsafe { library.get::<Unpack>(symbol.as_bytes()) }
            .map(|s| *s)
            .map_err(|e| format!("{}: no function '{symbol}': {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            order,
            _library: library,
            unpack,
        })
    }

    pub fn decode(&self, wlt: &[u8]) -> ChipPhoto {
        if wlt.len() != super::card::PHOTO_LEN {
            return ChipPhoto::Unavailable(format!(
                "the chip photo is {} bytes, not 1024",
                wlt.len()
            ));
        }
        let mut src = wlt.to_vec();
        let mut bmp = vec![0u8; BMP_BYTES + 1024]; // slack: some vendors write a little more
        let (a, b) = match self.order {
            UnpackOrder::SourceFirst => (src.as_mut_ptr(), bmp.as_mut_ptr()),
            UnpackOrder::DestinationFirst => (bmp.as_mut_ptr(), src.as_mut_ptr()),
        };
        // SAFETY: both buffers are larger than the 1024-byte input and the 38862-byte BMP the
        // function produces; flag 0 asks for the BMP in memory, not a file.
        let code = unsafe { (self.unpack)(a, b, 0) };
        if code != 1 {
            return ChipPhoto::Unavailable(format!(
                "{} could not decode the chip photo (code {code})",
                self.path.display()
            ));
        }
        match image::load_from_memory_with_format(&bmp[..BMP_BYTES], image::ImageFormat::Bmp) {
            Ok(img) => ChipPhoto::Decoded(img.into_rgb8()),
            Err(e) => {
                ChipPhoto::Unavailable(format!("the decoded chip photo is not a picture: {e}"))
            }
        }
    }
}

/// The chip photo with the configured decoder, or unavailable (and why) without one.
pub fn chip_photo(decoder: Option<&WltDecoder>, wlt: &[u8]) -> ChipPhoto {
    match decoder {
        Some(d) => d.decode(wlt),
        None => ChipPhoto::Unavailable("no chip photo decoder is configured".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_decoder_the_photo_is_unavailable_with_a_reason() {
        match chip_photo(None, &[0; 1024]) {
            ChipPhoto::Unavailable(why) => assert!(why.contains("decoder")),
            ChipPhoto::Decoded(_) => panic!("decoded without a decoder"),
        }
        let err = WltDecoder::load(
            Path::new("/opt/vendor/libwlt.so"),
            "unpack",
            UnpackOrder::SourceFirst,
        )
        .err()
        .unwrap();
        assert!(err.contains("not installed"), "{err}");
        // a library without the function is refused with its name
        let err = WltDecoder::load(
            Path::new("/lib/x86_64-linux-gnu/libc.so.6"),
            "unpack_wlt_nowhere",
            UnpackOrder::SourceFirst,
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("unpack_wlt_nowhere") || err.contains("not installed"),
            "{err}"
        );
    }
}
