//! The outbox worker: lease a due row, send it, record what the hub said. Rows the hub refuses
//! as invalid are quarantined (kept for staff); a hub that is away as a whole (no connection,
//! token refused) makes the worker wait with growing pauses instead of spinning; a failure of
//! one record (a transfer that stopped, a record the hub holds for another kiosk, a hub error)
//! moves only that record's due time back with its own backoff, and the worker goes on with
//! the next, so no record can hold the queue. A worker killed mid-send leaves a lease that
//! the next start voids, and the hub's idempotency absorbs the resend.

use super::client::{HubClient, HubError, HubLink, DEFAULT_PATIENCE};
use capture_core::hub_protocol::{OutboxReport, RecordStatus};
use capture_core::queue::retry_delay;
use capture_store::{now_ms, Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct UploadPolicy {
    /// How long a leased row is held before another worker may take it.
    pub lease: Duration,
    /// How long the photo stays on the kiosk after the hub confirmed it.
    pub retention: Duration,
    /// How often review results are fetched and old photos purged.
    pub housekeeping_every: Duration,
    /// A request that makes no progress for this long is given up (never a limit on the
    /// whole transfer: a big record on a slow link goes as long as bytes keep moving).
    pub patience: Duration,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy {
            lease: Duration::from_secs(90),
            retention: Duration::from_secs(7 * 24 * 3600),
            housekeeping_every: Duration::from_secs(60),
            patience: DEFAULT_PATIENCE,
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, PartialEq)]
pub enum Step {
    Sent,
    Retried,
    Quarantined,
    /// The hub as a whole is away (no connection, or it refuses the token); wait this long
    /// before the next try.
    HubAway(Duration),
    /// Nothing is due.
    Idle,
}

/// What a drain did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DrainReport {
    pub sent: u64,
    pub quarantined: u64,
    pub retried: u64,
    pub pending_left: i64,
    pub reviews_updated: u64,
    pub purged: u64,
    pub last_error: Option<String>,
    pub seconds: f64,
}

fn jitter() -> f64 {
    getrandom::u64()
        .map(|v| (v >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}

pub struct Worker {
    store: Store,
    client: HubClient,
    policy: UploadPolicy,
    outage: u32,
    pub last_error: Option<String>,
}

impl Worker {
    pub fn new(store: Store, client: HubClient, policy: UploadPolicy) -> Result<Self, StoreError> {
        store.release_all_leases()?;
        Ok(Worker {
            store,
            client,
            policy,
            outage: 0,
            last_error: None,
        })
    }

    /// Leases one due row, sends it and records the outcome.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        let now = now_ms();
        let Some(row) = self.store.lease_next(now, self.policy.lease)? else {
            return Ok(Step::Idle);
        };
        let id = row.capture_id;
        // the record being sent still counts: it is not at the hub until the hub says so
        self.report_outbox();
        let Some((meta, photo, report)) = self.store.upload_payload(&id)? else {
            self.store
                .quarantine(&id, "the photo is missing from the kiosk's database")?;
            return Ok(Step::Quarantined);
        };
        let documents = self.store.capture_documents(&id)?;
        match self
            .client
            .submit_with_documents(&meta, photo, report, documents)
            .await
        {
            Ok(reply) => {
                self.store.mark_sent(&id, now_ms())?;
                if reply.state.is_final() {
                    // a replay after the reviewer already decided
                    self.store.set_review(
                        &RecordStatus {
                            record_id: reply.record_id,
                            state: reply.state,
                            reasons: Vec::new(),
                            note: String::new(),
                            received_at_ms: reply.received_at_ms,
                            reviewed_at_ms: None,
                        },
                        now_ms(),
                    )?;
                }
                self.outage = 0;
                Ok(Step::Sent)
            }
            Err(HubError::Refused(message)) => {
                tracing::warn!(record_id = %id, error = %message, "upload refused by the hub; record quarantined");
                self.store.quarantine(&id, &message)?;
                self.last_error = Some(message);
                self.outage = 0;
                Ok(Step::Quarantined)
            }
            Err(e) if !e.is_hub_wide() => {
                // only this record failed: it waits with its own backoff, the next one goes
                let wait = retry_delay(row.attempts.clamp(0, 64) as u32, jitter());
                let message = e.to_string();
                match &e {
                    HubError::ForeignRecord(_) => tracing::warn!(
                        record_id = %id,
                        retry_in_s = wait.as_secs(),
                        "the hub holds this record for another kiosk; other records go on"
                    ),
                    HubError::BatchNotAssigned(_) => tracing::warn!(
                        record_id = %id,
                        retry_in_s = wait.as_secs(),
                        "the hub has given this record's batch to other kiosks; it goes once the batch is assigned to this one"
                    ),
                    _ => tracing::info!(
                        record_id = %id,
                        attempts = row.attempts + 1,
                        retry_in_s = wait.as_secs(),
                        error = %message,
                        "upload failed for this record; trying it again later"
                    ),
                }
                self.store
                    .mark_retry(&id, now_ms() + wait.as_millis() as i64, &message)?;
                self.last_error = Some(message);
                self.outage = 0;
                Ok(Step::Retried)
            }
            Err(away) => {
                let wait = retry_delay(self.outage, jitter());
                self.outage = self.outage.saturating_add(1);
                let message = away.to_string();
                self.store.release(&id, &message)?;
                if self.outage == 1 {
                    tracing::warn!(error = %message, "the hub is away; trying again with growing pauses");
                }
                self.last_error = Some(message);
                Ok(Step::HubAway(wait))
            }
        }
    }

    /// Hands the outbox's figures to the client, which sends them with its next requests
    /// (the hub's dashboard shows each kiosk's backlog). A failure to read them is logged and
    /// the upload goes on: the figures are for people watching, no record depends on them.
    fn report_outbox(&self) {
        match self.store.queue_status() {
            Ok(q) => {
                let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                let age_ms = q.oldest_pending_ms.map_or(0, |t| now_ms() - t);
                self.client.report_outbox(OutboxReport {
                    pending: clamp(q.pending),
                    oldest_age_s: clamp(age_ms / 1000),
                    quarantined: clamp(q.quarantined),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox's figures for the hub")
            }
        }
    }

    /// Tells the hub this kiosk is alive and how its outbox stands (`GET /api/v1/kiosk` with
    /// the outbox header), so a kiosk with nothing to send is not taken for a lost one. A
    /// failure is only logged: the hub being away is the uploader's business, handled there.
    pub async fn heartbeat(&mut self) {
        self.report_outbox();
        if let Err(e) = self.client.whoami().await {
            tracing::debug!(error = %e, "heartbeat to the hub failed");
        }
    }

    /// Asks the hub about records whose review may have changed; returns how many changed.
    /// With `all`, goes on until every such record was asked once.
    pub async fn refresh_reviews(&mut self, all: bool) -> Result<u64, StoreError> {
        self.report_outbox();
        let mut updated = 0;
        let mut asked = std::collections::HashSet::new();
        loop {
            let ids = self.store.awaiting_review(200)?;
            let fresh: Vec<String> = ids
                .into_iter()
                .filter(|i| asked.insert(i.clone()))
                .collect();
            if fresh.is_empty() {
                break;
            }
            match self.client.statuses(&fresh).await {
                Ok(statuses) => {
                    let now = now_ms();
                    self.store.touch_review(&fresh, now)?;
                    let asked_now: std::collections::HashSet<&String> = fresh.iter().collect();
                    let mut answered = 0;
                    for s in statuses.iter().filter(|s| asked_now.contains(&s.record_id)) {
                        self.store.set_review(s, now)?;
                        updated += u64::from(s.state.is_final());
                        answered += 1;
                    }
                    if answered < fresh.len() {
                        // held for another kiosk (this one was registered again) or unknown
                        // at the hub; asked again in turn, after the others
                        tracing::warn!(
                            asked = fresh.len(),
                            answered,
                            "the hub did not answer for some sent records (another kiosk's at the hub, or unknown there)"
                        );
                    }
                }
                Err(e) => {
                    self.last_error = Some(e.to_string());
                    break;
                }
            }
            if !all {
                break;
            }
        }
        Ok(updated)
    }

    pub fn purge(&mut self) -> Result<usize, StoreError> {
        self.store.purge_uploaded(now_ms(), self.policy.retention)
    }

    /// Uploads everything pending now (retry pauses are skipped), then fetches review results.
    /// Returns when nothing is pending or at `deadline`.
    pub async fn drain(&mut self, deadline: Instant) -> Result<DrainReport, StoreError> {
        let started = Instant::now();
        let mut report = DrainReport::default();
        self.store.make_all_due(now_ms())?;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.step().await? {
                Step::Sent => report.sent += 1,
                Step::Quarantined => report.quarantined += 1,
                Step::Retried => report.retried += 1,
                Step::HubAway(wait) => tokio::time::sleep(wait.min(left)).await,
                Step::Idle => match self.store.next_due_at()? {
                    None => break,
                    Some(due) => {
                        let wait = Duration::from_millis((due - now_ms()).clamp(10, 60_000) as u64);
                        tokio::time::sleep(wait.min(left)).await;
                    }
                },
            }
        }
        report.reviews_updated = self.refresh_reviews(true).await?;
        report.purged = self.purge()? as u64;
        // with the hub away this would only wait for another refused connection
        if self.outage == 0 {
            self.heartbeat().await;
        }
        report.pending_left = self.store.queue_status()?.pending;
        report.last_error = self.last_error.clone();
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Runs until `stop` is set: uploads as rows become due, sleeps when there is nothing to
    /// do (woken early by `wake`, e.g. right after a submit), pauses while the hub is away.
    pub async fn run(&mut self, wake: &Notify, stop: &AtomicBool) {
        let mut housekeeping_due = Instant::now();
        // records went (or were refused) since the hub last heard the outbox's figures
        let mut moved_since_heartbeat = false;
        while !stop.load(Ordering::SeqCst) {
            if Instant::now() >= housekeeping_due {
                if let Err(e) = self.refresh_reviews(false).await.and_then(|_| self.purge()) {
                    tracing::error!(error = %e, "uploader housekeeping failed");
                }
                self.heartbeat().await;
                moved_since_heartbeat = false;
                housekeeping_due = Instant::now() + self.policy.housekeeping_every;
            }
            let until_housekeeping = housekeeping_due.saturating_duration_since(Instant::now());
            let wait = match self.step().await {
                Ok(Step::Sent | Step::Quarantined) => {
                    moved_since_heartbeat = true;
                    continue;
                }
                Ok(Step::Retried) => continue,
                Ok(Step::HubAway(wait)) => wait,
                Ok(Step::Idle) if moved_since_heartbeat => {
                    // the last request said the record just sent was still waiting: the hub
                    // hears the emptied outbox now, not at the next housekeeping
                    self.heartbeat().await;
                    moved_since_heartbeat = false;
                    continue;
                }
                Ok(Step::Idle) => match self.store.next_due_at() {
                    Ok(Some(due)) => {
                        Duration::from_millis((due - now_ms()).clamp(10, 60_000) as u64)
                    }
                    Ok(None) => Duration::from_secs(60),
                    Err(e) => {
                        tracing::error!(error = %e, "uploader cannot read the queue");
                        Duration::from_secs(5)
                    }
                },
                Err(e) => {
                    // a full disk or a locked database: nothing is lost, try again shortly
                    tracing::error!(error = %e, "uploader step failed; trying again shortly");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.min(until_housekeeping)) => {}
                _ = wake.notified() => {}
            }
        }
    }
}

/// The uploader running on its own thread, so neither the UI nor the camera ever waits on the
/// network or the database.
pub struct UploaderHandle {
    wake: Arc<Notify>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UploaderHandle {
    /// Something new is in the outbox: send it now rather than at the next timer.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops after the request in flight (if any) and waits for the thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for UploaderHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Starts the uploader for the database at `db`, sending to `link`.
pub fn spawn_uploader(
    db: PathBuf,
    link: HubLink,
    policy: UploadPolicy,
) -> anyhow::Result<UploaderHandle> {
    let client = HubClient::with_patience(&link, policy.patience)?;
    let store = Store::open(&db)?;
    let mut worker = Worker::new(store, client, policy)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let wake = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (w, s) = (wake.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("uploader".into())
        .spawn(move || runtime.block_on(worker.run(&w, &s)))?;
    Ok(UploaderHandle {
        wake,
        stop,
        thread: Some(thread),
    })
}
