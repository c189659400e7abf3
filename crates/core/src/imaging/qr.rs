//! QR codes in camera frames (the CHSI candidate's image-collection code held up to the camera).

use image::RgbImage;

/// Frames wider than this are averaged down by a whole factor before the search (the time grows
/// with the area). A 1080p frame is searched whole: halved, a code held at a slant of 12° was
/// no longer found.
const SEARCH_WIDTH: u32 = 2000;

/// The texts of the QR codes readable in `frame`, in the order found. Codes that are found
/// but cannot be decoded (blurred, cut off) are left out.
pub fn read_qr_codes(frame: &RgbImage) -> Vec<String> {
    let k = frame.width().div_ceil(SEARCH_WIDTH).max(1);
    let (w, h) = (frame.width() / k, frame.height() / k);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let area = k * k;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            let (x0, y0) = (x as u32 * k, y as u32 * k);
            let mut sum = 0u32;
            for dy in 0..k {
                for dx in 0..k {
                    let p = frame.get_pixel(x0 + dx, y0 + dy).0;
                    // integer Rec. 601 luma (`imaging::luma` in floats, per pixel of a 1080p frame)
                    sum += (299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32) / 1000;
                }
            }
            (sum / area) as u8
        });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}
