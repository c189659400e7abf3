//! Registration rosters as colleges and exam offices send them: CSV with a header row, in
//! English or Chinese column names, UTF-8 (with or without a BOM). Parsing is pure: text in,
//! rows or a list of what is wrong with which line out.
//!
//! A candidate's password arrives as `sha256(candidate_key:password)`, which a 6-digit
//! password gives up in a fraction of a second. Before a roster is stored or sent anywhere its
//! digests are sealed: an argon2id hash with its own salt over the digest (`seal_secrets`,
//! slow on purpose, so run it off any lock). A kiosk checks a typed password offline against
//! the sealed value (`secret_matches`).

use crate::hub_protocol::RosterEntry;
use crate::reader::card::id_number_valid;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum RosterError {
    #[error("名单没有包含 考生号（candidate_key）、姓名（name）和 身份证号（id_number）列的表头行 / the roster has no header row with the columns candidate_key (考生号), name (姓名) and id_number (身份证号)")]
    MissingColumns,
    #[error("名单有问题，未导入任何内容 / the roster has problems, nothing was imported:\n{}", .0.join("\n"))]
    BadRows(Vec<String>),
    #[error("名单是空的 / the roster is empty")]
    Empty,
    #[error("名单既不是 UTF-8 也不是 GBK 文本，请另存为 CSV（UTF-8）后重试 / the roster is neither UTF-8 nor GBK text; save it as CSV (UTF-8) and try again")]
    Encoding,
    #[error("无法加密保存名单中的密码（{0}） / cannot seal the roster's passwords: {0}")]
    Seal(String),
}

/// Problems listed at most; the rest are counted. A file of a million bad rows must not become
/// an answer (and a log) of a million lines: the first fifty say what to fix.
const MAX_LISTED_PROBLEMS: usize = 50;

/// A roster's problems: the first [`MAX_LISTED_PROBLEMS`] in full, then a count.
#[derive(Default)]
struct Problems {
    listed: Vec<String>,
    more: usize,
}

impl Problems {
    fn note(&mut self, problem: String) {
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.more += 1;
        }
    }

    /// None when there were none.
    fn into_list(mut self) -> Option<Vec<String>> {
        if self.more > 0 {
            self.listed.push(format!(
                "……另有 {0} 个同类问题 / … and {0} more problems of the same kinds",
                self.more
            ));
        }
        (!self.listed.is_empty()).then_some(self.listed)
    }
}

/// What a sealed secret starts with (argon2id's PHC string).
const SEALED_PREFIX: &str = "$argon2id$";

/// Whether `secret` is a sealed password (never a bare digest).
pub fn is_sealed(secret: &str) -> bool {
    secret.starts_with(SEALED_PREFIX)
}

/// Whether `secret` has the form of the password digest a roster file carries (64 hex digits).
pub fn looks_like_digest(secret: &str) -> bool {
    secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Seals a password digest: argon2id (19 MiB, 2 passes, the OWASP minimum) with a fresh
/// salt, as a PHC string.
pub fn seal_secret(digest: &str) -> Result<String, RosterError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| RosterError::Seal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| RosterError::Seal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(digest.to_lowercase().as_bytes(), &salt)
        .map_err(|e| RosterError::Seal(e.to_string()))?
        .to_string())
}

/// Whether a row's secret is a password digest still to seal (not empty, not sealed).
pub fn needs_sealing(secret: &str) -> bool {
    !secret.is_empty() && !is_sealed(secret)
}

/// Seals every row's password digest (rows already sealed or without a password stay as they
/// are), on all cores: about 20 ms of work per row.
pub fn seal_secrets(rows: &mut [RosterEntry]) -> Result<(), RosterError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = rows.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = rows
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for e in part.iter_mut() {
                        if needs_sealing(&e.secret) {
                            e.secret = seal_secret(&e.secret)?;
                        }
                    }
                    Ok::<_, RosterError>(())
                })
            })
            .collect();
        jobs.into_iter().try_for_each(|j| {
            j.join()
                .map_err(|_| RosterError::Seal("a sealing thread failed".into()))?
        })
    })
}

/// Whether `password` typed for `candidate_key` is the one `sealed` holds (None: the number
/// is not on the roster). An unknown number is checked against a decoy with the same cost, so
/// how long the answer takes does not tell which numbers are on the roster (R-ID-1).
pub fn secret_matches(sealed: Option<&str>, candidate_key: &str, password: &str) -> bool {
    let digest = crate::session::identify::password_digest(candidate_key, password);
    let parsed = sealed.and_then(|s| PasswordHash::new(s).ok());
    match parsed {
        Some(parsed) => Argon2::default()
            .verify_password(digest.as_bytes(), &parsed)
            .is_ok(),
        None => {
            if let Some(decoy) = decoy().and_then(|d| PasswordHash::new(d).ok()) {
                let _ = Argon2::default().verify_password(digest.as_bytes(), &decoy);
            }
            false
        }
    }
}

/// A sealed secret nobody knows, made once per process.
fn decoy() -> Option<&'static str> {
    static DECOY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| seal_secret(&"0".repeat(64)).ok())
        .as_deref()
}

/// A roster file's text: UTF-8 (with or without a BOM), or GBK/GB18030, which is what Excel on
/// a Chinese Windows writes when it saves "CSV".
pub fn roster_text(bytes: &[u8]) -> Result<String, RosterError> {
    crate::spreadsheet::spreadsheet_text(bytes).ok_or(RosterError::Encoding)
}

/// Which column holds which field; Chinese names are the ones exam offices use.
fn field_of(header: &str) -> Option<usize> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    let names: [&[&str]; 7] = [
        &["candidate_key", "考生号", "报名号", "准考证号", "学号"],
        &["name", "姓名"],
        &["id_number", "身份证号", "证件号码", "身份证号码"],
        &["ethnicity", "民族"],
        &["address", "住址", "地址"],
        &["phone", "电话", "手机", "手机号"],
        &["password_sha256", "密码摘要"],
    ];
    names.iter().position(|alts| alts.contains(&h.as_str()))
}

/// Parses a roster. Every row is checked (key and name present, an 18-character ID number
/// with a valid check character, keys unique); all problems are reported together with their
/// line numbers, and a roster with any problem is refused whole.
pub fn parse_roster_csv(text: &str) -> Result<Vec<RosterEntry>, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| RosterError::MissingColumns)?
        .clone();
    let mut column = [None; 7];
    for (i, h) in headers.iter().enumerate() {
        if let Some(f) = field_of(h) {
            column[f].get_or_insert(i);
        }
    }
    if column[..3].iter().any(Option::is_none) {
        return Err(RosterError::MissingColumns);
    }
    let mut rows = Vec::new();
    let mut problems = Problems::default();
    let mut seen = std::collections::HashSet::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.note(format!("第 {line} 行无法读取 / line {line}: {e}"));
                continue;
            }
        };
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        // no roster field holds a line break: one that does began with a quote that is never
        // closed, and took every line after it (whose own problems would be the wrong ones)
        if record.iter().any(|f| f.contains(['\n', '\r'])) {
            problems.note(format!(
                "第 {line} 行：某个字段以引号（\"）开头却没有闭合，后面各行都被并入其中 / \
                 line {line}: a field opens a quote (\") that is never closed, taking in the \
                 lines after it"
            ));
            continue;
        }
        let get = |f: usize| {
            column[f]
                .and_then(|c| record.get(c))
                .unwrap_or("")
                .to_owned()
        };
        let key = get(0);
        let entry = RosterEntry {
            // an ID number used as the candidate number (gd-gaokao) is kept in its one written
            // form, X in capitals, as the card reader and the keypad give it: a spreadsheet
            // typed with x would match no card, and x and X would be two candidates
            candidate_key: if id_number_valid(&key) {
                key.to_uppercase()
            } else {
                key
            },
            name: get(1),
            id_number: get(2).to_uppercase(),
            ethnicity: get(3),
            address: get(4),
            phone: get(5),
            secret: {
                let s = get(6);
                // a sealed value keeps its case (base64); a digest is compared in lower case
                if is_sealed(&s) {
                    s
                } else {
                    s.to_lowercase()
                }
            },
        };
        if entry.candidate_key.is_empty() || entry.name.is_empty() {
            problems.note(format!(
                "第 {line} 行：考生号或姓名为空 / line {line}: the candidate number or the name is empty"
            ));
        } else if !id_number_valid(&entry.id_number) {
            // never echo the number itself: rosters are personal data and this ends up in logs
            problems.note(format!(
                "第 {line} 行：身份证号不是有效的 18 位号码（校验位不符） / line {line}: the ID number is not a valid 18-character number (check character)"
            ));
        } else if !entry.secret.is_empty()
            && !looks_like_digest(&entry.secret)
            && !is_sealed(&entry.secret)
        {
            problems.note(format!(
                "第 {line} 行：密码摘要不是 64 位十六进制数（考生号:密码 的 sha256） / line {line}: the password digest is not 64 hex digits (sha256 of candidate_key:password)"
            ));
        } else if !seen.insert(entry.candidate_key.clone()) {
            problems.note(format!(
                "第 {line} 行：考生号重复 / line {line}: the candidate number appears twice"
            ));
        } else {
            rows.push(entry);
        }
    }
    if let Some(listed) = problems.into_list() {
        return Err(RosterError::BadRows(listed));
    }
    if rows.is_empty() {
        return Err(RosterError::Empty);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_check_the_password_and_never_hold_the_digest() {
        let digest = crate::session::identify::password_digest("2026001", "123456");
        let text =
            format!("考生号,姓名,身份证号,密码摘要\n2026001,张三,11010519491231002X,{digest}\n");
        let mut rows = parse_roster_csv(&text).unwrap();
        seal_secrets(&mut rows).unwrap();
        let sealed = rows[0].secret.clone();
        assert!(is_sealed(&sealed) && !sealed.contains(&digest), "{sealed}");
        assert!(secret_matches(Some(&sealed), "2026001", "123456"));
        assert!(!secret_matches(Some(&sealed), "2026001", "123457"));
        // an unknown number is refused, after the same work
        assert!(!secret_matches(None, "2026001", "123456"));
        assert!(
            !secret_matches(Some(&digest), "2026001", "123456"),
            "a bare digest is never accepted"
        );
        // two rows with the same password get different salts
        let mut again = rows.clone();
        again[0].secret = digest.clone();
        seal_secrets(&mut again).unwrap();
        assert_ne!(again[0].secret, sealed);
        // sealing twice changes nothing
        seal_secrets(&mut rows).unwrap();
        assert_eq!(rows[0].secret, sealed);
        let bad = "candidate_key,name,id_number,password_sha256\n1,A,11010519491231002X,123456\n";
        assert!(matches!(
            parse_roster_csv(bad),
            Err(RosterError::BadRows(_))
        ));
    }

    #[test]
    fn chinese_headers_and_a_bom_are_read() {
        let text = "\u{feff}考生号,姓名,身份证号,民族\n2026001,张三,11010519491231002X,汉\n";
        let rows = parse_roster_csv(text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "张三");
        assert_eq!(rows[0].id_number, "11010519491231002X");
        assert_eq!(rows[0].ethnicity, "汉");
    }

    #[test]
    fn an_id_number_as_candidate_number_is_kept_with_a_capital_x() {
        let text = "考生号,姓名,身份证号\n11010519491231002x,张三,11010519491231002x\n";
        let rows = parse_roster_csv(text).unwrap();
        assert_eq!(rows[0].candidate_key, "11010519491231002X");
        // an exam number with letters keeps its own case
        let rows =
            parse_roster_csv("考生号,姓名,身份证号\nab2026x,李四,11010519491231002X\n").unwrap();
        assert_eq!(rows[0].candidate_key, "ab2026x");
        // written both ways, it is one candidate twice
        let twice = "考生号,姓名,身份证号\n11010519491231002x,张三,11010519491231002X\n\
                     11010519491231002X,张三,11010519491231002X\n";
        let Err(RosterError::BadRows(listed)) = parse_roster_csv(twice) else {
            panic!("a number given twice was taken");
        };
        assert!(
            listed
                .iter()
                .any(|p| p.contains("line 3") && p.contains("twice")),
            "{listed:?}"
        );
    }

    #[test]
    fn excel_gbk_files_are_read_and_binary_files_refused() {
        let utf8 = "考生号,姓名,身份证号\n2026001,张三,11010519491231002X\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(utf8);
        assert_ne!(&gbk[..], utf8.as_bytes());
        assert_eq!(roster_text(&gbk).as_deref(), Ok(utf8));
        assert_eq!(roster_text(utf8.as_bytes()).as_deref(), Ok(utf8));
        assert_eq!(
            roster_text(&[0x50, 0x4b, 0x03, 0x04, 0xff, 0xff, 0x81]),
            Err(RosterError::Encoding)
        );
    }

    #[test]
    fn a_thousand_bad_rows_are_listed_fifty_and_counted() {
        let mut text = String::from("candidate_key,name,id_number\n");
        for n in 0..1000 {
            text.push_str(&format!("{n},,11010519491231002X\n"));
        }
        let Err(RosterError::BadRows(p)) = parse_roster_csv(&text) else {
            panic!("accepted a bad roster")
        };
        assert_eq!(p.len(), MAX_LISTED_PROBLEMS + 1);
        assert!(
            p[0].starts_with("第 2 行") && p[0].contains("line 2:"),
            "{p:?}"
        );
        assert_eq!(
            p[MAX_LISTED_PROBLEMS],
            "……另有 950 个同类问题 / … and 950 more problems of the same kinds"
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "candidate_key,name,id_number\n1,A,11010519491231002X\n2,,11010519491231002X\n3,C,110105194912310021\n1,D,11010519491231002X\n";
        let Err(RosterError::BadRows(p)) = parse_roster_csv(text) else {
            panic!("accepted a bad roster")
        };
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("line 3:"));
        assert!(p[1].contains("line 4:") && !p[1].contains("110105194912310021"));
        assert!(p[2].contains("twice"));
        assert_eq!(
            parse_roster_csv("a,b\n1,2\n"),
            Err(RosterError::MissingColumns)
        );
    }

    #[test]
    fn a_quote_never_closed_is_named_as_the_cause() {
        let text =
            "candidate_key,name,id_number\n1,\"A,11010519491231002X\n2,B,11010519491231002X\n";
        let Err(RosterError::BadRows(p)) = parse_roster_csv(text) else {
            panic!("accepted a roster with an unclosed quote")
        };
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("line 2:") && p[0].contains("never closed"),
            "{p:?}"
        );
        assert!(
            !p[0].contains("ID number"),
            "not blamed on the ID number: {p:?}"
        );
    }
}
