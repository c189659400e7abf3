//! The confirmed capture's durable write, on a thread of its own with its own connection.
//!
//! `Store::submit` commits with `synchronous=FULL` (a receipt promises the photo survives a
//! power cut), and an fsync on a slow SD card takes long enough to freeze the touchscreen; so
//! the UI thread hands the capture over and the result comes back as `Done::Stored`. One
//! thread, one queue: captures are written in the order they were confirmed.

use super::{Done, JobSender};
use crate::store::{NewCapture, Store};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};

/// A confirmed capture, owned so that it can cross to the writer's thread.
pub(super) struct Capture {
    /// The session row made when the candidate was identified; `None` when that write failed,
    /// and the writer makes one first.
    pub session_id: Option<String>,
    pub profile: String,
    pub batch: String,
    pub candidate_key: String,
    pub spec: String,
    pub photo_jpeg: Vec<u8>,
    pub check_report_json: String,
    pub verification_distance: Option<f32>,
    pub manual_review: bool,
    pub documents: Vec<Vec<u8>>,
}

struct Job {
    capture: Capture,
    reply: JobSender,
}

/// The writer's end the controller holds; dropping it ends the thread once its queue is done.
pub(super) struct CaptureWriter {
    jobs: Sender<Job>,
}

impl CaptureWriter {
    /// Starts the writer on the database at `db`, which the controller's own store has opened
    /// (and checked and migrated) already. A database the thread cannot open fails every
    /// capture handed to it with the reason, so nothing is reported stored that was not.
    pub fn spawn(db: PathBuf) -> std::io::Result<Self> {
        let (jobs, queue) = channel::<Job>();
        std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || {
                let mut store = Store::open(&db).map_err(|e| e.to_string());
                if let Err(e) = &store {
                    tracing::error!(error = %e, "the capture writer could not open the database");
                }
                for job in queue {
                    let result = match &mut store {
                        Ok(store) => write(store, &job.capture),
                        Err(e) => Err(e.clone()),
                    };
                    job.reply.send(Done::Stored(result));
                }
            })?;
        Ok(CaptureWriter { jobs })
    }

    /// Queues `capture`; its record id (or why it was not stored) comes back on `reply`.
    pub fn write(&self, capture: Capture, reply: JobSender) {
        if let Err(gone) = self.jobs.send(Job { capture, reply }) {
            // the thread is gone (it panicked): say so rather than wait for ever
            let job = gone.0;
            job.reply.send(Done::Stored(Err(
                "the capture writer has stopped; restart the kiosk".into(),
            )));
        }
    }
}

fn write(store: &mut Store, c: &Capture) -> Result<String, String> {
    let session_id = match &c.session_id {
        Some(s) => s.clone(),
        None => store
            .start_session(&c.profile, &c.batch)
            .map_err(|e| e.to_string())?,
    };
    store
        .submit(&NewCapture {
            session_id: &session_id,
            profile: &c.profile,
            candidate_key: &c.candidate_key,
            spec: &c.spec,
            photo_jpeg: &c.photo_jpeg,
            check_report_json: &c.check_report_json,
            verification_distance: c.verification_distance,
            manual_review: c.manual_review,
            documents: &c.documents,
        })
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// A fresh private folder for one test's database.
    fn folder(name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kiosk-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    fn capture(photo: &[u8]) -> Capture {
        Capture {
            session_id: None,
            profile: "chsi-graduation".into(),
            batch: "B1".into(),
            candidate_key: "K1".into(),
            spec: "chsi".into(),
            photo_jpeg: photo.to_vec(),
            check_report_json: "{}".into(),
            verification_distance: None,
            manual_review: false,
            documents: Vec::new(),
        }
    }

    fn stored(rx: &std::sync::mpsc::Receiver<(u64, Done)>) -> Result<String, String> {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok((_, Done::Stored(r))) => r,
            Ok(_) => panic!("the writer sent something else"),
            Err(e) => panic!("no answer from the writer: {e}"),
        }
    }

    #[test]
    fn a_capture_handed_over_is_durably_queued_and_its_id_comes_back() {
        let db = folder("ok").join("kiosk.sqlite");
        // the controller's own store opens (and migrates) the database first
        let main = Store::open(&db).unwrap();
        let writer = CaptureWriter::spawn(db.clone()).unwrap();
        let (tx, rx) = channel();
        for photo in [b"first".as_slice(), b"second".as_slice()] {
            let reply = JobSender {
                generation: 0,
                tx: tx.clone(),
            };
            writer.write(capture(photo), reply);
        }
        let (a, b) = (stored(&rx).unwrap(), stored(&rx).unwrap());
        assert_ne!(a, b);
        // both are in the outbox the uploader reads, seen through the other connection
        assert_eq!(main.queue_status().unwrap().pending, 2);
    }

    #[test]
    fn a_database_the_writer_cannot_open_fails_the_capture_with_its_reason() {
        // a folder where the database file should be: nothing can be stored there
        let db = folder("unopenable").join("kiosk.sqlite");
        std::fs::create_dir(&db).unwrap();
        let writer = CaptureWriter::spawn(db).unwrap();
        let (tx, rx) = channel();
        writer.write(capture(b"photo"), JobSender { generation: 0, tx });
        let reason = stored(&rx).unwrap_err();
        assert!(!reason.is_empty());
    }
}
