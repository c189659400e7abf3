//! `kiosk camera distance --known FILE`: the distance estimate held against photos taken at
//! measured distances. The goal is within 10 % from 30 to 100 cm; a camera installer
//! with a tape measure and this file sees it, per distance, in one command.

use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};

/// How far an estimate may be off and still count as right: the goal the kiosk is held to.
pub const WITHIN_SHARE: f32 = 0.10;

/// One photo and the distance it was taken at, as the file lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownPhoto {
    /// Relative to the file's folder, as in `kiosk eval`'s labels.
    pub file: PathBuf,
    pub known_cm: f32,
    /// The file's line, for a photo that cannot be read.
    pub line: usize,
}

/// Reads `file,distance_cm` rows (a header first; `#` lines are comments). Each photo is
/// named relative to the file's folder; a distance a kiosk cannot see, or a row with more
/// fields than the header (`a.jpg,58,3`: a decimal comma), is refused with its line, since a
/// typo in the truth would show as the estimate's error.
pub fn parse_known(text: &str, folder: &Path) -> Result<Vec<KnownPhoto>> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let unreadable = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        anyhow!(
            "第 {line} 行 line {line}: 读不懂这一行（字段数与表头不同？小数请用小数点） / cannot \
             read this row (more or fewer fields than the header? write decimals with a \
             point): {e}"
        )
    };
    let headers = reader.headers().map_err(unreadable)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(file_col), Some(cm_col)) = (col("file"), col("distance_cm")) else {
        bail!(
            "需要含 file 和 distance_cm 列的表头 / the file needs a header with the columns file \
             and distance_cm"
        );
    };
    let mut photos = Vec::new();
    for record in reader.records() {
        let record = record.map_err(unreadable)?;
        let line = record.position().map_or(0, |p| p.line()) as usize;
        let file = record.get(file_col).unwrap_or("");
        let cm = record.get(cm_col).unwrap_or("");
        if file.is_empty() {
            bail!("第 {line} 行 line {line}: 没有照片文件 / no photo file");
        }
        let known_cm: f32 = match cm.parse() {
            Ok(v) if (20.0..=400.0).contains(&v) => v,
            _ => bail!(
                "第 {line} 行 line {line}: {cm:?} 不是 20–400 cm 之间的距离 / is not a distance \
                 from 20 to 400 cm"
            ),
        };
        photos.push(KnownPhoto {
            file: folder.join(file),
            known_cm,
            line,
        });
    }
    if photos.is_empty() {
        bail!("文件中没有照片 / no photos listed");
    }
    Ok(photos)
}

/// An estimate's error as a signed share of the known distance (+0.1: 10 % too far).
pub fn error_share(known_cm: f32, estimate_cm: f32) -> f32 {
    (estimate_cm - known_cm) / known_cm
}

/// The estimates at one known distance.
#[derive(Clone, Debug, PartialEq)]
pub struct AtDistance {
    pub known_cm: f32,
    /// Photos at this distance, and how many had a face to measure.
    pub photos: usize,
    pub measured: usize,
    /// Median and largest absolute error, as shares (None when no face was measured); the
    /// median of an even count is the mean of the middle two.
    pub median_error: Option<f32>,
    pub worst_error: Option<f32>,
    /// Photos within [`WITHIN_SHARE`]: out of all of them, since a photo the kiosk could not
    /// measure is not one it measured right.
    pub within: usize,
}

/// Groups (known, estimate) pairs by known distance, nearest first; a photo without a face,
/// or one that could not be read, counts among the photos but not the measured.
pub fn by_distance(results: &[(f32, Option<f32>)]) -> Vec<AtDistance> {
    let mut known: Vec<f32> = results.iter().map(|r| r.0).collect();
    known.sort_by(f32::total_cmp);
    known.dedup();
    known
        .into_iter()
        .map(|cm| {
            let here: Vec<_> = results.iter().filter(|r| r.0 == cm).collect();
            let mut errors: Vec<f32> = here
                .iter()
                .filter_map(|r| r.1.map(|e| error_share(cm, e).abs()))
                .collect();
            errors.sort_by(f32::total_cmp);
            AtDistance {
                known_cm: cm,
                photos: here.len(),
                measured: errors.len(),
                median_error: median(&errors),
                worst_error: errors.last().copied(),
                within: errors.iter().filter(|e| **e <= WITHIN_SHARE).count(),
            }
        })
        .collect()
}

/// The median of sorted values (None for none).
fn median(sorted: &[f32]) -> Option<f32> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances_parse_relative_to_their_folder_and_refuse_what_no_kiosk_sees() {
        let text = "# taken with the site's camera\nfile,distance_cm\na.jpg,30\nsub/b.jpg, 100\n";
        let photos = parse_known(text, Path::new("/data")).unwrap();
        assert_eq!(
            photos,
            [
                KnownPhoto {
                    file: "/data/a.jpg".into(),
                    known_cm: 30.0,
                    line: 3
                },
                KnownPhoto {
                    file: "/data/sub/b.jpg".into(),
                    known_cm: 100.0,
                    line: 4
                },
            ]
        );
        let bad = parse_known("file,distance_cm\na.jpg,3000\n", Path::new("."));
        assert!(format!("{:#}", bad.unwrap_err()).contains("line 2"));
        assert!(parse_known("file,cm\na.jpg,30\n", Path::new(".")).is_err());
        assert!(parse_known("file,distance_cm\n,30\n", Path::new(".")).is_err());
        assert!(parse_known("file,distance_cm\n", Path::new(".")).is_err());
        // a decimal comma splits the distance into two fields
        let split = parse_known("file,distance_cm\na.jpg,58,3\n", Path::new("."));
        assert!(format!("{:#}", split.unwrap_err()).contains("line 2"));
    }

    #[test]
    fn estimates_are_summed_up_per_known_distance() {
        let results = [
            (45.0, Some(49.0)),
            (30.0, Some(36.2)),
            (30.0, Some(31.0)),
            (45.0, None),
            (30.0, Some(29.0)),
        ];
        let rows = by_distance(&results);
        assert_eq!(rows.len(), 2);
        let near = &rows[0];
        assert_eq!((near.known_cm, near.photos, near.measured), (30.0, 3, 3));
        // errors of 1, 1 and 6.2 cm at 30: 0.033, 0.033, 0.207
        assert!((near.median_error.unwrap() - 1.0 / 30.0).abs() < 1e-4);
        assert!((near.worst_error.unwrap() - 6.2 / 30.0).abs() < 1e-4);
        assert_eq!(near.within, 2);
        let far = &rows[1];
        assert_eq!((far.photos, far.measured, far.within), (2, 1, 1));
        assert!((error_share(45.0, 49.0) - 4.0 / 45.0).abs() < 1e-6);
        // two photos: the median is between them, not the worse one
        let two = by_distance(&[(50.0, Some(51.0)), (50.0, Some(55.0))]);
        assert!((two[0].median_error.unwrap() - 0.06).abs() < 1e-4);
        assert!((two[0].worst_error.unwrap() - 0.1).abs() < 1e-4);
    }
}
