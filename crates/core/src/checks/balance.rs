//! The limit that best balances a measure's misses and false alarms over a labelled set, for
//! `kiosk eval` (`calibration.rs`) and the second measures' own figures
//! (`second_measures.rs`).
//!
//! Architecture invariant: pure; values and labels in, a limit and its counts out.

use super::calibration::{BadSide, Balanced};

/// Counts for a rule "fails when `bad(v)`".
pub(super) fn counts(values: &[(f64, bool)], bad: impl Fn(f64) -> bool) -> (usize, usize) {
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
pub(super) fn best_cut(values: &[(f64, bool)], high_is_bad: bool) -> Option<(f64, usize, usize)> {
    let defects = values.iter().filter(|v| v.1).count();
    let others = values.len() - defects;
    if defects == 0 || others == 0 {
        return None;
    }
    let mut xs: Vec<f64> = values.iter().map(|v| v.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    // halfway between neighbours; next to an infinite value (a photo the rest of the check
    // fails, whatever a second measure's limit) just past the finite one, since halfway to
    // infinity is infinity and the cut that parts them would be lost
    let mut cuts: Vec<f64> = xs
        .windows(2)
        .filter_map(|w| match (w[0].is_finite(), w[1].is_finite()) {
            (true, true) => Some((w[0] + w[1]) / 2.0),
            (true, false) => Some(w[0] + 1e-3),
            (false, true) => Some(w[1] - 1e-3),
            (false, false) => None,
        })
        .collect();
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

/// The limit that balances a check's `values` (value, is a defect) on the side it goes bad;
/// for a check bad both ways, a window round the good photos' median.
pub(super) fn balance(values: &[(f64, bool)], side: BadSide) -> Option<Balanced> {
    match side {
        BadSide::High | BadSide::Low => {
            let (t, caught, fa) = best_cut(values, side == BadSide::High)?;
            Some(Balanced {
                threshold: t,
                upper: None,
                caught,
                false_alarms: fa,
                of_limits: false,
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
                of_limits: false,
            })
        }
    }
}

pub(super) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
