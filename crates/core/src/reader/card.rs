//! The card's 256-byte text block (UTF-16LE, space padded) for the four card types, told apart
//! by the character at byte 248; GB 11643 ID-number check characters; ethnicity names.
//!
//! Architecture invariant: pure; bytes in, an `IdCard` out (and back, for the simulator).

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const TEXT_LEN: usize = 256;
pub const PHOTO_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardType {
    /// 居民身份证
    Resident,
    /// 港澳台居民居住证 (`J`)
    HkMacaoTaiwanPermit,
    /// 外国人永久居留身份证, 2017 (`I`)
    ForeignPermanent2017,
    /// 外国人永久居留身份证, 2023 (`Y`; layout unconfirmed, read as the 2017 one)
    ForeignPermanent2023,
}

impl CardType {
    fn flag(self) -> char {
        match self {
            CardType::Resident => ' ',
            CardType::HkMacaoTaiwanPermit => 'J',
            CardType::ForeignPermanent2017 => 'I',
            CardType::ForeignPermanent2023 => 'Y',
        }
    }
}

/// Everything the text block says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCard {
    pub card_type: CardType,
    /// Chinese name as printed (rare characters outside the BMP kept).
    pub name: String,
    /// English name (foreigner's cards only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub english_name: String,
    /// 男 / 女 (or the raw code when unknown).
    pub sex: String,
    /// Ethnicity name (resident cards), or nationality code (foreigner's cards).
    pub ethnicity: String,
    /// `YYYYMMDD`
    pub birth_date: String,
    #[serde(default)]
    pub address: String,
    pub id_number: String,
    pub authority: String,
    pub valid_from: String,
    /// `YYYYMMDD`, or `长期` (long-term).
    pub valid_to: String,
    /// HK/Macao/Taiwan permit: the travel pass number.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pass_number: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CardError {
    #[error("the text block is {0} bytes, not 256")]
    Length(usize),
    #[error("unknown card type flag {0:?} at byte 248")]
    UnknownType(char),
    #[error("field '{0}' does not fit its {1} bytes on the card")]
    TooLong(&'static str, usize),
}

const ETHNICITIES: [&str; 56] = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
];

/// The ethnicity name for a GB 3304 code ("01"–"56", "97", "98").
pub fn ethnicity_name(code: &str) -> Option<&'static str> {
    match code {
        "97" => Some("其他"),
        "98" => Some("外国血统中国籍人士"),
        _ => {
            let n: usize = code.parse().ok()?;
            (1..=56).contains(&n).then(|| ETHNICITIES[n - 1])
        }
    }
}

fn ethnicity_code(name: &str) -> Option<String> {
    if let Some(i) = ETHNICITIES.iter().position(|e| *e == name) {
        return Some(format!("{:02}", i + 1));
    }
    match name {
        "其他" => Some("97".into()),
        "外国血统中国籍人士" => Some("98".into()),
        _ => None,
    }
}

/// GB 11643 check character for the first 17 digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (ch, w) in first17.chars().zip(W) {
        sum += ch.to_digit(10)? * w;
    }
    Some(C[(sum % 11) as usize])
}

/// Whether an 18-character ID number's check character is right.
pub fn id_number_valid(id: &str) -> bool {
    let id = id.trim();
    id.len() == 18
        && id.is_ascii()
        && id_check_char(&id[..17]).is_some_and(|c| id[17..].eq_ignore_ascii_case(&c.to_string()))
}

fn field(text: &[u8], offset: usize, len: usize) -> String {
    let units: Vec<u16> = text[offset..offset + len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
        .trim_end_matches([' ', '\0'])
        .trim_start()
        .to_string()
}

fn put(
    text: &mut [u8],
    offset: usize,
    len: usize,
    value: &str,
    name: &'static str,
) -> Result<(), CardError> {
    let units: Vec<u16> = value.encode_utf16().collect();
    if units.len() * 2 > len {
        return Err(CardError::TooLong(name, len));
    }
    for (i, u) in units.iter().enumerate() {
        text[offset + 2 * i..offset + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    Ok(())
}

fn sex_name(code: &str) -> String {
    match code {
        "1" => "男".into(),
        "2" => "女".into(),
        other => other.into(),
    }
}

fn sex_code(name: &str) -> &str {
    match name {
        "男" => "1",
        "女" => "2",
        other => other,
    }
}

impl IdCard {
    /// Parses the 256-byte text block.
    pub fn parse(text: &[u8]) -> Result<IdCard, CardError> {
        if text.len() != TEXT_LEN {
            return Err(CardError::Length(text.len()));
        }
        let flag = field(text, 248, 2).chars().next().unwrap_or(' ');
        let card_type = match flag {
            ' ' => CardType::Resident,
            'J' => CardType::HkMacaoTaiwanPermit,
            'I' => CardType::ForeignPermanent2017,
            'Y' => CardType::ForeignPermanent2023,
            other => return Err(CardError::UnknownType(other)),
        };
        Ok(match card_type {
            CardType::Resident | CardType::HkMacaoTaiwanPermit => {
                let code = field(text, 32, 4);
                IdCard {
                    card_type,
                    name: field(text, 0, 30),
                    english_name: String::new(),
                    sex: sex_name(&field(text, 30, 2)),
                    ethnicity: ethnicity_name(&code).map(str::to_owned).unwrap_or(code),
                    birth_date: field(text, 36, 16),
                    address: field(text, 52, 70),
                    id_number: field(text, 122, 36),
                    authority: field(text, 158, 30),
                    valid_from: field(text, 188, 16),
                    valid_to: field(text, 204, 16),
                    pass_number: if card_type == CardType::HkMacaoTaiwanPermit {
                        field(text, 220, 18)
                    } else {
                        String::new()
                    },
                }
            }
            CardType::ForeignPermanent2017 | CardType::ForeignPermanent2023 => IdCard {
                card_type,
                name: field(text, 158, 30),
                english_name: field(text, 0, 120),
                sex: sex_name(&field(text, 120, 2)),
                ethnicity: field(text, 152, 6),
                birth_date: field(text, 220, 16),
                address: String::new(),
                id_number: field(text, 122, 30),
                authority: field(text, 240, 8),
                valid_from: field(text, 188, 16),
                valid_to: field(text, 204, 16),
                pass_number: String::new(),
            },
        })
    }

    /// The 256-byte block for this card (the simulator's side of the wire).
    pub fn encode(&self) -> Result<[u8; TEXT_LEN], CardError> {
        let mut t = [0u8; TEXT_LEN];
        for c in t.chunks_exact_mut(2) {
            c.copy_from_slice(&(' ' as u16).to_le_bytes());
        }
        match self.card_type {
            CardType::Resident | CardType::HkMacaoTaiwanPermit => {
                put(&mut t, 0, 30, &self.name, "name")?;
                put(&mut t, 30, 2, sex_code(&self.sex), "sex")?;
                let code =
                    ethnicity_code(&self.ethnicity).unwrap_or_else(|| self.ethnicity.clone());
                put(&mut t, 32, 4, &code, "ethnicity")?;
                put(&mut t, 36, 16, &self.birth_date, "birth_date")?;
                put(&mut t, 52, 70, &self.address, "address")?;
                put(&mut t, 122, 36, &self.id_number, "id_number")?;
                put(&mut t, 158, 30, &self.authority, "authority")?;
                put(&mut t, 188, 16, &self.valid_from, "valid_from")?;
                put(&mut t, 204, 16, &self.valid_to, "valid_to")?;
                if self.card_type == CardType::HkMacaoTaiwanPermit {
                    put(&mut t, 220, 18, &self.pass_number, "pass_number")?;
                }
            }
            CardType::ForeignPermanent2017 | CardType::ForeignPermanent2023 => {
                put(&mut t, 0, 120, &self.english_name, "english_name")?;
                put(&mut t, 120, 2, sex_code(&self.sex), "sex")?;
                put(&mut t, 122, 30, &self.id_number, "id_number")?;
                put(&mut t, 152, 6, &self.ethnicity, "nationality")?;
                put(&mut t, 158, 30, &self.name, "name")?;
                put(&mut t, 188, 16, &self.valid_from, "valid_from")?;
                put(&mut t, 204, 16, &self.valid_to, "valid_to")?;
                put(&mut t, 220, 16, &self.birth_date, "birth_date")?;
                put(&mut t, 240, 8, &self.authority, "authority")?;
            }
        }
        let flag = self.card_type.flag().to_string();
        put(&mut t, 248, 2, &flag, "flag")?;
        Ok(t)
    }

    /// The ID number's check character is right (18-character numbers: resident cards,
    /// HK/Macao/Taiwan permits and the 2023 foreigner's card); the 2017 foreigner's card's
    /// 15-character number has no check character and is checked for its shape only.
    pub fn id_number_valid(&self) -> bool {
        let n = self.id_number.as_bytes();
        let old_style = n.len() == 15
            && n[..3].iter().all(u8::is_ascii_uppercase)
            && n[3..].iter().all(u8::is_ascii_digit);
        match self.card_type {
            CardType::ForeignPermanent2017 => old_style,
            // the 2023 card's layout is unconfirmed: accept either number style
            CardType::ForeignPermanent2023 => old_style || id_number_valid(&self.id_number),
            _ => id_number_valid(&self.id_number),
        }
    }

    /// Past its validity on `today` (`YYYYMMDD`); a long-term card never is.
    pub fn expired_on(&self, today: &str) -> bool {
        let end = self.valid_to.trim();
        end.len() == 8 && end.bytes().all(|b| b.is_ascii_digit()) && end < today
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident() -> IdCard {
        IdCard {
            card_type: CardType::Resident,
            name: "张𠀀明".into(),
            english_name: String::new(),
            sex: "男".into(),
            ethnicity: "汉".into(),
            birth_date: "19900307".into(),
            address: "广东省广州市天河区某某路1号".into(),
            id_number: "11010519491231002X".into(),
            authority: "广州市公安局天河分局".into(),
            valid_from: "20150101".into(),
            valid_to: "20350101".into(),
            pass_number: String::new(),
        }
    }

    #[test]
    fn gb11643_check_characters() {
        assert!(id_number_valid("11010519491231002X"));
        assert!(id_number_valid("11010519491231002x"));
        assert!(!id_number_valid("110105194912310021"));
        assert!(id_number_valid("440524188001010014"));
        assert!(!id_number_valid("44052418800101001"));
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn every_ethnicity_code_has_a_name() {
        for n in 1..=56 {
            let code = format!("{n:02}");
            let name = ethnicity_name(&code).unwrap();
            assert_eq!(ethnicity_code(name).as_deref(), Some(code.as_str()));
        }
        assert_eq!(ethnicity_name("97"), Some("其他"));
        assert_eq!(ethnicity_name("98"), Some("外国血统中国籍人士"));
        assert_eq!(ethnicity_name("57"), None);
    }

    #[test]
    fn a_resident_card_round_trips_with_a_rare_character() {
        let card = resident();
        let bytes = card.encode().unwrap();
        assert_eq!(&bytes[248..250], &[0x20, 0x00]);
        let back = IdCard::parse(&bytes).unwrap();
        assert_eq!(back, card);
        assert_eq!(
            back.name.chars().count(),
            3,
            "the rare character stays one character"
        );
        assert!(back.id_number_valid());
    }

    #[test]
    fn long_term_and_expired_cards() {
        let mut c = resident();
        assert!(!c.expired_on("20300101"));
        assert!(c.expired_on("20350102"));
        c.valid_to = "长期".into();
        let back = IdCard::parse(&c.encode().unwrap()).unwrap();
        assert_eq!(back.valid_to, "长期");
        assert!(!back.expired_on("29991231"));
    }

    #[test]
    fn too_long_fields_and_unknown_flags_are_errors() {
        let mut c = resident();
        c.name = "一二三四五六七八九十一二三四五六".into();
        assert_eq!(c.encode(), Err(CardError::TooLong("name", 30)));
        let mut bytes = resident().encode().unwrap();
        bytes[248] = b'Q';
        assert_eq!(IdCard::parse(&bytes), Err(CardError::UnknownType('Q')));
        assert_eq!(IdCard::parse(&bytes[..10]), Err(CardError::Length(10)));
    }
}
