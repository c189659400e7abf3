//! Exposure judged the same way by the still check and the live guide: the face's mean, its
//! blown highlights, and whether the picture as a whole is dim.

use super::measures::{self, SkinPatches};
use super::CheckLimits;
use crate::engine::{FaceMesh, FaceParsing};
use image::RgbImage;

/// What is wrong with the light's amount, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExposureFault {
    /// The face's mean is under the window, its skin is crushed to black, or both the face's
    /// lit side and the picture's brightest parts are dim.
    Dark,
    /// The face's mean is over the window.
    Bright,
    /// Skin burnt to white: a brightened face clips before its mean leaves the window.
    Clipped,
}

impl ExposureFault {
    /// The reason's direction word (`reasons::reason`).
    pub fn direction(self) -> &'static str {
        match self {
            ExposureFault::Dark => "dark",
            ExposureFault::Bright => "bright",
            ExposureFault::Clipped => "clipped",
        }
    }
}

/// The numbers behind the verdict.
#[derive(Clone, Copy, Debug)]
pub struct ExposureReading {
    /// Mean skin luma of the cheek and forehead patches.
    pub mean: f32,
    /// Shares of those patches clipped at black and at white.
    pub clipped_black: f32,
    pub clipped_white: f32,
    /// Share of those patches with any channel at white (red burns out first on skin).
    pub channel_clipped: f32,
    /// Share of the face (inside its outline) at white: of what the parsing calls skin when
    /// it has read the face, else of the whole outline.
    pub highlights: f32,
    /// The picture's 98th luma percentile.
    pub frame_highlight: f32,
    /// Median luma of the face's brighter side.
    pub lit_side: f32,
}

impl ExposureReading {
    /// With a parsing of this frame, highlights count on its skin: not on a backdrop or a
    /// brim inside the outline. The live guide, which parses one frame in many, reads without
    /// and carries the parsed frame's reading over (`HighlightsReading`).
    pub fn read(
        img: &RgbImage,
        mesh: &FaceMesh,
        skin: &SkinPatches,
        parsing: Option<&FaceParsing>,
    ) -> Self {
        let (mean, clipped_black, clipped_white) = measures::exposure(skin);
        let highlights = parsing
            .and_then(|p| measures::parsed_face_highlights(img, mesh, p))
            .unwrap_or_else(|| measures::face_highlights(img, mesh));
        ExposureReading {
            mean,
            clipped_black,
            clipped_white,
            channel_clipped: skin.channel_clipped_share(),
            highlights,
            frame_highlight: measures::frame_highlight(img),
            lit_side: measures::lit_side_luma(skin),
        }
    }

    /// The face is washed out: skin no longer looks like skin to the colour measures (glare,
    /// the colour of hair and of a hat, teeth), so they leave it to this one; the parsing,
    /// which knows a hat by its shape, still judges headwear.
    pub fn washed_out(&self, lim: &CheckLimits) -> bool {
        self.mean > lim.exposure[1]
            || self.highlights > lim.max_face_highlights
            || self.channel_clipped > lim.max_channel_clipped_share
    }

    pub fn fault(&self, lim: &CheckLimits) -> Option<ExposureFault> {
        if self.mean < lim.exposure[0] {
            Some(ExposureFault::Dark)
        } else if self.mean > lim.exposure[1] {
            Some(ExposureFault::Bright)
        } else if self.clipped_white > lim.max_clipped_share
            || self.channel_clipped > lim.max_channel_clipped_share
            || self.highlights > lim.max_face_highlights
        {
            Some(ExposureFault::Clipped)
        } else if self.clipped_black > lim.max_clipped_share
            || (self.lit_side < lim.dark_face_mean
                && self.frame_highlight < lim.min_frame_highlight)
        {
            Some(ExposureFault::Dark)
        } else {
            None
        }
    }
}
