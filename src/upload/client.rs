//! The hub's HTTP client (reqwest with rustls): the kiosk's token on every request, TLS for
//! any hub that is not on this machine, and every answer sorted into what the uploader should
//! do about it.

use crate::hub_protocol::{
    ErrorBody, RecordMeta, RecordStatus, RosterEntry, StatusQuery, SubmitReply,
};
use reqwest::{multipart, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;
use thiserror::Error;

/// Where the hub is and how this kiosk proves who it is.
#[derive(Clone, Debug)]
pub struct HubLink {
    pub url: String,
    pub token: String,
    /// A PEM certificate to trust for the hub (a college's own CA or self-signed hub).
    pub ca_pem: Option<Vec<u8>>,
}

/// Why a request did not succeed, sorted by what to do next.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum HubError {
    /// No answer (network down, hub stopped, timeout): the whole hub is away; wait and retry.
    #[error("the hub is not reachable: {0}")]
    Unreachable(String),
    /// The hub's certificate is not trusted: link the kiosk with the hub's CA certificate.
    #[error("the hub's TLS certificate is not trusted ({0}); link the kiosk with --ca and the hub's certificate")]
    Tls(String),
    /// The hub does not accept this kiosk's token: staff must link the kiosk again.
    #[error("the hub refused this kiosk's token ({0}); ask the hub's administrator for a new token and link the kiosk again")]
    Unauthorized(String),
    /// The hub refused this record as invalid; retrying will not help (quarantine it).
    #[error("the hub refused the record: {0}")]
    Refused(String),
    /// The hub failed or is overloaded; this record may go through later.
    #[error("the hub failed: {0}")]
    Server(String),
    /// The hub's URL or certificate is unusable.
    #[error("{0}")]
    Config(String),
}

/// The largest submission a hub accepts by default (`kiosk hub --max-request-mib`).
pub const MAX_SUBMISSION_BYTES: usize = 8 << 20;

#[derive(Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

/// Who the hub says this kiosk is.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct KioskIdentity {
    pub kiosk_id: String,
    pub name: String,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl HubClient {
    /// Checks the link and builds the client. A hub anywhere but this machine must be https:
    /// photos and ID numbers never cross a network unencrypted (R-PRIVACY).
    pub fn new(link: &HubLink) -> Result<Self, HubError> {
        let mut base = Url::parse(link.url.trim()).map_err(|e| {
            HubError::Config(format!("the hub URL {:?} is not a URL: {e}", link.url))
        })?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            "http" => {
                return Err(HubError::Config(format!(
                    "the hub URL {} is plain http to another machine; use https:// so photos are encrypted in transit",
                    link.url
                )))
            }
            other => {
                return Err(HubError::Config(format!(
                    "the hub URL must start with https:// (found {other}://)"
                )))
            }
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if link.token.trim().is_empty() {
            return Err(HubError::Config(
                "no kiosk token is set; link the kiosk with the token the hub issued".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("capture-kiosk/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &link.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                HubError::Config(format!("the hub certificate is not a PEM certificate: {e}"))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| HubError::Config(format!("cannot set up TLS: {e}")))?;
        Ok(HubClient {
            http,
            base,
            token: link.token.trim().to_owned(),
        })
    }

    fn url(&self, path: &str) -> Result<Url, HubError> {
        self.base
            .join(path)
            .map_err(|e| HubError::Config(format!("bad hub path {path}: {e}")))
    }

    async fn answer<T: DeserializeOwned>(
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, HubError> {
        let response = sent.map_err(|e| {
            let shown = describe(&e);
            if shown.contains("certificate") {
                HubError::Tls(shown)
            } else {
                HubError::Unreachable(shown)
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| HubError::Server(format!("unreadable answer: {}", describe(&e))));
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| body.chars().take(200).collect());
        let shown = format!("{} {}", status.as_u16(), message);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HubError::Unauthorized(shown),
            StatusCode::BAD_REQUEST
            | StatusCode::CONFLICT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY => HubError::Refused(shown),
            _ => HubError::Server(shown),
        })
    }

    pub async fn whoami(&self) -> Result<KioskIdentity, HubError> {
        let req = self
            .http
            .get(self.url("api/v1/kiosk")?)
            .bearer_auth(&self.token);
        Self::answer(req.send().await).await
    }

    /// Sends one record; the same record again is answered the same (idempotent on its key).
    pub async fn submit(
        &self,
        meta: &RecordMeta,
        photo: Vec<u8>,
        report_json: String,
    ) -> Result<SubmitReply, HubError> {
        self.submit_with_documents(meta, photo, report_json, Vec::new())
            .await
    }

    /// Sends one record with the manual path's document photographs (R-MANUAL).
    pub async fn submit_with_documents(
        &self,
        meta: &RecordMeta,
        photo: Vec<u8>,
        report_json: String,
        documents: Vec<Vec<u8>>,
    ) -> Result<SubmitReply, HubError> {
        // the hub refuses bodies over 8 MiB (and may cut the connection while one is sent,
        // which would read as "unreachable" for ever): refuse it here, for staff to see
        let size = photo.len() + report_json.len() + documents.iter().map(Vec::len).sum::<usize>();
        if size > MAX_SUBMISSION_BYTES {
            return Err(HubError::Refused(format!(
                "the record is {size} bytes, more than the {MAX_SUBMISSION_BYTES} a hub accepts"
            )));
        }
        let meta_json = serde_json::to_string(meta)
            .map_err(|e| HubError::Config(format!("cannot encode the record: {e}")))?;
        let part = |bytes: Vec<u8>, mime: &str, name: &str| {
            multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .map_err(|e| HubError::Config(e.to_string()))
        };
        let mut form = multipart::Form::new()
            .part(
                "metadata",
                part(meta_json.into_bytes(), "application/json", "metadata.json")?,
            )
            .part("photo", part(photo, "image/jpeg", "photo.jpg")?)
            .part(
                "report",
                part(report_json.into_bytes(), "application/json", "report.json")?,
            );
        for (n, doc) in documents.into_iter().enumerate() {
            form = form.part(
                "document",
                part(doc, "image/jpeg", &format!("document-{n}.jpg"))?,
            );
        }
        let req = self
            .http
            .post(self.url("api/v1/records")?)
            .bearer_auth(&self.token)
            .multipart(form);
        Self::answer(req.send().await).await
    }

    /// The review status of records this kiosk sent.
    pub async fn statuses(&self, record_ids: &[String]) -> Result<Vec<RecordStatus>, HubError> {
        let req = self
            .http
            .post(self.url("api/v1/records/status")?)
            .bearer_auth(&self.token)
            .json(&StatusQuery {
                record_ids: record_ids.to_vec(),
            });
        Self::answer(req.send().await).await
    }

    /// Withdraws a record while it is pending review (R-STATUS).
    pub async fn withdraw(&self, record_id: &str) -> Result<RecordStatus, HubError> {
        let req = self
            .http
            .post(self.url(&format!("api/v1/records/{record_id}/withdraw"))?)
            .bearer_auth(&self.token);
        Self::answer(req.send().await).await
    }

    /// A batch's roster (R-ID-2).
    pub async fn roster(&self, batch_id: &str) -> Result<Vec<RosterEntry>, HubError> {
        let mut url = self.url("api/v1/roster")?;
        url.query_pairs_mut().append_pair("batch", batch_id);
        let req = self.http.get(url).bearer_auth(&self.token);
        Self::answer(req.send().await).await
    }
}

/// reqwest's message plus its causes: "error sending request" alone tells staff nothing.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
