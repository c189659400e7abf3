//! Calibration on a labelled set (`kiosk eval`): per check, how many labelled defects it caught,
//! how many photos without that defect it wrongly failed, and the limit that would balance the
//! two. An exam office runs it on its own photos before a collection day; we tune ours with it.
//!
//! Architecture invariant: pure; labels and check reports in, figures out.

use super::{CheckId, CheckReport};
use serde::Serialize;
use std::collections::BTreeSet;

/// Which way a measure goes bad. Fixed per check, whatever a profile's limits say, so that a
/// check a profile does not apply (glasses where they are allowed) can still be calibrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadSide {
    /// Fails above the limit (glasses evidence, mouth gap, …).
    High,
    /// Fails below the limit (eye opening, sharpness, …).
    Low,
    /// Fails outside a window (exposure, face count).
    Both,
}

impl CheckId {
    pub fn bad_side(self) -> BadSide {
        use CheckId::*;
        match self {
            HeadPose | MouthClosed | Glasses | Glare | HairOcclusion | Headwear | Background => {
                BadSide::High
            }
            FaceSize | FaceInFrame | EyesOpen | LightUniformity | Sharpness | ClothingContrast
            | Resolution => BadSide::Low,
            FaceCount | Exposure => BadSide::Both,
        }
    }

    pub fn parse(name: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One row of a labels file: a photo (relative to the file's folder) and the checks it must
/// fail. No defects: a compliant photo that must pass every check.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRow {
    pub file: String,
    pub defects: BTreeSet<CheckId>,
    /// A lighting defect made from the photo before checking it (derived defects are fair for
    /// light and exposure; a subject's defects need real photos).
    pub variant: Option<Variant>,
    pub line: usize,
}

impl LabelRow {
    /// How the photo is named in reports: the file, and the variant if any.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}@{}", self.file, v.spec()),
            None => self.file.clone(),
        }
    }
}

/// A lighting change applied to a photo in memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Variant {
    /// Every channel times this factor, clipped: over- (>1) or under-exposure (<1).
    Gain(f32),
    /// Light falling off across the middle third of the image (where a framed face is) from
    /// full on the right to this factor on the left: half the face in shadow.
    SideLight(f32),
}

impl Variant {
    pub fn parse(text: &str) -> Option<Variant> {
        let (kind, value) = text.split_once(':')?;
        let v: f32 = value
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite() && *v > 0.0)?;
        match kind {
            "gain" if v <= 8.0 => Some(Variant::Gain(v)),
            "side" if v <= 1.0 => Some(Variant::SideLight(v)),
            _ => None,
        }
    }

    pub fn spec(&self) -> String {
        match self {
            Variant::Gain(g) => format!("gain:{g}"),
            Variant::SideLight(f) => format!("side:{f}"),
        }
    }

    pub fn apply(&self, img: &mut image::RgbImage) {
        let w = img.width().max(2) as f32;
        for (x, _, p) in img.enumerate_pixels_mut() {
            let gain = match *self {
                Variant::Gain(g) => g,
                Variant::SideLight(f) => {
                    let t = ((x as f32 / (w - 1.0) - 1.0 / 3.0) * 3.0).clamp(0.0, 1.0);
                    f + (1.0 - f) * t
                }
            };
            for c in &mut p.0 {
                *c = (*c as f32 * gain).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelError {
    #[error(
        "the labels file needs a header with the columns file and defects (and may have note)"
    )]
    NoHeader,
    #[error("line {line}: {problem}")]
    BadRow { line: usize, problem: String },
    #[error("no photos listed")]
    Empty,
}

/// Parses a labels CSV: a header naming `file` and `defects`; defects are check names
/// separated by spaces, `;` or `|` (`glasses`, `mouth_closed`, …); an optional `variant`
/// column derives a lighting defect (`gain:1.7`, `side:0.35`); other columns are notes.
pub fn parse_labels(text: &str) -> Result<Vec<LabelRow>, LabelError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|_| LabelError::NoHeader)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(file_col), Some(defects_col)) = (col("file"), col("defects")) else {
        return Err(LabelError::NoHeader);
    };
    let variant_col = col("variant");
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| LabelError::BadRow {
            line: e.position().map_or(0, |p| p.line() as usize),
            problem: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() <= defects_col.max(file_col) {
            return Err(LabelError::BadRow {
                line,
                problem: format!(
                    "{} fields where the header has {}; a compliant photo still needs its empty defects field (\"photo.jpg,\")",
                    record.len(),
                    headers.len()
                ),
            });
        }
        let file = record.get(file_col).unwrap_or("").to_string();
        if file.is_empty() {
            return Err(LabelError::BadRow {
                line,
                problem: "no file named".into(),
            });
        }
        let mut defects = BTreeSet::new();
        for name in record
            .get(defects_col)
            .unwrap_or("")
            .split([' ', ';', '|'])
            .filter(|n| !n.is_empty())
        {
            let id = CheckId::parse(name).ok_or_else(|| LabelError::BadRow {
                line,
                problem: format!(
                    "{name:?} is not a check; use {}",
                    CheckId::ALL.map(|c| c.as_str()).join(", ")
                ),
            })?;
            defects.insert(id);
        }
        let variant = match variant_col.and_then(|c| record.get(c)).unwrap_or("") {
            "" => None,
            text => Some(Variant::parse(text).ok_or_else(|| LabelError::BadRow {
                line,
                problem: if CheckId::parse(text).is_some() {
                    format!(
                        "{text:?} is a check, in the variant column: separate defects with spaces, ; or |, not commas"
                    )
                } else {
                    format!(
                        "{text:?} is not a variant; use gain:F (0 < F <= 8) or side:F (0 < F <= 1)"
                    )
                },
            })?),
        };
        rows.push(LabelRow {
            file,
            defects,
            variant,
            line,
        });
    }
    if rows.is_empty() {
        return Err(LabelError::Empty);
    }
    Ok(rows)
}

/// One photo's labels (the checks it must fail; none: compliant) and what the checks said.
pub struct Labelled<'a> {
    pub name: &'a str,
    pub defects: &'a BTreeSet<CheckId>,
    pub report: &'a CheckReport,
}

/// The limit that makes the miss rate and the false-alarm rate as equal as they can be.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Balanced {
    pub threshold: f64,
    /// For a two-sided check, the other side's bound (`threshold` is the lower one then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    pub caught: usize,
    pub false_alarms: usize,
}

/// One check's figures on the set.
#[derive(Clone, Debug, Serialize)]
pub struct CheckScore {
    pub id: CheckId,
    /// Photos labelled with this defect, and how many of them the check failed.
    pub defects: usize,
    pub caught: usize,
    /// Photos not labelled with it (compliant ones and those with other defects), and how many
    /// the check failed anyway.
    pub others: usize,
    pub false_alarms: usize,
    /// The profile's limit as applied (`None`: the profile does not apply the check).
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<Balanced>,
    pub missed: Vec<String>,
    pub wrongly_failed: Vec<String>,
}

impl CheckScore {
    pub fn recall(&self) -> Option<f64> {
        (self.defects > 0).then(|| self.caught as f64 / self.defects as f64)
    }
    pub fn accepted(&self) -> Option<f64> {
        (self.others > 0).then(|| 1.0 - self.false_alarms as f64 / self.others as f64)
    }
}

/// The whole set's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    pub photos: usize,
    /// Photos labelled with no defect, and how many passed every check.
    pub compliant: usize,
    pub compliant_passed: usize,
    pub checks: Vec<CheckScore>,
}

/// A check "fails" a photo when it says not ok; an unmeasured check (no face) fails too.
fn failed(report: &CheckReport, id: CheckId) -> bool {
    report.get(id).is_none_or(|c| {
        let applied_fail = !c.ok && c.limit.is_some();
        // a check the profile does not apply never fails, but its value is still judged by
        // the default direction when calibrating; here only the verdict counts
        applied_fail || c.value.is_none()
    })
}

pub fn calibrate(set: &[Labelled]) -> Calibration {
    let compliant: Vec<&Labelled> = set.iter().filter(|l| l.defects.is_empty()).collect();
    let compliant_passed = compliant.iter().filter(|l| l.report.ok).count();
    let checks = CheckId::ALL
        .into_iter()
        .map(|id| score_check(set, id))
        .collect();
    Calibration {
        photos: set.len(),
        compliant: compliant.len(),
        compliant_passed,
        checks,
    }
}

fn score_check(set: &[Labelled], id: CheckId) -> CheckScore {
    let mut s = CheckScore {
        id,
        defects: 0,
        caught: 0,
        others: 0,
        false_alarms: 0,
        applied: set
            .iter()
            .any(|l| l.report.get(id).is_some_and(|c| c.limit.is_some())),
        balanced: None,
        missed: Vec::new(),
        wrongly_failed: Vec::new(),
    };
    // (value, is a defect); unmeasured values take no part in balancing
    let mut values: Vec<(f64, bool)> = Vec::new();
    for l in set {
        let bad = l.defects.contains(&id);
        let fail = failed(l.report, id);
        if bad {
            s.defects += 1;
            if fail {
                s.caught += 1;
            } else {
                s.missed.push(l.name.to_string());
            }
        } else {
            s.others += 1;
            if fail {
                s.false_alarms += 1;
                s.wrongly_failed.push(l.name.to_string());
            }
        }
        if let Some(v) = l
            .report
            .get(id)
            .and_then(|c| c.value)
            .filter(|v| v.is_finite())
        {
            values.push((v, bad));
        }
    }
    s.balanced = balance(&values, id.bad_side());
    s
}

/// Counts for a rule "fails when `bad(v)`".
fn counts(values: &[(f64, bool)], bad: impl Fn(f64) -> bool) -> (usize, usize) {
    let mut caught = 0;
    let mut false_alarms = 0;
    for &(v, is_defect) in values {
        if bad(v) {
            if is_defect {
                caught += 1;
            } else {
                false_alarms += 1;
            }
        }
    }
    (caught, false_alarms)
}

/// The cut between two neighbouring values that best balances misses and false alarms (the
/// larger of the two rates as small as it can be; then their sum).
fn best_cut(values: &[(f64, bool)], high_is_bad: bool) -> Option<(f64, usize, usize)> {
    let defects = values.iter().filter(|v| v.1).count();
    let others = values.len() - defects;
    if defects == 0 || others == 0 {
        return None;
    }
    let mut xs: Vec<f64> = values.iter().map(|v| v.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut cuts: Vec<f64> = xs.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    if let (Some(first), Some(last)) = (xs.first(), xs.last()) {
        cuts.push(first - 1e-3);
        cuts.push(last + 1e-3);
    }
    let mut best: Option<(f64, f64, f64, usize, usize)> = None;
    for t in cuts {
        let (caught, fa) = if high_is_bad {
            counts(values, |v| v > t)
        } else {
            counts(values, |v| v < t)
        };
        let miss = 1.0 - caught as f64 / defects as f64;
        let far = fa as f64 / others as f64;
        let key = (miss.max(far), miss + far);
        if best.is_none_or(|b| key < (b.1, b.2)) {
            best = Some((t, key.0, key.1, caught, fa));
        }
    }
    best.map(|b| (round(b.0), b.3, b.4))
}

fn balance(values: &[(f64, bool)], side: BadSide) -> Option<Balanced> {
    match side {
        BadSide::High | BadSide::Low => {
            let (t, caught, fa) = best_cut(values, side == BadSide::High)?;
            Some(Balanced {
                threshold: t,
                upper: None,
                caught,
                false_alarms: fa,
            })
        }
        BadSide::Both => {
            // each defect belongs to the side of the good photos' median it lies on; each side
            // is balanced against all the good photos
            let mut good: Vec<f64> = values.iter().filter(|v| !v.1).map(|v| v.0).collect();
            good.sort_by(f64::total_cmp);
            let mid = *good.get(good.len() / 2)?;
            let side_set = |low: bool| -> Vec<(f64, bool)> {
                values
                    .iter()
                    .copied()
                    .filter(|&(v, bad)| !bad || (v < mid) == low)
                    .collect()
            };
            let low = best_cut(&side_set(true), false);
            let high = best_cut(&side_set(false), true);
            let lower = low.map(|l| l.0).unwrap_or(f64::NEG_INFINITY);
            let upper = high.map(|h| h.0).unwrap_or(f64::INFINITY);
            if low.is_none() && high.is_none() {
                return None;
            }
            let (caught, fa) = counts(values, |v| v < lower || v > upper);
            Some(Balanced {
                threshold: if lower.is_finite() { lower } else { upper },
                upper: (lower.is_finite() && upper.is_finite()).then_some(upper),
                caught,
                false_alarms: fa,
            })
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckResult, Limit};

    fn report(id: CheckId, value: f64, limit: Limit) -> CheckReport {
        let ok = limit.admits(value as f32);
        CheckReport {
            ok,
            faces: 1,
            checks: vec![CheckResult {
                id,
                ok,
                value: Some(value),
                limit: Some(limit),
                reason: None,
                detail: Default::default(),
            }],
        }
    }

    #[test]
    fn counts_catches_and_false_alarms_and_finds_the_balancing_limit() {
        let limit = Limit::at_most(0.5);
        // defects at 0.3 (missed), 0.7, 0.9; others at 0.1, 0.2, 0.6 (a false alarm)
        let rows = [
            (0.3, true),
            (0.7, true),
            (0.9, true),
            (0.1, false),
            (0.2, false),
            (0.6, false),
        ];
        let reports: Vec<CheckReport> = rows
            .iter()
            .map(|(v, _)| report(CheckId::MouthClosed, *v, limit))
            .collect();
        let with: BTreeSet<CheckId> = [CheckId::MouthClosed].into();
        let without = BTreeSet::new();
        let set: Vec<Labelled> = rows
            .iter()
            .zip(&reports)
            .enumerate()
            .map(|(i, ((_, bad), r))| Labelled {
                name: ["a", "b", "c", "d", "e", "f"][i],
                defects: if *bad { &with } else { &without },
                report: r,
            })
            .collect();
        let c = calibrate(&set);
        let m = &c.checks[CheckId::ALL
            .iter()
            .position(|i| *i == CheckId::MouthClosed)
            .unwrap()];
        assert_eq!(
            (m.defects, m.caught, m.others, m.false_alarms),
            (3, 2, 3, 1)
        );
        assert_eq!(m.missed, vec!["a"]);
        assert_eq!(m.wrongly_failed, vec!["f"]);
        let b = m.balanced.as_ref().unwrap();
        // 0.65 catches 2 of 3 with no false alarm; 0.25 catches all with one: max rate 1/3 both,
        // the sum decides for the one with fewer errors in all
        assert!(b.threshold == 0.65 || b.threshold == 0.25, "{b:?}");
        assert_eq!(c.compliant, 3);
        assert_eq!(c.compliant_passed, 2);
    }

    #[test]
    fn a_two_sided_measure_gets_a_window() {
        let rows = [
            (40.0, true),
            (55.0, true),
            (210.0, true),
            (120.0, false),
            (150.0, false),
            (180.0, false),
        ];
        let limit = Limit::between(60.0, 200.0);
        let reports: Vec<CheckReport> = rows
            .iter()
            .map(|(v, _)| report(CheckId::Exposure, *v, limit))
            .collect();
        let with: BTreeSet<CheckId> = [CheckId::Exposure].into();
        let without = BTreeSet::new();
        let set: Vec<Labelled> = rows
            .iter()
            .zip(&reports)
            .map(|((_, bad), r)| Labelled {
                name: "x",
                defects: if *bad { &with } else { &without },
                report: r,
            })
            .collect();
        let c = calibrate(&set);
        let e = c.checks.iter().find(|s| s.id == CheckId::Exposure).unwrap();
        let b = e.balanced.as_ref().unwrap();
        assert_eq!((b.caught, b.false_alarms), (3, 0));
        assert!(b.threshold > 55.0 && b.threshold < 120.0, "{b:?}");
        assert!(
            b.upper.unwrap() > 180.0 && b.upper.unwrap() < 210.0,
            "{b:?}"
        );
    }

    #[test]
    fn labels_parse_with_line_numbers_and_refuse_unknown_checks() {
        let rows = parse_labels(
            "file,defects,note\n# a comment\na.jpg,,studio\nb.jpg,glasses;mouth_closed,teeth\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].defects.is_empty());
        assert_eq!(
            rows[1].defects,
            [CheckId::Glasses, CheckId::MouthClosed].into()
        );
        assert_eq!(
            parse_labels("photo,label\na.jpg,\n"),
            Err(LabelError::NoHeader)
        );
        let Err(LabelError::BadRow { line, problem }) =
            parse_labels("file,defects\na.jpg,\nb.jpg,hat\n")
        else {
            panic!("an unknown check is refused");
        };
        assert_eq!(line, 3);
        assert!(problem.contains("\"hat\" is not a check"), "{problem}");
        assert_eq!(parse_labels("file,defects\n"), Err(LabelError::Empty));
        let rows = parse_labels("file,defects,variant\na.jpg,exposure,gain:1.7\n").unwrap();
        assert_eq!(rows[0].variant, Some(Variant::Gain(1.7)));
        assert_eq!(rows[0].name(), "a.jpg@gain:1.7");
        assert!(parse_labels("file,defects,variant\na.jpg,exposure,gain:-1\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,blur:3\n").is_err());
        let Err(LabelError::BadRow { problem, .. }) =
            parse_labels("file,defects,variant\na.jpg,glasses,mouth_closed\n")
        else {
            panic!("a defect in the variant column is refused");
        };
        assert!(problem.contains("not commas"), "{problem}");
        assert!(parse_labels("file,defects\na.jpg\n").is_err());
    }

    #[test]
    fn variants_change_the_light_as_they_say() {
        let mut img = image::RgbImage::from_pixel(3, 1, image::Rgb([100, 200, 10]));
        Variant::Gain(1.5).apply(&mut img);
        assert_eq!(img.get_pixel(0, 0).0, [150, 255, 15]);
        let mut img = image::RgbImage::from_pixel(7, 1, image::Rgb([100, 100, 100]));
        Variant::SideLight(0.5).apply(&mut img);
        let row: Vec<u8> = (0..7).map(|x| img.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [50, 50, 50, 75, 100, 100, 100]);
    }

    #[test]
    fn every_check_name_parses_back() {
        for id in CheckId::ALL {
            assert_eq!(CheckId::parse(id.as_str()), Some(id));
        }
        assert_eq!(CheckId::parse("hat"), None);
    }
}
