//! Calibration on a labelled set (`kiosk eval`): per check, how many labelled defects it caught,
//! how many photos without that defect it wrongly failed, and the limit that would balance the
//! two. An exam office runs it on its own photos before a collection day; we tune ours with it.
//!
//! Architecture invariant: pure; labels and check reports in, figures out.

use super::balance::balance;
pub use super::labels::{parse_labels, LabelError, LabelRow, Variant};
use super::second_measures::second_score;
pub use super::second_measures::{SecondMeasure, SecondScore};
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
    /// The threshold is a factor of each photo's own limit, not a value: the check's limit
    /// differs by photo (`CheckScore::limit_differs`), so its values were balanced over their
    /// limits.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub of_limits: bool,
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
    /// The limit is not one number for the whole set: head pose's yaw, pitch and roll each
    /// have their own (the value is the axis nearest its limit), and the face size needed
    /// depends on each photo's face. Such a check is balanced as a factor of its limits.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub limit_differs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<Balanced>,
    /// The second measures behind the check (the face parsing, the iris shown): each one's
    /// limit as applied, and the limit that would balance the check with its own measure left
    /// as it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub second: Vec<SecondScore>,
    pub missed: Vec<String>,
    pub wrongly_failed: Vec<String>,
    /// Photos the check measured nothing on (no face found), left out of its figures: they
    /// fail `face_count`, whatever they are labelled with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmeasured: Vec<String>,
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
    /// How many of them passed every check of the subject, the framing aside (a set of
    /// photos taken for other purposes, web avatars and tight portraits, fails the spec's
    /// crop however right the face in it is).
    pub compliant_subject_passed: usize,
    pub checks: Vec<CheckScore>,
}

/// A check "fails" a photo when it says not ok under a limit the profile applies (one it does
/// not apply never fails; its value is still balanced by the default direction).
fn failed(report: &CheckReport, id: CheckId) -> bool {
    report.get(id).is_some_and(|c| !c.ok && c.limit.is_some())
}

/// The check measured nothing on the photo (no face was found): the photo fails `face_count`,
/// and says nothing of how well this check tells its defect apart.
fn unmeasured(report: &CheckReport, id: CheckId) -> bool {
    report.get(id).is_none_or(|c| c.value.is_none())
}

/// The checks that judge how the photo is framed (the face's size and place, the picture's
/// resolution), not the person in it.
pub fn judges_framing(id: CheckId) -> bool {
    matches!(
        id,
        CheckId::FaceSize | CheckId::FaceInFrame | CheckId::Resolution
    )
}

pub fn calibrate(set: &[Labelled]) -> Calibration {
    let compliant: Vec<&Labelled> = set.iter().filter(|l| l.defects.is_empty()).collect();
    let compliant_passed = compliant.iter().filter(|l| l.report.ok).count();
    let compliant_subject_passed = compliant
        .iter()
        .filter(|l| {
            l.report.faces == 1
                && CheckId::ALL
                    .into_iter()
                    .filter(|&id| !judges_framing(id))
                    .all(|id| !failed(l.report, id))
        })
        .count();
    let checks = CheckId::ALL
        .into_iter()
        .map(|id| score_check(set, id))
        .collect();
    Calibration {
        photos: set.len(),
        compliant: compliant.len(),
        compliant_passed,
        compliant_subject_passed,
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
        limit_differs: id == CheckId::HeadPose || limits_differ(set, id),
        balanced: None,
        second: Vec::new(),
        missed: Vec::new(),
        wrongly_failed: Vec::new(),
        unmeasured: Vec::new(),
    };
    // (value, is a defect); unmeasured values take no part in balancing. Where the limit
    // differs by photo, a value is judged against its own limit: it is balanced as a share
    // of that limit (a photo whose limit has no single non-zero bound cannot be, and is
    // counted above but not balanced).
    let of_limits = s.limit_differs;
    let mut values: Vec<(f64, bool)> = Vec::new();
    for l in set {
        if unmeasured(l.report, id) {
            s.unmeasured.push(l.name.to_string());
            continue;
        }
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
        // a check that could not judge this photo (a turned head's light, a washed-out face's
        // hair) says nothing of where its limit should sit
        let judged = l
            .report
            .get(id)
            .filter(|c| !c.detail.contains_key(super::NOT_APPLIED));
        let measured = judged.and_then(|c| match (c.value, of_limits) {
            (Some(v), false) => Some(v),
            (Some(v), true) => one_bound(c.limit).map(|bound| v / bound),
            (None, _) => None,
        });
        if let Some(v) = measured.filter(|v| v.is_finite()) {
            values.push((v, bad));
        }
    }
    s.balanced = balance(&values, id.bad_side()).map(|b| Balanced { of_limits, ..b });
    s.second = SecondMeasure::ALL
        .into_iter()
        .filter_map(|m| second_score(set, id, m))
        .collect();
    s
}

/// Whether the check's limit is not the same on every photo that states one.
fn limits_differ(set: &[Labelled], id: CheckId) -> bool {
    let mut limits = set
        .iter()
        .filter_map(|l| l.report.get(id).and_then(|c| c.limit));
    let first = limits.next();
    limits.any(|l| Some(l) != first)
}

/// A one-sided limit's bound, when it is not zero (a value over it is then a share of it).
fn one_bound(limit: Option<super::Limit>) -> Option<f64> {
    match limit? {
        super::Limit {
            min: Some(b),
            max: None,
        }
        | super::Limit {
            min: None,
            max: Some(b),
        } if b != 0.0 => Some(b),
        _ => None,
    }
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

    /// Calibrates one check on photos named a, b, c, … each with its value, its limit and
    /// whether it is labelled with the check's defect.
    fn calibrated(id: CheckId, rows: &[(f64, Limit, bool)]) -> Calibration {
        let reports: Vec<CheckReport> = rows.iter().map(|(v, l, _)| report(id, *v, *l)).collect();
        let with: BTreeSet<CheckId> = [id].into();
        let without = BTreeSet::new();
        const NAMES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let set: Vec<Labelled> = rows
            .iter()
            .zip(&reports)
            .enumerate()
            .map(|(i, ((_, _, bad), r))| Labelled {
                name: NAMES[i % NAMES.len()],
                defects: if *bad { &with } else { &without },
                report: r,
            })
            .collect();
        calibrate(&set)
    }

    /// The limit `c` balances check `id` at; the test fails when there is none.
    fn balanced(c: &Calibration, id: CheckId) -> Balanced {
        c.checks
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.balanced.clone())
            .unwrap_or_else(|| panic!("no balance for {id:?}: {c:?}"))
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
        let rows: Vec<(f64, Limit, bool)> = rows.iter().map(|&(v, bad)| (v, limit, bad)).collect();
        let c = calibrated(CheckId::MouthClosed, &rows);
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
    fn a_photo_with_no_face_is_left_out_of_a_checks_figures_and_an_unapplied_check_never_fails() {
        let result = |value: Option<f64>, limit: Option<Limit>| CheckResult {
            id: CheckId::Glasses,
            ok: false,
            value,
            limit,
            reason: None,
            detail: Default::default(),
        };
        let report = |faces, r| CheckReport {
            ok: false,
            faces,
            checks: vec![r],
        };
        let reports = [
            // no face found: labelled glasses, and not
            report(0, result(None, Some(Limit::at_most(7.0)))),
            report(0, result(None, None)),
            // measured, past the default limit, where the profile allows glasses
            report(1, result(Some(9.0), None)),
        ];
        let glasses: BTreeSet<CheckId> = [CheckId::Glasses].into();
        let none = BTreeSet::new();
        let set: Vec<Labelled> = ["a", "b", "c"]
            .into_iter()
            .zip(&reports)
            .zip([&glasses, &none, &none])
            .map(|((name, report), defects)| Labelled {
                name,
                defects,
                report,
            })
            .collect();
        let c = calibrate(&set);
        let g = c.checks.iter().find(|s| s.id == CheckId::Glasses).unwrap();
        assert_eq!(
            (g.defects, g.caught, g.others, g.false_alarms),
            (0, 0, 1, 0)
        );
        assert_eq!(g.unmeasured, vec!["a", "b"]);
        // the photos themselves still fail: the compliant ones are not passed, nor is the
        // one with no face passed by the checks of the subject it could not measure
        assert_eq!((c.compliant, c.compliant_passed), (2, 0));
        assert_eq!(c.compliant_subject_passed, 1);
    }

    #[test]
    fn a_compliant_face_cut_by_the_crop_passes_the_subjects_checks_only() {
        let result = |id, ok| CheckResult {
            id,
            ok,
            value: Some(1.0),
            limit: Some(Limit::at_least(2.0)),
            reason: None,
            detail: Default::default(),
        };
        let report = |checks: Vec<CheckResult>| CheckReport {
            ok: checks.iter().all(|c| c.ok),
            faces: 1,
            checks,
        };
        let reports = [
            // a tight portrait: the face is right, the spec's crop would need more picture
            report(vec![
                result(CheckId::FaceInFrame, false),
                result(CheckId::HeadPose, true),
            ]),
            // a head turned: the subject fails
            report(vec![
                result(CheckId::FaceInFrame, true),
                result(CheckId::HeadPose, false),
            ]),
            report(vec![result(CheckId::Resolution, true)]),
        ];
        let none = BTreeSet::new();
        let set: Vec<Labelled> = ["tight", "turned", "fine"]
            .into_iter()
            .zip(&reports)
            .map(|(name, report)| Labelled {
                name,
                defects: &none,
                report,
            })
            .collect();
        let c = calibrate(&set);
        assert_eq!(
            (c.compliant, c.compliant_passed, c.compliant_subject_passed),
            (3, 1, 2)
        );
    }

    #[test]
    fn a_value_the_check_did_not_judge_does_not_move_the_balancing_limit() {
        let limit = Limit::at_most(0.5);
        // defects at 0.7 and 0.9, others at 0.1 and 0.2: any cut between 0.2 and 0.7 is right
        let mut reports: Vec<CheckReport> = [0.7, 0.9, 0.1, 0.2, 0.8]
            .iter()
            .map(|&v| report(CheckId::Glare, v, limit))
            .collect();
        // the fifth, not judged (glare on a face burnt white), passes whatever it reads
        let skipped = &mut reports[4];
        skipped.ok = true;
        skipped.checks[0].ok = true;
        skipped.checks[0].limit = None;
        skipped.checks[0]
            .detail
            .insert(super::super::NOT_APPLIED.into(), "face over-exposed".into());
        let with: BTreeSet<CheckId> = [CheckId::Glare].into();
        let without = BTreeSet::new();
        let set: Vec<Labelled> = reports
            .iter()
            .enumerate()
            .map(|(i, r)| Labelled {
                name: ["a", "b", "c", "d", "e"][i],
                defects: if i < 2 { &with } else { &without },
                report: r,
            })
            .collect();
        let b = balanced(&calibrate(&set), CheckId::Glare);
        // counted as an other that passed; balanced on, its 0.8 would be a false alarm at any
        // cut that catches both defects
        assert!(b.threshold > 0.2 && b.threshold < 0.7, "{b:?}");
        assert_eq!((b.caught, b.false_alarms), (2, 0), "{b:?}");
    }

    #[test]
    fn a_limit_that_differs_by_photo_is_balanced_as_a_share_of_it() {
        // head pose: a yaw of 12 against 15 is further toward failing than a pitch of 14
        // against 20; in degrees the two would sort the other way
        let rows = [
            (12.0, 15.0f32, true),
            (16.0, 20.0, true),
            (14.0, 20.0, false),
            (6.0, 15.0, false),
        ];
        let rows: Vec<(f64, Limit, bool)> = rows
            .iter()
            .map(|&(v, l, bad)| (v, Limit::at_most(l), bad))
            .collect();
        let b = balanced(&calibrated(CheckId::HeadPose, &rows), CheckId::HeadPose);
        // shares 0.8 and 0.8 are the defects, 0.7 and 0.4 the others: a cut between 0.7 and
        // 0.8 separates them, where no cut in degrees does (14 lies between 12 and 16)
        assert!(b.of_limits, "{b:?}");
        assert_eq!((b.caught, b.false_alarms), (2, 0), "{b:?}");
        assert!(b.threshold > 0.7 && b.threshold < 0.8, "{b:?}");
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
        let rows: Vec<(f64, Limit, bool)> = rows.iter().map(|&(v, bad)| (v, limit, bad)).collect();
        let c = calibrated(CheckId::Exposure, &rows);
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
    fn every_check_name_parses_back() {
        for id in CheckId::ALL {
            assert_eq!(CheckId::parse(id.as_str()), Some(id));
        }
        assert_eq!(CheckId::parse("hat"), None);
    }
}
