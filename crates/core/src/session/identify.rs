//! Identification rules: the fields a profile's keypad asks for with their live format checks
//! (R-ID-1), and matching an identity against the registration roster (R-ID-2). Pure.

use crate::hub_protocol::RosterEntry;
use crate::reader::card::id_number_valid;
use crate::text::StaticText;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::catalog::{FieldChars, FieldKey, FieldSpec};

/// How a field's current text looks while it is being typed.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldState {
    Empty,
    /// Fine so far; more characters needed.
    Incomplete,
    Complete,
    /// Wrong now, whatever follows.
    Bad(StaticText),
}

impl FieldSpec {
    /// Whether `c` may be typed into this field.
    pub fn accepts(&self, c: char) -> bool {
        match self.chars {
            FieldChars::Digits => c.is_ascii_digit(),
            FieldChars::Alnum | FieldChars::Secret => c.is_ascii_digit() || c.is_ascii_uppercase(),
            FieldChars::IdTail => c.is_ascii_digit() || matches!(c, 'X' | '(' | ')'),
        }
    }

    /// The live format check (R-ID-1): length and, for 18-digit ID numbers, the GB 11643
    /// check character.
    pub fn state(&self, text: &str) -> FieldState {
        let n = text.chars().count();
        if n == 0 {
            return FieldState::Empty;
        }
        if !text.chars().all(|c| self.accepts(c)) {
            return FieldState::Bad(StaticText::new(
                "含有不允许的字符",
                "contains characters not allowed",
            ));
        }
        if n > self.length[1] {
            return FieldState::Bad(StaticText::new("位数过多", "too many characters"));
        }
        if n < self.length[0] {
            return FieldState::Incomplete;
        }
        if self.key == FieldKey::CandidateKey && n == 18 && !id_number_valid(text) {
            return FieldState::Bad(StaticText::new(
                "身份证号校验位不正确",
                "the ID number's check character is wrong",
            ));
        }
        FieldState::Complete
    }
}

/// The digest a roster keeps of a candidate's password (never the password).
pub fn password_digest(candidate_key: &str, password: &str) -> String {
    let d = Sha256::digest(format!("{candidate_key}:{password}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last four characters of an ID number as the CHSI flow asks for them (a bracket pair
/// counts as two characters).
pub fn id_tail(id_number: &str) -> String {
    let chars: Vec<char> = id_number.trim().to_uppercase().chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Why a scanned code is not a candidate's image-collection code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProblem {
    /// Some other QR code (a payment code, a web address): not a collection code.
    NotACollectionCode,
    /// A collection code whose last four characters are not the typed ID tail (seed 004: they
    /// are the same), so someone else's code.
    TailMismatch,
}

impl CodeProblem {
    /// What the candidate reads.
    pub fn message(self) -> StaticText {
        match self {
            CodeProblem::NotACollectionCode => StaticText::new(
                "这不是学信网图像采集码，请打开学信网出示本人的图像采集码",
                "this is not a CHSI image-collection code; please open CHSI and show your own collection code",
            ),
            CodeProblem::TailMismatch => StaticText::new(
                "采集码与输入的身份证后4位不一致，请出示本人的采集码",
                "the code does not match the last 4 characters you typed; please show your own code",
            ),
        }
    }
}

/// The image-collection code in a scanned QR text: the code itself, or an address carrying it
/// as its `code` parameter. A code is 8 to 40 letters, digits and brackets, and ends with the
/// candidate's ID tail (seed 004: "此信息与图像采集码后4位相同").
pub fn collection_code(scanned: &str, typed_tail: &str) -> Result<String, CodeProblem> {
    let text = scanned.trim();
    let code = if text.contains("://") {
        let query = text.split_once('?').map(|(_, q)| q).unwrap_or("");
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix("code="))
            .ok_or(CodeProblem::NotACollectionCode)?
    } else {
        text
    };
    let code = code.to_uppercase();
    let n = code.chars().count();
    if !(8..=40).contains(&n)
        || !code
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, '(' | ')'))
    {
        return Err(CodeProblem::NotACollectionCode);
    }
    if id_tail(&code) != id_tail(typed_tail) {
        return Err(CodeProblem::TailMismatch);
    }
    Ok(code)
}

/// Fields of the identity that disagree with the roster.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RosterCheck {
    /// Name or ID number differ (or the candidate is not on the roster): blocked.
    pub blocked: Vec<&'static str>,
    /// Ethnicity or address differ: may continue; the registration may be overwritten.
    pub warned: Vec<&'static str>,
    pub on_roster: bool,
}

impl RosterCheck {
    pub fn is_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }
}

/// Compares the card's data with the roster row (R-ID-2). `entry` is `None` when the
/// candidate is not on the roster: blocked, with nothing to compare.
pub fn match_roster(
    name: &str,
    id_number: &str,
    ethnicity: &str,
    address: &str,
    entry: Option<&RosterEntry>,
) -> RosterCheck {
    let Some(e) = entry else {
        return RosterCheck {
            blocked: vec!["roster"],
            warned: Vec::new(),
            on_roster: false,
        };
    };
    let same = |a: &str, b: &str| a.trim() == b.trim();
    let mut check = RosterCheck {
        on_roster: true,
        ..RosterCheck::default()
    };
    if !same(name, &e.name) {
        check.blocked.push("name");
    }
    if !id_number.trim().eq_ignore_ascii_case(e.id_number.trim()) {
        check.blocked.push("id_number");
    }
    if !e.ethnicity.is_empty() && !same(ethnicity, &e.ethnicity) {
        check.warned.push("ethnicity");
    }
    if !e.address.is_empty() && !same(address, &e.address) {
        check.warned.push("address");
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Bilingual;

    fn field(key: FieldKey, chars: FieldChars, length: [usize; 2]) -> FieldSpec {
        FieldSpec {
            key,
            label: Bilingual {
                zh: "号".into(),
                en: "number".into(),
            },
            chars,
            length,
        }
    }

    #[test]
    fn formats_are_checked_while_typing() {
        let exam = field(FieldKey::CandidateKey, FieldChars::Digits, [14, 14]);
        assert_eq!(exam.state(""), FieldState::Empty);
        assert_eq!(exam.state("2644"), FieldState::Incomplete);
        assert_eq!(exam.state("26440101234567"), FieldState::Complete);
        assert!(matches!(exam.state("264401012345678"), FieldState::Bad(..)));
        assert!(matches!(exam.state("26A4"), FieldState::Bad(..)));
        let id = field(FieldKey::CandidateKey, FieldChars::IdTail, [18, 18]);
        assert_eq!(id.state("11010519491231002X"), FieldState::Complete);
        assert!(matches!(
            id.state("110105194912310021"),
            FieldState::Bad(..)
        ));
    }

    #[test]
    fn roster_mismatches_block_or_warn() {
        let e = RosterEntry {
            candidate_key: "1".into(),
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            ethnicity: "汉".into(),
            address: "北京市".into(),
            phone: String::new(),
            secret: String::new(),
        };
        let ok = match_roster("张三", "11010519491231002x", "汉", "北京市", Some(&e));
        assert!(!ok.is_blocked() && ok.warned.is_empty());
        let moved = match_roster("张三", "11010519491231002X", "汉", "广州市", Some(&e));
        assert!(!moved.is_blocked() && moved.warned == vec!["address"]);
        let other = match_roster("李四", "11010519491231002X", "回", "北京市", Some(&e));
        assert_eq!(
            (other.blocked, other.warned),
            (vec!["name"], vec!["ethnicity"])
        );
        assert!(match_roster("张三", "x", "", "", None).is_blocked());
        assert_eq!(id_tail("A123456(7)"), "6(7)");
        assert_eq!(id_tail("11010519491231002x"), "002X");
    }

    #[test]
    fn collection_codes_end_with_the_id_tail() {
        assert_eq!(
            collection_code(" 2026chsi002x\n", "002X"),
            Ok("2026CHSI002X".into())
        );
        assert_eq!(
            collection_code(
                "https://example.edu/c?batch=Z3K8F7&code=2026CHSI6(7)",
                "6(7)"
            ),
            Ok("2026CHSI6(7)".into())
        );
        assert_eq!(
            collection_code("2026CHSI0021", "002X"),
            Err(CodeProblem::TailMismatch)
        );
        for other in [
            "https://example.com/pay",
            "WIFI:S:kiosk;;",
            "002X",
            "张三002X",
        ] {
            assert_eq!(
                collection_code(other, "002X"),
                Err(CodeProblem::NotACollectionCode),
                "{other}"
            );
        }
    }
}
