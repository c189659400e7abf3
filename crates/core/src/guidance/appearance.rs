//! The live guide's prompts about what the candidate wears and how they hold their mouth:
//! glasses, hair over the brows, a hat, open lips. The same rules as the still check, read
//! from cheap measures on every frame and from the parsing and attention mesh aside.

use super::{PartsReading, Prompt};
use crate::catalog::CheckLimits;
use crate::checks::measures::{self, SkinPatches};
use crate::engine::{FaceMesh, PartShares};
use image::RgbImage;

/// One frame's face, as the appearance prompts read it.
pub(super) struct Appearance<'a> {
    pub img: &'a RgbImage,
    pub mesh: &'a FaceMesh,
    pub yaw: f32,
    pub skin: &'a SkinPatches,
    pub limits: &'a CheckLimits,
    pub glasses_forbidden: bool,
}

impl Appearance<'_> {
    /// The first appearance prompt the frame calls for, with `aside` the parsing's and the
    /// attention mesh's reading from a moment ago (None: not read yet for this candidate).
    pub fn prompt(&self, aside: Option<&PartsReading>) -> Option<Prompt> {
        let l = self.limits;
        let parsed = aside.map(|r| &r.shares);
        let over =
            |share: fn(&PartShares) -> f32, limit: f32| parsed.is_some_and(|p| share(p) > limit);
        // as the still check: the frame lines' limit is raised where the parsing saw a bare
        // face wide enough for it to see frames
        let lines_limit =
            measures::glasses_lines_limit(parsed.map(|p| p.eyeglasses), self.mesh.face_width(), l);
        if self.glasses_forbidden
            && (measures::bridge_glasses_evidence(self.img, self.mesh) > lines_limit
                || over(|p| p.eyeglasses, l.max_parsed_eyeglasses))
        {
            return Some(Prompt::TakeOffGlasses);
        }
        // as the still check: cover over the brows under a hat the parsing saw is its brim.
        // Before the first parsing of a candidate (one frame in 30) the brim reads as hair for
        // a moment; the hat prompt follows with the parsing's answer
        let brim = parsed.is_some_and(|p| measures::brow_cover_is_a_hat(p, l));
        // and cover where the parsing sees bare brows is a shadow or the brows themselves
        let bare = parsed.is_some_and(|p| measures::brows_bare_to_parsing(p, l));
        if (!brim
            && !bare
            && (measures::brow_eye_occlusion(self.img, self.mesh, self.skin)
                > l.max_brow_eye_occlusion
                || measures::hair_over_brows(self.img, self.mesh, self.skin).both
                    > l.max_hair_over_brows))
            || over(|p| p.hair_over_brows, l.max_parsed_hair_over_brows)
        {
            return Some(Prompt::HairOffBrows);
        }
        if over(|p| p.hat_above_brows, l.max_parsed_hat) {
            return Some(Prompt::TakeOffHat);
        }
        // the still check's mouth rules: an open mouth, or teeth between parted lips. The
        // reading aside, while this frame's mouth is as it was then, says where the plain
        // mesh misread closed lips (a moustache) and reads teeth between the refined lips as
        // the still check does, by their light and by their colour; its refined gap over the
        // limit stands for its frames
        let plain_gap = measures::mouth_gap(self.mesh, self.yaw);
        let plain_teeth = measures::teeth_share(self.img, self.mesh, self.skin, None);
        let reading = aside.and_then(|r| r.refined);
        let as_read = reading.filter(|r| r.mouth_as_read(plain_gap, plain_teeth));
        let lips_together =
            as_read.is_some_and(|r| r.features.mouth_gap < l.max_refined_gap_lips_together);
        let teeth = as_read.map_or(plain_teeth, |r| r.teeth);
        let tinted_teeth = as_read.map_or(0.0, |r| r.tinted_teeth);
        if (!lips_together && plain_gap > l.max_mouth_gap)
            || teeth > l.max_teeth_share
            || tinted_teeth > l.max_teeth_tint_share
            || over(|p| p.mouth_interior, l.max_parsed_mouth_interior)
            || reading.is_some_and(|r| r.features.mouth_gap > l.max_refined_gap)
        {
            return Some(Prompt::CloseLips);
        }
        None
    }
}
