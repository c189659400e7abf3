//! Second measures behind a check, for `kiosk eval`: the face parsing behind the hair, hat,
//! glasses and mouth checks, the share of the iris the lids leave showing behind the eye
//! check (from the iris model and from the attention mesh), and the attention mesh's lip gap
//! behind the mouth check. Each has its own limit in the profile and writes its value, its
//! limit and whether it decided into the check's detail; calibration balances that limit with
//! the check's own measure held as it is.
//!
//! Architecture invariant: pure; check reports in, figures out.

use super::balance::{best_cut, round};
use super::calibration::{Balanced, Labelled};
use super::CheckId;
use serde::Serialize;

/// A second measure, and the detail keys it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondMeasure {
    /// The face parsing's share of a class (hair over the brows, hat, eyeglasses, mouth
    /// interior): too much of it fails.
    FaceParsing,
    /// The lid-to-lid gap over the iris's width, of the less open eye: too little fails.
    IrisShown,
    /// The same share of the iris, from the attention mesh's refined eyes.
    RefinedIrisShown,
    /// The attention mesh's inner lips apart at the middle, over the mouth's width: too far
    /// apart fails.
    RefinedMouthGap,
    /// The share of the attention mesh's opening between the lips that is teeth by colour
    /// (much less red than the lips, not much darker): too much fails.
    TeethTint,
}

impl SecondMeasure {
    pub const ALL: [SecondMeasure; 5] = [
        SecondMeasure::FaceParsing,
        SecondMeasure::IrisShown,
        SecondMeasure::RefinedIrisShown,
        SecondMeasure::RefinedMouthGap,
        SecondMeasure::TeethTint,
    ];

    /// The detail keys: (value, limit, "this measure decided").
    pub fn keys(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SecondMeasure::FaceParsing => ("parsed", "max_parsed", "by_parsing"),
            SecondMeasure::IrisShown => ("iris_shown", "min_iris_shown", "by_iris_shown"),
            SecondMeasure::RefinedIrisShown => (
                "refined_iris_shown",
                "min_refined_iris_shown",
                "by_refined_iris_shown",
            ),
            SecondMeasure::RefinedMouthGap => ("refined_gap", "max_refined_gap", "by_refined_gap"),
            SecondMeasure::TeethTint => ("teeth_tint", "max_teeth_tint", "by_teeth_tint"),
        }
    }

    /// Whether a value above the limit fails (else one below it does).
    pub fn high_is_bad(self) -> bool {
        match self {
            SecondMeasure::FaceParsing
            | SecondMeasure::RefinedMouthGap
            | SecondMeasure::TeethTint => true,
            SecondMeasure::IrisShown | SecondMeasure::RefinedIrisShown => false,
        }
    }

    /// Its name in `kiosk eval`'s table.
    pub fn label(self) -> crate::text::StaticText {
        let t = crate::text::StaticText::new;
        match self {
            SecondMeasure::FaceParsing => t("人脸解析", "face parsing"),
            SecondMeasure::IrisShown => t("虹膜露出", "iris shown"),
            SecondMeasure::RefinedIrisShown => t("精细虹膜露出", "refined iris shown"),
            SecondMeasure::RefinedMouthGap => t("精细唇间距", "refined lip gap"),
            SecondMeasure::TeethTint => t("牙齿颜色", "teeth by colour"),
        }
    }
}

/// A second measure's limit as applied, and where it would balance.
#[derive(Clone, Debug, Serialize)]
pub struct SecondScore {
    pub measure: SecondMeasure,
    pub limit: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<Balanced>,
}

/// Balances a second measure's limit with the check's own measure held as it is: a photo that
/// the rest of the check fails fails whatever this limit (its value counts as beyond every
/// limit), the others fail when this value is past the limit. Only photos where the check
/// applied count; `None` for a check this measure is not behind.
pub fn second_score(set: &[Labelled], id: CheckId, measure: SecondMeasure) -> Option<SecondScore> {
    let (value_key, limit_key, decided_key) = measure.keys();
    let high_is_bad = measure.high_is_bad();
    let mut limit = None;
    let mut values: Vec<(f64, bool)> = Vec::new();
    for l in set {
        let Some(c) = l.report.get(id).filter(|c| c.limit.is_some()) else {
            continue;
        };
        let number = |key: &str| c.detail.get(key).and_then(|v| v.as_f64());
        let (Some(value), Some(max)) = (number(value_key), number(limit_key)) else {
            continue;
        };
        limit = Some(max);
        let decided = c.detail.get(decided_key).and_then(|v| v.as_bool()) == Some(true);
        let rest_fails = !c.ok && !decided;
        let value = match (rest_fails, high_is_bad) {
            (false, _) => value,
            (true, true) => f64::INFINITY,
            (true, false) => f64::NEG_INFINITY,
        };
        values.push((value, l.defects.contains(&id)));
    }
    Some(SecondScore {
        measure,
        limit: round(limit?),
        balanced: best_cut(&values, high_is_bad)
            .filter(|(t, _, _)| t.is_finite())
            .map(|(threshold, caught, false_alarms)| Balanced {
                threshold,
                upper: None,
                caught,
                false_alarms,
                of_limits: false,
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckReport, CheckResult, Limit};
    use std::collections::BTreeSet;

    /// One photo: (the rest of the check fails it, the second value, this measure decided it,
    /// labelled a defect).
    type Photo = (bool, f64, bool, bool);

    fn scored(id: CheckId, measure: SecondMeasure, photos: &[Photo]) -> Option<SecondScore> {
        let (value_key, limit_key, decided_key) = measure.keys();
        let reports: Vec<CheckReport> = photos
            .iter()
            .map(|&(rest_fails, value, decided, _)| {
                let mut c = CheckResult {
                    id,
                    ok: !rest_fails && !decided,
                    value: Some(0.5),
                    limit: Some(Limit::at_most(0.8)),
                    reason: None,
                    detail: Default::default(),
                };
                for (k, v) in [(value_key, value), (limit_key, 0.5)] {
                    c.detail.insert(k.into(), v.into());
                }
                c.detail.insert(decided_key.into(), decided.into());
                CheckReport {
                    ok: c.ok,
                    faces: 1,
                    checks: vec![c],
                }
            })
            .collect();
        let defect: BTreeSet<CheckId> = [id].into();
        let none = BTreeSet::new();
        let set: Vec<Labelled> = photos
            .iter()
            .zip(&reports)
            .map(|(p, report)| Labelled {
                name: "p.jpg",
                defects: if p.3 { &defect } else { &none },
                report,
            })
            .collect();
        second_score(&set, id, measure)
    }

    #[test]
    fn a_parsed_limit_is_balanced_with_the_checks_own_measure_held() {
        let photos = [
            (true, 0.0, false, true),
            (false, 0.6, true, true),
            (false, 0.3, false, false),
            (false, 0.1, false, false),
        ];
        let parsed = scored(CheckId::HairOcclusion, SecondMeasure::FaceParsing, &photos).unwrap();
        assert_eq!(parsed.limit, 0.5);
        let b = parsed.balanced.unwrap();
        // the photo the own measure fails is caught at any parsed limit, so the cut falls
        // between the good photo's 0.3 and the defect's 0.6
        assert_eq!((b.threshold, b.caught, b.false_alarms), (0.45, 2, 0));
    }

    #[test]
    fn where_the_rest_of_the_check_catches_every_defect_the_cut_clears_every_good_photo() {
        // two open mouths the plain lip gap fails (their refined gaps count as past any
        // limit); good mouths at 0.002-0.036. The cut used to fall halfway to infinity and be
        // lost, leaving 0.022 (one good mouth failed) where the limit of 0.14 fails none
        let photos = [
            (true, 0.135, false, true),
            (true, 0.166, false, true),
            (false, 0.002, false, false),
            (false, 0.007, false, false),
            (false, 0.036, false, false),
        ];
        let gap = scored(
            CheckId::MouthClosed,
            SecondMeasure::RefinedMouthGap,
            &photos,
        )
        .unwrap();
        let b = gap.balanced.unwrap();
        assert_eq!((b.threshold, b.caught, b.false_alarms), (0.037, 2, 0));
    }

    #[test]
    fn a_lower_limit_is_balanced_from_below() {
        // squints show little of the iris; the shut eye the lid opening fails counts as
        // caught at any limit
        let photos = [
            (true, 0.9, false, true),
            (false, 0.4, true, true),
            (false, 0.7, false, false),
            (false, 0.8, false, false),
        ];
        let iris = scored(CheckId::EyesOpen, SecondMeasure::IrisShown, &photos).unwrap();
        let b = iris.balanced.unwrap();
        assert_eq!((b.threshold, b.caught, b.false_alarms), (0.55, 2, 0));
    }

    #[test]
    fn a_check_without_the_measure_has_no_score() {
        let mut c = CheckResult {
            id: CheckId::Glare,
            ok: true,
            value: Some(0.0),
            limit: Some(Limit::at_most(0.04)),
            reason: None,
            detail: Default::default(),
        };
        c.detail.insert("unrelated".into(), 1.0.into());
        let report = CheckReport {
            ok: true,
            faces: 1,
            checks: vec![c],
        };
        let none = BTreeSet::new();
        let set = [Labelled {
            name: "p.jpg",
            defects: &none,
            report: &report,
        }];
        for m in SecondMeasure::ALL {
            assert!(second_score(&set, CheckId::Glare, m).is_none());
        }
    }
}
