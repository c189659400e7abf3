//! A real hub on loopback for tests (its own thread and runtime, a fresh data folder), kiosk
//! stores linked to it, and an HTTP client for the reviewer's side.

use capture_kiosk::hub::{serve, Hub, HubConfig};
use capture_kiosk::store::{NewCapture, Store};
use capture_kiosk::upload::{settings, stored_link, DrainReport, HubClient, UploadPolicy, Worker};
use image::{Rgb, RgbImage};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestHub {
    pub url: String,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub hub: Arc<Hub>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Which database this run's hubs keep their records in: SQLite in the data folder (the
/// default), or PostgreSQL when `CAPTURE_TEST_HUB_DATABASE=postgres` (CI runs the hub tests
/// both ways, `scripts/test-hub-postgres`): one throwaway cluster for the test process
/// (`capture_hub::pg_cluster::shared`), one database per hub data folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn current() -> Backend {
        match std::env::var("CAPTURE_TEST_HUB_DATABASE").as_deref() {
            Ok("postgres") => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// The PostgreSQL databases made for data folders in this process, by name.
fn made_databases() -> std::sync::MutexGuard<'static, std::collections::HashSet<String>> {
    static MADE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    MADE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn database_name(dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    format!("hub_{:016x}", h.finish())
}

/// The PostgreSQL database of the hub whose data folder is `dir` (made on first use, so a hub
/// started again on the same folder finds its records); None when the run uses SQLite.
pub fn database_url(dir: &std::path::Path) -> Option<String> {
    if Backend::current() != Backend::Postgres {
        return None;
    }
    let cluster = capture_kiosk::hub::pg_cluster::shared().expect("the test PostgreSQL starts");
    let name = database_name(dir);
    let mut made = made_databases();
    if !made.contains(&name) {
        cluster.create_database(&name).expect("a test database");
        made.insert(name.clone());
    }
    Some(cluster.url(&name))
}

/// `--database URL` for a `kiosk hub` command on the data folder `dir`, when the run uses
/// PostgreSQL; nothing otherwise.
pub fn database_args(dir: &std::path::Path) -> Vec<String> {
    database_url(dir)
        .map(|url| vec!["--database".to_owned(), url])
        .unwrap_or_default()
}

/// `args` of a `kiosk hub` command with `--database URL` after its `--data DIR` when the run
/// uses PostgreSQL, so a command on a hub's data folder reaches that hub's database.
pub fn with_database<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::with_capacity(args.len() + 2);
    let mut after_data = false;
    for a in args {
        out.push(a.as_ref().to_owned());
        if after_data {
            out.extend(
                database_args(std::path::Path::new(a.as_ref()))
                    .into_iter()
                    .map(Into::into),
            );
        }
        after_data = a.as_ref() == "--data";
    }
    out
}

/// A fresh, empty folder under the target's scratch space (and, on PostgreSQL, a fresh
/// database for it).
pub fn fresh_dir(folder: &str, name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(folder)
        .join(name);
    let db = database_name(&dir);
    if made_databases().remove(&db) {
        if let Ok(cluster) = capture_kiosk::hub::pg_cluster::shared() {
            cluster
                .drop_database(&db)
                .expect("the old test database is dropped");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    // the hub and the kiosk refuse a data folder other users can read
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("private scratch folder");
    dir
}

/// The configuration of a hub on `dir`, on this run's database (`Backend`).
pub fn hub_config(dir: PathBuf) -> HubConfig {
    let mut config = HubConfig::new(dir.clone());
    if let Some(url) = database_url(&dir) {
        config.database = capture_kiosk::hub::RecordStorage::Postgres(
            capture_kiosk::hub::PgSettings::new(&url, None).expect("a test database URL"),
        );
    }
    config
}

/// A loopback port nothing listens on (for "the hub is down", or a server a test starts on a
/// port it must know first). Taken below the range the system hands out for outgoing
/// connections: a port from that range, free when asked, can be given to another test's
/// connection a moment later, and a hub started on it then finds it taken.
pub fn free_port() -> u16 {
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_from.max(10_001));
    for _ in 0..200 {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).expect("random");
        let port = low + u16::from_le_bytes(b) % (high - low);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    // a machine whose low ports are all taken: any free one, as before
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl TestHub {
    pub fn start(name: &str) -> TestHub {
        Self::start_in(fresh_dir("hubs", name), 0)
    }

    /// Serves the hub whose data is in `dir` on `port` (0: any free port).
    pub fn start_in(dir: PathBuf, port: u16) -> TestHub {
        Self::start_configured(dir, port, |_| {})
    }

    /// Like [`TestHub::start_in`], with the configuration changed by `tweak` first (short
    /// timeouts, small connection limits).
    pub fn start_configured(
        dir: PathBuf,
        port: u16,
        tweak: impl FnOnce(&mut HubConfig),
    ) -> TestHub {
        let mut config = hub_config(dir.clone());
        tweak(&mut config);
        let hub = Hub::open(config).expect("hub opens");
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hub port");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = hub.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve(l, served, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("hub serves");
            });
        });
        TestHub {
            url: format!("http://{addr}"),
            addr,
            dir,
            hub,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn kiosk_token(&self, name: &str) -> String {
        self.hub.db().add_kiosk(name).expect("kiosk registers").1
    }

    /// Adds a reviewer and logs in over HTTP; returns the session cookie header value.
    pub fn reviewer_cookie(&self, user: &str, admin: bool) -> String {
        self.hub
            .db()
            .add_reviewer(user, "correct horse battery", admin)
            .expect("reviewer");
        let rt = runtime();
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let r = client
                .post(format!("{}/login", self.url))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("user={user}&password=correct+horse+battery"))
                .send()
                .await
                .expect("login answers");
            assert_eq!(r.status(), 303, "login redirects to the review page");
            let cookie = r
                .headers()
                .get("set-cookie")
                .expect("a session cookie")
                .to_str()
                .expect("ascii");
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
            cookie.split(';').next().expect("name=value").to_owned()
        })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Waits for a `kiosk hub` program's first line on its stdout (piped), which says where it
/// listens, and checks it names `scheme`. A hub that says nothing within 30 s, or something
/// else, fails the test instead of hanging it.
pub fn await_listening(child: &mut std::process::Child, scheme: &str) {
    use std::io::{BufRead, BufReader};
    let out = child.stdout.take().expect("the hub's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // the read end closes after the first line, as the hub expects of its starter
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(out).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(30));
    let listening = format!("hub listening on {scheme}://");
    if let Ok(line) = &first {
        if line.starts_with(&listening) {
            return;
        }
    }
    // not left running behind the failed test; its exit says why it stopped, if it did
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the hub did not say {listening:?} within 30 s: its first line {first:?}, exit {exited:?}"
    );
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A new kiosk database in `folder`, linked to `url` with `token`.
pub fn kiosk_store(name: &str, url: &str, token: &str) -> (PathBuf, Store) {
    let dir = fresh_dir("kiosks", name);
    let path = dir.join("kiosk.sqlite");
    let store = Store::open(&path).expect("store opens");
    store.set_setting(settings::HUB_URL, url).expect("setting");
    store
        .set_setting(settings::HUB_TOKEN, token)
        .expect("setting");
    (path, store)
}

/// A small, valid JPEG that differs with `seed` (a face-sized blob on a plain background).
pub fn test_jpeg(seed: u32) -> Vec<u8> {
    let (w, h) = (120u32, 160u32);
    let img = RgbImage::from_fn(w, h, |x, y| {
        let cx = 40.0 + (seed % 41) as f32;
        let cy = 60.0 + (seed / 41 % 41) as f32;
        let d = ((x as f32 - cx).powi(2) / 900.0 + (y as f32 - cy).powi(2) / 1600.0).sqrt();
        if d < 1.0 {
            Rgb([200, 160 + (seed % 50) as u8, 140])
        } else {
            Rgb([(seed * 7 % 256) as u8, 100, 200])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("jpeg encodes");
    out
}

/// Submits a capture as the kiosk would after the candidate confirmed.
pub fn submit(store: &mut Store, candidate: &str, jpeg: &[u8]) -> String {
    let session = store
        .start_session("chsi-graduation", "Z3K8F7")
        .expect("session");
    store
        .submit(&NewCapture {
            session_id: &session,
            profile: "chsi-graduation",
            candidate_key: candidate,
            spec: "chsi",
            photo_jpeg: jpeg,
            check_report_json: r#"{"ok":true,"faces":1,"checks":[]}"#,
            verification_distance: Some(0.31),
            manual_review: false,
            documents: &[],
        })
        .expect("submit")
}

/// An uploader for the kiosk database `store`, linked as its settings say.
pub fn linked_worker(store: Store) -> Worker {
    let link = stored_link(&store).unwrap().unwrap();
    Worker::new(
        store,
        HubClient::new(&link).unwrap(),
        UploadPolicy::default(),
    )
    .unwrap()
}

/// Drains the kiosk database at `db` for at most `seconds`.
pub fn drain(db: &std::path::Path, seconds: u64) -> DrainReport {
    let mut w = linked_worker(Store::open(db).unwrap());
    runtime()
        .block_on(w.drain(std::time::Instant::now() + std::time::Duration::from_secs(seconds)))
        .unwrap()
}

/// A TCP connection to the hub from `from` (bound before connecting): a stranger's machine,
/// or another kiosk, on another loopback address.
pub fn connect_from(from: std::net::IpAddr, to: SocketAddr) -> std::net::TcpStream {
    let stream = runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        socket.connect(to).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Whether the hub has closed `stream`, a connection that asked nothing, within `wait`
/// (bytes would be a wrong answer, not a close).
pub fn silently_closed(stream: &mut std::net::TcpStream, wait: std::time::Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// How many of `streams` the hub closed, each given `wait` to show it.
pub fn closed_count(streams: &mut [std::net::TcpStream], wait: std::time::Duration) -> usize {
    streams
        .iter_mut()
        .map(|s| silently_closed(s, wait))
        .filter(|c| *c)
        .count()
}

/// An upload with `token` from `from` that declares a 100 kB body and sends its headers, the
/// photo part's start and then `first`, and no more.
pub fn begin_upload_from(
    from: std::net::IpAddr,
    to: SocketAddr,
    token: &str,
    first: &str,
) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = connect_from(from, to);
    stream
        .write_all(
            format!(
                "POST /api/v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
                 --b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\n{first}"
            )
            .as_bytes(),
        )
        .unwrap();
    stream
}

/// A loopback address other than 127.0.0.1: another machine, as far as the hub can tell.
pub fn loopback(a: u8, b: u8, c: u8) -> std::net::IpAddr {
    std::net::IpAddr::from([127, a, b, c])
}

/// A client whose connections come from `from`.
pub fn client_from(from: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The sealing key every replica on the database `url` is given (made once), as a province's
/// replicas share theirs: a replica with a key of its own is refused at start.
pub fn replicas_key(url: &str) -> PathBuf {
    use capture_kiosk::hub::sealing::{SealingKey, SealingKeySource, DATA_FOLDER_KEY};
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("replica-keys")
        .join(format!("{:016x}", h.finish()));
    std::fs::create_dir_all(&dir).expect("key folder");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("private key folder");
    SealingKey::load(&SealingKeySource::DataFolder, &dir).expect("the replicas' sealing key");
    dir.join(DATA_FOLDER_KEY)
}

/// A reviewer's request for record `id`'s photo: the status and the body.
pub fn review_photo(hub: &TestHub, cookie: &str, id: &str) -> (u16, Vec<u8>) {
    runtime().block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/review/records/{id}/photo", hub.url))
            .header("Cookie", cookie)
            .send()
            .await
            .expect("the hub answers");
        let status = r.status().as_u16();
        (status, r.bytes().await.expect("a body").to_vec())
    })
}
