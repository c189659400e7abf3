//! The kiosk–hub contract: what a kiosk sends with a photo, what the hub answers, the review
//! states a record goes through and the fixed vocabulary reviewers reject with. Pure data; the
//! uploader and the hub (adapters) both serialise these, and `hub/openapi.yaml` describes them.

use serde::{Deserialize, Serialize};

/// The metadata part of a submission. Everything here comes from the kiosk's store and is the
/// same on every retry, so a replay has the same content fingerprint as the first send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMeta {
    /// The capture's UUIDv7, also the idempotency key.
    pub key: String,
    pub profile: String,
    #[serde(default)]
    pub batch_id: String,
    /// Exam / registration / ticket number or ID number the candidate identified with.
    pub candidate_key: String,
    pub spec: String,
    /// Unix ms when the candidate confirmed.
    pub captured_at_ms: i64,
    /// Similarity to the reference face, when one was compared (lower is more alike).
    #[serde(default)]
    pub verification_distance: Option<f32>,
    /// The candidate went the manual path (R-MANUAL): a reviewer must compare by eye.
    #[serde(default)]
    pub manual_review: bool,
}

impl RecordMeta {
    /// Why the metadata cannot be accepted, if it cannot; the hub answers 422 with this.
    pub fn problem(&self) -> Option<String> {
        if uuid::Uuid::parse_str(&self.key).is_err() {
            return Some(format!("key {:?} is not a UUID", self.key));
        }
        // no control characters: these end up in logs, file listings and the review page
        let short = |s: &str| !s.is_empty() && is_short_plain_text(s);
        for (name, value) in [
            ("profile", &self.profile),
            ("candidate_key", &self.candidate_key),
            ("spec", &self.spec),
        ] {
            if !short(value) {
                return Some(format!(
                    "{name} must be 1–64 characters with no control characters"
                ));
            }
        }
        if !is_short_plain_text(&self.batch_id) {
            return Some(
                "batch_id must be at most 64 characters with no control characters".into(),
            );
        }
        if self
            .verification_distance
            .is_some_and(|d| !d.is_finite() || d < 0.0)
        {
            return Some("verification_distance must be a non-negative number".into());
        }
        None
    }
}

/// Where a record is in review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    PendingReview,
    Approved,
    Rejected,
    Withdrawn,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::PendingReview => "pending_review",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
            ReviewState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ReviewState::PendingReview,
            ReviewState::Approved,
            ReviewState::Rejected,
            ReviewState::Withdrawn,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// No reviewer will change it any more (a rejected candidate retakes as a new record).
    pub fn is_final(self) -> bool {
        self != ReviewState::PendingReview
    }

    pub fn zh(self) -> &'static str {
        match self {
            ReviewState::PendingReview => "待审核",
            ReviewState::Approved => "审核通过",
            ReviewState::Rejected => "审核未通过",
            ReviewState::Withdrawn => "已撤回",
        }
    }
}

/// The hub's answer to a submission: the same on every replay of the same key and content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmitReply {
    pub record_id: String,
    pub state: ReviewState,
    pub received_at_ms: i64,
}

/// A record's review status as a kiosk sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordStatus {
    pub record_id: String,
    pub state: ReviewState,
    #[serde(default)]
    pub reasons: Vec<RejectReason>,
    #[serde(default)]
    pub note: String,
    pub received_at_ms: i64,
    #[serde(default)]
    pub reviewed_at_ms: Option<i64>,
}

/// Ask for several records' statuses at once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusQuery {
    pub record_ids: Vec<String>,
}

/// A reviewer's decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub approve: bool,
    #[serde(default)]
    pub reasons: Vec<RejectReason>,
    #[serde(default)]
    pub note: String,
}

/// A roster row as kiosks sync it (R-ID-2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub candidate_key: String,
    pub name: String,
    pub id_number: String,
    #[serde(default)]
    pub ethnicity: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    /// `session::identify::password_digest` of the candidate's password, for profiles that
    /// identify by number and password; empty otherwise.
    #[serde(default)]
    pub secret: String,
}

/// An error body: the hub's message says what to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Which refusal this is, where one status covers several that a kiosk handles apart
    /// (a 403 for a record of another kiosk's, or for a batch not assigned to this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
}

/// The refusals a kiosk tells apart by more than their status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The record names a batch that the hub has given to other kiosks, not this one.
    BatchNotAssigned,
    /// A code this kiosk's version does not know: handled by its status alone.
    #[serde(other)]
    Other,
}

/// The fixed vocabulary a reviewer rejects with: the seeds' reasons and ICAO-style ones. Free
/// text goes in the decision's note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Glasses,
    GlassesGlare,
    HairOverBrows,
    EarsCovered,
    Headwear,
    UnevenLight,
    Exposure,
    Blur,
    Background,
    ClothingColour,
    Pose,
    EyesClosed,
    MouthOpen,
    Expression,
    FaceSizePosition,
    NotSamePerson,
    Beautified,
    Composited,
    DuplicatePhoto,
    NotLive,
    Other,
}

impl RejectReason {
    pub const ALL: [RejectReason; 21] = [
        RejectReason::Glasses,
        RejectReason::GlassesGlare,
        RejectReason::HairOverBrows,
        RejectReason::EarsCovered,
        RejectReason::Headwear,
        RejectReason::UnevenLight,
        RejectReason::Exposure,
        RejectReason::Blur,
        RejectReason::Background,
        RejectReason::ClothingColour,
        RejectReason::Pose,
        RejectReason::EyesClosed,
        RejectReason::MouthOpen,
        RejectReason::Expression,
        RejectReason::FaceSizePosition,
        RejectReason::NotSamePerson,
        RejectReason::Beautified,
        RejectReason::Composited,
        RejectReason::DuplicatePhoto,
        RejectReason::NotLive,
        RejectReason::Other,
    ];

    pub fn code(self) -> &'static str {
        self.texts().0
    }

    pub fn zh(self) -> &'static str {
        self.texts().1
    }

    pub fn en(self) -> &'static str {
        self.texts().2
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    fn texts(self) -> (&'static str, &'static str, &'static str) {
        use RejectReason::*;
        match self {
            Glasses => ("glasses", "佩戴眼镜", "wearing glasses"),
            GlassesGlare => ("glasses_glare", "眼镜反光", "glare on the glasses"),
            HairOverBrows => (
                "hair_over_brows",
                "头发遮挡眉毛或眼睛",
                "hair over the eyebrows or eyes",
            ),
            EarsCovered => ("ears_covered", "双耳未露出", "ears not visible"),
            Headwear => ("headwear", "佩戴帽子或头饰", "hat or headwear"),
            UnevenLight => (
                "uneven_light",
                "光线不均（阴阳脸）",
                "uneven light (half-shadowed face)",
            ),
            Exposure => ("exposure", "曝光过度或不足", "over- or under-exposed"),
            Blur => ("blur", "照片模糊", "blurred"),
            Background => (
                "background",
                "背景不符合要求",
                "background not plain or wrong colour",
            ),
            ClothingColour => (
                "clothing_colour",
                "服装颜色与背景相近",
                "clothing too close to the background colour",
            ),
            Pose => (
                "pose",
                "未正视镜头（头部偏转、倾斜、低头或仰头）",
                "not facing the camera",
            ),
            EyesClosed => ("eyes_closed", "闭眼", "eyes closed"),
            MouthOpen => ("mouth_open", "张嘴", "mouth open"),
            Expression => ("expression", "表情不自然", "expression not neutral"),
            FaceSizePosition => (
                "face_size_position",
                "人像大小或位置不符合要求",
                "head size or position wrong",
            ),
            NotSamePerson => (
                "not_same_person",
                "与身份证照片不是同一人",
                "not the same person as the ID",
            ),
            Beautified => (
                "beautified",
                "照片经过美颜或修饰",
                "beautified or retouched",
            ),
            Composited => ("composited", "照片经过合成或编辑", "composited or edited"),
            DuplicatePhoto => (
                "duplicate_photo",
                "与其他考生的照片相同",
                "same photo as another record",
            ),
            NotLive => (
                "not_live",
                "翻拍照片或非本人现场照片",
                "photo of a photo, not taken live",
            ),
            Other => ("other", "其他（见说明）", "other (see note)"),
        }
    }
}

/// Whether `s` may be a short text field's value (a candidate number, a batch or kiosk name),
/// empty or not: at most 64 characters, none of them unsafe (`is_unsafe_char`). Every place that
/// takes such a name, from a kiosk or a reviewer, asks this.
pub fn is_short_plain_text(s: &str) -> bool {
    s.chars().count() <= 64 && !s.chars().any(is_unsafe_char)
}

/// Characters a short text field (a candidate number, a batch or kiosk name) may not hold:
/// control characters and line separators, which forge log lines and terminal output, and
/// every character Unicode calls default-ignorable (DerivedCoreProperties.txt): the invisible
/// ones that reorder, hide or pad text on the review page (U+202E turns text around, a soft
/// hyphen or a tag character makes "k1" and "k1" two kiosks).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Who the hub says a kiosk is (`GET /api/v1/kiosk`).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct KioskIdentity {
    pub kiosk_id: String,
    pub name: String,
}

/// The header on every kiosk request that tells the hub how the kiosk's outbox stands, for
/// the collection-day dashboard: `X-Kiosk-Outbox: pending=3, oldest-age-s=125, quarantined=0`.
/// The oldest record's age is a duration, not a time, so a kiosk's wrong clock cannot move it.
/// Optional both ways: a hub ignores a header it cannot read (it never fails a request over
/// it), and an older kiosk simply sends none.
pub const OUTBOX_HEADER: &str = "x-kiosk-outbox";

/// What [`OUTBOX_HEADER`] carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxReport {
    /// Records waiting to go to the hub.
    pub pending: u32,
    /// Seconds since the oldest waiting record was captured (0 with nothing waiting).
    pub oldest_age_s: u32,
    /// Records the hub refused, kept on the kiosk for staff.
    pub quarantined: u32,
}

/// More records than a kiosk's outbox can hold on any collection day: a report beyond it is
/// a faulty or lying kiosk, and would dwarf every honest backlog on the dashboard.
pub const MAX_OUTBOX_RECORDS: u32 = 100_000;
/// A year: an outbox record older than that is long past any retention.
pub const MAX_OUTBOX_AGE_S: u32 = 366 * 24 * 3600;

impl OutboxReport {
    pub fn to_header(&self) -> String {
        format!(
            "pending={}, oldest-age-s={}, quarantined={}",
            self.pending, self.oldest_age_s, self.quarantined
        )
    }

    /// Reads a header value; None unless `pending` is there and every known field is a
    /// number. Unknown fields are skipped, so a newer kiosk may add some.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() > 256 {
            return None;
        }
        let mut report = OutboxReport::default();
        // pending, oldest-age-s, quarantined: each at most once, so a report says one thing
        let mut seen = [false; 3];
        for field in value.split(',') {
            let (name, number) = field.split_once('=')?;
            let (i, slot, most) = match name.trim() {
                "pending" => (0, &mut report.pending, MAX_OUTBOX_RECORDS),
                "oldest-age-s" => (1, &mut report.oldest_age_s, MAX_OUTBOX_AGE_S),
                "quarantined" => (2, &mut report.quarantined, MAX_OUTBOX_RECORDS),
                _ => continue,
            };
            if std::mem::replace(&mut seen[i], true) {
                return None;
            }
            let number = number.trim();
            // digits only: "+9" is no kiosk's writing
            if !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = number.parse().ok().filter(|n| *n <= most)?;
        }
        if report.pending == 0 {
            report.oldest_age_s = 0;
        }
        seen[0].then_some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_report_round_trips_and_bad_ones_are_not_read() {
        let r = OutboxReport {
            pending: 3,
            oldest_age_s: 125,
            quarantined: 1,
        };
        assert_eq!(OutboxReport::parse(&r.to_header()), Some(r));
        // a newer kiosk's extra field is skipped; spaces do not matter
        assert_eq!(
            OutboxReport::parse("pending=2,oldest-age-s= 9 , newer=x"),
            Some(OutboxReport {
                pending: 2,
                oldest_age_s: 9,
                quarantined: 0
            })
        );
        for bad in [
            "",
            "quarantined=1",
            "pending=-1",
            "pending=3, oldest-age-s=old",
            "pending",
        ] {
            assert_eq!(OutboxReport::parse(bad), None, "{bad:?}");
        }
        assert_eq!(OutboxReport::parse(&"pending=1,".repeat(100)), None);
        // a stranger's attack on the dashboard: absurd, repeated or signed numbers
        for lying in [
            "pending=4294967295",
            "pending=5, oldest-age-s=4294967295",
            "pending=5, quarantined=100001",
            "pending=2, pending=0",
            "pending=+9",
        ] {
            assert_eq!(OutboxReport::parse(lying), None, "{lying:?}");
        }
        assert!(OutboxReport::parse("pending=100000, oldest-age-s=31622400").is_some());
    }

    #[test]
    fn reason_codes_are_unique_and_round_trip_through_json() {
        let mut codes: Vec<&str> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RejectReason::ALL.len());
        for r in RejectReason::ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.code()));
            assert_eq!(RejectReason::parse(r.code()), Some(r));
        }
    }

    #[test]
    fn invisible_characters_are_unsafe_and_chinese_text_is_not() {
        for c in [
            '\u{00AD}',
            '\u{115F}',
            '\u{202E}',
            '\u{200B}',
            '\u{E0041}',
            '\u{3164}',
            '\n',
        ] {
            assert!(is_unsafe_char(c), "{:04X}", c as u32);
        }
        for c in "张三-B2026_点1号".chars() {
            assert!(!is_unsafe_char(c), "{c}");
        }
    }

    #[test]
    fn metadata_problems_are_named() {
        let mut m = RecordMeta {
            key: uuid::Uuid::now_v7().to_string(),
            profile: "chsi-graduation".into(),
            batch_id: "Z3K8F7".into(),
            candidate_key: "440106199903070015".into(),
            spec: "chsi".into(),
            captured_at_ms: 1,
            verification_distance: Some(0.3),
            manual_review: false,
        };
        assert_eq!(m.problem(), None);
        m.key = "42".into();
        assert!(m.problem().unwrap().contains("UUID"));
        m.key = uuid::Uuid::now_v7().to_string();
        m.candidate_key.clear();
        assert!(m.problem().unwrap().contains("candidate_key"));
    }
}
