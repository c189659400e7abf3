//! Is the face in focus, and did it keep still? Fine detail across the face, in every
//! direction: a face out of focus loses it in all of them, a face that moved during the
//! exposure only along the movement, so the weakest direction is the one that tells. The
//! camera's noise is detail in every direction too, and is taken out first.

use crate::engine::{mesh_idx as idx, FaceMesh};
use crate::geometry::BoundingBox;
use crate::imaging::luma;
use image::RgbImage;

/// Cells across the face's box: fine enough to see a blur of a few pixels of the finished
/// photo (where a face is 180–300 px wide), coarse enough that camera noise averages out.
const GRID: usize = 128;

/// The face's fine detail, per direction: the RMS of the second difference of luminance along
/// it, over the face's luminance spread (× 100), so that neither the face's size nor its
/// contrast changes the numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sharpness {
    pub across: f32,
    pub down: f32,
    /// Along the two diagonals (down-right, down-left).
    pub diagonal: [f32; 2],
    /// The noise's standard deviation on the grid (luminance), taken out of the above. It is an
    /// estimate from the finest texture of the face box: on a clean photo it also holds some
    /// skin and hair texture (0.1–2 on faces of usual size, up to 8 on tiny ones), and on
    /// cells of one or two pixels it reads grain low (their noise is correlated).
    pub noise: f32,
}

impl Sharpness {
    /// The weakest direction: a movement blurs along one line and leaves the others sharp.
    pub fn weakest(&self) -> f32 {
        self.across
            .min(self.down)
            .min(self.diagonal[0])
            .min(self.diagonal[1])
    }
}

/// The face from the outer brows to the lower lip, a little inside its edges, as luminance on
/// a grid `GRID` cells wide: each cell the mean of the picture over it. A face narrower than
/// the grid is read pixel for pixel instead: spreading it over more cells would leave empty
/// ones, which read as edges.
fn face_cells(img: &RgbImage, mesh: &FaceMesh) -> Option<(Vec<f32>, usize, usize)> {
    let b = BoundingBox::around([
        mesh.point(idx::FACE_EDGE_RIGHT),
        mesh.point(idx::FACE_EDGE_LEFT),
        mesh.mean(&idx::RIGHT_BROW),
        mesh.point(idx::LIP_OUTER_LOWER),
    ])?
    .scaled(0.8, 0.9);
    let (x0, y0, x1, y1) = b.clamp_to(img.width(), img.height())?;
    cells_in(img, x0 as usize..x1 as usize, y0 as usize..y1 as usize)
}

/// Where each of `len` pixels falls on `cells` equal cells (no more cells than pixels, so a
/// pixel reaches into two at most): its first cell and the share of it there; the rest of it
/// lies in the next cell. Whole numbers throughout, so every cell gets exactly its share.
/// (`imaging::area_spans`, which the preview and the detector's shrink use, gives each cell
/// the whole pixels it touches: cells one pixel wider by turns, which is the zigzag this
/// measure must not read as detail.)
fn spans(len: usize, cells: usize) -> Vec<(usize, f32)> {
    (0..len)
        .map(|i| {
            // in units of 1 / len of a cell: the pixel covers [i·cells, (i + 1)·cells)
            let (from, to) = (i * cells, (i + 1) * cells);
            let cell = from / len;
            let border = (cell + 1) * len;
            let share = if to <= border {
                1.0
            } else {
                (border - from) as f32 / cells as f32
            };
            (cell.min(cells - 1), share)
        })
        .collect()
}

/// Mean luminance over each cell of a grid laid on the box `xs` × `ys`, at most `GRID` cells
/// across and as many down as keeps them square: each pixel counts in the cells it overlaps by
/// the share it overlaps them, so no cell is wider than another (cells one or two pixels wide
/// by turns would read as detail where the light changes fast).
fn cells_in(
    img: &RgbImage,
    xs: std::ops::Range<usize>,
    ys: std::ops::Range<usize>,
) -> Option<(Vec<f32>, usize, usize)> {
    let (bw, bh) = (xs.len(), ys.len());
    let n = GRID.min(bw);
    let m = ((bh as f32 / bw.max(1) as f32) * n as f32).round() as usize;
    let m = m.clamp(3, bh.max(3));
    if n < 3 || bh < 3 {
        return None;
    }
    let (across, down) = (spans(bw, n), spans(bh, m));
    let mut cells = vec![0.0f32; n * m];
    let mut line = vec![0.0f32; n];
    let (width, raw) = (img.width() as usize, img.as_raw());
    for (y, &(cy, down_share)) in ys.zip(&down) {
        line.fill(0.0);
        let start = (y * width + xs.start) * 3;
        let pixels = raw.get(start..start + bw * 3)?.chunks_exact(3);
        for (px, &(cx, share)) in pixels.zip(&across) {
            let l = luma([px[0], px[1], px[2]]);
            line[cx] += share * l;
            if share < 1.0 && cx + 1 < n {
                line[cx + 1] += (1.0 - share) * l;
            }
        }
        let mut add = |row: usize, weight: f32| {
            for (c, v) in cells[row * n..(row + 1) * n].iter_mut().zip(&line) {
                *c += weight * v;
            }
        };
        add(cy, down_share);
        if down_share < 1.0 && cy + 1 < m {
            add(cy + 1, 1.0 - down_share);
        }
    }
    // every cell covers the same area: bw / n by bh / m pixels
    let area = (bw as f32 / n as f32) * (bh as f32 / m as f32);
    cells.iter_mut().for_each(|c| *c /= area);
    Some((cells, n, m))
}

/// The face's fine detail in each direction (all zero where no face box is in the picture or
/// the face is one flat tone).
pub fn sharpness(img: &RgbImage, mesh: &FaceMesh) -> Sharpness {
    match face_cells(img, mesh) {
        Some((cells, n, m)) => detail_by_direction(&cells, n, m),
        None => Sharpness::default(),
    }
}

/// Fine detail along each direction of a grid of `n` × `m` luminance cells, row by row.
fn detail_by_direction(cells: &[f32], n: usize, m: usize) -> Sharpness {
    if n < 3 || m < 3 || cells.len() < n * m {
        return Sharpness::default();
    }
    let mean = cells.iter().sum::<f32>() / cells.len() as f32;
    let spread =
        (cells.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / cells.len() as f32).sqrt();
    if spread < 1.0 {
        return Sharpness::default();
    }
    // second differences along each direction: (dx, dy) steps to the neighbours
    let mut energy = [0.0f32; 4];
    let steps: [(isize, isize); 4] = [(1, 0), (0, 1), (1, 1), (-1, 1)];
    for y in 1..m - 1 {
        for x in 1..n - 1 {
            let c = cells[y * n + x];
            for (e, &(dx, dy)) in energy.iter_mut().zip(&steps) {
                let at = |s: isize| {
                    cells[(y as isize + s * dy) as usize * n + (x as isize + s * dx) as usize]
                };
                let d2 = at(1) + at(-1) - 2.0 * c;
                *e += d2 * d2;
            }
        }
    }
    let k = ((n - 2) * (m - 2)) as f32;
    let noise = noise_level(cells, n, m);
    // white noise of deviation σ gives any second difference a variance of 6σ²: detail is
    // what is left above it, so a blurred face in a grainy picture does not read sharp (a fine
    // diagonal texture over most of the face, a half-tone print, reads as noise and can take
    // the detail with it: a sharp face fails then, it never passes a blurred one)
    let floor = 6.0 * noise * noise;
    // a diagonal neighbour is √2 away, and a second difference grows with the square of the
    // step: on the same curve it reads twice as large, so it is halved to read on the same
    // scale as across and down
    let score = |e: f32, scale: f32| 100.0 * (e / k - floor).max(0.0).sqrt() * scale / spread;
    Sharpness {
        across: score(energy[0], 1.0),
        down: score(energy[1], 1.0),
        diagonal: [score(energy[2], 0.5), score(energy[3], 0.5)],
        noise,
    }
}

/// The noise's standard deviation on a grid (Immerkær's estimate, with the median so that the
/// face's own edges, which are few, do not count): the 3×3 mask below cancels any plane and
/// any second-order curve of light, and gives white noise of deviation σ a deviation of 6σ.
fn noise_level(cells: &[f32], n: usize, m: usize) -> f32 {
    const MASK: [[f32; 3]; 3] = [[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]];
    let mut responses: Vec<f32> = Vec::with_capacity((n - 2) * (m - 2));
    for y in 1..m - 1 {
        for x in 1..n - 1 {
            let mut r = 0.0;
            for (dy, row) in MASK.iter().enumerate() {
                for (dx, w) in row.iter().enumerate() {
                    r += w * cells[(y + dy - 1) * n + x + dx - 1];
                }
            }
            responses.push(r.abs());
        }
    }
    // the median of |N(0, (6σ)²)| is 0.6745 · 6σ
    super::median(responses) / (6.0 * 0.6745)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripes 2 cells wide across and down, laid over each other, then smeared along the
    /// rows by `smear` cells.
    fn board(smear: usize) -> Vec<f32> {
        let n = 32;
        let stripe = |v: usize| if (v / 2) % 2 == 0 { 0.0 } else { 80.0 };
        let sharp: Vec<f32> = (0..n * n)
            .map(|i| 40.0 + stripe(i % n) + stripe(i / n))
            .collect();
        (0..n * n)
            .map(|i| {
                let (x, y) = (i % n, i / n);
                let xs = x.saturating_sub(smear / 2)..(x + smear - smear / 2).clamp(x + 1, n);
                let k = xs.len() as f32;
                xs.map(|sx| sharp[y * n + sx]).sum::<f32>() / k
            })
            .collect()
    }

    #[test]
    fn a_sideways_smear_takes_the_detail_across_and_leaves_it_down() {
        let still = detail_by_direction(&board(0), 32, 32);
        let moved = detail_by_direction(&board(4), 32, 32);
        assert!(still.weakest() > 20.0, "{still:?}");
        assert!(moved.across < still.across / 4.0, "{still:?} {moved:?}");
        assert!(moved.down > still.down * 0.6, "{still:?} {moved:?}");
        assert_eq!(moved.weakest(), moved.across);
        // one flat tone and a grid too small to take a second difference read nothing
        assert_eq!(detail_by_direction(&[90.0; 64], 8, 8), Sharpness::default());
        assert_eq!(
            detail_by_direction(&board(0)[..64], 2, 32),
            Sharpness::default()
        );
    }

    #[test]
    fn the_noise_is_read_off_grain_and_not_off_smooth_light() {
        // grain of a known deviation over a curved sweep of light: the curve is cancelled
        let (n, m) = (64, 64);
        let mut seed = 7u32;
        let mut uniform = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // a uniform spread of width 20 has a deviation of 20 / √12
        let cells: Vec<f32> = (0..n * m)
            .map(|i| {
                let (x, y) = ((i % n) as f32, (i / n) as f32);
                100.0 + 0.02 * x * x + 0.5 * y + 20.0 * uniform()
            })
            .collect();
        let sigma = noise_level(&cells, n, m);
        let want = 20.0 / 12f32.sqrt();
        assert!((sigma - want).abs() < want * 0.15, "{sigma} against {want}");
        let smooth: Vec<f32> = (0..n * m)
            .map(|i| 100.0 + 0.02 * ((i % n) as f32).powi(2))
            .collect();
        assert!(noise_level(&smooth, n, m) < 0.01);
        // the grain alone is no detail left above the noise
        let grain_only = detail_by_direction(&cells, n, m);
        assert!(grain_only.weakest() < 2.0, "{grain_only:?}");
    }

    #[test]
    fn a_face_box_between_one_and_two_grids_wide_reads_a_smooth_ramp_as_smooth() {
        // 150 px onto 128 cells: cells of one pixel and of two by turns make a straight ramp of
        // light zigzag (bends of 0.29 RMS), which reads as detail; cells of equal area follow
        // the ramp but for the pixels' own steps (0.06)
        let img = RgbImage::from_fn(170, 160, |x, _| {
            let v = x as u8;
            image::Rgb([v, v, v])
        });
        let (cells, n, m) = cells_in(&img, 10..160, 5..155).unwrap();
        assert_eq!((n, m), (128, 128));
        let bends: Vec<f32> = cells
            .chunks_exact(n)
            .flat_map(|row| row.windows(3).map(|w| w[0] + w[2] - 2.0 * w[1]))
            .collect();
        let rms = (bends.iter().map(|b| b * b).sum::<f32>() / bends.len() as f32).sqrt();
        assert!(rms < 0.1, "{rms}");
        // every cell is a mean of the picture: the box's mean is kept
        let mean = cells.iter().sum::<f32>() / cells.len() as f32;
        let want = (10..160).sum::<u32>() as f32 / 150.0;
        assert!((mean - want).abs() < 0.01, "{mean} {want}");
        // a face narrower than the grid is read pixel for pixel
        let (_, n, m) = cells_in(&img, 0..100, 0..120).unwrap();
        assert_eq!((n, m), (100, 120));
        assert!(cells_in(&img, 0..2, 0..120).is_none());
    }
}
