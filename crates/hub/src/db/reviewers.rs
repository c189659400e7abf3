//! Logins (reviewers and staff): argon2 password hashes, checks done off the database lock,
//! login sessions.

use super::sql::args;
use super::{digest_hex, new_secret, HubDb, Reviewer};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use capture_store::{now_ms, StoreError};

/// Checks `password` against a stored argon2 hash; with no stored hash (an unknown user) it
/// checks against a decoy made with the same parameters, so both answers take the same time
/// and the timing does not tell which reviewer names exist. CPU-heavy: call it on a blocking
/// thread, never under the database lock.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    static DECOY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).ok()?;
        let salt = SaltString::encode_b64(&salt).ok()?;
        let mut password = [0u8; 24];
        getrandom::fill(&mut password).ok()?;
        Argon2::default()
            .hash_password(&password, &salt)
            .ok()
            .map(|h| h.to_string())
    });
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => match decoy {
            Some(d) => (d.as_str(), false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// What a login may open. Reviewers see candidates' photos and names; the college's staff
/// running the collection day see only the dashboard's counts, so their accounts are kept
/// apart from reviewers' rather than being reviewers who are asked not to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The review page and its API, and the dashboard (nothing there they cannot see already).
    Reviewer,
    /// The dashboard and `/api/v1/stats` only.
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Staff => "staff",
        }
    }

    /// A stored role; anything unknown is read as the lesser one, staff, so a row a newer hub
    /// wrote cannot open photos to an account it did not mean to.
    pub fn parse(s: &str) -> Role {
        match s {
            "reviewer" => Role::Reviewer,
            _ => Role::Staff,
        }
    }
}

/// The longest login name, in characters: a name is a word or two, and a stranger's megabyte
/// "name" must not reach the log or the events table.
pub const MAX_LOGIN_NAME_CHARS: usize = 64;

impl HubDb {
    pub fn add_reviewer(
        &self,
        user: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<(), StoreError> {
        self.add_account(user, password, Role::Reviewer, is_admin)
    }

    /// Adds a staff account (the dashboard only) or resets its password; an existing
    /// reviewer of that name becomes staff, and every session of theirs ends.
    pub fn add_staff(&self, user: &str, password: &str) -> Result<(), StoreError> {
        self.add_account(user, password, Role::Staff, false)
    }

    /// Adds a login or resets it (password, role, administrator), ending its sessions. Staff
    /// are never administrators.
    pub fn add_account(
        &self,
        user: &str,
        password: &str,
        role: Role,
        is_admin: bool,
    ) -> Result<(), StoreError> {
        let is_admin = is_admin && role == Role::Reviewer;
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Crypto(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Crypto(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StoreError::Crypto(e.to_string()))?
            .to_string();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO reviewers (\"user\", password_hash, is_admin, created_at, role) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(\"user\") DO UPDATE SET password_hash = excluded.password_hash, is_admin = excluded.is_admin,
                                                role = excluded.role",
                args![user, &hash, is_admin, now_ms(), role.as_str()],
            )?;
            // a reset password (lost, shared, or a reviewer leaving) ends every session opened
            // with the old one, in the same commit
            tx.execute(
                "DELETE FROM web_sessions WHERE \"user\" = ?1",
                args![user],
            )?;
            Ok(())
        })?;
        let action = match role {
            Role::Reviewer => "set_reviewer",
            Role::Staff => "set_staff",
        };
        self.event("admin", action, None, user)?;
        Ok(())
    }

    /// A reviewer's stored password hash (PHC string), if the user exists. Checking it is
    /// [`verify_password`]'s job, off the database lock.
    pub fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.sql()?
            .query_opt(
                "SELECT password_hash FROM reviewers WHERE \"user\" = ?1",
                args![user],
            )?
            .map(|r| r.get(0))
            .transpose()
    }

    /// Records a wrong password at an account (the audit trail; the attempt limits are in
    /// `login_attempts`).
    pub fn login_failed(&self, user: &str) -> Result<(), StoreError> {
        self.event(user, "login_failed", None, "")
    }

    /// Opens a login session for `user`, whose password was checked against `checked_hash`
    /// (off the lock), and returns its secret; None if the password was reset or the reviewer
    /// removed in between, so a session is never made with a password that no longer holds.
    pub fn open_session(
        &self,
        user: &str,
        checked_hash: &str,
        lifetime_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        if self.password_hash(user)?.as_deref() != Some(checked_hash) {
            return Ok(None);
        }
        let secret = new_secret("")?;
        let now = now_ms();
        self.sql()?
            .execute("DELETE FROM web_sessions WHERE expires_at < ?1", args![now])?;
        self.sql()?.execute(
            "INSERT INTO web_sessions (token_sha256, \"user\", expires_at) VALUES (?1, ?2, ?3)",
            args![digest_hex(secret.as_bytes()), user, now + lifetime_ms],
        )?;
        self.event(user, "login", None, "")?;
        Ok(Some(secret))
    }

    pub fn logout(&self, secret: &str) -> Result<(), StoreError> {
        self.sql()?.execute(
            "DELETE FROM web_sessions WHERE token_sha256 = ?1",
            args![digest_hex(secret.as_bytes())],
        )?;
        Ok(())
    }

    pub fn reviewer_by_session(&self, secret: &str) -> Result<Option<Reviewer>, StoreError> {
        self.sql()?
            .query_opt(
                "SELECT r.\"user\", r.is_admin, r.role FROM web_sessions s JOIN reviewers r ON r.\"user\" = s.\"user\"
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
                args![digest_hex(secret.as_bytes()), now_ms()],
            )?
            .map(|r| {
                let role: String = r.get(2)?;
                let role = Role::parse(&role);
                Ok(Reviewer {
                    user: r.get(0)?,
                    // an administrator's powers go with the reviewer's role only
                    is_admin: r.get::<bool>(1)? && role == Role::Reviewer,
                    role,
                })
            })
            .transpose()
    }
}
