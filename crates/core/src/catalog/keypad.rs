//! The identification keypad's fields as a profile declares them. The rules for what may be
//! typed live with identification (`session::identify`).

use super::Bilingual;
use serde::{Deserialize, Serialize};

/// What characters a keypad field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldChars {
    Digits,
    /// Upper-case letters and digits (feature codes).
    Alnum,
    /// The last 4 characters of an ID number: digits, X, or a bracket pair.
    IdTail,
    /// Shown as dots; letters and digits.
    Secret,
}

/// One field on the identification keypad, from the profile.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// `candidate_key`, `password`, `batch_code`, `id_tail`.
    pub key: String,
    pub label: Bilingual,
    pub chars: FieldChars,
    /// [shortest, longest]
    pub length: [usize; 2],
}
