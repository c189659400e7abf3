//! The database's versioned migrations. Each entry moves the schema one version forward; a
//! database is never downgraded, and a newer one than this build knows is refused.

pub const MIGRATIONS: &[&str] = &[
    // 1: everything a kiosk keeps
    r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE roster (
        batch_id      TEXT NOT NULL,
        candidate_key TEXT NOT NULL,          -- exam/registration/ticket number or ID number
        name          TEXT NOT NULL,
        id_number     TEXT NOT NULL,
        ethnicity     TEXT NOT NULL DEFAULT '',
        address       TEXT NOT NULL DEFAULT '',
        phone         TEXT NOT NULL DEFAULT '',
        photo         BLOB,                   -- registration photo, the fallback reference face
        PRIMARY KEY (batch_id, candidate_key)
    );
    CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,       -- UUIDv7
        profile       TEXT NOT NULL,
        batch_id      TEXT NOT NULL DEFAULT '',
        candidate_key TEXT,
        started_at    INTEGER NOT NULL,       -- unix ms
        ended_at      INTEGER,
        end_reason    TEXT
    );
    CREATE TABLE captures (
        id            TEXT PRIMARY KEY,       -- UUIDv7, also the upload's idempotency key
        session_id    TEXT NOT NULL REFERENCES sessions(id),
        profile       TEXT NOT NULL,
        candidate_key TEXT NOT NULL,
        spec          TEXT NOT NULL,
        photo         BLOB,                   -- NULL once deleted after upload and retention
        check_report  TEXT NOT NULL,          -- JSON
        created_at    INTEGER NOT NULL,
        purged_at     INTEGER
    );
    CREATE TABLE verification_attempts (
        id            INTEGER PRIMARY KEY,
        profile       TEXT NOT NULL,
        candidate_key TEXT NOT NULL,
        at            INTEGER NOT NULL,
        score         REAL,
        passed        INTEGER NOT NULL
    );
    CREATE INDEX attempts_by_candidate ON verification_attempts(profile, candidate_key);
    CREATE TABLE outbox (
        capture_id      TEXT PRIMARY KEY REFERENCES captures(id),
        state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'quarantined')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        sent_at         INTEGER
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        staff  TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    "#,
    // 2: what the uploader sends beside the photo, and the review result flowing back
    r#"
    ALTER TABLE captures ADD COLUMN verification_distance REAL;
    ALTER TABLE captures ADD COLUMN manual_review INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE captures ADD COLUMN review_state TEXT;          -- the hub's, NULL until known
    ALTER TABLE captures ADD COLUMN review_reasons TEXT NOT NULL DEFAULT '[]';   -- JSON codes
    ALTER TABLE captures ADD COLUMN review_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE captures ADD COLUMN review_checked_at INTEGER;
    CREATE INDEX captures_by_candidate ON captures(profile, candidate_key);
    "#,
    // 3: password digests for profiles that identify by number and password
    r#"
    ALTER TABLE roster ADD COLUMN secret TEXT NOT NULL DEFAULT '';
    "#,
    // 4: the manual path's photographs of the ID document (R-MANUAL)
    r#"
    CREATE TABLE capture_documents (
        capture_id TEXT NOT NULL REFERENCES captures(id),
        n          INTEGER NOT NULL,          -- 0 front, 1 back, 2 the candidate holding it
        jpeg       BLOB,                      -- NULL once deleted after upload and retention
        PRIMARY KEY (capture_id, n)
    );
    "#,
    // 5: staff screens list the newest captures and count a collection's (the photo BLOBs sit
    // in the rows, so a scan of the table is slow)
    r#"
    CREATE INDEX captures_by_time ON captures(created_at);
    "#,
    // 6: the pseudonyms an earlier version kept of purged records were unkeyed digests of the
    // candidate number, reversible by trying every number; they are dropped (the record and
    // its status stay; the hub still answers a returning candidate's lookup)
    r#"
    UPDATE captures SET candidate_key = 'purged' WHERE candidate_key LIKE 'purged:%';
    "#,
];
