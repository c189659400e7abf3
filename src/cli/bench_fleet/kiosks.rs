//! The simulated kiosks: each has its own kiosk database with its records in the outbox, and
//! its own thread running the real uploader (`Worker::step`: lease, send, mark sent, retry
//! with backoff, pause while the hub is away), so a send that fails is retried, not lost.
//!
//! Photos are made from a seed (smooth random colour fields, 480×640 like a CHSI photo), so
//! different records' photos are far apart in the hub's perceptual hash; a few records are a
//! near-duplicate (re-encoded, brightened) of an earlier record sent by another kiosk.

use anyhow::{anyhow, Context, Result};
use capture_kiosk::store::{NewCapture, Store};
use capture_kiosk::upload::worker::Step;
use capture_kiosk::upload::{HubClient, HubLink, UploadPolicy, Worker};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// About one record in this many (in the second half of a kiosk's queue) is a near-duplicate
/// of a record from the first half of another kiosk's queue, so the original is stored well
/// before its copy arrives.
const DUPLICATE_EVERY: usize = 20;

/// A record the bench expects the hub to hold.
#[derive(Clone, Debug)]
pub struct Expected {
    pub id: String,
    /// A digest of the photo sent (std's SipHash: a check of the bytes, not a secret).
    pub photo_digest: u64,
    /// The record this one's photo is a near-duplicate of (an index into the plan).
    pub copy_of: Option<usize>,
}

pub fn digest(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// splitmix64: a fixed sequence per seed, so a photo can be made again from its seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The pixels of record `seed`'s photo: a 24×32 field of random colours, smoothly enlarged.
fn photo_pixels(seed: u64) -> image::RgbImage {
    let mut state = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xA5A5;
    let small = image::RgbImage::from_fn(24, 32, |_, _| {
        let v = next(&mut state);
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    image::imageops::resize(&small, 480, 640, image::imageops::FilterType::Triangle)
}

/// Encoded as the kiosk encodes its photos (libjpeg-turbo, `photo::jpeg`): the pure-Rust
/// encoder made filling 20,000 outboxes take ten minutes.
fn jpeg(img: &image::RgbImage, quality: u8) -> Result<Vec<u8>> {
    Ok(capture_kiosk::photo::jpeg::encode(img, quality, 300)?)
}

/// Record `seed`'s photo, or a near-duplicate of it: brightened a little and re-encoded at a
/// lower quality (what a copied file that went through an editor looks like).
pub fn photo(seed: u64, near_copy: bool) -> Result<Vec<u8>> {
    let mut img = photo_pixels(seed);
    if !near_copy {
        return jpeg(&img, 85);
    }
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = c.saturating_add(6);
        }
    }
    jpeg(&img, 70)
}

/// Which kiosk sends record `i`, its place in that kiosk's queue, and the record it copies.
pub struct Plan {
    pub kiosks: usize,
    pub records: usize,
}

impl Plan {
    pub fn kiosk_of(&self, i: usize) -> usize {
        i % self.kiosks
    }

    fn place(&self, i: usize) -> usize {
        i / self.kiosks
    }

    /// Records per kiosk (the first kiosks may have one more).
    fn queue_len(&self, kiosk: usize) -> usize {
        (self.records + self.kiosks - 1 - kiosk) / self.kiosks
    }

    /// The record whose photo record `i` copies, if it is a near-duplicate: one from the first
    /// half of another kiosk's queue. Which records are copies, and of which kiosk's, is
    /// spread by a hash of `i`, so that copies come from many kiosks to many (and so through
    /// many pairs of replicas), whatever the number of kiosks.
    pub fn copy_of(&self, i: usize) -> Option<usize> {
        let mut h = i as u64;
        let draw = next(&mut h);
        if self.kiosks < 2 || draw % DUPLICATE_EVERY as u64 != 0 {
            return None;
        }
        let (k, place) = (self.kiosk_of(i), self.place(i));
        let half = self.queue_len(k) / 2;
        if place < half.max(1) {
            return None;
        }
        let other = (k + 1 + (draw >> 32) as usize % (self.kiosks - 1)) % self.kiosks;
        let j = (place - half) * self.kiosks + other;
        (j < self.records && self.place(j) < self.queue_len(other) / 2).then_some(j)
    }
}

/// A kiosk ready to upload: its database and the token the hub gave it.
pub struct Kiosk {
    pub db: PathBuf,
    pub token: String,
}

/// Fills every kiosk's outbox (durable commits, as a kiosk does at each capture) on `threads`
/// threads; the records in the plan's order.
pub fn fill(
    dir: &Path,
    plan: &Plan,
    tokens: &[String],
    threads: usize,
) -> Result<(Vec<Kiosk>, Vec<Expected>)> {
    let kiosks: Vec<Kiosk> = tokens
        .iter()
        .enumerate()
        .map(|(k, token)| Kiosk {
            db: dir.join(format!("kiosk-{k:03}/kiosk.sqlite")),
            token: token.clone(),
        })
        .collect();
    for k in &kiosks {
        if let Some(parent) = k.db.parent() {
            capture_kiosk::store::tighten_dir(parent)?;
        }
    }
    let threads = threads.max(1);
    let results: Vec<Result<Vec<(usize, Expected)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let kiosks = &kiosks;
                s.spawn(move || -> Result<Vec<(usize, Expected)>> {
                    let mut out = Vec::new();
                    for (k, kiosk) in kiosks.iter().enumerate().filter(|(k, _)| k % threads == t) {
                        let mut store = Store::open(&kiosk.db)
                            .with_context(|| format!("opening {}", kiosk.db.display()))?;
                        let session = store.start_session("chsi-graduation", "fleet")?;
                        let mine = (0..plan.records).filter(|i| plan.kiosk_of(*i) == k);
                        for i in mine {
                            let copy_of = plan.copy_of(i);
                            let bytes = match copy_of {
                                Some(j) => photo(j as u64, true)?,
                                None => photo(i as u64, false)?,
                            };
                            let candidate_key = format!("fleet-{i:06}");
                            let id = store.submit(&NewCapture {
                                session_id: &session,
                                profile: "chsi-graduation",
                                candidate_key: &candidate_key,
                                spec: "chsi",
                                photo_jpeg: &bytes,
                                check_report_json: r#"{"ok":true,"faces":1,"checks":[]}"#,
                                verification_distance: Some(0.3),
                                manual_review: false,
                                documents: &[],
                            })?;
                            out.push((
                                i,
                                Expected {
                                    id,
                                    photo_digest: digest(&bytes),
                                    copy_of,
                                },
                            ));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a filling thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(plan.records);
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok((kiosks, all.into_iter().map(|(_, e)| e).collect()))
}

/// What the kiosks did, shared with the thread that watches the run.
#[derive(Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub quarantined: AtomicU64,
    pub hub_away: AtomicU64,
}

/// What one kiosk's uploader did.
pub struct KioskRun {
    /// Milliseconds of each upload that went (lease, send, the hub's answer, mark sent).
    pub upload_ms: Vec<f64>,
    pub pending_left: i64,
    pub quarantined: i64,
    pub last_error: Option<String>,
}

/// Runs one kiosk's uploader until its outbox is empty or `deadline`; on its own thread with
/// its own runtime, as on a kiosk.
pub fn run_kiosk(
    kiosk: &Kiosk,
    url: &str,
    progress: &Progress,
    deadline: Instant,
) -> Result<KioskRun> {
    // 200 kiosks' logs would be on 200 machines; here their retries are counted instead
    let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let link = HubLink {
        url: url.to_owned(),
        token: kiosk.token.clone(),
        ca_pem: None,
    };
    let mut worker = Worker::new(
        Store::open(&kiosk.db)?,
        HubClient::new(&link)?,
        UploadPolicy::default(),
    )?;
    // the worker owns its store; a second connection reads when the next row is due
    let queue = Store::open(&kiosk.db)?;
    let mut upload_ms = Vec::new();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        let step = runtime.block_on(worker.step())?;
        let pause = match step {
            Step::Sent => {
                upload_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                progress.sent.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Step::Retried => {
                progress.retried.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Step::Quarantined => {
                progress.quarantined.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Step::HubAway(wait) => {
                progress.hub_away.fetch_add(1, Ordering::Relaxed);
                wait
            }
            Step::Idle => match queue.next_due_at()? {
                None => break,
                Some(due) => Duration::from_millis(
                    (due - capture_kiosk::store::now_ms()).clamp(10, 60_000) as u64,
                ),
            },
        };
        std::thread::sleep(pause.min(left));
    }
    let status = queue.queue_status()?;
    Ok(KioskRun {
        upload_ms,
        pending_left: status.pending,
        quarantined: status.quarantined,
        last_error: worker.last_error.clone(),
    })
}

/// The uploads of all kiosks at once, one thread each; returns when every outbox is empty or
/// at `deadline`.
pub fn run_all(
    kiosks: &[Kiosk],
    url: &str,
    progress: &Arc<Progress>,
    deadline: Instant,
) -> Result<Vec<KioskRun>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = kiosks
            .iter()
            .map(|k| {
                let progress = progress.clone();
                std::thread::Builder::new()
                    .stack_size(1 << 20)
                    .spawn_scoped(s, move || run_kiosk(k, url, &progress, deadline))
            })
            .collect::<std::io::Result<_>>()?;
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a kiosk thread panicked")))
            })
            .collect()
    })
}
