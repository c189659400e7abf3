//! What covers the forehead, the top of the head and the brows: the face's skin, the
//! candidate's own hair, or something else (a cap, a hat, a scarf).
//!
//! Colour alone cannot tell a fringe from a cap: both are "not skin" on the forehead, which is
//! why a fringe used to be called headwear. The candidate's own hair can be seen beside the
//! temples, where a cap seldom reaches, so cover that matches it is hair and cover that does
//! not is something worn.

use super::{colour_distance, for_each_in, median, SkinPatches};
use crate::catalog::CheckLimits;
use crate::engine::{mesh_idx as idx, FaceMesh, PartShares, PersonMask};
use crate::geometry::{BoundingBox, Point};
use crate::imaging::lab_of;
use image::RgbImage;

/// Mesh points on the face's outline at the temples (subject's right, left): the hair beside
/// them is the candidate's own.
const RIGHT_TEMPLE: [usize; 3] = [162, 21, 54];
const LEFT_TEMPLE: [usize; 3] = [389, 251, 284];
/// A colour this close to the hair at the temples (Lab, lightness at half weight) is hair.
const SAME_HAIR: f32 = 18.0;
/// Below this skin-likeness a pixel is cover (hair or something worn).
const NOT_SKIN: f32 = 0.5;
/// Top-of-head pixels count only where the person mask is sure: at its soft edge the
/// background (a warm wall reads as neither skin nor hair) bleeds in.
const MIN_PERSON: f32 = 0.8;

/// Hair or anything else just above the brows, each a share in 0..=1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BrowCover {
    /// The less covered brow's band: a fringe over both brows covers both.
    pub both: f32,
    /// The more covered brow's band: a side fringe over one brow.
    pub one: f32,
}

/// A cap, hat or scarf on the forehead or the top of the head.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WornCover {
    /// Of the forehead and the top of the head (the worse of the two), the share that is
    /// neither skin nor the candidate's hair.
    pub share: f32,
    /// Whether hair was found beside the temples to compare with; without it, any colour
    /// natural hair can have counts as hair.
    pub hair_seen: bool,
}

/// How a pixel reads against the skin and the hair reference.
#[derive(Clone, Copy, PartialEq)]
enum Cover {
    Skin,
    Hair,
    Worn,
}

/// Whether a colour could be natural hair: near-black at any hue, greys and whites with
/// almost no colour, browns, blonds and reds in the orange-to-yellow hues at moderate chroma.
/// A red, blue or green cap or a bright scarf cannot; a black cap can, and passes for hair.
fn hair_like(lab: [f32; 3]) -> bool {
    let chroma = (lab[1] * lab[1] + lab[2] * lab[2]).sqrt();
    if chroma < 12.0 || lab[0] < 25.0 {
        return true;
    }
    let hue = lab[2].atan2(lab[1]).to_degrees();
    chroma <= 50.0 && (20.0..=100.0).contains(&hue)
}

/// Skin first; then hair: the colour of the hair beside the temples where it was seen, any
/// colour hair can have where it was not; anything else is worn.
fn classify(skin: &SkinPatches, hair: Option<[f32; 3]>, lab: [f32; 3]) -> Cover {
    if skin.skin_likeness(lab) >= NOT_SKIN {
        Cover::Skin
    } else if hair_like(lab) && hair.is_none_or(|h| colour_distance(lab, h) < SAME_HAIR) {
        Cover::Hair
    } else {
        Cover::Worn
    }
}

/// Median colour of the non-skin person pixels beside the temples (None when there are too
/// few: cropped hair, a bald head, a scarf's edge lost in the background).
fn hair_reference(
    img: &RgbImage,
    mesh: &FaceMesh,
    mask: &PersonMask,
    skin: &SkinPatches,
) -> Option<[f32; 3]> {
    let fw = mesh.face_width();
    let centre = mesh.right_eye().midpoint(mesh.left_eye());
    let (mut l, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = 0u32;
    for &i in RIGHT_TEMPLE.iter().chain(LEFT_TEMPLE.iter()) {
        let p = mesh.point(i);
        let out = Point::new(p.x - centre.x, p.y - centre.y);
        let len = (out.x * out.x + out.y * out.y).sqrt().max(1.0);
        let c = Point::new(p.x + out.x / len * fw * 0.1, p.y + out.y / len * fw * 0.1);
        let s = fw * 0.07;
        let patch = BoundingBox {
            x0: c.x - s,
            y0: c.y - s,
            x1: c.x + s,
            y1: c.y + s,
        };
        for_each_in(img, &patch, |x, y, px| {
            seen += 1;
            if mask.at(Point::new(x as f32 + 0.5, y as f32 + 0.5)) < 0.5 {
                return;
            }
            let c = lab_of(px);
            if skin.skin_likeness(c) < NOT_SKIN {
                l.push(c[0]);
                a.push(c[1]);
                b.push(c[2]);
            }
        });
    }
    // a tenth of the patches (and 20 pixels) must be cover for its colour to mean anything,
    // and a colour no hair has (a scarf down the sides) is not a reference for hair
    if l.len() < 20 || l.len() * 10 < seen as usize {
        return None;
    }
    let reference = [median(l), median(a), median(b)];
    hair_like(reference).then_some(reference)
}

/// Shares of (skin, hair, worn) over the person pixels of a box.
fn shares(
    img: &RgbImage,
    region: &BoundingBox,
    mask: Option<&PersonMask>,
    skin: &SkinPatches,
    hair: Option<[f32; 3]>,
) -> [f32; 3] {
    let mut n = [0u32; 3];
    for_each_in(img, region, |x, y, px| {
        if mask.is_some_and(|m| m.at(Point::new(x as f32 + 0.5, y as f32 + 0.5)) < MIN_PERSON) {
            return;
        }
        let k = match classify(skin, hair, lab_of(px)) {
            Cover::Skin => 0,
            Cover::Hair => 1,
            Cover::Worn => 2,
        };
        n[k] += 1;
    });
    let all = (n[0] + n[1] + n[2]).max(1) as f32;
    n.map(|k| k as f32 / all)
}

/// Hair over the brows from above: per brow, the share of a band from the brow's top up a
/// third of the way to the eye-to-brow distance that is not skin. Bare skin there on an open
/// forehead, even under a fringe that stops short; hair when the fringe reaches the brow.
/// Needs no person mask, so the live guide reads the same number as the still check.
pub fn hair_over_brows(img: &RgbImage, mesh: &FaceMesh, skin: &SkinPatches) -> BrowCover {
    let brow = |ids: &[usize], eye: Point| {
        let b = BoundingBox::around(ids.iter().map(|&i| mesh.point(i))).unwrap_or_default();
        let u = (eye.y - b.centre().y).max(1.0);
        let w = b.x1 - b.x0;
        let band = BoundingBox {
            x0: b.x0 + w * 0.1,
            x1: b.x1 - w * 0.1,
            y0: b.y0 - u * 0.35,
            y1: b.y0,
        };
        let (mut covered, mut all) = (0u32, 0u32);
        for_each_in(img, &band, |_, _, px| {
            all += 1;
            if skin.skin_likeness(lab_of(px)) < NOT_SKIN {
                covered += 1;
            }
        });
        // a band outside the picture shows no bare skin: it cannot pass as uncovered
        if all == 0 {
            1.0
        } else {
            covered as f32 / all as f32
        }
    };
    let r = brow(&idx::RIGHT_BROW, mesh.right_eye());
    let l = brow(&idx::LEFT_BROW, mesh.left_eye());
    BrowCover {
        both: r.min(l),
        one: r.max(l),
    }
}

/// Something worn on the forehead or the top of the head (up to `crown`, the top of the
/// person's outline): cover that is neither skin nor the colour of the hair at the temples.
pub fn worn_cover(
    img: &RgbImage,
    mesh: &FaceMesh,
    mask: &PersonMask,
    skin: &SkinPatches,
    crown: Point,
) -> WornCover {
    let hair = hair_reference(img, mesh, mask, skin);
    let fw = mesh.face_width();
    let top = mesh.point(idx::FOREHEAD_TOP);
    let forehead = super::forehead_band(mesh);
    let crown_box = BoundingBox {
        x0: top.x - fw * 0.25,
        x1: top.x + fw * 0.25,
        y0: crown.y.min(top.y - fw * 0.05),
        y1: top.y - fw * 0.03,
    };
    let worn_forehead = shares(img, &forehead, None, skin, hair)[2];
    let worn_crown = if crown_box.y1 - crown_box.y0 >= 2.0 {
        shares(img, &crown_box, Some(mask), skin, hair)[2]
    } else {
        0.0
    };
    WornCover {
        share: worn_forehead.max(worn_crown),
        hair_seen: hair.is_some(),
    }
}

/// Whether what covers the brows is a hat's brim rather than hair: the face parsing found a hat
/// above the brows and no hair over them. The pixel measures of hair over the brows see only
/// "not skin" there, so a cap's brim read as a fringe, and the candidate was told to move hair
/// that is not there (kiosk eval: a cap, a beanie and a felt hat failed hair_occlusion). The hat
/// itself fails `headwear`, which tells them what to take off.
pub fn brow_cover_is_a_hat(parts: &PartShares, lim: &CheckLimits) -> bool {
    parts.hat_above_brows > lim.max_parsed_hat
        && parts.hair_over_brows <= lim.max_parsed_hair_over_brows
}

/// Whether the parsing sees the brows bare: next to no hair in the band above them or down to
/// below the eyes, and the face itself (skin, brows, eyes, and clear lenses with their frames)
/// over more than a quarter of that band on both sides, the rest background or neck on a head
/// turned or thrown back. Then the colour measures' cover there is the face's own
/// dark (heavy brows, a shadow under the brow ridge) or frames that `glasses` judges, and does
/// not fail `hair_occlusion`; a patch, a scarf or dark lenses over the eyes are not the face,
/// so their cover still does.
pub fn brows_bare_to_parsing(parts: &PartShares, lim: &CheckLimits) -> bool {
    parts.hair_over_brows <= lim.max_parsed_hair_bare_brows
        && parts.hair_at_brows_and_eyes <= lim.max_parsed_hair_at_brows_and_eyes
        && parts.face_at_brows_and_eyes >= lim.min_parsed_face_at_brows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_over_the_brows_is_a_brim_only_under_a_hat_with_no_hair_there() {
        let lim = CheckLimits::default();
        let parts = |hat: f32, hair: f32| PartShares {
            hat_above_brows: hat,
            hair_over_brows: hair,
            ..Default::default()
        };
        assert!(brow_cover_is_a_hat(&parts(0.6, 0.0), &lim));
        // a fringe under the cap is still hair over the brows
        assert!(!brow_cover_is_a_hat(&parts(0.6, 0.9), &lim));
        // no hat: whatever covers the brows is for the hair measures to judge
        assert!(!brow_cover_is_a_hat(&parts(0.0, 0.0), &lim));
    }

    #[test]
    fn brows_are_bare_only_with_no_hair_over_them_and_the_face_itself_around_them() {
        let lim = CheckLimits::default();
        let parts = |hair: f32, face: f32| PartShares {
            hair_over_brows: hair,
            face_at_brows_and_eyes: face,
            ..Default::default()
        };
        assert!(brows_bare_to_parsing(&parts(0.0, 0.8), &lim));
        // a fringe
        assert!(!brows_bare_to_parsing(&parts(0.3, 0.8), &lim));
        // no hair, but a patch, a scarf or frames where the brows and eyes should be
        assert!(!brows_bare_to_parsing(&parts(0.0, 0.1), &lim));
        assert!(!brows_bare_to_parsing(&parts(0.0, 0.22), &lim));
        // no hair, and the face itself over a third of the band: a head turned or thrown
        // back, the rest of the band background or neck
        assert!(brows_bare_to_parsing(&parts(0.0, 0.32), &lim));
        // bare brows, but a lock of hair across an eye below them
        let lock = PartShares {
            hair_at_brows_and_eyes: 0.3,
            ..parts(0.0, 0.6)
        };
        assert!(!brows_bare_to_parsing(&lock, &lim));
        // a parsing that saw nothing of the band
        assert!(!brows_bare_to_parsing(&PartShares::default(), &lim));
    }
}
