//! `mouth_closed`: five readings of the lips, any of which fails an open mouth or teeth, and
//! one that overrules the plain mesh where it parts lips that are together.

use super::{apply_parsed, apply_second, measures, reasons, round, Builder, CheckId, Limit};
use super::{SecondMeasure, SkinPatches};
use crate::catalog::CheckLimits;
use crate::engine::{PartShares, Subject};
use image::RgbImage;

/// What the mouth's check reads besides the subject and the picture.
pub(super) struct MouthContext<'a> {
    pub skin: &'a SkinPatches,
    pub parts: Option<PartShares>,
    pub limits: &'a CheckLimits,
    /// The head faces the camera closely enough for the refined lips' gap to fail a mouth.
    /// Lips it reads together pass at any turn: the gap is over the mouth's seen width, which
    /// a turn narrows, so a turn can only make lips look further apart, never together.
    pub facing: bool,
    /// The face is washed out: `exposure` fails it, and teeth cannot be told from skin.
    pub washed_out: bool,
}

/// Judges the mouth and pushes `mouth_closed`, each reading in its detail.
pub(super) fn push(b: &mut Builder, img: &RgbImage, s: &Subject, cx: &MouthContext) {
    let (lim, mesh) = (cx.limits, &s.mesh);
    let r = b.push(
        CheckId::MouthClosed,
        measures::mouth_gap(mesh, s.pose.yaw),
        Some(Limit::at_most(lim.max_mouth_gap)),
        |_| "open",
    );
    // The plain mesh's inner lips follow a moustache's or a beard's edge, or the far corner of
    // a head turned three-quarters, and part lips that are together; the attention mesh, fitted
    // to the lips themselves, then draws them shut. Where it does, the plain gap is its
    // misreading. Its gap is over the mouth's seen width, so a turned head only raises it, and
    // a low one says closed at any turn
    if let Some(refined) = &s.refined {
        let together = refined.mouth_gap < lim.max_refined_gap_lips_together;
        r.detail.insert("lips_together".into(), together.into());
        let limit = round(lim.max_refined_gap_lips_together);
        r.detail
            .insert("max_refined_gap_together".into(), limit.into());
        // `kiosk eval` balances the plain gap's limit over every photo, these too
        r.detail
            .insert("plain_gap_waived".into(), (together && !r.ok).into());
        if together && !r.ok {
            r.ok = true;
            r.reason = None;
        }
    }
    let opening = s.refined.as_ref().map(|f| &f.lips_opening[..]);
    let teeth = measures::teeth_share(img, mesh, cx.skin, opening);
    r.detail.insert("teeth".into(), round(teeth).into());
    r.detail
        .insert("max_teeth".into(), round(lim.max_teeth_share).into());
    if r.ok && teeth > lim.max_teeth_share && !cx.washed_out {
        r.ok = false;
        r.reason = Some(reasons::reason(CheckId::MouthClosed, "teeth"));
    }
    // the parsing sees teeth and an open mouth where the lips' landmarks and colours do not
    if let Some(parts) = cx.parts {
        apply_parsed(
            r,
            parts.mouth_interior,
            lim.max_parsed_mouth_interior,
            true,
            "teeth",
        );
    }
    // the attention mesh parts a smile's inner lips over the teeth further than the plain
    // one; a mouth in profile shows no gap to measure across its width
    if let Some(refined) = &s.refined {
        let (measure, limit) = (SecondMeasure::RefinedMouthGap, lim.max_refined_gap);
        apply_second(r, measure, refined.mouth_gap, limit, cx.facing, "open");
        // teeth in the shade of the lips are no lighter than them, but less red: judged
        // where colour can tell at all
        let tint = measures::tinted_teeth_share(img, mesh, &refined.lips_opening);
        let (measure, limit) = (SecondMeasure::TeethTint, lim.max_teeth_tint_share);
        let applies = tint.is_some() && !cx.washed_out;
        apply_second(r, measure, tint.unwrap_or(0.0), limit, applies, "teeth");
    }
}
