//! The printer's state as CUPS knows it, read over IPP (Get-Printer-Attributes for the queue's
//! `printer-state` and `printer-state-reasons`, Get-Jobs for the jobs still waiting), so staff
//! see "out of paper" before a candidate's sheet disappears into a queue that cannot print,
//! and the kiosk asks again before every reprint.
//!
//! IPP rather than `lpstat`: `lpstat` prints localised prose ("printer X disabled since…")
//! and does not show `printer-state-reasons` at all; IPP gives the machine-readable keywords
//! the printer's driver reports (`media-empty-error`, `media-jam-error`, `paused`, …).

use anyhow::{anyhow, bail, Context, Result};
use capture_core::text::Bilingual;
use ipp::attribute::IppAttribute;
use ipp::model::DelimiterTag;
use ipp::operation::{builder::IppOperationBuilder, IppOperation};
use ipp::parser::IppParser;
use ipp::reader::IppReader;
use ipp::value::IppValue;
use std::time::Duration;

/// Where CUPS listens by default (cupsd.conf's `Listen localhost:631`).
pub const DEFAULT_SERVER: &str = "http://localhost:631";

/// A job waiting (pending, held) or printing for longer than this is reported as stuck: a
/// 6-inch photo sheet prints in about a minute on the kiosks' dye-sublimation printers.
pub const STUCK_AFTER: Duration = Duration::from_secs(180);

/// How long one question to CUPS may take; the staff screen asks again a few seconds later.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// What staff need to know about the printer, from its state, its reasons and its jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterState {
    /// Idle and able to print.
    Ready,
    /// Printing (another job): a new one waits its turn.
    Busy,
    /// Stopped by someone (`cupsdisable`, the printer's pause button).
    Paused,
    OutOfPaper,
    Jammed,
    /// The printer does not answer CUPS (cable, power), or CUPS does not answer the kiosk.
    Offline,
    /// A job has been waiting or printing for `age_s` seconds.
    JobStuck {
        job_id: i32,
        age_s: u64,
    },
    /// Stopped, or an error CUPS reports that is none of the above: its keyword.
    Unknown(String),
}

impl PrinterState {
    /// Whether a sheet sent now would print: a busy printer queues it; anything else would
    /// leave it in the queue (or lose it with a stuck one).
    pub fn can_print(&self) -> bool {
        matches!(self, PrinterState::Ready | PrinterState::Busy)
    }

    /// What the staff screen says, Chinese first.
    pub fn words(&self) -> Bilingual {
        match self {
            PrinterState::Ready => Bilingual::new("就绪", "ready"),
            PrinterState::Busy => Bilingual::new("正在打印", "printing"),
            PrinterState::Paused => Bilingual::new(
                "已暂停，请在打印机或 CUPS 中恢复",
                "paused; resume it on the printer or in CUPS",
            ),
            PrinterState::OutOfPaper => Bilingual::new("缺纸，请装纸", "out of paper; load paper"),
            PrinterState::Jammed => Bilingual::new(
                "卡纸，请打开打印机取出卡纸",
                "paper jam; open the printer and clear it",
            ),
            PrinterState::Offline => Bilingual::new(
                "未连接，请检查电源和数据线",
                "offline; check its power and cable",
            ),
            PrinterState::JobStuck { job_id, age_s } => {
                let min = age_s / 60;
                Bilingual::new(
                    format!("打印任务 {job_id} 已等待 {min} 分钟，请检查打印机；照片仍可补打"),
                    format!("job {job_id} has waited {min} min; check the printer, the photo can still be reprinted"),
                )
            }
            PrinterState::Unknown(reason) => Bilingual::new(
                format!("无法打印（{reason}）"),
                format!("cannot print ({reason})"),
            ),
        }
    }
}

/// IPP's `printer-state` (RFC 8011 5.4.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueState {
    Idle,
    Processing,
    Stopped,
}

/// A job CUPS has not finished: its id, its `job-state` (3 pending, 4 pending-held,
/// 5 processing, 6 processing-stopped) and how long ago it was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingJob {
    pub id: i32,
    pub state: i32,
    pub age_s: u64,
}

/// Decides what staff are told from what CUPS said. Faults first (a jam explains a stuck
/// job, not the other way round), then a stuck job, then whether it is printing.
pub fn judge(
    state: QueueState,
    reasons: &[String],
    jobs: &[WaitingJob],
    stuck_after: Duration,
) -> PrinterState {
    // CUPS keeps the reasons a printer's driver reported during the last job until the next
    // job's driver says otherwise: on an idle queue they may be stale (the paper loaded
    // since), and only a job can tell. An idle queue is ready unless a job is stuck in it.
    let live: &[String] = if state == QueueState::Idle {
        &[]
    } else {
        reasons
    };
    let reasons = live;
    // `-error`, `-warning`, `-report` say how bad; the condition is the stem
    let stem = |r: &str| {
        r.trim_end_matches("-error")
            .trim_end_matches("-warning")
            .trim_end_matches("-report")
            .to_owned()
    };
    let has = |names: &[&str]| {
        reasons
            .iter()
            .any(|r| !r.ends_with("-warning") && names.contains(&stem(r).as_str()))
    };
    if has(&["media-jam", "jam"]) {
        return PrinterState::Jammed;
    }
    if has(&["media-empty", "media-needed"]) {
        return PrinterState::OutOfPaper;
    }
    if has(&["offline", "shutdown", "timed-out", "connecting-to-device"]) {
        return PrinterState::Offline;
    }
    if has(&["paused", "moving-to-paused"]) {
        return PrinterState::Paused;
    }
    let error = reasons.iter().find(|r| r.ends_with("-error"));
    if let Some(r) = error {
        return PrinterState::Unknown(r.clone());
    }
    if state == QueueState::Stopped {
        let why = reasons
            .iter()
            .find(|r| r.as_str() != "none")
            .cloned()
            .unwrap_or_else(|| "stopped".into());
        return PrinterState::Unknown(why);
    }
    if let Some(j) = jobs
        .iter()
        .filter(|j| j.age_s >= stuck_after.as_secs())
        .max_by_key(|j| j.age_s)
    {
        return PrinterState::JobStuck {
            job_id: j.id,
            age_s: j.age_s,
        };
    }
    match state {
        QueueState::Processing => PrinterState::Busy,
        _ => PrinterState::Ready,
    }
}

/// Asks CUPS at `server` (e.g. `http://localhost:631`) about `queue`. CUPS not answering is
/// `Offline`; an answer that is not IPP, or a queue CUPS does not know, is an error.
pub fn ask(server: &str, queue: &str) -> Result<PrinterState> {
    ask_with(server, queue, STUCK_AFTER)
}

/// [`ask`], with a job stuck after `stuck_after` (tests cannot wait three minutes).
pub fn ask_with(server: &str, queue: &str, stuck_after: Duration) -> Result<PrinterState> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the printer query")?;
    rt.block_on(ask_async(server, queue, stuck_after))
}

async fn ask_async(server: &str, queue: &str, stuck_after: Duration) -> Result<PrinterState> {
    let server = server.trim_end_matches('/');
    let http_url = format!("{server}/printers/{queue}");
    // CUPS checks the printer-uri's path, not its scheme or host
    let printer_uri: ipp::prelude::Uri = format!(
        "ipp://{}/printers/{queue}",
        server
            .trim_start_matches("http://")
            .trim_start_matches("https://")
    )
    .parse()
    .with_context(|| format!("the print queue name {queue:?} cannot be part of a URI"))?;
    let client = reqwest::Client::builder()
        .timeout(ASK_TIMEOUT)
        .build()
        .context("building the printer query")?;

    let printer = IppOperationBuilder::get_printer_attributes(printer_uri.clone())
        .attributes(["printer-state", "printer-state-reasons", "printer-up-time"])
        .build()
        .map_err(|e| anyhow!("building Get-Printer-Attributes: {e}"))?
        .into_ipp_request();
    let answer = match post(&client, &http_url, printer.to_bytes()).await {
        Ok(a) => a,
        Err(Unreachable(e)) => {
            tracing::warn!(queue, error = %e, "CUPS does not answer");
            return Ok(PrinterState::Offline);
        }
    };
    let answer = parse(answer, "Get-Printer-Attributes")?;
    let group = answer
        .attributes()
        .first_of(DelimiterTag::PrinterAttributes)
        .ok_or_else(|| anyhow!("CUPS sent no printer attributes for {queue}"))?;
    let state = match group.get("printer-state").map(|a| a.value()) {
        Some(IppValue::Enum(3)) => QueueState::Idle,
        Some(IppValue::Enum(4)) => QueueState::Processing,
        Some(IppValue::Enum(5)) => QueueState::Stopped,
        other => bail!("CUPS sent no printer-state for {queue} ({other:?})"),
    };
    let reasons = group
        .get("printer-state-reasons")
        .map(|a| keywords(a.value()))
        .unwrap_or_default();
    let up_time = group
        .get("printer-up-time")
        .and_then(|a| a.value().as_integer().copied());

    let mut jobs = IppOperationBuilder::get_jobs(printer_uri)
        .build()
        .map_err(|e| anyhow!("building Get-Jobs: {e}"))?
        .into_ipp_request();
    // Get-Jobs answers only job-uri and job-id unless asked for more
    let wanted = ["job-id", "job-state", "time-at-creation"]
        .iter()
        .map(|k| ipp::value::IppKeyword::new((*k).to_owned()).map(IppValue::Keyword))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("building Get-Jobs: {e}"))?;
    jobs.attributes_mut().add(
        DelimiterTag::OperationAttributes,
        IppAttribute::with_name("requested-attributes", IppValue::Array(wanted))
            .map_err(|e| anyhow!("building Get-Jobs: {e}"))?,
    );
    let answer = match post(&client, &http_url, jobs.to_bytes()).await {
        Ok(a) => parse(a, "Get-Jobs")?,
        Err(Unreachable(e)) => {
            tracing::warn!(queue, error = %e, "CUPS stopped answering");
            return Ok(PrinterState::Offline);
        }
    };
    let waiting: Vec<WaitingJob> = answer
        .attributes()
        .groups_of(DelimiterTag::JobAttributes)
        .filter_map(|g| {
            let int = |name: &str| {
                g.get(name).and_then(|a| match a.value() {
                    IppValue::Integer(i) | IppValue::Enum(i) => Some(*i),
                    _ => None,
                })
            };
            let created = int("time-at-creation")?;
            // both clocks are the printer's (CUPS: Unix time; others: seconds since start)
            let age = up_time.map_or(0, |now| u64::try_from(now - created).unwrap_or(0));
            Some(WaitingJob {
                id: int("job-id")?,
                state: int("job-state")?,
                age_s: age,
            })
        })
        // not-completed is Get-Jobs' default; a printer that ignores it still sends these
        .filter(|j| (3..=6).contains(&j.state))
        .collect();
    Ok(judge(state, &reasons, &waiting, stuck_after))
}

/// CUPS could not be reached at all (refused, timed out): the printer is offline to us.
struct Unreachable(String);

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> std::result::Result<Vec<u8>, Unreachable> {
    let resp = client
        .post(url)
        .header("content-type", "application/ipp")
        .body(body)
        .send()
        .await
        .map_err(|e| Unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(Unreachable(format!("HTTP {}", resp.status())));
    }
    // an IPP status answer is a few kilobytes; a queue with many jobs stays far below this
    if resp.content_length().is_some_and(|n| n > 1 << 20) {
        return Err(Unreachable("an answer over 1 MiB".into()));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Unreachable(e.to_string()))
}

fn parse(body: Vec<u8>, what: &str) -> Result<ipp::request::IppRequestResponse> {
    let answer = IppParser::new(IppReader::new(std::io::Cursor::new(body)))
        .parse()
        .map_err(|e| anyhow!("CUPS's answer to {what} is not IPP: {e}"))?;
    let status = answer.header().status_code();
    if !status.is_success() {
        bail!("CUPS answered {what} with {status:?}");
    }
    Ok(answer)
}

fn keywords(v: &IppValue) -> Vec<String> {
    match v {
        IppValue::Array(items) => items.iter().flat_map(keywords).collect(),
        IppValue::Keyword(k) => vec![k.to_string()],
        _ => Vec::new(),
    }
}

/// The job id in `lp`'s answer ("request id is QUEUE-12 (1 file(s))"), if it gave one.
pub fn lp_job_id(stdout: &str, queue: &str) -> Option<i32> {
    let rest = stdout.split("request id is ").nth(1)?;
    let id = rest.split_whitespace().next()?;
    id.strip_prefix(queue)?.strip_prefix('-')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn faults_come_before_a_stuck_job_and_warnings_do_not_stop_printing() {
        let stuck = [WaitingJob {
            id: 4,
            state: 3,
            age_s: 600,
        }];
        assert_eq!(
            judge(
                QueueState::Stopped,
                &r(&["media-jam-error"]),
                &stuck,
                STUCK_AFTER
            ),
            PrinterState::Jammed
        );
        assert_eq!(
            judge(QueueState::Stopped, &r(&["paused"]), &stuck, STUCK_AFTER),
            PrinterState::Paused
        );
        assert_eq!(
            judge(
                QueueState::Processing,
                &r(&["offline-report"]),
                &[],
                STUCK_AFTER
            ),
            PrinterState::Offline
        );
        // left over from the last job: the next job's driver will say whether it still holds
        assert_eq!(
            judge(
                QueueState::Idle,
                &r(&["media-empty-error"]),
                &[],
                STUCK_AFTER
            ),
            PrinterState::Ready
        );
        assert_eq!(
            judge(QueueState::Processing, &r(&["none"]), &stuck, STUCK_AFTER),
            PrinterState::JobStuck {
                job_id: 4,
                age_s: 600
            }
        );
        assert_eq!(
            judge(
                QueueState::Idle,
                &r(&["media-low-warning"]),
                &[],
                STUCK_AFTER
            ),
            PrinterState::Ready
        );
        assert_eq!(
            judge(QueueState::Stopped, &r(&["other"]), &[], STUCK_AFTER),
            PrinterState::Unknown("other".into())
        );
    }

    #[test]
    fn the_job_id_is_read_from_lp() {
        assert_eq!(
            lp_job_id("request id is kiosk-photo-12 (1 file(s))\n", "kiosk-photo"),
            Some(12)
        );
        assert_eq!(lp_job_id("", "kiosk-photo"), None);
    }
}
