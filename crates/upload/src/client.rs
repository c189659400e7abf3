//! The hub's HTTP client (reqwest with rustls): the kiosk's token on every request, TLS for
//! any hub that is not on this machine, every request watched for progress rather than timed
//! as a whole (see `progress`), and every answer sorted into what the uploader should do about
//! it: the whole hub is away, or only this one record could not go.

use super::progress::{drain_allowance, Progress, ProgressBody};
use capture_core::hub_protocol::KioskIdentity;
use capture_core::hub_protocol::{
    ErrorBody, ErrorCode, OutboxReport, RecordMeta, RecordStatus, RosterEntry, StatusQuery,
    SubmitReply, OUTBOX_HEADER,
};
use reqwest::{multipart, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long an idle connection to the hub is kept for the next request: half the hub's own
/// wait for a kept-alive connection's next request (`ConnectionLimits::header_read`, 10 s).
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(5);

/// Where the hub is and how this kiosk proves who it is.
#[derive(Clone, Debug)]
pub struct HubLink {
    pub url: String,
    pub token: String,
    /// A PEM certificate to trust for the hub (a college's own CA or self-signed hub).
    pub ca_pem: Option<Vec<u8>>,
}

/// Why a request did not succeed, sorted by what to do next. The first four are about the
/// hub as a whole (no record can go: wait, or staff must act); the others are about one
/// request (that record waits or is kept, the others go on).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum HubError {
    /// No connection (network down, hub stopped, connect timeout): wait and retry.
    #[error("无法连接汇总服务器（网络断开或服务器未运行：{0}） / the hub is not reachable: {0}")]
    Unreachable(String),
    /// The hub's certificate is not trusted: link the kiosk with the hub's CA certificate.
    #[error("汇总服务器的 TLS 证书不受信任，请用 --ca 和服务器的证书重新连接本机 / the hub's TLS certificate is not trusted ({0}); link the kiosk with --ca and the hub's certificate")]
    Tls(String),
    /// 401: the hub does not accept this kiosk's token: staff must link the kiosk again.
    #[error("汇总服务器不接受本机的令牌，请向管理员索取新令牌（kiosk hub relink-kiosk）后重新连接 / the hub refused this kiosk's token ({0}); ask the hub's administrator for a new token (kiosk hub relink-kiosk) and link the kiosk again")]
    Unauthorized(String),
    /// The hub link is unusable: its URL, certificate or token, or a record it cannot encode.
    #[error("连接汇总服务器的设置有误（{0}） / the hub link is not usable: {0}")]
    Config(String),
    /// 403: the token is fine, but this record belongs to another kiosk at the hub (a kiosk
    /// registered again under a new name); other records go on.
    #[error("汇总服务器认为这条记录属于另一台采集机；若本机重新注册过，请管理员运行 kiosk hub move-records / the hub says this record belongs to another kiosk ({0}); if this kiosk was registered again, ask the hub's administrator to run kiosk hub move-records")]
    ForeignRecord(String),
    /// 403 on a roster, or on a record of a batch the hub gave to other kiosks: the hub has
    /// not given this batch to this kiosk. The record waits with its backoff and goes once
    /// the batch is assigned; other records go on.
    #[error("汇总服务器未把这个批次分配给本机，请管理员运行 kiosk hub assign-batch / the hub has not assigned this batch to this kiosk ({0}); ask the hub's administrator to run kiosk hub assign-batch")]
    BatchNotAssigned(String),
    /// The transfer stopped moving for the patience, or the connection broke after it was
    /// made: this record tries again later, the others go on.
    #[error("传输中断（{0}） / the transfer stopped: {0}")]
    Interrupted(String),
    /// The hub refused the record as invalid; retrying will not help (quarantine it).
    #[error("汇总服务器拒收了这次请求（{0}），重试也不会成功 / the hub refused the request: {0}")]
    Refused(String),
    /// The hub is receiving as much from this kiosk, or from all, as it takes at once (429),
    /// or its disk is below its reserve (507):
    /// no record can go now, and trying the next at once would only be refused too.
    #[error("汇总服务器繁忙或磁盘将满（{0}），请稍后再试 / the hub is busy: {0}")]
    Busy(String),
    /// The hub failed; this record may go through later.
    #[error("汇总服务器出错（{0}），请稍后再试 / the hub failed: {0}")]
    Server(String),
}

impl HubError {
    /// True when no record can go now (the uploader pauses), false when only this request
    /// failed (its record waits with its own backoff and the next one is tried).
    pub fn is_hub_wide(&self) -> bool {
        matches!(
            self,
            HubError::Unreachable(_)
                | HubError::Tls(_)
                | HubError::Unauthorized(_)
                | HubError::Config(_)
                | HubError::Busy(_)
        )
    }
}

/// The largest submission a hub accepts by default (`kiosk hub --max-request-mib`).
pub const MAX_SUBMISSION_BYTES: usize = 8 << 20;

/// How long a request may make no progress before it is given up (see `progress`).
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(30);

/// The largest answer read from the hub (a big batch's roster is a few MB).
const MAX_ANSWER_BYTES: usize = 64 << 20;

#[derive(Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: Url,
    token: String,
    patience: Duration,
    /// How the outbox stood when the uploader last looked, sent with every request
    /// (`OUTBOX_HEADER`) so the hub's dashboard sees each kiosk's backlog; shared by clones.
    outbox: Arc<std::sync::Mutex<Option<OutboxReport>>>,
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
        Self::with_patience(link, DEFAULT_PATIENCE)
    }

    /// As [`HubClient::new`], giving up a request after `patience` without progress.
    pub fn with_patience(link: &HubLink, patience: Duration) -> Result<Self, HubError> {
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
        // no total timeout: a big record on a slow link takes as long as it takes; progress is
        // watched per request instead, and the kernel drops a connection whose data stays
        // unacknowledged for the patience
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // the hub closes a kept-alive connection that stays quiet for 10 s; reused just as
            // it closes, the request fails ("connection closed before message completed") and
            // waits for the next drain. Idle connections are dropped well before that.
            .pool_idle_timeout(KEEP_ALIVE_IDLE)
            .user_agent(concat!("capture-kiosk/", env!("CARGO_PKG_VERSION")));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            builder = builder.tcp_user_timeout(patience);
        }
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
            patience,
            outbox: Arc::default(),
        })
    }

    /// The outbox figures the next requests carry.
    pub fn report_outbox(&self, report: OutboxReport) {
        *self.outbox.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
    }

    fn url(&self, path: &str) -> Result<Url, HubError> {
        self.base
            .join(path)
            .map_err(|e| HubError::Config(format!("bad hub path {path}: {e}")))
    }

    /// Sends `req` and reads the answer, giving up when nothing moved for the patience:
    /// `progress` follows a streamed body; a small body (`body_len` bytes, sent at once) has
    /// the patience plus its drain time.
    async fn exchange<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        progress: Option<Arc<Progress>>,
        body_len: u64,
    ) -> Result<T, HubError> {
        let outbox = *self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let req = match outbox {
            Some(report) => req.header(OUTBOX_HEADER, report.to_header()),
            None => req,
        };
        let started = Instant::now();
        let deadline = || match &progress {
            Some(p) => p.deadline(self.patience),
            None => started + self.patience + drain_allowance(body_len),
        };
        let send = req.send();
        tokio::pin!(send);
        let mut response = loop {
            tokio::select! {
                sent = &mut send => break sent.map_err(transport)?,
                _ = tokio::time::sleep_until(deadline().into()) => {
                    // a chunk may have gone while this slept: only a deadline still passed counts
                    if Instant::now() >= deadline() {
                        let sent = progress.as_ref().map_or(body_len, |p| p.sent());
                        return Err(HubError::Interrupted(format!(
                            "no progress for {} s ({sent} bytes handed over, no answer yet)",
                            self.patience.as_secs_f32()
                        )));
                    }
                }
            }
        };
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(self.patience, response.chunk()).await {
                Err(_) => {
                    return Err(HubError::Interrupted(format!(
                        "the hub's answer stopped coming for {} s",
                        self.patience.as_secs_f32()
                    )))
                }
                Ok(Err(e)) => return Err(transport(e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        return Err(HubError::Server(format!(
                            "the hub's answer is larger than {MAX_ANSWER_BYTES} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| HubError::Server(format!("unreadable answer: {e}")));
        }
        let (message, code) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (b.error, b.code),
            Err(_) => (
                String::from_utf8_lossy(&body).chars().take(200).collect(),
                None,
            ),
        };
        let shown = format!("{} {}", status.as_u16(), message);
        Err(match status {
            // who the kiosk is (its token) against what it may touch (this record, its batch)
            StatusCode::UNAUTHORIZED => HubError::Unauthorized(shown),
            StatusCode::FORBIDDEN if code == Some(ErrorCode::BatchNotAssigned) => {
                HubError::BatchNotAssigned(shown)
            }
            StatusCode::FORBIDDEN => HubError::ForeignRecord(shown),
            StatusCode::BAD_REQUEST
            | StatusCode::CONFLICT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY => HubError::Refused(shown),
            // the kiosk pauses as for a hub away, and no record is charged an attempt
            // a full disk (507) refuses every record alike: the kiosk pauses, as for 429
            StatusCode::TOO_MANY_REQUESTS | StatusCode::INSUFFICIENT_STORAGE => {
                HubError::Busy(shown)
            }
            _ => HubError::Server(shown),
        })
    }

    pub async fn whoami(&self) -> Result<KioskIdentity, HubError> {
        let req = self
            .http
            .get(self.url("api/v1/kiosk")?)
            .bearer_auth(&self.token);
        self.exchange(req, None, 0).await
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

    /// Sends one record with the manual path's document photographs (R-MANUAL). The parts go
    /// in chunks whose progress is watched, so a slow link only has to keep moving.
    pub async fn submit_with_documents(
        &self,
        meta: &RecordMeta,
        photo: Vec<u8>,
        report_json: String,
        documents: Vec<Vec<u8>>,
    ) -> Result<SubmitReply, HubError> {
        // the hub refuses bodies over 8 MiB (and may cut the connection while one is sent,
        // which would read as a broken transfer for ever): refuse it here, for staff to see
        let size = photo.len() + report_json.len() + documents.iter().map(Vec::len).sum::<usize>();
        if size > MAX_SUBMISSION_BYTES {
            return Err(HubError::Refused(format!(
                "the record is {size} bytes, more than the {MAX_SUBMISSION_BYTES} a hub accepts"
            )));
        }
        let meta_json = serde_json::to_string(meta)
            .map_err(|e| HubError::Config(format!("cannot encode the record: {e}")))?;
        let mut parts: Vec<(&str, Vec<u8>, &str, String)> = vec![
            (
                "metadata",
                meta_json.into_bytes(),
                "application/json",
                "metadata.json".into(),
            ),
            ("photo", photo, "image/jpeg", "photo.jpg".into()),
            (
                "report",
                report_json.into_bytes(),
                "application/json",
                "report.json".into(),
            ),
        ];
        for (n, doc) in documents.into_iter().enumerate() {
            parts.push(("document", doc, "image/jpeg", format!("document-{n}.jpg")));
        }
        let progress = Progress::new(parts.iter().map(|p| p.1.len() as u64).sum());
        let mut form = multipart::Form::new();
        for (name, bytes, mime, file) in parts {
            let len = bytes.len() as u64;
            let body = reqwest::Body::wrap(ProgressBody::new(bytes, progress.clone()));
            let part = multipart::Part::stream_with_length(body, len)
                .file_name(file)
                .mime_str(mime)
                .map_err(|e| HubError::Config(e.to_string()))?;
            form = form.part(name, part);
        }
        let req = self
            .http
            .post(self.url("api/v1/records")?)
            .bearer_auth(&self.token)
            .multipart(form);
        self.exchange(req, Some(progress), 0).await
    }

    /// The review status of records this kiosk sent. Records the hub holds for another kiosk
    /// (and unknown ones) are left out of the answer.
    pub async fn statuses(&self, record_ids: &[String]) -> Result<Vec<RecordStatus>, HubError> {
        let query = StatusQuery {
            record_ids: record_ids.to_vec(),
        };
        let body = serde_json::to_vec(&query)
            .map_err(|e| HubError::Config(format!("cannot encode the query: {e}")))?;
        let len = body.len() as u64;
        let req = self
            .http
            .post(self.url("api/v1/records/status")?)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.exchange(req, None, len).await
    }

    /// Withdraws a record while it is pending review (R-STATUS).
    pub async fn withdraw(&self, record_id: &str) -> Result<RecordStatus, HubError> {
        let req = self
            .http
            .post(self.url(&format!("api/v1/records/{record_id}/withdraw"))?)
            .bearer_auth(&self.token);
        self.exchange(req, None, 0).await
    }

    /// A batch's roster (R-ID-2).
    pub async fn roster(&self, batch_id: &str) -> Result<Vec<RosterEntry>, HubError> {
        let mut url = self.url("api/v1/roster")?;
        url.query_pairs_mut().append_pair("batch", batch_id);
        let req = self.http.get(url).bearer_auth(&self.token);
        // a 403 here is about the batch, not a record
        self.exchange(req, None, 0).await.map_err(|e| match e {
            HubError::ForeignRecord(m) => HubError::BatchNotAssigned(m),
            other => other,
        })
    }
}

/// A request that got no answer: before a connection was made the hub is away; after, only
/// this transfer broke (reset, closed, or the kernel gave up on unacknowledged data).
fn transport(e: reqwest::Error) -> HubError {
    let shown = describe(&e);
    if shown.contains("certificate") {
        HubError::Tls(shown)
    } else if e.is_connect() {
        HubError::Unreachable(shown)
    } else {
        HubError::Interrupted(shown)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hub_error_says_it_in_chinese_first_then_english() {
        let all = [
            HubError::Unreachable("connection refused".into()),
            HubError::Tls("unknown issuer".into()),
            HubError::Unauthorized("401".into()),
            HubError::Config("the hub URL must start with https://".into()),
            HubError::ForeignRecord("403".into()),
            HubError::BatchNotAssigned("403".into()),
            HubError::Interrupted("no progress for 30 s".into()),
            HubError::Refused("422".into()),
            HubError::Busy("429".into()),
            HubError::Server("500".into()),
        ];
        for e in all {
            let text = e.to_string();
            let (zh, en) = text.split_once(" / ").unwrap_or_default();
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{text}"
            );
            assert!(en.starts_with("the "), "{text}");
        }
    }
}
