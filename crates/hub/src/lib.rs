//! The collection hub (`kiosk hub`): receives kiosks' uploads, keeps records in its own SQLite
//! and photos on disk, serves the review page, the roster and the status kiosks fetch for
//! returning candidates. The API is described in `crates/hub/src/openapi.yaml`.

mod admission;
mod api;
mod auth;
mod bucket;
mod busy;
pub mod cli;
pub mod config;
mod connection_slots;
mod contact_writes;
mod dashboard;
pub mod database;
pub mod db;
mod device_cookie;
mod disk_reserve;
mod duplicates;
mod headers;
mod in_flight;
mod kiosk_share;
mod log_limit;
use log_limit::KioskLine;
mod login;
mod login_guard;
mod min_rate;
mod orphans;
pub mod pg_cluster;
pub mod photos;
pub mod process;
mod proxy_protocol;
pub mod purge;
mod refill;
pub mod sealed_photos;
pub mod sealing;
mod server;
mod store_quota;
pub use store_quota::StoreAllowance;
pub mod tls;
mod web;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use capture_core::hub_protocol::{ErrorBody, ErrorCode};
use capture_store::StoreError;
use database::Database;
use duplicates::HashIndex;
use photos::PhotoStore;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use database::{DbHandle, PgSettings, RecordStorage};

pub use bucket::{BucketPhotos, BucketSettings};
pub use duplicates::{photo_hash, DUPLICATE_DISTANCE};
pub use server::{serve, serve_tls, ConnectionLimits, PeerAddr};

/// How a hub runs.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Holds `hub.sqlite` and `photos/`.
    pub data_dir: PathBuf,
    /// Largest request body accepted (a submission is metadata + photo + report).
    pub max_body_bytes: usize,
    /// Mark login cookies `Secure` (the hub is reached through https).
    pub secure_cookies: bool,
    /// What one client may hold open (connections, slow headers and bodies).
    pub connections: ConnectionLimits,
    /// Where photos and document photos are kept.
    pub photos: PhotoStorage,
    /// The key photos are sealed with at rest (`sealed_photos`).
    pub sealing_key: sealing::SealingKeySource,
    /// Where records, kiosks, reviewers, sessions, rosters and events are kept.
    pub database: RecordStorage,
    /// Whether opening sweeps the photos no record names (`orphans`): the server does, an
    /// administration command run beside a serving hub (add-kiosk, purge…) must not, or it
    /// could take the photo of an upload whose row is about to commit.
    pub sweep_at_open: bool,
    /// Load balancers whose connections begin with a PROXY protocol header naming their
    /// client (`proxy_protocol`); the client's address then counts for the per-address limits.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Free room the data folder keeps: below it, submissions are refused (507) and
    /// `/healthz` fails (`disk_reserve`).
    pub disk_reserve_bytes: u64,
    /// What one kiosk may store (`store_quota.rs`).
    pub store_allowance: StoreAllowance,
}

/// Where the hub keeps photos: a folder for one college's hub, a bucket that several replicas
/// share for a province.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PhotoStorage {
    /// `photos/` in the data folder.
    #[default]
    Folder,
    /// An S3-compatible bucket (`bucket::BucketSettings`).
    Bucket(BucketSettings),
}

impl HubConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        HubConfig {
            data_dir,
            max_body_bytes: 8 << 20,
            secure_cookies: false,
            connections: ConnectionLimits::default(),
            photos: PhotoStorage::Folder,
            sealing_key: sealing::SealingKeySource::DataFolder,
            database: RecordStorage::Sqlite,
            sweep_at_open: true,
            trusted_proxies: Vec::new(),
            disk_reserve_bytes: disk_reserve::DEFAULT_RESERVE_BYTES,
            store_allowance: StoreAllowance::default(),
        }
    }
}

pub struct Hub {
    db: Database,
    index: Mutex<HashIndex>,
    /// Record keys being stored by this process (`in_flight.rs`).
    storing: in_flight::InFlight,
    /// Photos and document photos (`photos::PhotoStore`).
    photos: Box<dyn PhotoStore>,
    config: HubConfig,
    login_guard: login_guard::LoginGuard,
    /// Photo decodes at once (each may take tens of MiB; see api::DOCUMENT_SIDES).
    decode_slots: tokio::sync::Semaphore,
    /// Submissions being received at once (each holds up to `max_body_bytes`).
    upload_slots: tokio::sync::Semaphore,
    /// Each kiosk's share of them (`kiosk_share.rs`), taken before a slot is waited for.
    kiosk_shares: kiosk_share::KioskShares,
    /// Roster uploads sealing passwords at once: one (it takes every core for minutes).
    sealing_slots: tokio::sync::Semaphore,
    /// The dashboard's figures, computed at most once per `dashboard::FRESH`.
    stats: dashboard::StatsCache,
    /// Each kiosk's contact writes made at once (`contact_writes.rs`).
    contact_writes: contact_writes::ContactWrites,
    /// Each kiosk's allowance of records and bytes stored (`store_quota.rs`).
    store_quota: store_quota::StoreQuota,
    /// Lines logged for throttled logins, per address (`log_limit.rs`).
    throttled_logins: log_limit::LogLimit<std::net::IpAddr>,
    /// Lines logged for a kiosk's refused or repeated requests, per kiosk and kind.
    kiosk_lines: log_limit::LogLimit<(String, log_limit::KioskLine)>,
}

/// An answer that is not a success: a status and a message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Said in the body where a kiosk must tell this refusal from others with its status.
    pub code: Option<ErrorCode>,
    /// Seconds to wait before trying again (a `Retry-After` header), for refusals of load.
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            code: None,
            retry_after_s: None,
        }
    }

    pub fn with_code(self, code: ErrorCode) -> Self {
        ApiError {
            code: Some(code),
            ..self
        }
    }

    pub fn retry_after(self, seconds: u32) -> Self {
        ApiError {
            retry_after_s: Some(seconds),
            ..self
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
                code: self.code,
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(target: "hub", error = ?e.to_string(), "database error");
        let message = match e {
            // trying again does not help: somebody changed the database behind the hub
            StoreError::Unsealed(_) => {
                "库中数据无法用本中心的密封密钥打开（被改动或挪动），请告知管理员 / stored roster data does not open with the hub's sealing key (altered, or moved from another row); tell the hub's administrator"
            }
            _ => "the hub's database failed; try again later",
        };
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        tracing::error!(target: "hub", error = ?e.to_string(), "photo storage error");
        let message = if e.kind() == std::io::ErrorKind::InvalidData {
            // not the store's fault, and not passing: a file was changed behind the hub
            "照片无法用本中心的密封密钥打开（被改动或挪动），请告知管理员 / this photo does not open with the hub's sealing key (altered, or moved from another record); tell the hub's administrator"
        } else {
            "the hub could not reach its photo storage (disk or bucket); try again later"
        };
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl Hub {
    /// Opens the hub's data folder (created 0700 if missing; refused if other users can read
    /// it) and loads the duplicate index.
    pub fn open(config: HubConfig) -> anyhow::Result<Arc<Hub>> {
        // everything this process writes from now on (photos, temporary files) is private,
        // whichever function writes it
        #[cfg(unix)]
        // SAFETY: umask only swaps the process's file-creation mask; it cannot fail
        unsafe {
            libc::umask(0o077);
        }
        capture_store::private_dir(&config.data_dir)?;
        let in_bucket = matches!(config.photos, PhotoStorage::Bucket(_));
        if in_bucket && config.sealing_key == sealing::SealingKeySource::DataFolder {
            return Err(sealing::SealingKeyError::BucketNeedsKey.into());
        }
        let folder_key = config.data_dir.join(sealing::DATA_FOLDER_KEY);
        let made_key = (config.sealing_key == sealing::SealingKeySource::DataFolder
            && !folder_key.exists())
        .then_some(folder_key);
        let key = Arc::new(sealing::SealingKey::load(
            &config.sealing_key,
            &config.data_dir,
        )?);
        let store: Box<dyn PhotoStore> = match &config.photos {
            PhotoStorage::Folder => {
                let folder = photos::default_folder(&config.data_dir);
                capture_store::tighten_dir(&folder)?;
                Box::new(photos::FolderPhotos::new(folder))
            }
            PhotoStorage::Bucket(settings) => Box::new(bucket::BucketPhotos::open(settings)?),
        };
        let sealed_store = sealed_photos::SealedPhotos::new(store, key.clone());
        let database = Database::open(&config.database, &config.data_dir, key)?;
        let mut db = database.handle();
        // a key that is not the hub's own (a command run without the site's credential, a
        // replica given another file) would seal what it stores where nobody can read it and
        // fail on all that is stored: refused now, before anything is sealed, and a key made
        // in the data folder just now for nothing is taken away again
        if !db.sealing_key_is_the_hubs()? {
            if let Some(made) = made_key {
                let _ = std::fs::remove_file(made);
            }
            return Err(sealing::SealingKeyError::DoesNotOpen.into());
        }
        let roster_rows = db.seal_clear_roster()?;
        if roster_rows > 0 {
            tracing::info!(target: "hub", rows = roster_rows, "roster rows an earlier version kept in clear are sealed");
        }
        // after the roster's fields: those are sealed for the number in clear
        let record_rows = db.seal_clear_candidates()?;
        if record_rows > 0 {
            tracing::info!(target: "hub", rows = record_rows, "candidate numbers and notes an earlier version kept in clear are sealed");
        }
        if roster_rows + record_rows > 0 {
            db.reclaim_old_rows(&["records", "roster"])?;
        }
        if !db.photos_sealed()? {
            tracing::info!(target: "hub", "sealing the photos an earlier version stored in clear (once)");
            let sealed = sealed_store.seal_clear().map_err(|e| {
                anyhow::Error::new(e)
                    .context("sealing the photos an earlier version stored in clear")
            })?;
            db.mark_photos_sealed()?;
            tracing::info!(target: "hub", photos = sealed, "photos stored in clear are sealed");
        }
        sealed_store.refuse_clear();
        let photos: Box<dyn PhotoStore> = Box::new(sealed_store);
        // taken before the read: what is stored from now on comes in with the first refresh
        let as_of = capture_store::now_ms();
        let overlap = match db.dialect() {
            db::sql::Dialect::Sqlite => duplicates::SINGLE_WRITER_OVERLAP_MS,
            db::sql::Dialect::Postgres => duplicates::REFRESH_OVERLAP_MS,
        };
        let index = HashIndex::new(db.hashes()?, as_of, overlap);
        // with replicas sharing a bucket and a database, another replica may be between an
        // object's write and its row's commit right now: what looks orphaned here may be a
        // record being stored. There the sweep is left to `kiosk hub purge`, which takes only
        // what is older than any upload (and a province's bucket is too large to list at
        // every replica's start)
        // (a shared database means replicas, whatever holds their photos: a folder may be a
        // shared mount)
        let shared = matches!(&config.database, RecordStorage::Postgres(_));
        let swept = if config.sweep_at_open && !shared {
            orphans::sweep(photos.as_ref(), &db, None)?
        } else {
            orphans::Swept::default()
        };
        if swept != orphans::Swept::default() {
            tracing::info!(
                target: "hub",
                temporary = swept.temporary,
                unreferenced = swept.unreferenced,
                "removed photo files no record names (left by a crash or a full disk)"
            );
        }
        // the decoy hash for unknown users is made now, so the first one is not slower
        db::verify_password(None, "");
        let login_salt = db.login_salt()?;
        let device_cookies = device_cookie::DeviceCookies::new(&db.device_cookie_key()?)
            .ok_or_else(|| anyhow::anyhow!("the device cookies' key is refused by HMAC"))?;
        drop(db);
        let quota = store_quota::StoreQuota::new(config.store_allowance);
        Ok(Arc::new(Hub {
            db: database,
            index: Mutex::new(index),
            storing: in_flight::InFlight::default(),
            photos,
            config,
            login_guard: login_guard::LoginGuard::new(login_salt, device_cookies),
            decode_slots: tokio::sync::Semaphore::new(2),
            upload_slots: tokio::sync::Semaphore::new(16),
            kiosk_shares: kiosk_share::KioskShares::default(),
            sealing_slots: tokio::sync::Semaphore::new(1),
            stats: dashboard::StatsCache::default(),
            contact_writes: contact_writes::ContactWrites::default(),
            store_quota: quota,
            throttled_logins: log_limit::LogLimit::default(),
            kiosk_lines: log_limit::LogLimit::default(),
        }))
    }

    /// The data folder's free room against the reserve (one statvfs, microseconds).
    fn disk_room(&self) -> disk_reserve::Room {
        disk_reserve::room(&self.config.data_dir, self.config.disk_reserve_bytes)
    }

    /// The database, for the command line's admin tasks and for handlers (on blocking threads).
    pub fn db(&self) -> DbHandle<'_> {
        self.db.handle()
    }

    fn index(&self) -> MutexGuard<'_, HashIndex> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The hub's HTTP routes.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        api::routes(self)
            .merge(web::routes(self))
            .merge(dashboard::routes(self))
            // the document promises an ErrorBody for every 404, also for a path no route has
            // (e.g. an empty record id)
            .fallback(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such route; the API is described at /api/v1/openapi.yaml",
                )
            })
            .layer(axum::extract::DefaultBodyLimit::max(
                self.config.max_body_bytes,
            ))
            .layer(axum::middleware::from_fn(headers::secure_headers))
            .with_state(self.clone())
    }
}

/// Runs `f` on a blocking thread (SQLite, disk, JPEG decoding) so the async workers stay free.
async fn blocking<T: Send + 'static>(
    hub: &Arc<Hub>,
    f: impl FnOnce(&Hub) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let hub = hub.clone();
    tokio::task::spawn_blocking(move || f(&hub))
        .await
        .map_err(|e| {
            tracing::error!(target: "hub", error = ?e.to_string(), "handler failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the hub failed; try again later",
            )
        })?
}
