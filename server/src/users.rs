//! Dashboard users: passwords, sessions and the sign-in rate limit.
//!
//! A user signs in with a name and a password and gets a session: a cookie
//! ([`SESSION_COOKIE`]: `HttpOnly`, `SameSite=Strict`, `Secure` behind TLS)
//! holding 256 random bits, of which the database keeps only the SHA-256, and
//! a CSRF token that every state-changing request made with the cookie must
//! echo in [`CSRF_HEADER`]. Roles and environment limits are a token's
//! ([`crate::auth`]); the audit log names a user `user:<name>`.
//!
//! Passwords are stored as Argon2id PHC strings (salted, the crate's default
//! cost: 19 MiB, 2 passes). Sign-ins are rate limited ([`SignInLimit`]).
//!
//! ```
//! let phc = edgeflag_server::users::hash_password("correct horse battery");
//! assert!(edgeflag_server::users::verify_password("correct horse battery", &phc));
//! assert!(!edgeflag_server::users::verify_password("wrong", &phc));
//! ```

use crate::auth::{self, Identity, Role};
use crate::db::DbError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "edgeflag_session";

/// The header a cookie-authenticated state-changing request carries its CSRF
/// token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts (12 hours).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// The longest password accepted (hashing cost stays bounded).
pub const MAX_PASSWORD: usize = 1024;

/// The Argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    // The OS random source failing is not something a server can go on from.
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes are a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 with default parameters hashes any password")
        .to_string()
}

/// Whether `password` is the one `phc` was made from.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Why a user name or password is refused.
pub fn check_new(name: &str, password: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
    {
        return Err("a user name has 1 to 100 letters, digits or `. _ - @ +`".into());
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(format!(
            "a password has at least {MIN_PASSWORD} characters and at most {MAX_PASSWORD} bytes"
        ));
    }
    Ok(())
}

/// A user as listed (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// Its id (for deleting it).
    pub id: String,
    /// The name it signs in with.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The environments it may change; absent: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// Who made it.
    pub created_by: String,
}

impl UserInfo {
    /// What the user may do, as an [`Identity`].
    pub fn identity(&self) -> Identity {
        Identity {
            actor: format!("user:{}", self.name),
            token_id: format!("user:{}", self.id),
            role: self.role,
            environments: self.environments.clone(),
        }
    }
}

const USER_COLUMNS: &str = "id, name, role, environments, created_at, created_by";

fn user_of(row: &sqlx::any::AnyRow) -> Result<UserInfo, DbError> {
    let (role, environments) = auth::stored_rights(&row.try_get::<String, _>(2)?, row.try_get(3)?);
    Ok(UserInfo {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        role,
        environments,
        created_at: row.try_get(4)?,
        created_by: row.try_get(5)?,
    })
}

/// Stores a user with the password hash `phc`; `None` when the name is taken.
pub async fn insert(
    conn: &mut AnyConnection,
    name: &str,
    phc: &str,
    role: Role,
    environments: Option<&[String]>,
    created_by: &str,
) -> Result<Option<UserInfo>, DbError> {
    let id = auth::new_secret("")[..16].to_owned();
    let at = edgeflag_publish::now_ms();
    let done = sqlx::query(
        "INSERT INTO users (id, name, password, role, environments, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&id)
    .bind(name)
    .bind(phc)
    .bind(role.as_str())
    .bind(environments.map(|e| e.join(",")))
    .bind(at)
    .bind(created_by)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(Some(UserInfo {
        id,
        name: name.to_owned(),
        role,
        environments: environments.map(<[String]>::to_vec),
        created_at: at,
        created_by: created_by.to_owned(),
    }))
}

/// Every user, oldest first.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<UserInfo>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(user_of).collect()
}

/// How many users exist.
pub async fn count(conn: &mut AnyConnection) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

/// The user named `name` and its password hash.
pub async fn find(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<(UserInfo, String)>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password FROM users WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| Ok((user_of(&row)?, row.try_get(6)?)))
        .transpose()
}

/// Deletes a user and ends its sessions; whether it existed.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A session just opened: the cookie's secret and the CSRF token.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The cookie value (only its hash is stored).
    pub secret: String,
    /// The CSRF token.
    pub csrf: String,
}

/// Opens a session for `user_id`.
pub async fn open_session(conn: &mut AnyConnection, user_id: &str) -> Result<Opened, DbError> {
    let (secret, csrf) = (auth::new_secret("efs_"), auth::new_secret(""));
    let now = edgeflag_publish::now_ms();
    // Expired sessions go when anyone signs in.
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(auth::hash(&secret))
    .bind(user_id)
    .bind(&csrf)
    .bind(now)
    .bind(now + SESSION_TTL.as_millis() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(Opened { secret, csrf })
}

/// The user of a live session and the session's CSRF token.
pub async fn session(
    conn: &mut AnyConnection,
    secret: &str,
) -> Result<Option<(UserInfo, String)>, DbError> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.role, u.environments, u.created_at, u.created_by, s.csrf \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.hash = $1 AND s.expires_at > $2",
    )
    .bind(auth::hash(secret))
    .bind(edgeflag_publish::now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| Ok((user_of(&row)?, row.try_get(6)?)))
        .transpose()
}

/// Ends a session.
pub async fn close_session(conn: &mut AnyConnection, secret: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE hash = $1")
        .bind(auth::hash(secret))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether `headers` echo the session's CSRF token in [`CSRF_HEADER`].
pub fn echoes_csrf(headers: &axum::http::HeaderMap, csrf: &str) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == csrf)
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` value of a session (`secret`), or of its removal (`None`).
pub fn set_cookie(secret: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match secret {
        Some(s) => format!(
            "{SESSION_COOKIE}={s}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_TTL.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Failed sign-ins allowed per user name in [`SignInLimit::WINDOW`].
const PER_NAME: u32 = 5;
/// Failed sign-ins allowed in all in the window (against spraying many names).
const OVERALL: u32 = 100;
/// Names tracked at once; beyond it, the oldest windows are dropped.
const TRACKED: usize = 10_000;

/// The sign-in rate limit: after [`PER_NAME`] failures for one name, or
/// [`OVERALL`] failures in all, within a window, sign-ins are refused with a
/// time to retry until the window ends. A success clears the name's count.
/// Memory is bounded: at most [`TRACKED`] names are counted.
#[derive(Debug, Default)]
pub struct SignInLimit {
    state: Mutex<Limits>,
}

#[derive(Debug, Default)]
struct Limits {
    names: HashMap<String, (u32, Instant)>,
    overall: Option<(u32, Instant)>,
}

impl SignInLimit {
    /// The window failures are counted in.
    pub const WINDOW: Duration = Duration::from_secs(300);

    fn key(name: &str) -> String {
        name.chars().take(100).collect::<String>().to_lowercase()
    }

    /// `Err(seconds to wait)` when sign-ins for `name` are refused now.
    pub fn check(&self, name: &str) -> Result<(), u64> {
        let now = Instant::now();
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let wait = |(n, since): (u32, Instant), max: u32| {
            let left = Self::WINDOW.saturating_sub(now.duration_since(since));
            (n >= max && !left.is_zero()).then(|| left.as_secs().max(1))
        };
        if let Some(secs) = state.overall.and_then(|c| wait(c, OVERALL)) {
            return Err(secs);
        }
        match state
            .names
            .get(&Self::key(name))
            .and_then(|c| wait(*c, PER_NAME))
        {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in for `name`.
    pub fn failed(&self, name: &str) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let bump = |c: &mut (u32, Instant)| {
            if now.duration_since(c.1) >= Self::WINDOW {
                *c = (0, now);
            }
            c.0 += 1;
        };
        bump(state.overall.get_or_insert((0, now)));
        if state.names.len() >= TRACKED {
            state
                .names
                .retain(|_, c| now.duration_since(c.1) < Self::WINDOW);
            if state.names.len() >= TRACKED {
                state.names.clear();
            }
        }
        bump(state.names.entry(Self::key(name)).or_insert((0, now)));
    }

    /// Clears `name`'s count after a successful sign-in.
    pub fn succeeded(&self, name: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.names.remove(&Self::key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_parse_and_are_strict() {
        assert_eq!(
            cookie("a=1; edgeflag_session=efs_x ; b=2", SESSION_COOKIE),
            Some("efs_x")
        );
        assert_eq!(cookie("a=1", SESSION_COOKIE), None);
        let set = set_cookie(Some("efs_x"), false);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        assert!(set_cookie(Some("efs_x"), true).ends_with("; Secure"));
        assert!(set_cookie(None, false).contains("Max-Age=0"));
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_new("ana", "long enough pw").is_ok());
        assert!(check_new("", "long enough pw").is_err());
        assert!(check_new("a b", "long enough pw").is_err());
        assert!(check_new("ana", "short").is_err());
        assert!(check_new("ana", &"x".repeat(MAX_PASSWORD + 1)).is_err());
    }

    #[test]
    fn the_limit_refuses_after_five_failures_per_name_and_a_success_clears_it() {
        let limit = SignInLimit::default();
        for _ in 0..PER_NAME {
            assert!(limit.check("Ana").is_ok());
            limit.failed("ana");
        }
        let wait = limit.check("ANA").unwrap_err();
        assert!((1..=300).contains(&wait), "{wait}");
        assert!(limit.check("bob").is_ok(), "other names are not limited");
        limit.succeeded("ana");
        assert!(limit.check("ana").is_ok());
    }

    #[test]
    fn the_limit_refuses_everyone_after_many_failures_in_all() {
        let limit = SignInLimit::default();
        for i in 0..OVERALL {
            limit.failed(&format!("user{i}"));
        }
        assert!(limit.check("someone-else").is_err());
    }
}
