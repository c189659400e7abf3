//! Photo specs and exam profiles: data files under `specs/` and `profiles/`, parsed and
//! validated here. The shipped files are compiled in so the kiosk works from any folder;
//! files read by the caller at run time add or replace entries (a new provincial notice is a new
//! file, not new code).

mod keypad;
mod limits;

pub use keypad::{FieldChars, FieldKey, FieldSpec};
pub use limits::CheckLimits;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

pub use crate::text::Bilingual;

/// A published photo specification: pixels, file and geometry windows.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoSpec {
    pub name: String,
    pub title: Bilingual,
    pub width: u32,
    pub height: u32,
    pub dpi: u16,
    /// The background colour the maker paints.
    pub background: [u8; 3],
    /// Other background colours the spec accepts (validation only).
    #[serde(default)]
    pub backgrounds_allowed: Vec<[u8; 3]>,
    pub jpeg_quality_min: u8,
    /// File size window in KB (1 KB = 1024 bytes).
    pub file_kb: [u32; 2],
    /// Crown (top of the hair) from the top edge, in pixels.
    pub crown_from_top: Option<[f32; 2]>,
    /// Crown from the top edge as a share of the height.
    pub crown_from_top_share: Option<[f32; 2]>,
    /// Eye line from the top edge, in pixels.
    pub eyes_from_top: Option<[f32; 2]>,
    /// Face width (temple to temple), in pixels.
    pub face_width: Option<[f32; 2]>,
    /// Crown-to-chin height as a share of the image height.
    pub head_height_share: Option<[f32; 2]>,
    pub glasses_allowed: bool,
}

impl PhotoSpec {
    /// The crown window in pixels, whichever way the spec gives it.
    pub fn crown_window(&self) -> Option<[f32; 2]> {
        self.crown_from_top.or_else(|| {
            self.crown_from_top_share
                .map(|[a, b]| [a * self.height as f32, b * self.height as f32])
        })
    }
    pub fn head_height_window(&self) -> Option<[f32; 2]> {
        self.head_height_share
            .map(|[a, b]| [a * self.height as f32, b * self.height as f32])
    }
    pub fn file_bytes(&self) -> [usize; 2] {
        [
            self.file_kb[0] as usize * 1024,
            self.file_kb[1] as usize * 1024,
        ]
    }

    fn validate(&self) -> Result<(), String> {
        if self.width < 32 || self.height < 32 || self.width > 4000 || self.height > 4000 {
            return Err(format!(
                "size {}×{} is out of range",
                self.width, self.height
            ));
        }
        // 72 dpi is a screen's; 1200 a drum scanner's: outside that a typo (0 would make every
        // print size a division by zero)
        if !(72..=1200).contains(&self.dpi) {
            return Err(format!("dpi {} is not 72 to 1200", self.dpi));
        }
        // the largest real window is 2 MB; a photo under 1 KB cannot hold a face
        if self.file_kb[0] > self.file_kb[1] || self.file_kb[1] == 0 || self.file_kb[1] > 10_240 {
            return Err(format!(
                "file_kb {:?} must be [min, max] with max 1 to 10240",
                self.file_kb
            ));
        }
        if self.jpeg_quality_min == 0 || self.jpeg_quality_min > 100 {
            return Err("jpeg_quality_min must be 1..=100".into());
        }
        let windows = [
            self.crown_window(),
            self.eyes_from_top,
            self.face_width,
            self.head_height_window(),
        ];
        if windows.iter().all(Option::is_none) {
            return Err(
                "needs at least one geometry window (crown, eyes, face width or head height)"
                    .into(),
            );
        }
        if windows.iter().flatten().any(|[a, b]| a > b) {
            return Err("every window must be [min, max]".into());
        }
        Ok(())
    }
}

/// How a profile checks the candidate's identity.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityCheck {
    FaceVsId,
    ManualReview,
}

/// How a candidate may identify themselves (R-ID-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identification {
    IdCard,
    ExamNumberPassword,
    RegistrationNumberPassword,
    TicketNumber,
    /// CHSI: the batch's feature code, the ID tail, then the collection QR code.
    FeatureCode,
}

/// What follows the last failed verification attempt (R-VERIFY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterAttempts {
    /// The manual path: the documents photographed for a reviewer.
    ManualReview,
    /// Collection fails; the candidate is told whom to contact.
    CollectionFailed,
}

/// An exam's collection rules: which spec, how candidates identify, attempt limits.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExamProfile {
    pub name: String,
    pub title: Bilingual,
    pub spec: String,
    pub identification: Vec<Identification>,
    pub identity_check: IdentityCheck,
    pub attempt_limit: u32,
    pub after_attempts: AfterAttempts,
    /// The maker paints the spec's background; otherwise the real one must already be plain.
    pub replace_background: bool,
    pub glasses_allowed: bool,
    pub help_phone: String,
    pub distance_cm: [f32; 2],
    #[serde(default)]
    pub limits: CheckLimits,
    /// R-CONSENT: the collection rules the candidate agrees to.
    #[serde(default)]
    pub consent: Option<Bilingual>,
    /// The consent box starts ticked.
    #[serde(default)]
    pub consent_pre_ticked: bool,
    /// What the guide screen says about clothes, where the spec asks more than "not the
    /// background's colour" (CHSI: no blue clothes, the background being blue).
    #[serde(default)]
    pub clothing_hint: Option<Bilingual>,
    /// Keypad identification (R-ID-1): the fields, in order. Empty: ID card only.
    #[serde(default)]
    pub keypad: Vec<FieldSpec>,
    /// The candidate may withdraw a record while it waits for review (R-STATUS).
    #[serde(default = "yes")]
    pub withdraw_allowed: bool,
}

fn yes() -> bool {
    true
}

impl ExamProfile {
    /// Glasses are forbidden when either the profile or its spec forbids them.
    pub fn forbids_glasses(&self, spec: &PhotoSpec) -> bool {
        !(self.glasses_allowed && spec.glasses_allowed)
    }

    fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        if !(self.distance_cm[0] > 0.0 && self.distance_cm[0] <= self.distance_cm[1]) {
            return Err("distance_cm must be [near, far] in centimetres".into());
        }
        l.validate()?;
        if l.exposure[0] > l.exposure[1] {
            return Err("limits.exposure must be [min, max]".into());
        }
        if [l.max_yaw_deg, l.max_pitch_deg, l.max_roll_deg]
            .iter()
            .any(|d| !(d.is_finite() && *d > 0.0))
        {
            return Err(
                "limits.max_yaw_deg, max_pitch_deg and max_roll_deg must be above 0".into(),
            );
        }
        if !l.pitch_level_deg.is_finite() || l.pitch_level_deg.abs() >= l.max_pitch_deg {
            return Err(format!(
                "limits.pitch_level_deg ({}, the pitch the face mesh reads on a level head) must \
                 lie within ±max_pitch_deg ({}): set both",
                l.pitch_level_deg, l.max_pitch_deg
            ));
        }
        // lips read together must not also be lips read apart: where the refined gap cannot
        // fail a mouth (a head turned far) it would pass an open one
        let (together, apart) = (l.max_refined_gap_lips_together, l.max_refined_gap);
        if together.is_nan() || apart.is_nan() || together >= apart {
            return Err(format!(
                "limits.max_refined_gap_lips_together ({together}) must be below max_refined_gap \
                 ({apart})"
            ));
        }
        Ok(())
    }
}

/// What a data file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataKind {
    Spec,
    Profile,
}

/// A spec or profile a data file put in place of one of the same name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    pub kind: DataKind,
    pub name: String,
    /// The file it came from.
    pub file: String,
}

impl std::fmt::Display for Replaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            DataKind::Spec => "photo spec",
            DataKind::Profile => "exam profile",
        };
        write!(
            f,
            "{kind} '{}' from {} replaces the one of that name · 已替换同名配置",
            self.name, self.file
        )
    }
}

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("no photo spec named '{0}' (known: {1})")]
    UnknownSpec(String, String),
    #[error("no exam profile named '{0}' (known: {1})")]
    UnknownProfile(String, String),
}

const SHIPPED_SPECS: &[(&str, &str)] = &[
    ("chsi.toml", include_str!("../../../../specs/chsi.toml")),
    (
        "chsi-upload.toml",
        include_str!("../../../../specs/chsi-upload.toml"),
    ),
    (
        "gd-exam.toml",
        include_str!("../../../../specs/gd-exam.toml"),
    ),
    (
        "bj-degree.toml",
        include_str!("../../../../specs/bj-degree.toml"),
    ),
    (
        "degree-legacy.toml",
        include_str!("../../../../specs/degree-legacy.toml"),
    ),
    (
        "id-card.toml",
        include_str!("../../../../specs/id-card.toml"),
    ),
];

const SHIPPED_PROFILES: &[(&str, &str)] = &[
    (
        "gd-chengkao.toml",
        include_str!("../../../../profiles/gd-chengkao.toml"),
    ),
    (
        "gd-gaokao.toml",
        include_str!("../../../../profiles/gd-gaokao.toml"),
    ),
    (
        "bj-chengkao.toml",
        include_str!("../../../../profiles/bj-chengkao.toml"),
    ),
    (
        "bj-zikao-degree.toml",
        include_str!("../../../../profiles/bj-zikao-degree.toml"),
    ),
    (
        "chsi-graduation.toml",
        include_str!("../../../../profiles/chsi-graduation.toml"),
    ),
];

/// Every known spec and profile, by name.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub specs: BTreeMap<String, PhotoSpec>,
    pub profiles: BTreeMap<String, ExamProfile>,
}

impl Catalog {
    /// The specs and profiles that ship with the kiosk.
    pub fn shipped() -> Result<Self, CatalogError> {
        let mut c = Catalog {
            specs: BTreeMap::new(),
            profiles: BTreeMap::new(),
        };
        for (file, text) in SHIPPED_SPECS {
            c.add_spec(file, text)?;
        }
        for (file, text) in SHIPPED_PROFILES {
            c.add_profile(file, text)?;
        }
        c.check_references()?;
        Ok(c)
    }

    /// Adds specs and profiles given as (kind, file name, TOML text); the caller reads the
    /// files (see `kiosk --data-dir`). One that has a shipped one's name replaces it (a site
    /// tunes a shipped profile's limits so), and each replacement is returned for the caller
    /// to say so; two files that declare the same name are refused, since which one won
    /// would hang on how the files sort.
    pub fn extend(
        &mut self,
        files: &[(DataKind, String, String)],
    ) -> Result<Vec<Replaced>, CatalogError> {
        let mut declared: BTreeMap<(DataKind, String), &str> = BTreeMap::new();
        let mut replaced = Vec::new();
        for (kind, file, text) in files {
            let (name, had) = match kind {
                DataKind::Spec => self.add_spec(file, text)?,
                DataKind::Profile => self.add_profile(file, text)?,
            };
            if let Some(first) = declared.insert((*kind, name.clone()), file) {
                return Err(CatalogError::Invalid {
                    file: file.clone(),
                    reason: format!("'{name}' is declared in {first} too: rename one of them"),
                });
            }
            if had {
                replaced.push(Replaced {
                    kind: *kind,
                    name,
                    file: file.clone(),
                });
            }
        }
        self.check_references()?;
        Ok(replaced)
    }

    /// Adds the spec in `text`: its name, and whether one of that name was there.
    fn add_spec(&mut self, file: &str, text: &str) -> Result<(String, bool), CatalogError> {
        let invalid = |reason: String| CatalogError::Invalid {
            file: file.to_owned(),
            reason,
        };
        let spec: PhotoSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        spec.validate().map_err(invalid)?;
        let name = spec.name.clone();
        let had = self.specs.insert(name.clone(), spec).is_some();
        Ok((name, had))
    }

    /// Adds the profile in `text`: its name, and whether one of that name was there.
    fn add_profile(&mut self, file: &str, text: &str) -> Result<(String, bool), CatalogError> {
        let profile: ExamProfile = toml::from_str(text).map_err(|e| CatalogError::Invalid {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
        profile.validate().map_err(|reason| CatalogError::Invalid {
            file: file.to_owned(),
            reason,
        })?;
        let name = profile.name.clone();
        let had = self.profiles.insert(name.clone(), profile).is_some();
        Ok((name, had))
    }

    fn check_references(&self) -> Result<(), CatalogError> {
        for p in self.profiles.values() {
            self.spec(&p.spec)?;
        }
        Ok(())
    }

    pub fn spec(&self, name: &str) -> Result<&PhotoSpec, CatalogError> {
        self.specs.get(name).ok_or_else(|| {
            CatalogError::UnknownSpec(
                name.to_owned(),
                self.specs.keys().cloned().collect::<Vec<_>>().join(", "),
            )
        })
    }

    pub fn profile(&self, name: &str) -> Result<&ExamProfile, CatalogError> {
        self.profiles.get(name).ok_or_else(|| {
            CatalogError::UnknownProfile(
                name.to_owned(),
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_has_every_named_spec_and_profile() {
        let c = Catalog::shipped().unwrap();
        for s in [
            "chsi",
            "chsi-upload",
            "gd-exam",
            "bj-degree",
            "degree-legacy",
            "id-card",
        ] {
            assert!(c.spec(s).is_ok(), "{s}");
        }
        for p in [
            "gd-chengkao",
            "gd-gaokao",
            "bj-chengkao",
            "bj-zikao-degree",
            "chsi-graduation",
        ] {
            assert!(c.profile(p).is_ok(), "{p}");
        }
        assert_eq!(c.spec("chsi").unwrap().file_kb, [20, 40]);
        assert_eq!(c.profile("bj-chengkao").unwrap().attempt_limit, 5);
        assert!(!c.profile("chsi-graduation").unwrap().glasses_allowed);
    }

    #[test]
    fn a_spec_without_geometry_is_refused() {
        let mut c = Catalog::shipped().unwrap();
        let text = r#"name = "x"
title = { zh = "x", en = "x" }
width = 100
height = 100
dpi = 300
background = [0, 0, 255]
jpeg_quality_min = 60
file_kb = [1, 2]
glasses_allowed = true
"#;
        let err = c.add_spec("x.toml", text).unwrap_err().to_string();
        assert!(err.contains("geometry window"), "{err}");
    }

    #[test]
    fn a_spec_with_no_dpi_or_an_empty_file_size_window_is_refused() {
        let base = include_str!("../../../../specs/chsi.toml");
        for (from, to, said) in [
            ("dpi = 300", "dpi = 0", "dpi 0"),
            ("file_kb = [20, 40]", "file_kb = [0, 0]", "file_kb"),
        ] {
            let mut c = Catalog::shipped().unwrap();
            let text = base
                .replace(from, to)
                .replace("name = \"chsi\"", "name = \"x\"");
            let err = c.add_spec("x.toml", &text).unwrap_err().to_string();
            assert!(err.contains(said), "{err}");
        }
    }

    #[test]
    fn a_profile_with_a_reversed_distance_window_is_refused() {
        let mut c = Catalog::shipped().unwrap();
        let text = include_str!("../../../../profiles/gd-gaokao.toml")
            .replace("distance_cm = [80, 100]", "distance_cm = [100, 80]");
        let err = c.add_profile("p.toml", &text).unwrap_err().to_string();
        assert!(err.contains("distance_cm"), "{err}");
    }

    /// A shipped profile with `limits` as its `[limits]` table, added to the catalog.
    fn with_limits(limits: &str) -> Result<(String, bool), CatalogError> {
        let base = include_str!("../../../../profiles/gd-gaokao.toml");
        let text = format!("{base}\n[limits]\n{limits}\n");
        Catalog::shipped().unwrap().add_profile("p.toml", &text)
    }

    #[test]
    fn a_profile_whose_pose_limits_cannot_hold_is_refused() {
        for (limits, says) in [
            ("max_yaw_deg = nan", "max_yaw_deg"),
            ("max_roll_deg = 0.0", "max_roll_deg"),
            // the default level (+4) lies outside a window this narrow
            ("max_pitch_deg = 3.0", "pitch_level_deg"),
            ("pitch_level_deg = inf", "pitch_level_deg"),
        ] {
            let err = with_limits(limits).unwrap_err().to_string();
            assert!(err.contains(says), "{limits}: {err}");
        }
        assert!(with_limits("max_pitch_deg = 3.0\npitch_level_deg = 0.0").is_ok());
    }

    #[test]
    fn a_profile_whose_lips_could_read_both_together_and_apart_is_refused() {
        for (limits, says) in [
            (
                "max_refined_gap_lips_together = 0.2",
                "max_refined_gap_lips_together (0.2) must be below",
            ),
            ("max_refined_gap = nan", "max_refined_gap is NaN"),
        ] {
            let err = with_limits(limits).unwrap_err().to_string();
            assert!(err.contains(says), "{limits}: {err}");
        }
    }

    #[test]
    fn a_profile_whose_limit_no_photo_can_be_measured_against_is_refused() {
        // each of these would fail every candidate, or switch its check off, without a word
        for (limits, says) in [
            (
                "min_light_uniformity = 1.5",
                "min_light_uniformity is 1.5: it must be a share",
            ),
            ("min_frame_inside = 2.0", "min_frame_inside"),
            ("min_eye_openness = nan", "min_eye_openness is NaN"),
            (
                "max_glasses_evidence = -1.0",
                "max_glasses_evidence is -1: it must be a number above 0",
            ),
            (
                "max_yaw_deg = 500.0",
                "max_yaw_deg is 500: it must be degrees",
            ),
            ("max_yaw_deg = inf", "max_yaw_deg is inf"),
            ("exposure = [-10.0, 1000.0]", "exposure[0] is -10"),
            ("min_sharpness = inf", "min_sharpness is inf"),
        ] {
            let err = with_limits(limits).unwrap_err().to_string();
            assert!(err.contains(says), "{limits}: {err}");
        }
        // every shipped profile's limits hold, and a strict but possible one is taken
        assert!(with_limits("min_light_uniformity = 0.9\nmax_yaw_deg = 5.0").is_ok());
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let c = Catalog::shipped().unwrap();
        let err = c.profile("nope").unwrap_err().to_string();
        assert!(err.contains("chsi-graduation"), "{err}");
    }
}
