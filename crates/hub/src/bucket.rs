//! Photos in an S3-compatible bucket (MinIO, Ceph RGW, Garage, SeaweedFS, a cloud bucket),
//! through `object_store`: what lets several hub replicas share one store of photos.
//!
//! Configured by an `s3://BUCKET[/PREFIX]` address; the endpoint, region and credentials come
//! from the environment (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` for a bucket on loopback), never the command line:
//! `BucketSettings::from_env`.

use super::photos::{check_name, Listed, PhotoStore};
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long one request to the bucket may take before the hub gives up on it (a retry by the
/// kiosk repeats the whole submission, which is idempotent).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// All the retries of one request together.
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// Which bucket, and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketSettings {
    /// `s3://BUCKET[/PREFIX]`.
    pub address: String,
    /// `AWS_…` settings (endpoint, region, keys), as the environment names them.
    pub options: Vec<(String, String)>,
}

impl BucketSettings {
    /// `address` with the `AWS_…` variables of this process's environment.
    pub fn from_env(address: &str) -> Self {
        BucketSettings {
            address: address.to_owned(),
            options: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
        }
    }
}

/// The keys' values are secrets: never printed.
impl std::fmt::Debug for BucketSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("BucketSettings")
            .field("address", &self.address)
            .field("options", &keys)
            .finish()
    }
}

pub struct BucketPhotos {
    store: Arc<dyn ObjectStore>,
    /// Inside the bucket, in front of every name (`PREFIX/ab/KEY.jpg`).
    prefix: String,
    /// The bucket client's own runtime: the store's callers are blocking threads (and the
    /// start-up sweep, before the server's runtime exists), so each call is sent here and
    /// waited for.
    runtime: tokio::runtime::Runtime,
}

impl BucketPhotos {
    /// Connects to the bucket at `address` (`s3://BUCKET[/PREFIX]`) and checks that it can be
    /// listed, so a wrong endpoint or key fails at start, not at the first candidate.
    pub fn open(settings: &BucketSettings) -> anyhow::Result<Self> {
        let address = settings.address.as_str();
        let rest = address.strip_prefix("s3://").ok_or_else(|| {
            anyhow::anyhow!(
                "the object store must be an s3://BUCKET[/PREFIX] address, not {address}"
            )
        })?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            anyhow::bail!("{address} names no bucket: use s3://BUCKET[/PREFIX]");
        }
        if !prefix.is_empty() {
            check_name(prefix)?;
        }
        // the timeouts first: a later with_client_options would replace what the settings
        // say (AWS_ALLOW_HTTP is a client option)
        let options = ClientOptions::new()
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT);
        let mut builder = AmazonS3Builder::new().with_client_options(options);
        for (key, value) in &settings.options {
            // as object_store's own from_env: AWS_ENDPOINT → endpoint; others are skipped
            if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        // a bucket that is down costs a submission seconds, not minutes: the kiosk retries
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: RETRY_TIMEOUT,
            ..RetryConfig::default()
        };
        let store = builder
            .with_bucket_name(bucket)
            .with_retry(retry)
            .build()
            .map_err(|e| anyhow::anyhow!("the bucket {bucket} cannot be used: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hub-bucket")
            .enable_all()
            .build()?;
        let photos = BucketPhotos {
            store: Arc::new(store),
            prefix: prefix.to_owned(),
            runtime,
        };
        photos.probe().map_err(|e| {
            anyhow::anyhow!(
                "the bucket {bucket} cannot be listed ({e}); check AWS_ENDPOINT, AWS_REGION and the credentials in the environment"
            )
        })?;
        Ok(photos)
    }

    /// Lists the first page of the bucket and no more: proof that the endpoint, the keys and
    /// the bucket are right. (Listing every object took a replica 7 s to start beside 6,700
    /// photos; a province's bucket holds millions.)
    fn probe(&self) -> io::Result<()> {
        let store = self.store.clone();
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.wait(async move { store.list(prefix.as_ref()).try_next().await.map(|_| ()) })
            .map_err(io_error)
    }

    fn path(&self, name: &str) -> io::Result<ObjectPath> {
        check_name(name)?;
        let full = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        };
        ObjectPath::parse(full).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// Runs `f` on the bucket's runtime and waits for it, from any thread.
    fn wait<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, object_store::Error>> + Send + 'static,
    ) -> Result<T, object_store::Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(object_store::Error::Generic {
                store: "S3",
                source: "the bucket client stopped".into(),
            })
        })
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    // the message names the bucket and the key (a record id), never a candidate
    io::Error::other(e.to_string())
}

impl PhotoStore for BucketPhotos {
    /// One PUT: S3 stores an object whole or not at all, and answers only once it is durable.
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let (store, path) = (self.store.clone(), self.path(name)?);
        let payload = PutPayload::from(bytes.to_vec());
        self.wait(async move { store.put(&path, payload).await })
            .map(|_| ())
            .map_err(io_error)
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let (store, path) = (self.store.clone(), self.path(name)?);
        match self.wait(async move { store.get(&path).await?.bytes().await }) {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    fn delete(&self, name: &str) -> io::Result<bool> {
        let (store, path) = (self.store.clone(), self.path(name)?);
        // S3 answers a delete of a missing key as a success: ask first, so a purge can report
        // what was already gone
        let probe = path.clone();
        let head = self.store.clone();
        match self.wait(async move { head.head(&probe).await }) {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(io_error(e)),
        }
        self.wait(async move { store.delete(&path).await })
            .map(|_| true)
            .map_err(io_error)
    }

    fn listing(&self) -> io::Result<Vec<Listed>> {
        let store = self.store.clone();
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let listed = self.wait(async move {
            store
                .list(prefix.as_ref())
                .map_ok(|meta| (meta.location.to_string(), meta.last_modified))
                .try_collect::<Vec<_>>()
                .await
        });
        let cut = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        Ok(listed
            .map_err(io_error)?
            .into_iter()
            .filter_map(|(full, written)| {
                full.get(cut..).map(|name| Listed {
                    name: name.to_owned(),
                    written: Some(SystemTime::from(written)),
                })
            })
            .collect())
    }
}
