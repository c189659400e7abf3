//! The mouth: how far the lips part, and whether teeth show between them.

use super::{for_each_in, median, square, SkinPatches};
use crate::engine::{mesh_idx as idx, FaceMesh};
use crate::geometry::Point;
use crate::imaging::lab_of;
use image::RgbImage;

/// Gap between the inner lips over mouth width: a closed-lip smile is near 0, teeth showing is not.
/// A head turned by `yaw_deg` shows its mouth narrower by the cosine of the turn while the gap
/// stays, so the width is taken back to what it is face on (kiosk eval: a closed mouth on a
/// head turned 55 degrees read 0.15 against 0.1, 0.09 face on). Past 60 degrees the mesh's far
/// corner is a guess, and the correction stops there.
pub fn mouth_gap(mesh: &FaceMesh, yaw_deg: f32) -> f32 {
    let gap = mesh
        .point(idx::LIP_INNER_UPPER)
        .distance(mesh.point(idx::LIP_INNER_LOWER));
    let seen_width = mesh
        .point(idx::MOUTH_RIGHT)
        .distance(mesh.point(idx::MOUTH_LEFT));
    let foreshortening = yaw_deg.abs().min(60.0).to_radians().cos();
    gap / (seen_width / foreshortening).max(1e-3)
}

/// How much redder (Lab a*) than the cheeks a pixel may be and still count as teeth: the
/// mouth's own red light tints teeth a little, a lip's highlight is far redder.
const TEETH_REDDER_THAN_SKIN_AT_MOST: f32 = 4.0;

/// Lips less red than this (Lab a*) have no colour to tell teeth by: a black-and-white photo,
/// or a colour cast that took the red out.
const LEAST_LIP_RED: f32 = 3.0;

/// How far (over the mouth's width) past the lips' opening a light run must end to be teeth.
const TEETH_BOUNDED_WITHIN: f32 = 0.1;

/// Teeth between the lips: along the mouth's middle (between the inner lip contours, and a
/// little beyond them so that closed lips give their seam), the share of pixels lighter and
/// less red than the lips themselves. Closed lips show a dark seam there, a closed-lip smile
/// too however wide; teeth are a light band even when the lips part only a little, which the
/// lip gap alone missed. Teeth are also no redder than the skin (`skin`'s cheeks): a glossy
/// lip's highlight is lighter and less red than the lips too, but redder than the cheeks.
/// And teeth end at the lips: a light run that goes on past the opening (the inner lips and
/// their small margin) by more than [`TEETH_BOUNDED_WITHIN`] of the mouth's width is the skin
/// above or below the mouth, where the mesh's inner lip lies on the lip's outer edge (kiosk
/// eval: 3 of 14 closed mouths that failed pass, two of them skin above the lip, one a
/// moustache's edge; none of the 125 caught lost).
///
/// `opening` is the inner lips' columns, upper and lower point each, from the attention mesh
/// where it was run; None takes the plain mesh's. The attention mesh draws closed lips'
/// inner contours on their seam where the plain one often drew them on the lips' edges, over
/// a light lip edge or the skin beside a moustache (kiosk eval, session 20: closed mouths read
/// as teeth 9 -> 3 of 279, smiles with teeth found 92 -> 91 of 146, none of them lost to the
/// check; a helper's held-out sets: one closed mouth more passes, one less).
pub fn teeth_share(
    img: &RgbImage,
    mesh: &FaceMesh,
    skin: &SkinPatches,
    opening: Option<&[(Point, Point)]>,
) -> f32 {
    let width = mesh
        .point(idx::MOUTH_RIGHT)
        .distance(mesh.point(idx::MOUTH_LEFT))
        .max(1.0);
    let Some((lip_l, lip_a)) = lip_colour(img, mesh, width) else {
        return 0.0;
    };
    // A black-and-white photo has no red in its lips: there teeth are told by lightness
    // alone, with a wider margin since the seam's shadow is no longer ruled out by colour.
    let colourless = lip_a.abs() < LEAST_LIP_RED;
    let (lighter_by, redder_by, at_most_a) = if colourless {
        ((0.25 * lip_l).max(12.0), f32::NEG_INFINITY, f32::INFINITY)
    } else {
        // with no cheek in the picture the lips alone decide, as before the cheeks were asked
        let cheeks = skin.cheek_redness();
        let at_most_a = cheeks.map_or(f32::INFINITY, |a| a + TEETH_REDDER_THAN_SKIN_AT_MOST);
        ((0.12 * lip_l).max(8.0), 6.0, at_most_a)
    };
    let margin = (width * 0.03).max(1.0);
    // how far past the opening a light run may go and still end at a lip, in whole pixels so
    // that the opening's own cells fall on the same rows as without it; rounded down, since
    // rounding up let a moustache's edge back in (kiosk eval: 1 more wrong failure on the set,
    // 1 more on it shrunk to 160 px), so a mouth under ten pixels wide gets none
    let beyond = (TEETH_BOUNDED_WITHIN * width).floor();
    let (mut teeth, mut all) = (0u32, 0u32);
    let plain = idx::LIPS_OPENING.map(|(upper, lower)| (mesh.point(upper), mesh.point(lower)));
    for &(u, d) in opening.unwrap_or(&plain) {
        let x = ((u.x + d.x) / 2.0).round();
        // a NaN landmark is off the picture too
        if !(0.0..img.width() as f32).contains(&x) {
            continue;
        }
        let (y0, y1) = (u.y.min(d.y) - margin, u.y.max(d.y) + margin);
        let (top, bottom) = (y0.max(0.0), y1.min(img.height() as f32));
        // at the picture's edge the column stops there: a run that reaches it is not counted
        let mut runs = EnclosedRuns::default();
        let mut y = top - beyond.min(top).floor();
        while y < (bottom + beyond).min(img.height() as f32) {
            let lab = lab_of(img.get_pixel(x as u32, y as u32).0);
            let light = lab[0] > lip_l + lighter_by && lab[1] < (lip_a - redder_by).min(at_most_a);
            let in_opening = y >= top && y < bottom;
            all += u32::from(in_opening);
            runs.push(light, in_opening);
            y += 1.0;
        }
        teeth += runs.counted;
    }
    if all == 0 {
        0.0
    } else {
        teeth as f32 / all as f32
    }
}

/// The lips' own colour, Lab lightness and redness (a*): the medians halfway through the upper
/// and the lower lip at three places. None where none of them is in the picture.
fn lip_colour(img: &RgbImage, mesh: &FaceMesh, width: f32) -> Option<(f32, f32)> {
    let mut lip_l = Vec::new();
    let mut lip_a = Vec::new();
    for (outer, inner) in idx::LIP_THICKNESS {
        let c = mesh.point(outer).midpoint(mesh.point(inner));
        for_each_in(img, &square(c, (width * 0.04).max(1.0)), |_, _, p| {
            let lab = lab_of(p);
            lip_l.push(lab[0]);
            lip_a.push(lab[1]);
        });
    }
    (!lip_l.is_empty()).then(|| (median(lip_l), median(lip_a)))
}

/// How much darker than the lips (a share of their Lab L*) a pixel between them may be and
/// still be a tooth. Teeth in a smile's shade are seldom lighter than the lips (kiosk eval: of
/// 14 smiles with teeth that `teeth_share` read as none, 9 showed nothing lighter than the
/// lips); the mouth's dark inside and the seam of closed lips are darker than this. Shares,
/// not differences, so that a photo darkened or brightened reads the same.
const TINTED_TEETH_DARKER_AT_MOST: f32 = 0.3;
/// How much less red (a share of the lips' Lab a*) a pixel between them must be to be a tooth:
/// teeth are near grey or yellowish where lips are red, and closed lips' seam is their own
/// colour darkened.
const TINTED_TEETH_LESS_RED_BY: f32 = 0.25;
/// The mouth's width in pixels under which its colours between the lips say nothing: a few
/// pixels of JPEG blocks whose colours bleed into one another.
const TINTED_TEETH_MIN_MOUTH_WIDTH: f32 = 30.0;

/// The fewest pixels between the lips for their colours to say anything.
const TINTED_TEETH_MIN_PIXELS: u32 = 12;

/// Teeth told from lips by their colour rather than by their light: of the attention mesh's
/// opening between the inner lips (`opening`, its columns, upper and lower point each, walked
/// pixel column by pixel column between them), the share of pixels much less red than the
/// lips and not much darker. `teeth_share` wants teeth lighter than the lips, and a
/// smile's teeth in the shade of the upper lip are not: they are as light as pale lips, or
/// darker, but grey or yellowish where the lips are red (kiosk eval: smiles showing a band of
/// teeth read 0.2-0.47 here and 0 there; most closed lips' seams 0-0.05, a few up to 0.19).
/// None where colour cannot tell: a black-and-white photo or lips with no red, a mouth under
/// `TINTED_TEETH_MIN_MOUTH_WIDTH` pixels, or too few pixels between the lips.
pub fn tinted_teeth_share(
    img: &RgbImage,
    mesh: &FaceMesh,
    opening: &[(Point, Point)],
) -> Option<f32> {
    let width = mesh
        .point(idx::MOUTH_RIGHT)
        .distance(mesh.point(idx::MOUTH_LEFT));
    // a NaN width is not wide enough either
    if width.is_nan() || width < TINTED_TEETH_MIN_MOUTH_WIDTH {
        return None;
    }
    let (lip_l, lip_a) = lip_colour(img, mesh, width)?;
    // lips with no red (black and white, or a colour cast) cannot tell teeth by it. Not
    // measured against the cheeks' red: lips barely redder than dark skin, and teeth lit
    // warm, are teeth all the same (kiosk eval: asking the lips to be 3 redder than the
    // cheeks and the teeth no redder than them lost 6 of 16 smiles it caught, most of them
    // dark-skinned faces, and passed no closed mouth more)
    if lip_a < LEAST_LIP_RED {
        return None;
    }
    let darkest_tooth = lip_l * (1.0 - TINTED_TEETH_DARKER_AT_MOST);
    let reddest_tooth = lip_a * (1.0 - TINTED_TEETH_LESS_RED_BY);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (mut tinted, mut all) = (0u32, 0u32);
    for pair in opening.windows(2) {
        let ((u0, d0), (u1, d1)) = (pair[0], pair[1]);
        let span = ((u1.x + d1.x) / 2.0 - (u0.x + d0.x) / 2.0).abs();
        // one step per pixel column between the two, at least one
        let steps = span.floor().clamp(1.0, w) as u32;
        for step in 0..steps {
            let t = step as f32 / steps as f32;
            let (u, d) = (u0.lerp(u1, t), d0.lerp(d1, t));
            let x = ((u.x + d.x) / 2.0).round();
            // a NaN landmark is off the picture too
            if !(0.0..w).contains(&x) || !u.y.is_finite() || !d.y.is_finite() {
                continue;
            }
            // the rows the lips lie in and every row between: closed lips' seam is then read
            // with a row of each lip beside it, which tells it from teeth better than the
            // seam alone (kiosk eval: leaving the lower lip's row out raised two closed
            // mouths to 0.23 and 0.35)
            let top = u.y.min(d.y).floor().max(0.0);
            let bottom = u.y.max(d.y).ceil().min(h - 1.0);
            let mut y = top;
            while y <= bottom {
                let [l, a, _] = lab_of(img.get_pixel(x as u32, y as u32).0);
                all += 1;
                if l > darkest_tooth && a < reddest_tooth {
                    tinted += 1;
                }
                y += 1.0;
            }
        }
    }
    (all >= TINTED_TEETH_MIN_PIXELS).then(|| tinted as f32 / all as f32)
}

/// Light cells down one column, counted where their run ends inside the column: a run that
/// starts at the column's first cell, or is still going at its last, is not counted.
#[derive(Default)]
struct EnclosedRuns {
    cells: usize,
    /// The run going on: the cell it started at, and its cells inside the opening so far.
    run: Option<(usize, u32)>,
    counted: u32,
}

impl EnclosedRuns {
    /// The next cell down: whether it is light enough for teeth, and whether it lies in the
    /// lips' opening (only those count).
    fn push(&mut self, light: bool, in_opening: bool) {
        let inside = u32::from(in_opening);
        self.run = match (light, self.run) {
            (true, None) => Some((self.cells, inside)),
            (true, Some((start, n))) => Some((start, n + inside)),
            (false, Some((start, n))) => {
                if start > 0 {
                    self.counted += n;
                }
                None
            }
            (false, None) => None,
        };
        self.cells += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::EnclosedRuns;

    /// `cells` as light (1) or not (0), those from `opening.0` to `opening.1` in the opening.
    fn counted(cells: &[u8], opening: (usize, usize)) -> u32 {
        let mut runs = EnclosedRuns::default();
        for (i, &c) in cells.iter().enumerate() {
            runs.push(c == 1, (opening.0..opening.1).contains(&i));
        }
        runs.counted
    }

    #[test]
    fn a_run_counts_only_where_it_ends_inside_the_column() {
        // a run ending inside counts, within the opening only
        assert_eq!(counted(&[0, 1, 1, 1, 0], (0, 5)), 3);
        assert_eq!(counted(&[0, 1, 1, 1, 0], (2, 4)), 2);
        // runs touching either end of the column do not
        assert_eq!(counted(&[1, 1, 0, 1, 0], (0, 5)), 1);
        assert_eq!(counted(&[0, 1, 0, 1, 1], (0, 5)), 1);
        assert_eq!(counted(&[1, 1, 1], (0, 3)), 0);
        assert_eq!(counted(&[], (0, 0)), 0);
    }
}
