//! PostgreSQL for a province's hub replicas: a small pool of synchronous `postgres` clients
//! (each handler runs on one of the hub's blocking threads and holds one connection for its
//! few statements), the schema's migrations run once under an advisory lock, and the `Sql`
//! interface over a connection and a transaction.
//!
//! The pool is kept by hand (a mutex, a condition variable and a list of idle clients) rather
//! than with r2d2: it needs no thread of its own, connects lazily on a handler's first
//! statement so a database that is down is a 500 for that request rather than a panic or a
//! stuck start, and drops every idle connection as soon as one is found cut (a restarted or
//! failed-over server cuts them all), so the next request reconnects: a restart costs each
//! replica one failed request, however many connections it held.

use super::sql::{Dialect, Row, Sql, Value};
use bytes::BytesMut;
use capture_store::StoreError;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Connections one hub process holds at most: its blocking threads beyond this wait for one
/// (three replicas stay well inside PostgreSQL's default 100 connections).
pub const MAX_CONNECTIONS: usize = 16;

/// The session-level advisory lock the replicas take to migrate the schema one at a time
/// ("capture-hub" in ASCII, so no other application's lock is likely to share it).
const MIGRATION_LOCK: i64 = 0x6361_7074_7572_6568;

/// The PostgreSQL schema, one transaction per step; `schema_version` holds how many ran. A
/// new column or index is a new step at the end, never an edit of a step that shipped.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE kiosks (
        id                 TEXT PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE,
        token_sha256       TEXT NOT NULL UNIQUE,
        created_at         BIGINT NOT NULL,
        revoked_at         BIGINT,
        last_seen_at       BIGINT,
        outbox_pending     BIGINT,
        outbox_quarantined BIGINT,
        outbox_oldest_at   BIGINT,
        outbox_reported_at BIGINT
    );
    CREATE TABLE reviewers (
        "user"        TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
        created_at    BIGINT NOT NULL,
        role          TEXT NOT NULL DEFAULT 'reviewer'
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        "user"       TEXT NOT NULL REFERENCES reviewers("user"),
        expires_at   BIGINT NOT NULL
    );
    CREATE TABLE records (
        id                    TEXT PRIMARY KEY,
        kiosk_id              TEXT NOT NULL REFERENCES kiosks(id),
        profile               TEXT NOT NULL,
        batch_id              TEXT NOT NULL,
        candidate_key         TEXT NOT NULL,
        spec                  TEXT NOT NULL,
        captured_at           BIGINT NOT NULL,
        verification_distance DOUBLE PRECISION,
        manual_review         BOOLEAN NOT NULL,
        fingerprint           TEXT NOT NULL,
        photo_file            TEXT NOT NULL,
        photo_bytes           BIGINT NOT NULL,
        phash                 BYTEA NOT NULL,
        report                TEXT NOT NULL,
        received_at           BIGINT NOT NULL,
        state                 TEXT NOT NULL,
        reasons               TEXT NOT NULL DEFAULT '[]',
        note                  TEXT NOT NULL DEFAULT '',
        reviewed_by           TEXT,
        reviewed_at           BIGINT,
        duplicates            TEXT NOT NULL DEFAULT '[]',
        documents             BIGINT NOT NULL DEFAULT 0,
        purged_at             BIGINT
    );
    CREATE INDEX records_by_state ON records(state, received_at);
    CREATE INDEX records_by_candidate ON records(profile, candidate_key);
    CREATE INDEX records_by_capture_time ON records(captured_at, kiosk_id);
    CREATE INDEX records_by_decision_time ON records(state, reviewed_at, kiosk_id);
    CREATE TABLE roster (
        batch_id      TEXT NOT NULL,
        candidate_key TEXT NOT NULL,
        name          TEXT NOT NULL,
        id_number     TEXT NOT NULL,
        ethnicity     TEXT NOT NULL DEFAULT '',
        address       TEXT NOT NULL DEFAULT '',
        phone         TEXT NOT NULL DEFAULT '',
        secret        TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (batch_id, candidate_key)
    );
    CREATE TABLE kiosk_batches (
        kiosk_id TEXT NOT NULL REFERENCES kiosks(id),
        batch_id TEXT NOT NULL,
        PRIMARY KEY (kiosk_id, batch_id)
    );
    CREATE TABLE events (
        id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at        BIGINT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        record_id TEXT,
        detail    TEXT NOT NULL DEFAULT ''
    );
"#,
    // 2: failed logins counted where every replica sees them (`login_attempts.rs`), by a
    // salted digest of the user name or the address; the salt, made once, shared by all
    r#"
    CREATE TABLE login_attempts (
        digest   TEXT PRIMARY KEY,
        failures BIGINT NOT NULL,
        last_at  BIGINT NOT NULL
    );
    CREATE INDEX login_attempts_by_age ON login_attempts(last_at);
    CREATE TABLE hub_secrets (
        name   TEXT PRIMARY KEY,
        secret TEXT NOT NULL
    );
"#,
    // 3: a returning candidate's most recent records read from the index in order, not
    // every record with that number sorted first (the lookup shows 100 at most)
    r#"
    CREATE INDEX records_by_candidate_recent ON records(profile, candidate_key, received_at);
    DROP INDEX records_by_candidate;
    "#,
    // 4: the candidate's number kept out of the clear (`db/candidates.rs`): `candidate_key` holds
    // its keyed digest, which equal numbers share, and this its sealed copy to show
    r#"
    ALTER TABLE records ADD COLUMN candidate_sealed TEXT NOT NULL DEFAULT '';
    ALTER TABLE roster ADD COLUMN candidate_sealed TEXT NOT NULL DEFAULT '';
    "#,
];

/// The schema version a database migrated by this hub has.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn pg_error(e: postgres::Error) -> StoreError {
    StoreError::Shared(Box::new(e))
}

/// The replicas' shared database: where it is and the idle connections to it.
pub struct Pool {
    config: postgres::Config,
    /// TLS for a database reached over the network (`database::PgSettings`).
    tls: Option<Arc<rustls::ClientConfig>>,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Client>,
    leased: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the configuration may hold the password
        f.write_str("Pool")
    }
}

/// One connection: over TLS, verified against the database's CA, when the settings carry it
/// (`sslmode` is then `require`, so a server that offers no TLS is refused, never fallen back
/// from); in the clear only to a Unix socket or this machine.
fn connect(
    config: &postgres::Config,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Client, StoreError> {
    match tls {
        Some(tls) => {
            let mut config = config.clone();
            config.ssl_mode(postgres::config::SslMode::Require);
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                tls.as_ref().clone(),
            ))
        }
        None => config.connect(NoTls),
    }
    .map_err(|e| {
        // why a connection failed is in the causes (a certificate the CA did not sign, a
        // refused port), which the error's own text leaves out
        let mut said = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            said.push_str(&format!(": {c}"));
            cause = c.source();
        }
        StoreError::Shared(said.into())
    })
}

impl Pool {
    /// Connects once, migrates the schema if this is the first replica to get there, and
    /// keeps that connection as the pool's first.
    pub fn open(
        mut config: postgres::Config,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Arc<Pool>, StoreError> {
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("capture-hub");
        let mut client = connect(&config, tls.as_ref())?;
        migrate(&mut client)?;
        let pool = Pool {
            config,
            tls,
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
        };
        pool.lock().idle.push(client);
        Ok(Arc::new(pool))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection slot, waiting while [`MAX_CONNECTIONS`] are out; the client comes along
    /// if one is idle, else it is made on first use.
    pub fn lease(self: &Arc<Self>) -> PgConn {
        let mut state = self.lock();
        while state.leased >= MAX_CONNECTIONS {
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.leased += 1;
        let client = state.idle.pop();
        PgConn {
            pool: self.clone(),
            client,
            statements: HashMap::new(),
        }
    }

    fn give_back(&self, client: Option<Client>) {
        let mut state = self.lock();
        state.leased = state.leased.saturating_sub(1);
        match client {
            Some(c) if !c.is_closed() => state.idle.push(c),
            Some(_) => state.idle.clear(),
            None => {}
        }
        drop(state);
        self.freed.notify_one();
    }

    /// One connection was found cut: the server restarted or failed over, so the idle ones
    /// are cut too, and each would fail a request of its own before being dropped.
    fn forget_idle(&self) {
        self.lock().idle.clear();
    }
}

/// Runs the schema's missing steps, one replica at a time.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_error)?;
    let done = migrate_locked(client);
    // released with the session anyway; unlocked here because the connection is pooled
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    done?;
    unlocked.map_err(pg_error)?;
    Ok(())
}

fn migrate_locked(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .map_err(pg_error)?;
    let found: Option<i64> = client
        .query_opt("SELECT version FROM schema_version", &[])
        .map_err(pg_error)?
        .map(|r| r.get(0));
    let known = MIGRATIONS.len() as i64;
    let found_n = found.unwrap_or(0);
    if found_n > known {
        return Err(StoreError::TooNew {
            path: "the hub's PostgreSQL database".into(),
            found: found_n,
            known,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found_n as usize) {
        let mut tx = client.transaction().map_err(pg_error)?;
        tx.batch_execute(step).map_err(pg_error)?;
        let version = (i + 1) as i64;
        if i == 0 && found.is_none() {
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
        } else {
            tx.execute("UPDATE schema_version SET version = $1", &[&version])
        }
        .map_err(pg_error)?;
        tx.commit().map_err(pg_error)?;
        tracing::info!(target: "hub", version, "PostgreSQL schema migrated");
    }
    Ok(())
}

/// The schema version of the database `client` is connected to (tests).
pub fn schema_version(client: &mut Client) -> Result<i64, StoreError> {
    Ok(client
        .query_one("SELECT version FROM schema_version", &[])
        .map_err(pg_error)?
        .get(0))
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N`, outside quoted text.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// One leased connection (see [`Pool::lease`]); given back when dropped.
pub struct PgConn {
    pool: Arc<Pool>,
    client: Option<Client>,
    /// Statements prepared on this client, by their text (one round trip saved per statement).
    statements: HashMap<String, Statement>,
}

impl PgConn {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_none() {
            self.statements.clear();
            self.client = Some(connect(&self.pool.config, self.pool.tls.as_ref())?);
        }
        self.client.as_mut().ok_or_else(pg_error_closed)
    }

    /// After an error: a cut connection is dropped so the next statement reconnects, and the
    /// pool's idle ones with it (they were cut at the same moment).
    fn check(&mut self, e: postgres::Error) -> StoreError {
        if self.client.as_ref().is_some_and(Client::is_closed) || server_went_away(&e) {
            self.drop_cut();
        }
        pg_error(e)
    }

    fn drop_cut(&mut self) {
        self.client = None;
        self.statements.clear();
        self.pool.forget_idle();
    }

    /// Runs `f` in a transaction, committed if it returns Ok (rolled back otherwise).
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.client()?;
        let Some(client) = self.client.as_mut() else {
            return Err(pg_error_closed());
        };
        let result = match client.transaction() {
            Ok(tx) => {
                let mut tx = PgTx {
                    tx,
                    statements: &mut self.statements,
                };
                match f(&mut tx) {
                    Ok(v) => tx.tx.commit().map(|()| v).map_err(pg_error),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(pg_error(e)),
        };
        let went_away = |e: &StoreError| match e {
            StoreError::Shared(cause) => cause
                .downcast_ref::<postgres::Error>()
                .is_some_and(server_went_away),
            _ => false,
        };
        if self.client.as_ref().is_some_and(Client::is_closed)
            || result.as_ref().err().is_some_and(went_away)
        {
            self.drop_cut();
        }
        result
    }
}

/// Whether `e` says the connection is gone: cut, or ended by the server shutting down (the
/// server says so before it closes the socket, and the client may not have seen the close
/// yet when the statement fails).
fn server_went_away(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || e.code().is_some_and(|c| {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(c)
        })
}

/// The connection was dropped (found cut) between two steps of one statement.
fn pg_error_closed() -> StoreError {
    StoreError::Shared("the connection to PostgreSQL was lost".into())
}

impl Drop for PgConn {
    fn drop(&mut self) {
        self.pool.give_back(self.client.take());
    }
}

fn prepared<'s>(
    statements: &'s mut HashMap<String, Statement>,
    sql: &str,
    prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
) -> Result<&'s Statement, postgres::Error> {
    use std::collections::hash_map::Entry;
    match statements.entry(sql.to_owned()) {
        Entry::Occupied(e) => Ok(e.into_mut()),
        Entry::Vacant(e) => Ok(e.insert(prepare(&placeholders(sql))?)),
    }
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, StoreError> {
    rows.iter().map(row).collect()
}

fn row(r: &postgres::Row) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Value::Int(v.into())))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Value::Int(v.into())))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|v| Value::Int(v.into())))
        } else if *t == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real))
        } else if *t == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)
                .map(|v| v.map(|v| Value::Real(v.into())))
        } else if *t == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Blob))
        } else {
            // TEXT, VARCHAR, NAME and anything else text-like
            r.try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text))
        };
        out.push(v.map_err(pg_error)?.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl Sql for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        self.client()?;
        let done = {
            let Some(client) = self.client.as_mut() else {
                return Err(pg_error_closed());
            };
            prepared(&mut self.statements, sql, |s| client.prepare(s))
                .and_then(|stmt| client.execute(stmt, &params(args)))
        };
        done.map(|n| n as usize).map_err(|e| self.check(e))
    }
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.client()?;
        let done = {
            let Some(client) = self.client.as_mut() else {
                return Err(pg_error_closed());
            };
            prepared(&mut self.statements, sql, |s| client.prepare(s))
                .and_then(|stmt| client.query(stmt, &params(args)))
        };
        rows(done.map_err(|e| self.check(e))?)
    }
}

/// A PostgreSQL transaction (read committed; reads that a write depends on lock their rows
/// with [`Sql::lock_rows`]).
struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

impl Sql for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        let tx = &mut self.tx;
        let stmt = prepared(self.statements, sql, |s| tx.prepare(s)).map_err(pg_error)?;
        Ok(tx.execute(stmt, &params(args)).map_err(pg_error)? as usize)
    }
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        let tx = &mut self.tx;
        let stmt = prepared(self.statements, sql, |s| tx.prepare(s)).map_err(pg_error)?;
        rows(tx.query(stmt, &params(args)).map_err(pg_error)?)
    }
}

/// A [`Value`] as the parameter type PostgreSQL inferred for its place (an integer for a
/// BOOLEAN column is a boolean, a count for an INTEGER column an i32), so the statements keep
/// SQLite's loose typing.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_renumbered_outside_quotes_only() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"d?\" = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"d?\" = $12"
        );
    }
}
