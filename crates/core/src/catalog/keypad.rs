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

/// What a keypad field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKey {
    /// The number the roster is keyed by (exam, registration or ticket number, or the ID number).
    CandidateKey,
    Password,
    /// CHSI: the batch's feature code.
    BatchCode,
    /// CHSI: the last four characters of the ID number.
    IdTail,
}

/// One field on the identification keypad, from the profile.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub key: FieldKey,
    pub label: Bilingual,
    pub chars: FieldChars,
    /// [shortest, longest]
    pub length: [usize; 2],
}
