//! Text in both of the kiosk's languages, Chinese first (the source language) and English:
//! `Bilingual` for text made or read at run time (profiles, notices, prompts), `StaticText` for
//! words fixed in the program. The window shows one or the other.

use serde::{Deserialize, Serialize};

/// Text in both languages, owned.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

impl Bilingual {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Bilingual {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// Text in both languages, fixed in the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StaticText {
    pub zh: &'static str,
    pub en: &'static str,
}

impl StaticText {
    pub const fn new(zh: &'static str, en: &'static str) -> Self {
        StaticText { zh, en }
    }
}

impl From<StaticText> for Bilingual {
    fn from(t: StaticText) -> Self {
        Bilingual::new(t.zh, t.en)
    }
}
