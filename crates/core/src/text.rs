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

    /// A message written `中文 / English`, the form of the errors a person reads (a terminal
    /// shows it whole), split so a window can show the half in its language. Each line is
    /// split on its own (a list of problems is one a line, each in both languages); a line
    /// with no Chinese half before its first ` / ` is the same in both.
    pub fn from_message(text: &str) -> Self {
        let (mut zh, mut en) = (Vec::new(), Vec::new());
        for line in text.lines() {
            match line.split_once(" / ") {
                Some((z, e)) if z.chars().any(is_chinese) && !e.trim().is_empty() => {
                    zh.push(z.trim_end());
                    en.push(e.trim());
                }
                _ => {
                    zh.push(line);
                    en.push(line);
                }
            }
        }
        Bilingual::new(zh.join("\n"), en.join("\n"))
    }
}

fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_language_message_is_split_and_a_one_language_one_kept_whole() {
        let m = Bilingual::from_message("名单为空 / the roster is empty: see line 3 / 4");
        assert_eq!(m.zh, "名单为空");
        assert_eq!(m.en, "the roster is empty: see line 3 / 4");
        // an English message with a slash in it is not taken for two languages
        let m = Bilingual::from_message("read a/b / c failed");
        assert_eq!(
            (m.zh.as_str(), m.en.as_str()),
            ("read a/b / c failed", "read a/b / c failed")
        );
        let m = Bilingual::from_message("只有中文");
        assert_eq!(m.en, "只有中文");
        // a list of problems: each line in its own language
        let m = Bilingual::from_message(
            "名单有问题 / the roster has problems:\n第 3 行身份证号无效 / line 3: bad ID number\n…and 2 more",
        );
        assert_eq!(m.zh, "名单有问题\n第 3 行身份证号无效\n…and 2 more");
        assert_eq!(
            m.en,
            "the roster has problems:\nline 3: bad ID number\n…and 2 more"
        );
    }
}
