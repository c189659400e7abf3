//! Is the face in focus, and did it keep still? Fine detail across the face, in every
//! direction: a face out of focus loses it in all of them, a face that moved during the
//! exposure only along the movement, so the weakest direction is the one that tells.

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

/// The face from the outer brows to the lower lip, as luminance on a grid `GRID` cells wide:
/// each cell the mean of the pixels in it. A face narrower than the grid is read pixel for
/// pixel instead: spreading it over more cells would leave empty ones, which read as edges.
fn face_cells(img: &RgbImage, mesh: &FaceMesh) -> Option<(Vec<f32>, usize, usize)> {
    let b = BoundingBox::around([
        mesh.point(idx::FACE_EDGE_RIGHT),
        mesh.point(idx::FACE_EDGE_LEFT),
        mesh.mean(&idx::RIGHT_BROW),
        mesh.point(idx::LIP_OUTER_LOWER),
    ])?
    .scaled(0.8, 0.9);
    let (x0, y0, x1, y1) = b.clamp_to(img.width(), img.height())?;
    let (bw, bh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let n = GRID.min(bw);
    let m = ((bh as f32 / bw as f32) * n as f32).round() as usize;
    let m = m.clamp(3, bh.max(3));
    if n < 3 || bh < 3 {
        return None;
    }
    // each column's and row's cell, worked out once rather than per pixel
    let column_cell: Vec<usize> = (0..bw).map(|i| (i * n / bw).min(n - 1)).collect();
    let mut per_column = vec![0u32; n];
    column_cell.iter().for_each(|&c| per_column[c] += 1);
    let mut cells = vec![0.0f32; n * m];
    let mut per_row = vec![0u32; m];
    let (width, raw) = (img.width() as usize, img.as_raw());
    for y in y0 as usize..y1 as usize {
        let cy = ((y - y0 as usize) * m / bh).min(m - 1);
        per_row[cy] += 1;
        let row = &mut cells[cy * n..(cy + 1) * n];
        let start = (y * width + x0 as usize) * 3;
        let pixels = raw[start..start + bw * 3].chunks_exact(3);
        for (px, &cx) in pixels.zip(&column_cell) {
            row[cx] += luma([px[0], px[1], px[2]]);
        }
    }
    for (cy, row) in cells.chunks_exact_mut(n).enumerate() {
        for (c, &k) in row.iter_mut().zip(&per_column) {
            *c /= (k * per_row[cy]).max(1) as f32;
        }
    }
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
    // a diagonal neighbour is √2 away: its second difference is twice as large on the same
    // smooth ramp, so it is halved to read on the same scale as across and down
    let score = |e: f32, scale: f32| 100.0 * (e / k).sqrt() * scale / spread;
    Sharpness {
        across: score(energy[0], 1.0),
        down: score(energy[1], 1.0),
        diagonal: [score(energy[2], 0.5), score(energy[3], 0.5)],
    }
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
}
