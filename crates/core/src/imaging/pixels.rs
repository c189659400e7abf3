//! Pixel operations on RGB buffers: warped crops (bilinear), resizing, luminance and CIELAB.

use crate::geometry::{Point, Similarity};
use image::RgbImage;
use std::sync::LazyLock;

/// How a model wants its input tensor laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelOrder {
    /// [1, H, W, 3]
    Hwc,
    /// [1, 3, H, W]
    Chw,
}

/// The value range a model expects for 0..255 pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PixelRange {
    Raw255,
    Unit,
    MinusOneToOne,
}

impl PixelRange {
    fn map(self, v: f32) -> f32 {
        match self {
            PixelRange::Raw255 => v,
            PixelRange::Unit => v / 255.0,
            PixelRange::MinusOneToOne => v / 127.5 - 1.0,
        }
    }
}

/// What a crop that reaches past the photo shows there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Border {
    /// The edge pixel, drawn out into stripes: fine where a model looks only at the middle.
    Repeat,
    /// The photo reflected at its edge, as CelebA-HQ padded the faces the parsing model
    /// learnt on, for `depth` source pixels; past that the reflection's last row is drawn
    /// out. Hair cut at the top goes on as hair instead of stripes the model calls a hat,
    /// while a face cut at its sides gains no mirrored twin beside it: with the whole
    /// reflection, tight portraits grew one and the model read their face as background.
    /// A depth of 0, less, or NaN is `Repeat`.
    Mirror { depth: f32 },
}

impl Border {
    /// A source coordinate folded into `0..=max`.
    fn fold(self, v: f32, max: f32) -> f32 {
        let v = match self {
            Border::Repeat => v,
            // NaN.max(0.0) is 0: a depth that is no number mirrors nothing
            Border::Mirror { depth } if v < 0.0 => (-v).min(depth.max(0.0)),
            Border::Mirror { depth } if v > max => (2.0 * max - v).max(max - depth.max(0.0)),
            Border::Mirror { .. } => v,
        };
        v.clamp(0.0, max)
    }
}

/// Calls `put(i, rgb)` for each pixel `i` (row-major) of a `width`×`height` view of `img`
/// through `to_dst`, sampled bilinearly (past the photo's edge as `border` says). Written
/// out for speed: the source position steps by a fixed amount per pixel and per row.
fn warp_each(
    img: &RgbImage,
    to_dst: &Similarity,
    width: usize,
    height: usize,
    border: Border,
    mut put: impl FnMut(usize, [f32; 3]),
) {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    let (w, h) = (w as usize, h as usize);
    let (x_max, y_max) = ((w - 1) as f32, (h - 1) as f32);
    let raw = img.as_raw();
    let stride = w * 3;
    let inv = to_dst.inverse();
    let origin = inv.apply(Point::new(0.5, 0.5));
    let step_x = Point::new(inv.a, inv.b);
    let step_y = Point::new(-inv.b, inv.a);
    let texel = |i: usize| -> [f32; 3] { [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32] };
    for y in 0..height {
        let row_x = origin.x + step_y.x * y as f32 - 0.5;
        let row_y = origin.y + step_y.y * y as f32 - 0.5;
        for x in 0..width {
            let sx = border.fold(row_x + step_x.x * x as f32, x_max);
            let sy = border.fold(row_y + step_x.y * x as f32, y_max);
            let (x0, y0) = (sx as usize, sy as usize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (r0, r1) = (y0 * stride, y1 * stride);
            let (c0, c1) = (x0 * 3, x1 * 3);
            let (p00, p01) = (texel(r0 + c0), texel(r0 + c1));
            let (p10, p11) = (texel(r1 + c0), texel(r1 + c1));
            let mut px = [0.0; 3];
            for c in 0..3 {
                let top = p00[c] * (1.0 - fx) + p01[c] * fx;
                let bottom = p10[c] * (1.0 - fx) + p11[c] * fx;
                px[c] = top * (1.0 - fy) + bottom * fy;
            }
            put(y * width + x, px);
        }
    }
}

/// How a model's input tensor is filled: its layout, its value range, and what it shows past
/// the photo's edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputLayout {
    pub order: ChannelOrder,
    pub range: PixelRange,
    pub border: Border,
}

/// Fills `out` (a `width`×`height` model input) with the source pixels that `to_crop` maps
/// there. `out` is reused between frames so the per-frame path does not allocate.
pub fn warp_into_f32(
    img: &RgbImage,
    to_crop: &Similarity,
    width: usize,
    height: usize,
    layout: InputLayout,
    out: &mut Vec<f32>,
) {
    let InputLayout {
        order,
        range,
        border,
    } = layout;
    out.clear();
    out.resize(width * height * 3, 0.0);
    let plane = width * height;
    let (scale, offset) = (range.map(1.0) - range.map(0.0), range.map(0.0));
    // one loop per layout, so each is compiled with its own fixed strides
    match order {
        ChannelOrder::Hwc => warp_each(img, to_crop, width, height, border, |i, px| {
            if let Some(o) = out.get_mut(i * 3..i * 3 + 3) {
                o[0] = px[0] * scale + offset;
                o[1] = px[1] * scale + offset;
                o[2] = px[2] * scale + offset;
            }
        }),
        ChannelOrder::Chw => warp_each(img, to_crop, width, height, border, |i, px| {
            for (c, v) in px.into_iter().enumerate() {
                out[c * plane + i] = v * scale + offset;
            }
        }),
    }
}

/// Fills `out` with an `n`×`n` HWC model input in [0, 1]: the square of side `side` centred on
/// `centre`, turned by `angle` so that it comes out upright. Returns the crop's transform.
pub fn square_crop_unit(
    img: &RgbImage,
    centre: Point,
    side: f32,
    angle: f32,
    n: usize,
    out: &mut Vec<f32>,
) -> Similarity {
    let to_crop = Similarity::crop(centre, side, angle, n as f32);
    warp_into_f32(
        img,
        &to_crop,
        n,
        n,
        InputLayout {
            order: ChannelOrder::Hwc,
            range: PixelRange::Unit,
            border: Border::Repeat,
        },
        out,
    );
    to_crop
}

/// A `width`×`height` RGB image of the source as seen through `to_dst`.
pub fn warp_rgb(img: &RgbImage, to_dst: &Similarity, width: u32, height: u32) -> RgbImage {
    let mut out = vec![0u8; width as usize * height as usize * 3];
    warp_each(
        img,
        to_dst,
        width as usize,
        height as usize,
        Border::Repeat,
        |i, px| {
            for (c, v) in px.into_iter().enumerate() {
                out[i * 3 + c] = v.round() as u8;
            }
        },
    );
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// Area-averaging resize when shrinking (no aliasing of fine hair or fabric), bilinear otherwise.
pub fn resize_rgb(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let filter = if width < img.width() / 2 {
        image::imageops::FilterType::Triangle
    } else {
        image::imageops::FilterType::CatmullRom
    };
    image::imageops::resize(img, width, height, filter)
}

/// `n` output cells over `len` source cells: each cell's [start, end) in the source (area
/// averaging: the live preview and [`shrink_by_area`]).
pub fn area_spans(len: u32, n: u32) -> Vec<(u32, u32)> {
    (0..n)
        .map(|i| {
            let a = (i as u64 * len as u64 / n as u64) as u32;
            let b = (((i + 1) as u64 * len as u64).div_ceil(n as u64) as u32).clamp(a + 1, len);
            (a, b)
        })
        .collect()
}

/// A quick shrink for a detector's input: each output pixel is the plain mean of the source
/// pixels under it (integer sums, no filter kernel). At 1080p → 384×216 it takes a tenth of
/// [`resize_rgb`]'s time; photos keep the smoother filter. Never enlarges.
pub fn shrink_by_area(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if width >= sw || height >= sh || width == 0 || height == 0 {
        return resize_rgb(img, width.max(1), height.max(1));
    }
    let (xs, ys) = (area_spans(sw, width), area_spans(sh, height));
    let raw = img.as_raw();
    let stride = sw as usize * 3;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    // an output row's source rows summed column by column first (a straight pass over the
    // bytes), then each cell's columns: the same integer sums as cell by cell, in less time
    // (1080p → 384×216: 4–5 → about 2.7 ms, instrumented release build)
    let mut column_sums = vec![0u32; stride];
    for &(y0, y1) in &ys {
        let (y0, y1) = (y0 as usize, y1 as usize);
        column_sums.fill(0);
        for row in raw[y0 * stride..y1 * stride].chunks_exact(stride) {
            for (sum, &v) in column_sums.iter_mut().zip(row) {
                *sum += u32::from(v);
            }
        }
        for &(x0, x1) in &xs {
            let n = (y1 as u32 - y0 as u32) * (x1 - x0);
            let mut cell = [0u32; 3];
            for p in column_sums[x0 as usize * 3..x1 as usize * 3].chunks_exact(3) {
                cell[0] += p[0];
                cell[1] += p[1];
                cell[2] += p[2];
            }
            out.extend(cell.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| resize_rgb(img, width, height))
}

/// Rec. 601 luma of an 8-bit RGB pixel.
#[inline]
pub fn luma(p: [u8; 3]) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// CIELAB of an 8-bit pixel. The checks convert every pixel of their regions (a forehead, a
/// crown, the brows' bands: tens of thousands at 1080p), so the sRGB decoding comes from a
/// table of the 256 values [`rgb_to_lab`] computes: the same numbers, without three `powf`s
/// a pixel (kiosk bench: the checks on the analysis 12.8 → 10.8 ms).
pub fn lab_of(p: [u8; 3]) -> [f32; 3] {
    static LINEAR: LazyLock<[f32; 256]> =
        LazyLock::new(|| std::array::from_fn(|i| srgb_to_linear(i as f32)));
    lab_of_linear(p.map(|c| LINEAR[c as usize]))
}

/// sRGB (0..255) to CIELAB (D65), for colour distances people perceive.
pub fn rgb_to_lab(p: [f32; 3]) -> [f32; 3] {
    lab_of_linear(p.map(srgb_to_linear))
}

/// One sRGB channel (0..255) as linear light (0..1).
fn srgb_to_linear(c: f32) -> f32 {
    let c = c / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// CIELAB (D65) of linear-light RGB.
fn lab_of_linear([r, g, b]: [f32; 3]) -> [f32; 3] {
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    fn f(t: f32) -> f32 {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    }
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shrink_by_area` as it was before its rows were summed first (session 35): cell by cell.
    fn shrink_cell_by_cell(img: &RgbImage, width: u32, height: u32) -> RgbImage {
        let (sw, sh) = img.dimensions();
        if width >= sw || height >= sh || width == 0 || height == 0 {
            return resize_rgb(img, width.max(1), height.max(1));
        }
        let (xs, ys) = (area_spans(sw, width), area_spans(sh, height));
        let raw = img.as_raw();
        let stride = sw as usize * 3;
        let mut out = Vec::with_capacity(width as usize * height as usize * 3);
        let mut sums = vec![0u32; width as usize * 3];
        for &(y0, y1) in &ys {
            let (y0, y1) = (y0 as usize, y1 as usize);
            sums.iter_mut().for_each(|s| *s = 0);
            for y in y0..y1 {
                let row = &raw[y * stride..(y + 1) * stride];
                for (col, &(x0, x1)) in xs.iter().enumerate() {
                    let (x0, x1) = (x0 as usize, x1 as usize);
                    let acc = &mut sums[col * 3..col * 3 + 3];
                    for p in row[x0 * 3..x1 * 3].chunks_exact(3) {
                        acc[0] += p[0] as u32;
                        acc[1] += p[1] as u32;
                        acc[2] += p[2] as u32;
                    }
                }
            }
            for (col, &(x0, x1)) in xs.iter().enumerate() {
                let n = (y1 as u32 - y0 as u32) * (x1 - x0);
                for c in 0..3 {
                    out.push(((sums[col * 3 + c] + n / 2) / n) as u8);
                }
            }
        }
        RgbImage::from_raw(width, height, out).unwrap_or_else(|| resize_rgb(img, width, height))
    }

    #[test]
    fn a_shrink_averages_exactly_as_cell_by_cell() {
        // fixed pseudo-random pictures, shrunk by whole factors (96×60 by 2 and by 3) and by
        // fractional ones (97×61: the spans share their edge pixels), down to one row or column
        let mut state = 0x9e37_79b9_u32;
        let mut picture = |w: u32, h: u32| {
            RgbImage::from_fn(w, h, |_, _| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
            })
        };
        let whole = picture(96, 60);
        let fractional = picture(97, 61);
        for (img, w, h) in [
            (&whole, 48, 30),
            (&whole, 32, 20),
            (&whole, 1, 30),
            (&whole, 48, 1),
            (&fractional, 19, 12),
            (&fractional, 40, 25),
            (&fractional, 96, 60),
            (&fractional, 7, 60),
            (&fractional, 1, 1),
        ] {
            let fast = shrink_by_area(img, w, h);
            assert_eq!(fast.dimensions(), (w, h));
            assert_eq!(fast, shrink_cell_by_cell(img, w, h), "{w}x{h}");
        }
    }

    #[test]
    fn lab_of_a_pixel_is_rgb_to_lab_of_its_values_exactly() {
        // the table must give the very numbers the formula does, or limits set on one would
        // drift on the other
        for v in (0..=255u8).step_by(5) {
            for p in [
                [v, 0, 0],
                [0, v, 0],
                [0, 0, v],
                [v, v, v],
                [v, 255 - v, v / 2],
            ] {
                assert_eq!(lab_of(p), rgb_to_lab(p.map(f32::from)), "{p:?}");
            }
        }
    }

    #[test]
    fn lab_of_white_and_blue() {
        let w = rgb_to_lab([255.0, 255.0, 255.0]);
        assert!((w[0] - 100.0).abs() < 0.5 && w[1].abs() < 1.0 && w[2].abs() < 1.0);
        let b = rgb_to_lab([0.0, 0.0, 255.0]);
        assert!(b[2] < -100.0);
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let img = RgbImage::from_fn(4, 4, |x, y| image::Rgb([(x * 50) as u8, (y * 50) as u8, 7]));
        let out = warp_rgb(&img, &Similarity::identity(), 4, 4);
        assert_eq!(out, img);
    }

    /// The first row of a 3-row view that starts `above` rows above a picture whose rows are
    /// 0, 100 and 200 bright.
    fn top_row_past_the_edge(border: Border, above: f32) -> Vec<f32> {
        let img = RgbImage::from_fn(2, 3, |_, y| image::Rgb([(y * 100) as u8; 3]));
        let shift = Similarity {
            ty: above,
            ..Similarity::identity()
        };
        let layout = InputLayout {
            order: ChannelOrder::Hwc,
            range: PixelRange::Raw255,
            border,
        };
        let mut out = Vec::new();
        warp_into_f32(&img, &shift, 2, 3, layout, &mut out);
        out.iter().step_by(3).take(2).copied().collect()
    }

    #[test]
    fn a_mirrored_border_reflects_the_picture_and_a_repeated_one_draws_its_edge_out() {
        let mirror = Border::Mirror { depth: 10.0 };
        // two rows above the picture: the repeated border shows the top row again, the
        // mirrored one the row two below the top, as if the picture went on
        assert_eq!(top_row_past_the_edge(Border::Repeat, 2.0), vec![0.0, 0.0]);
        assert_eq!(top_row_past_the_edge(mirror, 2.0), vec![200.0, 200.0]);
        // inside the picture both read the picture itself
        assert_eq!(top_row_past_the_edge(mirror, 0.0), vec![0.0, 0.0]);
        assert_eq!(mirror.fold(3.5, 2.0), 0.5);
        // further out than the picture is wide, the mirror is held at the far edge
        assert_eq!(mirror.fold(-7.0, 2.0), 2.0);
    }

    #[test]
    fn a_mirror_goes_only_so_deep_and_then_draws_its_last_row_out() {
        let mirror = Border::Mirror { depth: 1.0 };
        assert_eq!(mirror.fold(-0.5, 9.0), 0.5);
        // past the depth: the reflected row at the depth, however far out
        assert_eq!(mirror.fold(-3.0, 9.0), 1.0);
        assert_eq!(mirror.fold(-30.0, 9.0), 1.0);
        assert_eq!(mirror.fold(12.0, 9.0), 8.0);
        assert_eq!(top_row_past_the_edge(mirror, 2.0), vec![100.0, 100.0]);
        let none = Border::Mirror { depth: f32::NAN };
        assert_eq!(none.fold(-3.0, 9.0), Border::Repeat.fold(-3.0, 9.0));
    }
}
