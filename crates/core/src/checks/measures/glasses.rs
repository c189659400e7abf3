//! Eyeglasses, from the lines a frame draws across the face: the bridge over the nose, the
//! lower rims under the eyes and the temples towards the ears.

use super::median_in;
use crate::catalog::CheckLimits;
use crate::engine::{mesh_idx as idx, FaceMesh};
use crate::geometry::BoundingBox;
use crate::imaging::luma;
use image::RgbImage;

/// The strongest thin horizontal line across a strip, relative to the strip's luminance: each
/// row's median (a line that crosses the whole strip, not a blob in part of it) compared with
/// the rows `k` above and below; a line differs from both in the same direction, a step like a
/// brow's edge from only one.
fn line_response(img: &RgbImage, strip: &BoundingBox, k: usize) -> f32 {
    row_medians(img, strip).map_or(0.0, |rows| strongest_line(&rows, k))
}

/// Each row's median luma across `strip` (None for a strip off the image or under 2 px wide).
fn row_medians(img: &RgbImage, strip: &BoundingBox) -> Option<Vec<f32>> {
    let (x0, y0, x1, y1) = strip.clamp_to(img.width(), img.height())?;
    if x1 - x0 < 2 {
        return None;
    }
    let mut row = Vec::with_capacity((x1 - x0) as usize);
    let rows = (y0..y1)
        .map(|y| {
            row.clear();
            row.extend((x0..x1).map(|x| luma(img.get_pixel(x, y).0)));
            median_in(&mut row)
        })
        .collect();
    Some(rows)
}

/// [`line_response`] on rows already reduced to their medians.
fn strongest_line(rows: &[f32], k: usize) -> f32 {
    if rows.len() < 2 * k + 2 {
        return 0.0;
    }
    let level = rows.iter().sum::<f32>() / rows.len() as f32;
    let mut strongest = 0.0f32;
    for y in k..rows.len() - k {
        let (up, down) = (rows[y - k] - rows[y], rows[y + k] - rows[y]);
        let line = if up.signum() == down.signum() {
            up.abs().min(down.abs())
        } else {
            0.0
        };
        strongest = strongest.max(line);
    }
    100.0 * strongest / level.max(8.0)
}

/// Where a pair of glasses shows: the bridge across the nose, the lower rims under the eyes
/// and the temples from the outer eye corners to the face's edge. Each is a line response.
#[derive(Clone, Copy, Debug, Default)]
pub struct GlassesLines {
    pub bridge: f32,
    /// The bridge at half the line thickness: a thin frame keeps its response, a thick band
    /// (brows meeting over the nose) loses it.
    pub thin_bridge: f32,
    pub rims: f32,
    pub temples: f32,
}

/// The inner eye corners' distance and the line thickness a frame has at that size.
fn bridge_scale(mesh: &FaceMesh) -> (f32, usize) {
    let span = mesh
        .point(idx::RIGHT_EYE_INNER)
        .distance(mesh.point(idx::LEFT_EYE_INNER));
    (span, ((span * 0.06).round() as usize).max(1))
}

/// The bridge's line response at the frame's line thickness and at half of it, from one pass
/// over the strip between the eyes: (bridge, thin bridge).
fn bridge_lines(img: &RgbImage, mesh: &FaceMesh) -> (f32, f32) {
    let ri = mesh.point(idx::RIGHT_EYE_INNER);
    let li = mesh.point(idx::LEFT_EYE_INNER);
    let (span, k) = bridge_scale(mesh);
    let (cx, eye_y) = ((ri.x + li.x) / 2.0, (ri.y + li.y) / 2.0);
    let strip = BoundingBox {
        x0: cx - span * 0.15,
        x1: cx + span * 0.15,
        y0: eye_y - span * 0.35,
        y1: eye_y + span * 0.1,
    };
    row_medians(img, &strip).map_or((0.0, 0.0), |rows| {
        (
            strongest_line(&rows, k),
            strongest_line(&rows, k.div_ceil(2)),
        )
    })
}

pub fn glasses_lines(img: &RgbImage, mesh: &FaceMesh) -> GlassesLines {
    let (span, k) = bridge_scale(mesh);
    let (bridge, thin_bridge) = bridge_lines(img, mesh);
    // a lower rim runs under the eye's middle half, between the lid and the cheek's top
    let rim = |outer: usize, inner: usize, lower: [usize; 3]| {
        let (a, b) = (mesh.point(outer), mesh.point(inner));
        let w = a.distance(b);
        let c = a.midpoint(b);
        let lid = lower
            .iter()
            .map(|&i| mesh.point(i).y)
            .fold(f32::MIN, f32::max);
        line_response(
            img,
            &BoundingBox {
                x0: c.x - w * 0.25,
                x1: c.x + w * 0.25,
                y0: lid + w * 0.05,
                y1: lid + w * 0.75,
            },
            k,
        )
    };
    let rims = rim(
        idx::RIGHT_EYE_OUTER,
        idx::RIGHT_EYE_INNER,
        idx::RIGHT_EYE_LOWER,
    )
    .max(rim(
        idx::LEFT_EYE_OUTER,
        idx::LEFT_EYE_INNER,
        idx::LEFT_EYE_LOWER,
    ));
    // a temple leaves the frame beside the outer eye corner towards the ear
    let temple = |outer: usize, edge: usize| {
        let (o, e) = (mesh.point(outer), mesh.point(edge));
        let (xa, xb) = (o.x + (e.x - o.x) * 0.35, o.x + (e.x - o.x) * 0.85);
        line_response(
            img,
            &BoundingBox {
                x0: xa.min(xb),
                x1: xa.max(xb),
                y0: o.y - span * 0.3,
                y1: o.y + span * 0.25,
            },
            k,
        )
    };
    let temples = temple(idx::RIGHT_EYE_OUTER, idx::FACE_EDGE_RIGHT)
        .max(temple(idx::LEFT_EYE_OUTER, idx::FACE_EDGE_LEFT));
    GlassesLines {
        bridge,
        thin_bridge,
        rims,
        temples,
    }
}

/// Eyeglasses: a frame's bridge crosses the nose between the eyes as a thin horizontal line
/// that bare skin does not have. Measured at two thicknesses: a thin metal frame stands out at
/// half the usual line width, where brows meeting over the nose (a thick band) do not; a thick
/// frame stands out strongly at the usual width. On tests/eval: frames 7.6–26, bare faces ≤ 4.8
/// at the 99th percentile, brows meeting over the nose 4.3, deep creases across the nose of an
/// old face 19 (the one look-alike it fails).
pub fn glasses_evidence(lines: &GlassesLines) -> f32 {
    lines.thin_bridge.max(0.6 * (lines.bridge - 10.0))
}

/// The limit the frame lines ([`glasses_evidence`]) are held to: raised where the face
/// parsing read this face, saw no glasses on it, and the face is wide enough for it to see
/// thin frames (`parsed_eyeglasses` None: no parsing, the plain limit).
pub fn glasses_lines_limit(
    parsed_eyeglasses: Option<f32>,
    face_width: f32,
    lim: &CheckLimits,
) -> f32 {
    let bare_to_parsing = parsed_eyeglasses.is_some_and(|share| share <= lim.max_parsed_eyeglasses);
    if bare_to_parsing && face_width >= lim.min_face_width_parsed_bare {
        lim.max_glasses_evidence_parsed_bare
    } else {
        lim.max_glasses_evidence
    }
}

/// [`glasses_evidence`] from the two bridge lines alone (the live guide's per-frame cost).
pub fn bridge_glasses_evidence(img: &RgbImage, mesh: &FaceMesh) -> f32 {
    let (bridge, thin_bridge) = bridge_lines(img, mesh);
    glasses_evidence(&GlassesLines {
        bridge,
        thin_bridge,
        ..GlassesLines::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_limit_rises_only_where_the_parsing_read_a_bare_face_wide_enough() {
        let lim = CheckLimits::default();
        let plain = lim.max_glasses_evidence;
        let raised = lim.max_glasses_evidence_parsed_bare;
        assert!(raised > plain);
        assert_eq!(glasses_lines_limit(Some(0.0), 200.0, &lim), raised);
        // no parsing, glasses seen, or a face too small for thin frames to show to it
        assert_eq!(glasses_lines_limit(None, 200.0, &lim), plain);
        assert_eq!(glasses_lines_limit(Some(0.2), 200.0, &lim), plain);
        assert_eq!(glasses_lines_limit(Some(0.0), 90.0, &lim), plain);
    }
}
