//! The SQLite schema of a college's hub (`hub.sqlite`), one step per `user_version`. The
//! PostgreSQL schema of a province's hub is `pg.rs`'s, the same tables in that dialect.

pub const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE kiosks (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        token_sha256 TEXT NOT NULL UNIQUE,   -- the token itself is shown once and never stored
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER
    );
    CREATE TABLE reviewers (
        user          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,         -- argon2id, PHC string
        is_admin      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        user         TEXT NOT NULL REFERENCES reviewers(user),
        expires_at   INTEGER NOT NULL
    );
    CREATE TABLE records (
        id                    TEXT PRIMARY KEY,   -- the kiosk's idempotency key
        kiosk_id              TEXT NOT NULL REFERENCES kiosks(id),
        profile               TEXT NOT NULL,
        batch_id              TEXT NOT NULL,
        candidate_key         TEXT NOT NULL,
        spec                  TEXT NOT NULL,
        captured_at           INTEGER NOT NULL,
        verification_distance REAL,
        manual_review         INTEGER NOT NULL,
        fingerprint           TEXT NOT NULL,      -- sha256 of metadata, photo and report
        photo_file            TEXT NOT NULL,
        photo_bytes           INTEGER NOT NULL,
        phash                 BLOB NOT NULL,
        report                TEXT NOT NULL,
        received_at           INTEGER NOT NULL,
        state                 TEXT NOT NULL,
        reasons               TEXT NOT NULL DEFAULT '[]',
        note                  TEXT NOT NULL DEFAULT '',
        reviewed_by           TEXT,
        reviewed_at           INTEGER,
        duplicates            TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX records_by_state ON records(state, received_at);
    CREATE INDEX records_by_candidate ON records(profile, candidate_key);
    CREATE TABLE roster (
        batch_id      TEXT NOT NULL,
        candidate_key TEXT NOT NULL,
        name          TEXT NOT NULL,
        id_number     TEXT NOT NULL,
        ethnicity     TEXT NOT NULL DEFAULT '',
        address       TEXT NOT NULL DEFAULT '',
        phone         TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (batch_id, candidate_key)
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        record_id TEXT,
        detail    TEXT NOT NULL DEFAULT ''
    );
"#,
    // 2: password digests for profiles that identify by number and password
    "ALTER TABLE roster ADD COLUMN secret TEXT NOT NULL DEFAULT '';",
    // 3: how many document photographs came with a record (R-MANUAL)
    "ALTER TABLE records ADD COLUMN documents INTEGER NOT NULL DEFAULT 0;",
    // 4: the batches each kiosk may read the roster of, and when a record's personal data was
    // purged under the retention policy (the row stays for idempotency and status)
    r#"
    CREATE TABLE kiosk_batches (
        kiosk_id TEXT NOT NULL REFERENCES kiosks(id),
        batch_id TEXT NOT NULL,
        PRIMARY KEY (kiosk_id, batch_id)
    );
    ALTER TABLE records ADD COLUMN purged_at INTEGER;
    "#,
    // 5: the collection-day dashboard (`stats.rs`): a login's role (reviewer, or staff who see
    // the dashboard only), each kiosk's last contact and outbox figures, and the indexes that
    // keep the day's figures cheap on a large table
    r#"
    ALTER TABLE reviewers ADD COLUMN role TEXT NOT NULL DEFAULT 'reviewer';
    ALTER TABLE kiosks ADD COLUMN last_seen_at INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_pending INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_quarantined INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_oldest_at INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_reported_at INTEGER;
    CREATE INDEX records_by_capture_time ON records(captured_at, kiosk_id);
    CREATE INDEX records_by_decision_time ON records(state, reviewed_at, kiosk_id);
    "#,
    // 6: failed logins counted where every replica sees them (`db/login_attempts.rs`), by a
    // salted digest of the user name or the address, never the name itself; the salt is
    // made once per database and shared by its replicas
    r#"
    CREATE TABLE login_attempts (
        digest   TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at  INTEGER NOT NULL
    );
    CREATE INDEX login_attempts_by_age ON login_attempts(last_at);
    CREATE TABLE hub_secrets (
        name   TEXT PRIMARY KEY,
        secret TEXT NOT NULL
    );
    "#,
    // 7: a returning candidate's most recent records read from the index in order, not
    // every record with that number sorted first (the lookup shows 100 at most)
    r#"
    CREATE INDEX records_by_candidate_recent ON records(profile, candidate_key, received_at);
    DROP INDEX records_by_candidate;
    "#,
    // 8: the candidate's number kept out of the clear (`db/candidates.rs`): `candidate_key` holds
    // its keyed digest, which equal numbers share, and this its sealed copy to show
    r#"
    ALTER TABLE records ADD COLUMN candidate_sealed TEXT NOT NULL DEFAULT '';
    ALTER TABLE roster ADD COLUMN candidate_sealed TEXT NOT NULL DEFAULT '';
    "#,
];
