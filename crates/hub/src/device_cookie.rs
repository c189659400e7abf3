//! Device cookies (OWASP's answer to lockouts by strangers): a browser that has logged in as
//! a user carries a cookie saying so, and its attempts at that user's password count against
//! the browser alone. A stranger who knows a reviewer's name can throttle that name everywhere
//! else for up to `MAX_DELAY`, but no longer keep the reviewer out of their own browser.
//!
//! The cookie is a random device id, the time it was made, a tag of the account's password
//! hash (its generation) and an HMAC-SHA-256 of these and of the user name exactly as the
//! account is spelled, keyed by a secret the replicas share (`HubDb::device_cookie_key`), so
//! every replica accepts it and nobody else can make one. The server refuses it past
//! [`MAX_AGE`] whatever the browser keeps, and once the password is reset (a reviewer leaving,
//! a password suspected): only the MAC is checked before the database is asked for the hash,
//! so a forged cookie costs no read. It names no one, and its cookie name is a tag of the user name, so that the browsers of an office PC
//! shared by several reviewers keep one per reviewer. It is not a session and opens nothing:
//! it only decides which count an attempt joins.

use crate::db::new_secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// What every device cookie's name starts with; its path is `/login`, the only place it is
/// read.
pub const NAME_PREFIX: &str = "hub_device_";
/// How long a browser stays known after its last login.
pub const MAX_AGE: Duration = Duration::from_secs(180 * 24 * 3600);
/// How far ahead of this replica's clock another's may have made a cookie.
const CLOCK_SKEW: Duration = Duration::from_secs(24 * 3600);
/// Hex digits of a device id (32 random bytes, `new_secret`).
const ID_HEX: usize = 64;
/// Hex digits of the MAC (SHA-256).
const MAC_HEX: usize = 64;
/// Hex digits of a password generation's tag.
const GENERATION_HEX: usize = 16;

/// A cookie whose MAC holds for the user: its device id and the password generation it was
/// made under, still to be compared with the account's ([`DeviceCookies::same_generation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceClaim {
    pub id: String,
    generation: String,
}

/// Makes and checks device cookies with the replicas' shared key.
pub struct DeviceCookies {
    /// Keyed once: HMAC takes a key of any length, so cloning this never fails.
    keyed: Hmac<Sha256>,
}

impl DeviceCookies {
    /// None only for a key HMAC refuses, which it never does (any length is a key).
    pub fn new(secret: &str) -> Option<Self> {
        let keyed = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        Some(DeviceCookies { keyed })
    }

    /// The MAC of `fields` (fixed-length hex, a decimal time, then the name: each field after
    /// a kind and a NUL), not yet finished.
    fn mac(&self, kind: &str, fields: &[&str]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(kind.as_bytes());
        for field in fields {
            mac.update(b"\0");
            mac.update(field.as_bytes());
        }
        mac
    }

    fn hex_of(&self, kind: &str, fields: &[&str], digits: usize) -> String {
        let bytes = self.mac(kind, fields).finalize().into_bytes();
        bytes
            .iter()
            .take(digits / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The cookie's name for `user`: a short tag of the name, the same at every login.
    pub fn name(&self, user: &str) -> String {
        format!("{NAME_PREFIX}{}", self.hex_of("name", &[user], 12))
    }

    /// The tag of a password hash: a new password, a new generation.
    fn generation(&self, password_hash: &str) -> String {
        self.hex_of("generation", &[password_hash], GENERATION_HEX)
    }

    /// Whether `claim` was made under the password `password_hash` is now.
    pub fn same_generation(&self, claim: &DeviceClaim, password_hash: &str) -> bool {
        claim.generation == self.generation(password_hash)
    }

    /// A fresh cookie value for a browser that has just logged in as `user`, whose password
    /// is `password_hash`, at `now_s` (Unix seconds); None only when the OS gives no random
    /// bytes (the login stands, the browser is not remembered).
    pub fn issue(&self, user: &str, password_hash: &str, now_s: u64) -> Option<String> {
        let id = new_secret("").ok()?;
        let (issued, generation) = (now_s.to_string(), self.generation(password_hash));
        let mac = self.hex_of("device", &[&id, &issued, &generation, user], MAC_HEX);
        Some(format!("{id}.{issued}.{generation}.{mac}"))
    }

    /// The claim of the first of `values` made for `user` (spelled exactly so) and not older
    /// than [`MAX_AGE`] at `now_s`, if any: a cookie made for another name, by another hub, too
    /// long ago or altered, is no device at all. Its password generation is for the caller to
    /// compare with the account's.
    pub fn claim<'a>(
        &self,
        mut values: impl Iterator<Item = &'a str>,
        user: &str,
        now_s: u64,
    ) -> Option<DeviceClaim> {
        values.find_map(|value| {
            let mut parts = value.split('.');
            let (id, issued, generation, mac) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let hex_of_length = |text: &str, n: usize| text.len() == n && is_hex(text);
            if parts.next().is_some()
                || !hex_of_length(id, ID_HEX)
                || !hex_of_length(generation, GENERATION_HEX)
            {
                return None;
            }
            let issued_s: u64 = issued.parse().ok()?;
            // made at most a day ahead of this replica's clock (another's may run ahead),
            // and not longer ago than MAX_AGE; a clock that failed (0) knows no cookie
            if issued_s.to_string() != issued
                || issued_s > now_s.saturating_add(CLOCK_SKEW.as_secs())
                || now_s.saturating_sub(issued_s) > MAX_AGE.as_secs()
            {
                return None;
            }
            let mac = decode_hex(mac)?;
            // compared in constant time by the MAC itself
            self.mac("device", &[id, issued, generation, user])
                .verify_slice(&mac)
                .ok()?;
            Some(DeviceClaim {
                id: id.to_owned(),
                generation: generation.to_owned(),
            })
        })
    }

    /// The `Set-Cookie` value for `user`'s cookie `value`.
    pub fn set_cookie(&self, user: &str, value: &str, secure: bool) -> String {
        format!(
            "{}={value}; HttpOnly; SameSite=Strict; Path=/login; Max-Age={}{}",
            self.name(user),
            MAX_AGE.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != MAC_HEX || !is_hex(text) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$salt$hash";

    fn cookies(secret: &str) -> DeviceCookies {
        DeviceCookies::new(secret).unwrap_or_else(|| panic!("HMAC takes any key"))
    }

    fn device(c: &DeviceCookies, value: &str, user: &str, now: u64) -> Option<String> {
        c.claim([value].into_iter(), user, now)
            .filter(|claim| c.same_generation(claim, HASH))
            .map(|claim| claim.id)
    }

    #[test]
    fn a_cookie_is_the_user_s_as_spelled_on_this_hub_only_unaltered_and_not_too_old() {
        let c = cookies("secret");
        let Some(value) = c.issue("ana", HASH, NOW) else {
            panic!("no random bytes");
        };
        assert_eq!(
            device(&c, &value, "ana", NOW).as_deref(),
            value.split('.').next()
        );
        // another spelling is another account (names are looked up exactly)
        for other in ["Ana", "ANA", "bo", "ana "] {
            assert_eq!(device(&c, &value, other, NOW), None, "{other}");
        }
        assert_eq!(device(&cookies("another secret"), &value, "ana", NOW), None);
        // known until MAX_AGE after it was made, whatever the browser keeps
        let max_age = MAX_AGE.as_secs();
        assert!(device(&c, &value, "ana", NOW + max_age).is_some());
        assert_eq!(device(&c, &value, "ana", NOW + max_age + 1), None);
        // nor made more than a day ahead of this clock (or read by a clock that failed)
        let day = CLOCK_SKEW.as_secs();
        assert!(device(&c, &value, "ana", NOW - day).is_some());
        assert_eq!(device(&c, &value, "ana", NOW - day - 1), None);
        assert_eq!(device(&c, &value, "ana", 0), None);
        // a new password is a new generation: the cookie's MAC holds, its generation does not
        let claim = c.claim([value.as_str()].into_iter(), "ana", NOW);
        assert!(claim.is_some_and(|claim| !c.same_generation(&claim, "$argon2id$new")));
        // one digit of the id, the time, the generation or the MAC changed: no device
        let generation_at = ID_HEX + 1 + NOW.to_string().len() + 1;
        for at in [0, ID_HEX + 2, generation_at, value.len() - 1] {
            let mut altered = value.clone().into_bytes();
            altered[at] = if altered[at] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(altered).unwrap_or_default();
            assert_eq!(device(&c, &altered, "ana", NOW), None, "at {at}");
        }
        for junk in [
            "",
            ".",
            "...",
            "x.y.z.w",
            "ä",
            &"0".repeat(200),
            &format!("{value}."),
        ] {
            assert_eq!(device(&c, junk, "ana", NOW), None, "{junk}");
        }
        // a browser's cookies for two users: the one made for this user counts
        let bo = c.issue("bo", HASH, NOW).unwrap_or_default();
        assert!(c
            .claim([bo.as_str(), value.as_str()].into_iter(), "ana", NOW)
            .is_some());
        assert_ne!(
            c.issue("ana", HASH, NOW),
            c.issue("ana", HASH, NOW),
            "a fresh id"
        );
    }

    #[test]
    fn each_user_s_cookie_has_a_name_of_its_own_that_names_no_one() {
        let c = cookies("secret");
        let (ana, bo) = (c.name("ana"), c.name("bo"));
        assert_ne!(ana, bo);
        assert_eq!(ana, c.name("ana"));
        assert!(ana.starts_with(NAME_PREFIX) && ana.len() == NAME_PREFIX.len() + 12);
        assert_ne!(cookies("another secret").name("ana"), ana);
        let set = c.set_cookie("ana", "v", true);
        assert!(set.starts_with(&format!("{ana}=v;")), "{set}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/login", "Secure"] {
            assert!(set.contains(attribute), "{set}");
        }
    }
}
