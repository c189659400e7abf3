//! The collection hub (`kiosk hub`): receives kiosks' uploads, keeps records in its own SQLite
//! and photos on disk, serves the review page, the roster and the status kiosks fetch for
//! returning candidates. The API is described in `src/hub/openapi.yaml`.

mod api;
pub mod db;
mod duplicates;
pub mod purge;
pub mod tls;
mod web;

use crate::hub_protocol::ErrorBody;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use db::{HashEntry, HubDb};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use duplicates::{photo_hash, DUPLICATE_DISTANCE};

/// How a hub runs.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Holds `hub.sqlite` and `photos/`.
    pub data_dir: PathBuf,
    /// Largest request body accepted (a submission is metadata + photo + report).
    pub max_body_bytes: usize,
    /// Mark login cookies `Secure` (the hub is reached through https).
    pub secure_cookies: bool,
}

impl HubConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        HubConfig {
            data_dir,
            max_body_bytes: 8 << 20,
            secure_cookies: false,
        }
    }
}

pub struct Hub {
    db: Mutex<HubDb>,
    index: Mutex<Vec<HashEntry>>,
    photos: PathBuf,
    config: HubConfig,
}

/// An answer that is not a success: a status and a message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        log(&format!("database error: {e}"));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the hub's database failed; try again later",
        )
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        log(&format!("disk error: {e}"));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the hub could not write to its disk; try again later",
        )
    }
}

/// One log line on stderr with a UTC time. Callers log ids only: never names, ID numbers or
/// candidate numbers (R-PRIVACY).
pub fn log(line: &str) {
    use crate::civil_time::CivilTime;
    let t = CivilTime::from_unix(crate::store::now_ms().div_euclid(1000), 0);
    eprintln!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z hub: {line}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
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
        crate::store::private_dir(&config.data_dir)?;
        let photos = config.data_dir.join("photos");
        crate::store::tighten_dir(&photos)?;
        let db = HubDb::open(&config.data_dir.join("hub.sqlite"))?;
        let index = db.hashes()?;
        Ok(Arc::new(Hub {
            db: Mutex::new(db),
            index: Mutex::new(index),
            photos,
            config,
        }))
    }

    /// The database, for the command line's admin tasks and for handlers (on blocking threads).
    pub fn db(&self) -> MutexGuard<'_, HubDb> {
        // a handler that panicked while holding the lock left no half-written transaction
        // (SQLite rolled it back), so the connection is still usable
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index(&self) -> MutexGuard<'_, Vec<HashEntry>> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The hub's HTTP routes.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        api::routes()
            .merge(web::routes())
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
            log(&format!("handler failed: {e}"));
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the hub failed; try again later",
            )
        })?
}

/// Serves `hub` on `listener` (plain TCP or [`tls::TlsListener`]) until `shutdown` completes.
pub async fn serve<L>(
    listener: L,
    hub: Arc<Hub>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let app = hub.router();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
