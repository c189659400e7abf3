//! Planning the crop: the scale and offset that put the crown, the eye line, the face width and
//! the head height inside the spec's windows. Pure geometry on the engine's landmarks; the photo
//! is never rotated or mirrored.

use crate::catalog::{ExamProfile, PhotoSpec};
use crate::engine::{FaceGeometry, StillAnalysis};
use crate::geometry::{BoundingBox, Point, Similarity};
use serde::Serialize;

/// Where the face lands in the output photo, in output pixels.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct PlacedGeometry {
    pub crown_from_top: f32,
    pub eyes_from_top: f32,
    pub face_width: f32,
    pub head_height: f32,
    /// Face centre minus image centre, horizontally.
    pub centre_offset: f32,
}

/// The maker's plan for one capture.
#[derive(Clone, Debug, Serialize)]
pub struct Framing {
    /// Output pixels per source pixel.
    pub scale: f32,
    /// The source point that becomes the output's top-left corner.
    pub origin: Point,
    pub out_width: u32,
    pub out_height: u32,
    /// Share of the crop that lies inside the source image.
    pub inside_share: f32,
    /// Every window of the spec can be met.
    pub feasible: bool,
    pub placed: PlacedGeometry,
}

impl Framing {
    pub fn to_output(&self) -> Similarity {
        Similarity {
            a: self.scale,
            b: 0.0,
            tx: -self.origin.x * self.scale,
            ty: -self.origin.y * self.scale,
        }
    }
    /// The crop in source pixels.
    pub fn source_region(&self) -> BoundingBox {
        BoundingBox {
            x0: self.origin.x,
            y0: self.origin.y,
            x1: self.origin.x + self.out_width as f32 / self.scale,
            y1: self.origin.y + self.out_height as f32 / self.scale,
        }
    }
}

/// Margin of `v` inside `[a, b]` (negative outside).
fn margin(v: f32, w: Option<[f32; 2]>) -> f32 {
    match w {
        Some([a, b]) => (v - a).min(b - v),
        None => f32::MAX,
    }
}

/// The plan for an analysed capture under a profile (`None` without a face). Where the profile
/// paints the background and the head is whole, the crop may reach above the image.
pub fn framing_for(
    analysis: &StillAnalysis,
    spec: &PhotoSpec,
    profile: &ExamProfile,
) -> Option<Framing> {
    let s = analysis.subject.as_ref()?;
    let pad_top = profile.replace_background && !s.geometry.crown_cut;
    Some(plan_framing(
        &s.geometry,
        spec,
        analysis.width,
        analysis.height,
        pad_top,
    ))
}

/// Finds the scale and vertical offset that keep every window with the largest margin.
pub fn plan_framing(
    g: &FaceGeometry,
    spec: &PhotoSpec,
    img_w: u32,
    img_h: u32,
    pad_top: bool,
) -> Framing {
    let (w, h) = (spec.width as f32, spec.height as f32);
    let crown_w = spec.crown_window().or(match spec.eyes_from_top {
        // a spec that places nothing vertically: a usual passport top margin
        None => Some([0.06 * h, 0.14 * h]),
        Some(_) => None,
    });
    let eyes_w = spec.eyes_from_top;
    let face_w = spec.face_width;
    let head_w = spec.head_height_window();
    let fw = g.face_width.max(1.0);
    let hh = (g.chin.y - g.crown.y).max(1.0);

    // the scale range the size windows allow; without one, what the vertical windows suggest
    let mut lo: f32 = 1e-3;
    let mut hi: f32 = 1e3;
    if let Some([a, b]) = face_w {
        lo = lo.max(a / fw);
        hi = hi.min(b / fw);
    }
    if let Some([a, b]) = head_w {
        lo = lo.max(a / hh);
        hi = hi.min(b / hh);
    }
    if face_w.is_none() && head_w.is_none() {
        // eyes and crown windows alone: the crown-to-eye distance sets the scale
        let ce = (g.eye_mid.y - g.crown.y).max(1.0);
        let (c, e) = (
            crown_w.unwrap_or([0.1 * h, 0.1 * h]),
            eyes_w.unwrap_or([0.45 * h, 0.45 * h]),
        );
        lo = ((e[0] - c[1]).max(1.0)) / ce;
        hi = (e[1] - c[0]).max(2.0) / ce;
    }
    if lo > hi {
        // the windows contradict each other for this face: aim between them
        let mid = (lo * hi).sqrt();
        lo = mid;
        hi = mid;
    }

    let mut best: Option<(f32, Framing)> = None;
    let steps = 120;
    for i in 0..=steps {
        let s = lo * (hi / lo).powf(i as f32 / steps as f32);
        // vertical offset window from the crown and eye windows
        let (mut oy_lo, mut oy_hi) = (f32::MIN, f32::MAX);
        if let Some([a, b]) = crown_w {
            oy_lo = oy_lo.max(g.crown.y - b / s);
            oy_hi = oy_hi.min(g.crown.y - a / s);
        }
        if let Some([a, b]) = eyes_w {
            oy_lo = oy_lo.max(g.eye_mid.y - b / s);
            oy_hi = oy_hi.min(g.eye_mid.y - a / s);
        }
        // the middle of the allowed offsets; when they do not overlap, the compromise between them
        let oy = (oy_lo + oy_hi) / 2.0;
        let cx = g.eye_mid.x;
        let ox = cx - w / (2.0 * s);
        let placed = PlacedGeometry {
            crown_from_top: (g.crown.y - oy) * s,
            eyes_from_top: (g.eye_mid.y - oy) * s,
            face_width: fw * s,
            head_height: hh * s,
            centre_offset: 0.0,
        };
        let m = margin(placed.crown_from_top, crown_w)
            .min(margin(placed.eyes_from_top, eyes_w))
            .min(margin(placed.face_width, face_w))
            .min(margin(placed.head_height, head_w));
        let region = BoundingBox {
            x0: ox,
            y0: oy,
            x1: ox + w / s,
            y1: oy + h / s,
        };
        // where the background is painted, room above the image is just more background
        let top = if pad_top { f32::MIN } else { 0.0 };
        let inside = BoundingBox {
            x0: region.x0.max(0.0),
            y0: region.y0.max(top),
            x1: region.x1.min(img_w as f32),
            y1: region.y1.min(img_h as f32),
        };
        let inside_share = inside.area() / region.area().max(1e-3);
        // margin first, up to a safe amount (measurement noise on the output), then the plan
        // that needs the least padding beyond the image
        let safe = 0.03 * h;
        let score = m.min(safe) * 1000.0 + inside_share;
        let framing = Framing {
            scale: s,
            origin: Point::new(ox, oy),
            out_width: spec.width,
            out_height: spec.height,
            inside_share,
            feasible: m >= 0.0,
            placed,
        };
        if best.as_ref().is_none_or(|(bs, _)| score > *bs) {
            best = Some((score, framing));
        }
    }
    best.map(|(_, f)| f).unwrap_or(Framing {
        scale: 1.0,
        origin: Point::default(),
        out_width: spec.width,
        out_height: spec.height,
        inside_share: 0.0,
        feasible: false,
        placed: PlacedGeometry::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn geometry() -> FaceGeometry {
        FaceGeometry {
            right_eye: Point::new(900.0, 500.0),
            left_eye: Point::new(1020.0, 500.0),
            eye_mid: Point::new(960.0, 500.0),
            crown: Point::new(960.0, 300.0),
            crown_cut: false,
            chin: Point::new(960.0, 720.0),
            face_width: 280.0,
            up: Point::new(0.0, -1.0),
        }
    }

    #[test]
    fn every_shipped_spec_can_frame_a_centred_face() {
        let c = Catalog::shipped().unwrap();
        for spec in c.specs.values() {
            let f = plan_framing(&geometry(), spec, 1920, 1440, false);
            assert!(f.feasible, "{}: {:?}", spec.name, f.placed);
            if let Some([a, b]) = spec.crown_window() {
                assert!((a..=b).contains(&f.placed.crown_from_top), "{}", spec.name);
            }
            if let Some([a, b]) = spec.face_width {
                assert!((a..=b).contains(&f.placed.face_width), "{}", spec.name);
            }
            assert!(f.inside_share > 0.99, "{}: {}", spec.name, f.inside_share);
        }
    }

    #[test]
    fn a_face_at_the_top_edge_cannot_be_framed_inside_the_image() {
        let mut g = geometry();
        for p in [&mut g.crown, &mut g.eye_mid, &mut g.chin] {
            p.y -= 290.0;
        }
        let c = Catalog::shipped().unwrap();
        let f = plan_framing(&g, c.spec("chsi").unwrap(), 1920, 1080, false);
        assert!(f.inside_share < 0.97, "{}", f.inside_share);
        // painting the background fills the missing strip above the head
        let f = plan_framing(&g, c.spec("chsi").unwrap(), 1920, 1080, true);
        assert!(f.inside_share > 0.99, "{}", f.inside_share);
    }
}
