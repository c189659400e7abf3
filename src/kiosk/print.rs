//! Printing a capture's photo sheet (R-PRINT, staff's reprint): the sheet is written to a file
//! first, then handed to the system's print service (CUPS `lp`, which spools its own copy) when
//! a printer is configured. The file is deleted once the printer took it (it is the candidate's
//! photo); when there is no printer, or it refused, it stays for staff, in a folder only the
//! kiosk's user can read.

use crate::imaging::{decode_image, DecodeLimits};
use crate::kiosk::printer_state::{self, PrinterState};
use crate::photo::{jpeg, sheet};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the sheet went.
#[derive(Debug, PartialEq)]
pub enum Printed {
    /// Sent to this print queue (the file is gone: the spooler has its copy), as this CUPS
    /// job when `lp` said which.
    Sent { queue: String, job: Option<i32> },
    /// No printer configured: saved for staff to print elsewhere.
    Saved { file: PathBuf },
    /// CUPS says the printer cannot print now: nothing was sent (the photo stays in the
    /// kiosk's store, to reprint once the printer is fixed).
    Refused { queue: String, state: PrinterState },
}

/// How and where to print, from the kiosk's settings.
#[derive(Clone, Debug)]
pub struct PrintSetup {
    /// Sheet layout, e.g. "1in*8+2in*4" (R-PRINT).
    pub layout: String,
    /// CUPS queue; None: save the sheet only.
    pub printer: Option<String>,
    /// Where CUPS answers IPP (`http://localhost:631`): the printer's state is asked there
    /// before the sheet is sent.
    pub server: String,
    /// The print command (`lp`, or a stand-in in tests): called as `CMD -d QUEUE -t TITLE FILE`.
    pub command: String,
    pub folder: PathBuf,
}

/// Lays the photo out on 6-inch paper at 300 dpi, saves it as `<folder>/<name>.jpg` (written
/// whole, then renamed) and sends it to the printer if one is set — once CUPS said, just now,
/// that the printer can print (a state from a few seconds ago is not enough: paper runs out).
pub fn print_sheet(setup: &PrintSetup, photo_jpeg: &[u8], name: &str) -> Result<Printed> {
    if let Some(queue) = &setup.printer {
        let state = printer_state::ask(&setup.server, queue)?;
        if !state.can_print() {
            tracing::warn!(record = name, queue, state = ?state, "reprint refused: the printer cannot print");
            return Ok(Printed::Refused {
                queue: queue.clone(),
                state,
            });
        }
    }
    let photo = decode_image(photo_jpeg, DecodeLimits::default())
        .map_err(|e| anyhow!("the stored photo cannot be read: {e}"))?;
    let plan = sheet::plan_sheet(&setup.layout, "6in", 300)?;
    let rendered = sheet::render_sheet(&plan, &photo);
    let bytes = jpeg::encode(&rendered, 95, 300)?;
    std::fs::create_dir_all(&setup.folder)
        .with_context(|| format!("creating {}", setup.folder.display()))?;
    std::fs::set_permissions(
        &setup.folder,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .with_context(|| format!("protecting {}", setup.folder.display()))?;
    let file = setup.folder.join(format!("{name}.jpg"));
    write_whole(&file, &bytes)?;
    let Some(queue) = setup.printer.clone() else {
        return Ok(Printed::Saved { file });
    };
    let out = std::process::Command::new(&setup.command)
        .arg("-d")
        .arg(&queue)
        // the job's title is what CUPS lists to anyone: never the candidate's name
        .args(["-t", "capture-kiosk"])
        .arg(&file)
        .output()
        .with_context(|| {
            format!(
                "the print service ({}) cannot be started; the sheet is saved as {}",
                setup.command,
                file.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "the printer {queue} refused the sheet ({}); it is saved as {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            file.display()
        );
    }
    let job = crate::kiosk::printer_state::lp_job_id(&String::from_utf8_lossy(&out.stdout), &queue);
    tracing::info!(
        record = name,
        queue,
        job,
        "photo sheet sent to the print queue"
    );
    // the spooler has its copy; an undeleted file is only a leftover, not a failed print
    let _ = std::fs::remove_file(&file);
    Ok(Printed::Sent { queue, job })
}

/// The setting that keeps which capture each recent CUPS job prints: a stuck job is reported
/// with its capture even after the kiosk restarted.
const JOBS_SETTING: &str = "print_jobs";

/// Reprints whose CUPS job is remembered (a day's reprints are a handful).
const JOBS_KEPT: usize = 50;

/// Remembers that CUPS job `job` prints the capture `record` (ids only, no personal data).
pub fn remember_job(store: &Store, job: i32, record: &str) -> Result<()> {
    let mut jobs = remembered_jobs(store);
    jobs.retain(|(j, _)| *j != job);
    jobs.push((job, record.to_owned()));
    let drop = jobs.len().saturating_sub(JOBS_KEPT);
    jobs.drain(..drop);
    store.set_setting(JOBS_SETTING, &serde_json::to_string(&jobs)?)?;
    Ok(())
}

/// The capture CUPS job `job` prints, if this kiosk sent it.
pub fn job_record(store: &Store, job: i32) -> Option<String> {
    remembered_jobs(store)
        .into_iter()
        .find(|(j, _)| *j == job)
        .map(|(_, r)| r)
}

fn remembered_jobs(store: &Store) -> Vec<(i32, String)> {
    store
        .get_setting(JOBS_SETTING)
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default()
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    // a name of its own per attempt: two prints of one capture never share a half-written file
    let tmp = path.with_extension(format!("{}.part", uuid::Uuid::now_v7().simple()));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_capture_is_known_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("kiosk-print-jobs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("kiosk.sqlite");
        {
            let store = Store::open(&db).unwrap();
            for job in 1..=60 {
                remember_job(&store, job, &format!("record-{job}")).unwrap();
            }
        }
        let store = Store::open(&db).unwrap();
        assert_eq!(job_record(&store, 60).as_deref(), Some("record-60"));
        assert_eq!(job_record(&store, 11).as_deref(), Some("record-11"));
        assert_eq!(job_record(&store, 10), None, "only the last 50 are kept");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
