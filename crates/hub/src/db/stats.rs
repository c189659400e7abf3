//! The collection day's figures for the dashboard and `/api/v1/stats`: records collected per
//! hour per kiosk, each kiosk's outbox backlog and last contact, approvals, rejections and
//! their commonest reasons. Counts and kiosk ids only: no candidate's name, number or photo
//! is read here.
//!
//! Every query is bounded by the window (the last [`WINDOW_HOURS`] hours) and answered from an
//! index (`records_by_capture_time`, `records_by_decision_time`, `records_by_state`), so the
//! figures stay cheap while the table grows to a province's hundred thousand records; the
//! `tests` below hold the query plans to that.

use super::sql::{args, Dialect};
use super::HubDb;
use capture_core::hub_protocol::{OutboxReport, RejectReason};
use capture_store::StoreError;
use serde::Serialize;
use std::collections::HashMap;

/// One hour, the chart's step.
pub const HOUR_MS: i64 = 3_600_000;
/// The hours the figures cover, the current one included: a collection day and its evening.
pub const WINDOW_HOURS: i64 = 24;
/// A kiosk not heard from for this long is shown as silent (its uploader calls at least once a
/// minute while it runs).
pub const SILENT_AFTER_MS: i64 = 10 * 60 * 1000;
/// Reasons shown, commonest first.
const TOP_REASONS: usize = 5;
/// Kiosks listed at most (a collection point has a dozen; a province a few hundred).
const MAX_KIOSKS: i64 = 1000;
/// A kiosk's contact is written at most this often unless its backlog empties or fills: each
/// write is a commit (an fsync), and a kiosk sending a backlog makes a request per record.
const SEEN_EVERY_MS: i64 = 10_000;

/// The figures, as `/api/v1/stats` sends them.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DayStats {
    pub generated_at_ms: i64,
    /// The start of the first hour counted (an hour boundary, UTC).
    pub window_start_ms: i64,
    pub hour_ms: i64,
    pub silent_after_s: i64,
    /// Active kiosks, by name.
    pub kiosks: Vec<KioskDay>,
    /// Records captured per hour and kiosk, only the hours with any.
    pub hourly: Vec<HourCount>,
    pub decisions: Decisions,
    pub top_rejection_reasons: Vec<ReasonCount>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KioskDay {
    pub kiosk_id: String,
    /// The name the hub's administrator registered the kiosk under (a place, not a person).
    pub name: String,
    pub last_seen_at_ms: Option<i64>,
    /// Not heard from for [`SILENT_AFTER_MS`], or never.
    pub silent: bool,
    /// None until the kiosk reports its outbox (an older kiosk never does).
    pub outbox: Option<Backlog>,
    /// Records captured in the window.
    pub collected: i64,
    pub approved: i64,
    pub rejected: i64,
}

/// A kiosk's outbox as it last reported it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Backlog {
    pub pending: i64,
    pub quarantined: i64,
    /// How old the oldest waiting record is now (it keeps ageing while the kiosk is silent).
    pub oldest_pending_age_s: Option<i64>,
    pub reported_at_ms: i64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HourCount {
    pub hour_start_ms: i64,
    pub kiosk_id: String,
    pub collected: i64,
}

/// Decisions made in the window, and the review queue as it stands.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Decisions {
    pub approved: i64,
    pub rejected: i64,
    pub pending_review: i64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReasonCount {
    pub code: String,
    pub zh: String,
    pub en: String,
    pub count: i64,
}

impl HubDb {
    /// Notes that a kiosk was heard from at `now`, with its outbox figures if it sent them.
    /// Written at most every [`SEEN_EVERY_MS`], except that a backlog emptying, filling or
    /// first reported, or a change in quarantined records, is written at once.
    pub fn kiosk_seen(
        &self,
        kiosk_id: &str,
        outbox: Option<OutboxReport>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.kiosk_contact(kiosk_id, outbox, now, true).map(|_| ())
    }

    /// [`HubDb::kiosk_seen`], where a change in the backlog is written at once only if
    /// `changes_at_once` (the hub's per-kiosk allowance, `contact_writes.rs`); whether a row
    /// was written.
    pub fn kiosk_contact(
        &self,
        kiosk_id: &str,
        outbox: Option<OutboxReport>,
        now: i64,
        changes_at_once: bool,
    ) -> Result<bool, StoreError> {
        let pending = outbox.map(|o| i64::from(o.pending));
        let quarantined = outbox.map(|o| i64::from(o.quarantined));
        let oldest_at = outbox
            .filter(|o| o.pending > 0)
            .map(|o| now - i64::from(o.oldest_age_s) * 1000);
        // the parameters are cast because PostgreSQL types a parameter from its first use,
        // and `?3 IS NOT NULL` alone says nothing; SQLite takes the casts as they are
        let written = self.sql()?.execute(
            "UPDATE kiosks SET
                last_seen_at = ?2,
                outbox_pending = COALESCE(CAST(?3 AS BIGINT), outbox_pending),
                outbox_quarantined = COALESCE(CAST(?4 AS BIGINT), outbox_quarantined),
                outbox_oldest_at = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN outbox_oldest_at ELSE CAST(?5 AS BIGINT) END,
                outbox_reported_at = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN outbox_reported_at ELSE ?2 END
             WHERE id = ?1 AND (
                last_seen_at IS NULL OR last_seen_at <= CAST(?6 AS BIGINT)
                OR (CAST(?7 AS BIGINT) = 1 AND CAST(?3 AS BIGINT) IS NOT NULL AND (outbox_pending IS NULL
                    OR (outbox_pending = 0) != (CAST(?3 AS BIGINT) = 0)
                    OR outbox_quarantined IS DISTINCT FROM CAST(?4 AS BIGINT))))",
            args![
                kiosk_id,
                now,
                pending,
                quarantined,
                oldest_at,
                now - SEEN_EVERY_MS,
                i64::from(changes_at_once)
            ],
        )?;
        Ok(written > 0)
    }

    /// The figures for the window that ends at `now`.
    pub fn day_stats(&self, now: i64) -> Result<DayStats, StoreError> {
        let start = (now.div_euclid(HOUR_MS) - (WINDOW_HOURS - 1)) * HOUR_MS;
        // a kiosk whose clock runs a little ahead still counts in the current hour
        let end = (now.div_euclid(HOUR_MS) + 1) * HOUR_MS;

        let mut hourly = Vec::new();
        let mut collected: HashMap<String, i64> = HashMap::new();
        {
            let rows = self.sql()?.query(
                "SELECT captured_at / ?3 AS hour, kiosk_id, COUNT(*) FROM records
                 WHERE captured_at >= ?1 AND captured_at < ?2
                 GROUP BY hour, kiosk_id ORDER BY hour, kiosk_id",
                args![start, end, HOUR_MS],
            )?;
            for r in rows {
                let row = HourCount {
                    hour_start_ms: r.get::<i64>(0)? * HOUR_MS,
                    kiosk_id: r.get(1)?,
                    collected: r.get(2)?,
                };
                *collected.entry(row.kiosk_id.clone()).or_default() += row.collected;
                hourly.push(row);
            }
        }

        let mut decisions = Decisions::default();
        let mut decided: HashMap<(String, bool), i64> = HashMap::new();
        {
            let rows = self.sql()?.query(
                "SELECT kiosk_id, state = 'approved', COUNT(*) FROM records
                 WHERE reviewed_at >= ?1 AND state IN ('approved', 'rejected')
                 GROUP BY kiosk_id, state",
                args![start],
            )?;
            for r in rows {
                let (kiosk, approved, n): (String, bool, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                if approved {
                    decisions.approved += n;
                } else {
                    decisions.rejected += n;
                }
                decided.insert((kiosk, approved), n);
            }
        }
        decisions.pending_review = self
            .sql()?
            .query_one(
                "SELECT COUNT(*) FROM records WHERE state = 'pending_review'",
                &[],
            )?
            .get(0)?;

        let top_rejection_reasons = {
            // the reasons are a JSON array of codes; each engine has its own way to unnest one
            let each_reason = match self.dialect() {
                Dialect::Sqlite => "json_each(r.reasons) j",
                Dialect::Postgres => "json_array_elements_text(r.reasons::json) AS j(value)",
            };
            let rows = self.sql()?.query(
                &format!(
                    "SELECT j.value, COUNT(*) AS n FROM records r, {each_reason}
                     WHERE r.reviewed_at >= ?1 AND r.state = 'rejected'
                     GROUP BY j.value ORDER BY n DESC, j.value LIMIT ?2"
                ),
                args![start, TOP_REASONS],
            )?;
            let mut reasons = Vec::new();
            for r in rows {
                let (code, count): (String, i64) = (r.get(0)?, r.get(1)?);
                // a code this hub does not know (a newer reviewer's) is shown as it is
                let (zh, en) = RejectReason::parse(&code)
                    .map(|r| (r.zh().to_owned(), r.en().to_owned()))
                    .unwrap_or_else(|| (code.clone(), code.clone()));
                reasons.push(ReasonCount {
                    code,
                    zh,
                    en,
                    count,
                });
            }
            reasons
        };

        let kiosks = {
            let rows = self.sql()?.query(
                "SELECT id, name, last_seen_at, outbox_pending, outbox_quarantined, outbox_oldest_at,
                        outbox_reported_at
                 FROM kiosks WHERE revoked_at IS NULL ORDER BY name LIMIT ?1",
                args![MAX_KIOSKS],
            )?;
            let rows = rows.into_iter().map(|r| {
                let last_seen: Option<i64> = r.get(2)?;
                let pending: Option<i64> = r.get(3)?;
                let reported: Option<i64> = r.get(6)?;
                let outbox = match (pending, reported) {
                    (Some(pending), Some(reported_at_ms)) => Some(Backlog {
                        pending,
                        quarantined: r.get::<Option<i64>>(4)?.unwrap_or(0),
                        oldest_pending_age_s: r
                            .get::<Option<i64>>(5)?
                            .map(|at| (now - at).max(0) / 1000),
                        reported_at_ms,
                    }),
                    _ => None,
                };
                Ok::<_, StoreError>(KioskDay {
                    kiosk_id: r.get(0)?,
                    name: r.get(1)?,
                    last_seen_at_ms: last_seen,
                    silent: last_seen.is_none_or(|t| now - t > SILENT_AFTER_MS),
                    outbox,
                    collected: 0,
                    approved: 0,
                    rejected: 0,
                })
            });
            let mut kiosks = Vec::new();
            for row in rows {
                let mut k = row?;
                k.collected = collected.get(&k.kiosk_id).copied().unwrap_or(0);
                k.approved = decided
                    .get(&(k.kiosk_id.clone(), true))
                    .copied()
                    .unwrap_or(0);
                k.rejected = decided
                    .get(&(k.kiosk_id.clone(), false))
                    .copied()
                    .unwrap_or(0);
                kiosks.push(k);
            }
            kiosks
        };

        Ok(DayStats {
            generated_at_ms: now,
            window_start_ms: start,
            hour_ms: HOUR_MS,
            silent_after_s: SILENT_AFTER_MS / 1000,
            kiosks,
            hourly,
            decisions,
            top_rejection_reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_db(name: &str) -> (tempdir::Dir, HubDb) {
        let dir = tempdir::Dir::new(name);
        let sealing = std::sync::Arc::new(crate::sealing::SealingKey::generate().unwrap());
        let db = HubDb::open(&dir.0.join("hub.sqlite"), sealing).expect("hub database opens");
        (dir, db)
    }

    /// The same database on both engines: SQLite in a scratch folder, and a fresh database in
    /// the test process's throwaway PostgreSQL cluster.
    fn each_engine(name: &str, check: impl Fn(&HubDb)) {
        let (_dir, db) = hub_db(name);
        check(&db);
        let db = crate::pg_cluster::test_database(&format!("stats_{name}"))
            .expect("a PostgreSQL database");
        check(&db);
    }

    /// A private scratch folder removed afterwards (no extra crate for it).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(name: &str) -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "hub-stats-{name}-{}-{}",
                    std::process::id(),
                    capture_store::now_ms()
                ));
                std::fs::create_dir_all(&p).expect("scratch folder");
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    /// A time one millisecond before an hour ends: the window is then exactly 24 hours.
    const NOW: i64 = 1_780_002_000_000 - 1;

    /// Inserts `n` records in one transaction, spread over the last two days, a tenth of them
    /// decided (some rejected with reasons), from `kiosks` kiosks.
    fn fill(db: &HubDb, n: usize, kiosks: usize, now: i64) -> Vec<String> {
        let ids: Vec<String> = (0..kiosks)
            .map(|k| db.add_kiosk(&format!("kiosk-{k}")).expect("kiosk").0)
            .collect();
        db.transaction(|tx| {
            for i in 0..n {
                let at = now - (i as i64 * 48 * HOUR_MS / n as i64);
                let (state, reasons, reviewed) = match i % 10 {
                    0 => ("approved", "[]", Some(at)),
                    1 => ("rejected", r#"["glasses","blur"]"#, Some(at)),
                    2 => ("rejected", r#"["glasses"]"#, Some(at)),
                    _ => ("pending_review", "[]", None),
                };
                tx.execute(
                    "INSERT INTO records (id, kiosk_id, profile, batch_id, candidate_key, spec, captured_at,
                         manual_review, fingerprint, photo_file, photo_bytes, phash, report, received_at, state,
                         reasons, reviewed_at)
                     VALUES (?1, ?2, 'p', 'b', ?3, 's', ?4, ?8, '', '', 0, ?9, '{}', ?4, ?5, ?6, ?7)",
                    args![
                        format!("r{i}"),
                        &ids[i % kiosks],
                        format!("c{i}"),
                        at,
                        state,
                        reasons,
                        reviewed,
                        false,
                        &[][..]
                    ],
                )?;
            }
            Ok(())
        })
        .expect("records");
        ids
    }

    #[test]
    fn the_figures_count_the_window_per_hour_kiosk_and_decision() {
        each_engine("figures", figures);
    }

    fn figures(db: &HubDb) {
        let now = NOW;
        let ids = fill(db, 480, 2, now);
        let s = db.day_stats(now).expect("stats");
        // 480 records over 48 h: 10 an hour, half of them in the window's 24 hours
        let total: i64 = s.hourly.iter().map(|h| h.collected).sum();
        assert_eq!(total, 240, "{:?}", s.hourly);
        assert_eq!(s.hourly.len(), 48, "24 hours × 2 kiosks");
        assert!(s
            .hourly
            .iter()
            .all(|h| h.hour_start_ms >= s.window_start_ms));
        assert_eq!(s.kiosks.len(), 2);
        assert_eq!(s.kiosks.iter().map(|k| k.collected).sum::<i64>(), 240);
        assert_eq!(s.decisions.approved, 24);
        assert_eq!(s.decisions.rejected, 48);
        assert_eq!(s.decisions.pending_review, 480 * 7 / 10);
        assert_eq!(s.top_rejection_reasons[0].code, "glasses");
        assert_eq!(s.top_rejection_reasons[0].count, 48);
        assert_eq!(s.top_rejection_reasons[1].code, "blur");
        assert_eq!(s.top_rejection_reasons[1].count, 24);
        assert_eq!(s.top_rejection_reasons[0].zh, "佩戴眼镜");
        // never heard from: silent, no outbox figures
        assert!(s.kiosks.iter().all(|k| k.silent && k.outbox.is_none()));

        db.kiosk_seen(
            &ids[0],
            Some(OutboxReport {
                pending: 4,
                oldest_age_s: 90,
                quarantined: 1,
            }),
            now - 60_000,
        )
        .expect("seen");
        db.kiosk_seen(&ids[1], None, now - SILENT_AFTER_MS - 1)
            .expect("seen");
        let s = db.day_stats(now).expect("stats");
        let k0 = s.kiosks.iter().find(|k| k.kiosk_id == ids[0]).expect("k0");
        let k1 = s.kiosks.iter().find(|k| k.kiosk_id == ids[1]).expect("k1");
        assert!(!k0.silent);
        assert_eq!(
            k0.outbox,
            Some(Backlog {
                pending: 4,
                quarantined: 1,
                // reported 60 s ago as 90 s old: 150 s old now
                oldest_pending_age_s: Some(150),
                reported_at_ms: now - 60_000,
            })
        );
        assert!(k1.silent, "heard from 10 min and 1 ms ago");
        assert_eq!(k1.outbox, None, "an older kiosk sends no figures");
    }

    #[test]
    fn a_kiosks_contact_is_written_at_most_every_ten_seconds_unless_its_backlog_empties() {
        each_engine("seen", contact);
    }

    fn contact(db: &HubDb) {
        let (id, _) = db.add_kiosk("k").expect("kiosk");
        let report = |pending| {
            Some(OutboxReport {
                pending,
                oldest_age_s: 5,
                quarantined: 0,
            })
        };
        let seen = |db: &HubDb| -> (Option<i64>, Option<i64>) {
            let r = db
                .sql()
                .expect("connection")
                .query_one(
                    "SELECT last_seen_at, outbox_pending FROM kiosks WHERE id = ?1",
                    args![&id],
                )
                .expect("row");
            (r.get(0).expect("seen"), r.get(1).expect("pending"))
        };
        let t = 1_780_000_000_000;
        db.kiosk_seen(&id, report(5), t).expect("seen");
        assert_eq!(seen(db), (Some(t), Some(5)));
        db.kiosk_seen(&id, report(4), t + 1000).expect("seen");
        assert_eq!(
            seen(db),
            (Some(t), Some(5)),
            "not written again within 10 s"
        );
        db.kiosk_seen(&id, report(0), t + 2000).expect("seen");
        assert_eq!(
            seen(db),
            (Some(t + 2000), Some(0)),
            "an emptied backlog at once"
        );
        assert!(
            !db.kiosk_contact(&id, report(3), t + 3000, false)
                .expect("seen"),
            "a refilled backlog waits for the regular write once the kiosk's allowance is spent"
        );
        db.kiosk_seen(&id, None, t + 12_500).expect("seen");
        assert_eq!(
            seen(db),
            (Some(t + 12_500), Some(0)),
            "no header keeps the figures"
        );
    }

    #[test]
    // SQLite's plans only: PostgreSQL has its own planner, whose choice on a table depends on
    // statistics, and the same indexes (pg.rs)
    fn the_figures_on_100k_records_come_from_indexes_not_table_scans() {
        let (_dir, db) = hub_db("plans");
        let now = NOW;
        fill(&db, 100_000, 12, now);
        let started = std::time::Instant::now();
        let s = db.day_stats(now).expect("stats");
        // printed for the record; the assertions below are on the plans, not on time
        println!(
            "day_stats on 100000 records: {:?} ({} hourly rows)",
            started.elapsed(),
            s.hourly.len()
        );
        assert_eq!(s.hourly.iter().map(|h| h.collected).sum::<i64>(), 50_000);
        // each query reads only its window's range of an index: the capture or decision time
        // bounds it, not the state alone (which would read every decision ever made)
        for (sql, range) in [
            ("SELECT captured_at / 3600000 AS hour, kiosk_id, COUNT(*) FROM records
             WHERE captured_at >= 0 AND captured_at < 1 GROUP BY hour, kiosk_id ORDER BY hour, kiosk_id",
             "COVERING INDEX records_by_capture_time (captured_at>? AND captured_at<?)"),
            ("SELECT kiosk_id, state = 'approved', COUNT(*) FROM records
             WHERE reviewed_at >= 0 AND state IN ('approved', 'rejected') GROUP BY kiosk_id, state",
             "COVERING INDEX records_by_decision_time (state=? AND reviewed_at>?)"),
            // either index that begins with the state counts a range of it; which one the
            // planner takes is its choice (records_by_decision_time since candidate_sealed)
            ("SELECT COUNT(*) FROM records WHERE state = 'pending_review'",
             "(state=?)"),
            ("SELECT j.value, COUNT(*) AS n FROM records r, json_each(r.reasons) j
             WHERE r.reviewed_at >= 0 AND r.state = 'rejected' GROUP BY j.value ORDER BY n DESC LIMIT 5",
             "INDEX records_by_decision_time (state=? AND reviewed_at>?)"),
            // a returning candidate's lookup (db.rs): the newest first, straight from the index
            ("SELECT id FROM records WHERE profile = 'p' AND candidate_key = 'c' AND purged_at IS NULL
               AND (kiosk_id = 'k' OR batch_id IN (SELECT batch_id FROM kiosk_batches WHERE kiosk_id = 'k'))
             ORDER BY received_at DESC LIMIT 100",
             "INDEX records_by_candidate_recent (profile=? AND candidate_key=?)"),
        ] {
            let plan: Vec<String> = db
                .sql()
                .expect("connection")
                .query(&format!("EXPLAIN QUERY PLAN {sql}"), &[])
                .expect("plan")
                .iter()
                .map(|r| r.get::<String>(3).expect("plan row"))
                .collect();
            // "SEARCH records USING … INDEX" reads a range of an index; "SCAN records" reads
            // the whole table (or the whole of an index)
            let on_records: Vec<&String> = plan
                .iter()
                .filter(|d| matches!(d.split_whitespace().nth(1), Some("records" | "r")))
                .collect();
            assert!(
                !on_records.is_empty()
                    && on_records
                        .iter()
                        .all(|d| d.starts_with("SEARCH") && d.ends_with(range)),
                "not only the window's range of an index ({range}) in {sql}: {plan:?}"
            );
            assert!(
                !range.contains("candidate")
                    || !plan.iter().any(|d| d.contains("TEMP B-TREE FOR ORDER BY")),
                "rows sorted after they are read in {sql}: {plan:?}"
            );
        }
    }
}
