//! The shipped clips, read once at start: 16 kHz mono 16-bit WAV files, one per cue and
//! language (voice/clips/<lang>/<name>.wav).

use super::cue::{Cue, Lang};
use std::path::{Path, PathBuf};

/// Samples per second of every clip and of the mixer's output.
pub const RATE: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("{path}: cannot read the clip: {source}")]
    Read { path: PathBuf, source: hound::Error },
    #[error("{path}: the clip must be {RATE} Hz mono 16-bit PCM (re-render it with voice/tools/render), not {rate} Hz, {channels} channel(s), {bits} bits")]
    Format {
        path: PathBuf,
        rate: u32,
        channels: u16,
        bits: u16,
    },
    #[error("{path}: the clip is empty or silent (re-render it with voice/tools/render)")]
    Silent { path: PathBuf },
}

/// Every cue's samples in both languages.
#[derive(Debug)]
pub struct ClipBank {
    /// Indexed by `Cue::index`; Mandarin then English.
    zh: Vec<Vec<i16>>,
    en: Vec<Vec<i16>>,
}

/// Clips longer than this are refused: a clip is a short sentence (and memory is bounded).
const LONGEST_CLIP_S: u32 = 15;

impl ClipBank {
    /// Reads every clip from `dir` (which holds `zh/` and `en/`); any missing or malformed clip
    /// is an error naming its file.
    pub fn load(dir: &Path) -> Result<ClipBank, ClipError> {
        let read_lang = |lang: Lang| -> Result<Vec<Vec<i16>>, ClipError> {
            Cue::ALL
                .iter()
                .map(|cue| read_clip(&dir.join(lang.folder()).join(format!("{}.wav", cue.name()))))
                .collect()
        };
        Ok(ClipBank {
            zh: read_lang(Lang::Zh)?,
            en: read_lang(Lang::En)?,
        })
    }

    pub fn samples(&self, cue: Cue, lang: Lang) -> &[i16] {
        let all = match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        };
        all.get(cue.index()).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn read_clip(path: &Path) -> Result<Vec<i16>, ClipError> {
    let read_err = |source| ClipError::Read {
        path: path.to_owned(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(read_err)?;
    let spec = reader.spec();
    if spec.sample_rate != RATE
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || reader.duration() > LONGEST_CLIP_S * RATE
    {
        return Err(ClipError::Format {
            path: path.to_owned(),
            rate: spec.sample_rate,
            channels: spec.channels,
            bits: spec.bits_per_sample,
        });
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<i16>, _>>()
        .map_err(read_err)?;
    if samples.iter().all(|s| s.unsigned_abs() < 64) {
        return Err(ClipError::Silent {
            path: path.to_owned(),
        });
    }
    Ok(samples)
}
