//! `kiosk camera distance --known FILE`: the distance estimate held against photos taken at
//! measured distances. The goal is within 10 % from 30 to 100 cm; a camera installer
//! with a tape measure and this file sees it, per distance, in one command.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// How far an estimate may be off and still count as right: the goal the kiosk is held to.
pub const WITHIN_SHARE: f32 = 0.10;

/// One photo and the distance it was taken at, as the file lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownPhoto {
    /// Relative to the file's folder, as in `kiosk eval`'s labels.
    pub file: PathBuf,
    pub known_cm: f32,
}

/// Reads `file,distance_cm` rows (a header first; `#` lines are comments). Each photo is
/// named relative to the file's folder; a distance a kiosk cannot see is refused with its
/// line, since a typo in the truth would show as the estimate's error.
pub fn parse_known(text: &str, folder: &Path) -> Result<Vec<KnownPhoto>> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().context("reading the header")?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(file_col), Some(cm_col)) = (col("file"), col("distance_cm")) else {
        bail!(
            "需要含 file 和 distance_cm 列的表头 / the file needs a header with the columns file \
             and distance_cm"
        );
    };
    let mut photos = Vec::new();
    for record in reader.records() {
        let record = record.context("reading a row")?;
        let line = record.position().map_or(0, |p| p.line());
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
    /// Median and largest absolute error, as shares (None when no face was measured).
    pub median_error: Option<f32>,
    pub worst_error: Option<f32>,
    /// Measured photos within [`WITHIN_SHARE`].
    pub within: usize,
}

/// Groups (known, estimate) pairs by known distance, nearest first; a photo without a face
/// counts among the photos but not the measured.
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
                median_error: errors.get(errors.len() / 2).copied(),
                worst_error: errors.last().copied(),
                within: errors.iter().filter(|e| **e <= WITHIN_SHARE).count(),
            }
        })
        .collect()
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
                    known_cm: 30.0
                },
                KnownPhoto {
                    file: "/data/sub/b.jpg".into(),
                    known_cm: 100.0
                },
            ]
        );
        let bad = parse_known("file,distance_cm\na.jpg,3000\n", Path::new("."));
        assert!(format!("{:#}", bad.unwrap_err()).contains("line 2"));
        assert!(parse_known("file,cm\na.jpg,30\n", Path::new(".")).is_err());
        assert!(parse_known("file,distance_cm\n,30\n", Path::new(".")).is_err());
        assert!(parse_known("file,distance_cm\n", Path::new(".")).is_err());
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
    }
}
