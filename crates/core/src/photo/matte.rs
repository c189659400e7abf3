//! Background replacement: the coarse person mask refined at full resolution with a guided
//! filter (edges follow the hair in the photo), then the old background's colour is taken out
//! of the edge pixels before compositing, so no halo of it survives.

use image::RgbImage;

/// Box sums by integral image: mean over a (2r+1)² window, clamped at the borders.
fn box_mean(src: &[f32], w: usize, h: usize, r: usize, out: &mut Vec<f32>) {
    let mut integral = vec![0.0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0.0f64;
        for x in 0..w {
            row += src[y * w + x] as f64;
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    out.clear();
    out.resize(w * h, 0.0);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let s = integral[y1 * (w + 1) + x1]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0]
                + integral[y0 * (w + 1) + x0];
            out[y * w + x] = (s / ((y1 - y0) * (x1 - x0)) as f64) as f32;
        }
    }
}

/// He et al.'s guided filter with a grey guide: `p` (the coarse mask) is smoothed so its edges
/// follow the edges of `guide`.
pub fn guided_filter(guide: &[f32], p: &[f32], w: usize, h: usize, r: usize, eps: f32) -> Vec<f32> {
    let n = w * h;
    let (mut mi, mut mp, mut mii, mut mip) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    box_mean(guide, w, h, r, &mut mi);
    box_mean(p, w, h, r, &mut mp);
    let ii: Vec<f32> = guide.iter().map(|v| v * v).collect();
    let ip: Vec<f32> = guide.iter().zip(p).map(|(a, b)| a * b).collect();
    box_mean(&ii, w, h, r, &mut mii);
    box_mean(&ip, w, h, r, &mut mip);
    let mut a = vec![0.0; n];
    let mut b = vec![0.0; n];
    for i in 0..n {
        let var = mii[i] - mi[i] * mi[i];
        let cov = mip[i] - mi[i] * mp[i];
        a[i] = cov / (var + eps);
        b[i] = mp[i] - a[i] * mi[i];
    }
    let (mut ma, mut mb) = (Vec::new(), Vec::new());
    box_mean(&a, w, h, r, &mut ma);
    box_mean(&b, w, h, r, &mut mb);
    (0..n)
        .map(|i| (ma[i] * guide[i] + mb[i]).clamp(0.0, 1.0))
        .collect()
}

/// Refines `coarse` (person probability per output pixel) against `img`'s edges.
pub fn refine_alpha(img: &RgbImage, coarse: &[f32]) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let guide: Vec<f32> = img
        .pixels()
        .map(|p| crate::imaging::luma(p.0) / 255.0)
        .collect();
    let r = ((w.min(h) as f32) / 120.0).round().max(2.0) as usize;
    let q = guided_filter(&guide, coarse, w, h, r, 1e-3);
    // a gentle S-curve: confident inside and outside, a few pixels of feather at the edge
    q.into_iter()
        .map(|v| {
            let t = ((v - 0.2) / 0.6).clamp(0.0, 1.0);
            t * t * (3.0 - 2.0 * t)
        })
        .collect()
}

/// Paints `background` behind the person: `out = α·F + (1−α)·B`, where `F` is the edge pixel with
/// the old background's local colour removed.
pub fn replace_background(img: &mut RgbImage, alpha: &[f32], background: [u8; 3]) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let r = ((w.min(h) as f32) / 40.0).round().max(3.0) as usize;
    // the old background's local colour: a blur of the background-only pixels
    let weight: Vec<f32> = alpha.iter().map(|a| 1.0 - a).collect();
    let mut mw = Vec::new();
    box_mean(&weight, w, h, r, &mut mw);
    let mut old_bg = [Vec::new(), Vec::new(), Vec::new()];
    for (c, plane) in old_bg.iter_mut().enumerate() {
        let weighted: Vec<f32> = img
            .pixels()
            .zip(&weight)
            .map(|(p, wt)| p.0[c] as f32 * wt)
            .collect();
        box_mean(&weighted, w, h, r, plane);
    }
    for (i, p) in img.pixels_mut().enumerate() {
        let a = alpha[i];
        if a >= 0.999 {
            continue;
        }
        let mut px = [0u8; 3];
        for c in 0..3 {
            let bg_new = background[c] as f32;
            let value = if a <= 0.001 {
                bg_new
            } else {
                let bg_old = if mw[i] > 1e-3 {
                    old_bg[c][i] / mw[i]
                } else {
                    p.0[c] as f32
                };
                let fg = ((p.0[c] as f32 - (1.0 - a) * bg_old) / a.max(0.05)).clamp(0.0, 255.0);
                a * fg + (1.0 - a) * bg_new
            };
            px[c] = value.round().clamp(0.0, 255.0) as u8;
        }
        p.0 = px;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guided_filter_keeps_a_sharp_edge_in_the_guide() {
        let (w, h) = (40, 10);
        let guide: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 20 { 0.1 } else { 0.9 })
            .collect();
        // a coarse mask whose edge is smeared over 10 pixels
        let p: Vec<f32> = (0..w * h)
            .map(|i| ((i % w) as f32 - 15.0).clamp(0.0, 10.0) / 10.0)
            .collect();
        let q = guided_filter(&guide, &p, w, h, 3, 1e-4);
        assert!(q[5 * w + 17] < 0.35, "{}", q[5 * w + 17]);
        assert!(q[5 * w + 22] > 0.65, "{}", q[5 * w + 22]);
    }

    #[test]
    fn fully_background_pixels_take_the_new_colour() {
        let mut img = RgbImage::from_pixel(8, 8, image::Rgb([10, 200, 10]));
        let alpha = vec![0.0; 64];
        replace_background(&mut img, &alpha, [100, 197, 255]);
        assert!(img.pixels().all(|p| p.0 == [100, 197, 255]));
    }
}
