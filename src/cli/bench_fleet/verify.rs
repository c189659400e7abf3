//! The end of a run: what the hub holds, asked through its own API (the reviewers' queue and
//! photo routes, through the proxy, so any replica answers), compared with what the kiosks sent;
//! and the photo store's object names compared with the rows.

use super::kiosks::{digest, Expected};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The queue's largest page (`web.rs`, MAX_PAGE).
const PAGE: usize = 50;

#[derive(Deserialize)]
struct Flag {
    record_id: String,
}

#[derive(Deserialize)]
struct Item {
    record_id: String,
    candidate_key: String,
    #[serde(default)]
    duplicates: Vec<Flag>,
}

#[derive(Deserialize)]
struct QueuePage {
    items: Vec<Item>,
}

/// What was found; `clean()` says whether the run passes.
#[derive(Debug, Default, serde::Serialize)]
pub struct Findings {
    pub expected: usize,
    pub stored: usize,
    pub lost: usize,
    /// Rows beyond one per record key or per candidate (a record stored twice).
    pub duplicated: usize,
    /// Rows no kiosk sent.
    pub unexpected: usize,
    pub photos_checked: usize,
    /// Photos not served, or served with other bytes than the kiosk sent, after a second try.
    pub photos_unreadable: usize,
    /// Photos not served on the first try (a timeout, a broken connection, 5xx or 429) and
    /// read whole on the second: an availability blip on a loaded machine, not a photo lost or
    /// altered.
    pub photos_read_on_retry: usize,
    /// Rows whose photo object is missing from the store, and objects no row names.
    pub objects_missing: usize,
    pub objects_orphaned: usize,
    pub near_copies: usize,
    pub near_copies_flagged: usize,
    /// Flags between records that are not copies of each other.
    pub wrong_flags: usize,
    /// Example ids of what went wrong, for the log.
    pub examples: Vec<String>,
}

impl Findings {
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unexpected == 0
            && self.photos_unreadable == 0
            && self.objects_missing == 0
    }
}

/// A reviewer's session through the proxy (the cookie is sent by hand: the workspace's
/// reqwest has no cookie store).
pub struct Reviewer {
    client: reqwest::Client,
    url: String,
    cookie: String,
}

impl Reviewer {
    /// Logs in as `user` through `url`.
    pub async fn login(url: &str, user: &str, password: &str) -> Result<Reviewer> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        let r = client
            .post(format!("{url}/login"))
            .form(&[("user", user), ("password", password)])
            .send()
            .await?;
        if r.status().as_u16() != 303 {
            bail!("the reviewer's login was answered {}", r.status());
        }
        let cookie = r
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or_else(|| anyhow!("the login set no session cookie"))?
            .to_owned();
        Ok(Reviewer {
            client,
            url: url.to_owned(),
            cookie,
        })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .header(reqwest::header::COOKIE, &self.cookie)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .header(reqwest::header::COOKIE, &self.cookie)
    }
}

/// Registers `n` kiosks through the admin API; their tokens.
pub async fn register_kiosks(reviewer: &Reviewer, n: usize) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Issued {
        token: String,
    }
    let mut tokens = Vec::with_capacity(n);
    for k in 0..n {
        let r = reviewer
            .post("/api/v1/kiosks")
            .json(&serde_json::json!({ "name": format!("fleet-kiosk-{k:03}") }))
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            bail!("registering kiosk {k} was answered {}", r.status());
        }
        tokens.push(r.json::<Issued>().await?.token);
    }
    Ok(tokens)
}

/// Every record waiting for review (all of the bench's), page by page.
async fn stored_items(reviewer: &Reviewer) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    loop {
        let page: QueuePage = reviewer
            .get(&format!(
                "/api/v1/review/queue?state=pending_review&limit={PAGE}&offset={}",
                items.len()
            ))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .context("reading the review queue")?;
        let n = page.items.len();
        items.extend(page.items);
        if n < PAGE {
            return Ok(items);
        }
    }
}

/// Compares the hub's rows with `expected`; fetches the photos of `sample` records (every
/// one when `sample` is 0 or more than there are) and compares their bytes; `objects` are the
/// photo store's object names, compared with the rows.
pub async fn verify(
    reviewer: &Reviewer,
    expected: &[Expected],
    sample: usize,
    objects: &[String],
) -> Result<Findings> {
    let items = stored_items(reviewer).await?;
    let mut f = Findings {
        expected: expected.len(),
        stored: items.len(),
        ..Findings::default()
    };
    let by_id: HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    let mut per_candidate: HashMap<&str, usize> = HashMap::new();
    for item in &items {
        *per_id.entry(&item.record_id).or_default() += 1;
        *per_candidate.entry(&item.candidate_key).or_default() += 1;
        if !by_id.contains_key(item.record_id.as_str()) {
            f.unexpected += 1;
            f.examples
                .push(format!("unexpected row {}", item.record_id));
        }
    }
    f.duplicated = per_id.values().map(|n| n - 1).sum::<usize>()
        + per_candidate.values().map(|n| n - 1).sum::<usize>();
    for e in expected {
        if !per_id.contains_key(e.id.as_str()) {
            f.lost += 1;
            f.examples.push(format!("lost {}", e.id));
        }
    }

    // near-duplicates: a pair is flagged when either record names the other
    let flags: HashSet<(&str, &str)> = items
        .iter()
        .flat_map(|i| {
            i.duplicates
                .iter()
                .map(move |d| (i.record_id.as_str(), d.record_id.as_str()))
        })
        .collect();
    // a photo may be copied by two kiosks: every pair within an original's group is a fair flag
    let mut groups: HashMap<usize, Vec<&str>> = HashMap::new();
    for (i, e) in expected.iter().enumerate() {
        if let Some(j) = e.copy_of {
            groups
                .entry(j)
                .or_insert_with(|| vec![expected[j].id.as_str()])
                .push(expected[i].id.as_str());
        }
    }
    let mut pairs = HashSet::new();
    for group in groups.values() {
        for a in group {
            for b in group {
                pairs.insert((*a, *b));
            }
        }
    }
    for e in expected {
        if let Some(j) = e.copy_of {
            let original = expected[j].id.as_str();
            f.near_copies += 1;
            if flags.contains(&(e.id.as_str(), original))
                || flags.contains(&(original, e.id.as_str()))
            {
                f.near_copies_flagged += 1;
            } else {
                f.examples
                    .push(format!("copy {} of {original} not flagged", e.id));
            }
        }
    }
    f.wrong_flags = flags.iter().filter(|p| !pairs.contains(*p)).count();

    // every row's object, and no object without a row
    let names: HashSet<&str> = objects.iter().map(String::as_str).collect();
    let mut named = HashSet::new();
    for item in &items {
        let id = item.record_id.as_str();
        let name = format!("{}/{id}.jpg", &id[id.len().saturating_sub(2)..]);
        if !names.contains(name.as_str()) {
            f.objects_missing += 1;
            f.examples.push(format!("no photo object for {id}"));
        }
        named.insert(name);
    }
    f.objects_orphaned = objects.iter().filter(|n| !named.contains(*n)).count();

    // the photos themselves, through the API, against the bytes the kiosks sent
    let step = if sample == 0 || sample >= expected.len() {
        1
    } else {
        expected.len() / sample
    };
    for e in expected.iter().step_by(step.max(1)) {
        if !per_id.contains_key(e.id.as_str()) {
            continue;
        }
        f.photos_checked += 1;
        let mut read = read_photo(reviewer, &e.id, e.photo_digest).await;
        if let PhotoRead::Busy(first) = read {
            tokio::time::sleep(Duration::from_secs(1)).await;
            read = read_photo(reviewer, &e.id, e.photo_digest).await;
            if read == PhotoRead::Same {
                f.photos_read_on_retry += 1;
                f.examples.push(format!(
                    "photo of {} not served at first ({first}), whole on the second read",
                    e.id
                ));
            }
        }
        match read {
            PhotoRead::Same => {}
            PhotoRead::Altered => {
                f.photos_unreadable += 1;
                f.examples.push(format!(
                    "photo of {} altered: its bytes are not those the kiosk sent",
                    e.id
                ));
            }
            PhotoRead::Busy(why) => {
                f.photos_unreadable += 1;
                f.examples
                    .push(format!("photo of {} not served twice: {why}", e.id));
            }
            PhotoRead::Refused(why) => {
                f.photos_unreadable += 1;
                f.examples
                    .push(format!("photo of {} not served: {why}", e.id));
            }
        }
    }
    f.examples.truncate(20);
    Ok(f)
}

/// How one read of a record's photo through the API went.
#[derive(Debug, PartialEq)]
enum PhotoRead {
    Same,
    Altered,
    /// No answer, or one that says "busy" (a timeout, a broken connection, 5xx, 429): worth
    /// one more try. Why.
    Busy(String),
    /// An answer that no retry changes (a 404: the photo is not there). Why.
    Refused(String),
}

async fn read_photo(reviewer: &Reviewer, id: &str, sent_digest: u64) -> PhotoRead {
    let answer = reviewer
        .get(&format!("/api/v1/review/records/{id}/photo"))
        .send()
        .await;
    let r = match answer {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            let status = r.status();
            let why = format!("answered {status}");
            return if status.is_server_error() || status.as_u16() == 429 {
                PhotoRead::Busy(why)
            } else {
                PhotoRead::Refused(why)
            };
        }
        Err(e) => return PhotoRead::Busy(format!("{e}")),
    };
    match r.bytes().await {
        Ok(b) if digest(&b) == sent_digest => PhotoRead::Same,
        Ok(_) => PhotoRead::Altered,
        Err(e) => PhotoRead::Busy(format!("the body broke off: {e}")),
    }
}

/// The names in the photo store: the bucket's objects, or the files of a folder.
pub fn object_names(
    bucket: Option<&capture_kiosk::hub::BucketSettings>,
    folder: &std::path::Path,
) -> Result<Vec<String>> {
    use capture_kiosk::hub::photos::PhotoStore;
    let names = match bucket {
        Some(settings) => capture_kiosk::hub::BucketPhotos::open(settings)?.names(),
        None => capture_kiosk::hub::photos::FolderPhotos::new(folder.to_path_buf()).names(),
    };
    names.map_err(|e| anyhow!("listing the photo store: {e}"))
}
