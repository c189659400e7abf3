//! The staff audit trail's vocabulary: every action a staff member or the command line can be
//! recorded doing, with the words staff read for it.

use capture_core::text::StaticText;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Unlock,
    WrongPin,
    OpenCollection,
    EndCollection,
    ImportRoster,
    ImportRosterRefused,
    SyncRoster,
    SyncRosterFailed,
    ChangePin,
    ChooseBatch,
    Reprint,
    Requeue,
    LinkHub,
}

impl AuditAction {
    pub const ALL: [AuditAction; 13] = [
        AuditAction::Unlock,
        AuditAction::WrongPin,
        AuditAction::OpenCollection,
        AuditAction::EndCollection,
        AuditAction::ImportRoster,
        AuditAction::ImportRosterRefused,
        AuditAction::SyncRoster,
        AuditAction::SyncRosterFailed,
        AuditAction::ChangePin,
        AuditAction::ChooseBatch,
        AuditAction::Reprint,
        AuditAction::Requeue,
        AuditAction::LinkHub,
    ];

    /// As stored in the audit table (kept stable: older rows read the same).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Unlock => "unlock",
            AuditAction::WrongPin => "wrong_pin",
            AuditAction::OpenCollection => "open_collection",
            AuditAction::EndCollection => "end_collection",
            AuditAction::ImportRoster => "import_roster",
            AuditAction::ImportRosterRefused => "import_roster_refused",
            AuditAction::SyncRoster => "sync_roster",
            AuditAction::SyncRosterFailed => "sync_roster_failed",
            AuditAction::ChangePin => "change_pin",
            AuditAction::ChooseBatch => "choose_batch",
            AuditAction::Reprint => "reprint",
            AuditAction::Requeue => "requeue",
            AuditAction::LinkHub => "link_hub",
        }
    }

    /// The stored name read back; None for a name this build does not know.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// What staff read for it (Chinese, English).
    pub fn words(self) -> StaticText {
        let t = StaticText::new;
        match self {
            AuditAction::Unlock => t("解锁工作人员菜单", "staff menu unlocked"),
            AuditAction::WrongPin => t("PIN 错误", "wrong PIN"),
            AuditAction::OpenCollection => t("开始采集", "collection opened"),
            AuditAction::EndCollection => t("结束采集", "collection ended"),
            AuditAction::ImportRoster => t("导入名单", "roster imported"),
            AuditAction::ImportRosterRefused => t("名单导入失败", "roster refused"),
            AuditAction::SyncRoster => t("同步名单", "roster synced"),
            AuditAction::SyncRosterFailed => t("名单同步失败", "roster sync failed"),
            AuditAction::ChangePin => t("修改 PIN", "PIN changed"),
            AuditAction::ChooseBatch => t("更改批次", "batch changed"),
            AuditAction::Reprint => t("补打照片", "photo reprinted"),
            AuditAction::Requeue => t("重新上传", "record requeued"),
            AuditAction::LinkHub => t("连接采集中心", "linked to the hub"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_as_itself() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("start-session"), None);
    }
}
