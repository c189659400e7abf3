//! Calendar dates and times from Unix time, without a time-zone database: the kiosk's
//! business is in China Standard Time (UTC+8, no daylight saving) and logs are in UTC. Pure.

/// China Standard Time's offset from UTC.
pub const CST_OFFSET_SECS: i64 = 8 * 3600;

/// A moment as calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl CivilTime {
    /// The calendar fields of `unix_secs` shifted by `offset_secs` (Howard Hinnant's
    /// civil-from-days).
    pub fn from_unix(unix_secs: i64, offset_secs: i64) -> CivilTime {
        let secs = unix_secs + offset_secs;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        CivilTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }

    /// `YYYYMMDD`, as ID cards write dates.
    pub fn yyyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD HH:MM:SS`
    pub fn date_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments() {
        // 2024-02-29 16:30:00 UTC is 2024-03-01 00:30:00 in China
        let t = 1_709_224_200;
        assert_eq!(
            CivilTime::from_unix(t, 0).date_time(),
            "2024-02-29 16:30:00"
        );
        assert_eq!(
            CivilTime::from_unix(t, CST_OFFSET_SECS).yyyymmdd(),
            "20240301"
        );
        assert_eq!(
            CivilTime::from_unix(0, 0).date_time(),
            "1970-01-01 00:00:00"
        );
    }
}
