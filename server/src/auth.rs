//! Who is asking and what they may do.
//!
//! Every API request carries `Authorization: Bearer <token>` or a dashboard
//! session cookie ([`crate::users`]). A token or user has a role and may be
//! limited to some environments:
//!
//! | role | may |
//! |---|---|
//! | `viewer` | read everything but tokens |
//! | `editor` | also change flags and segments, in the environments it is limited to (if any) and not in protected ones |
//! | `admin` | everything: protected environments, environments, settings, tokens |
//!
//! A change is allowed by what it *does*: the server compiles it and checks
//! the actor against every environment whose ruleset changes. An editor
//! limited to `staging` may edit a flag's staging override, but not a field
//! every environment serves.
//!
//! Tokens are 32 random bytes (`efk_` + 64 hex digits), shown once when made
//! and stored as their SHA-256: a stolen database holds no usable token.

use crate::db::DbError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::Row;

/// A token's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads and changes flags and segments.
    Editor,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The caller of a request, once its token is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who, for the audit log: `token:<name>`.
    pub actor: String,
    /// The token's id.
    pub token_id: String,
    /// Its role.
    pub role: Role,
    /// The environments it may change; `None`: all.
    pub environments: Option<Vec<String>>,
}

/// Why a request is refused: 401 (no identity) or 403 (no right).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// No `Authorization: Bearer` header and no session cookie.
    #[error("not signed in: send `Authorization: Bearer <token>` or sign in")]
    NoToken,
    /// The session cookie is not known or has expired.
    #[error("the session has ended (signed out or expired): sign in again")]
    NoSession,
    /// A cookie-authenticated change without the session's CSRF token.
    #[error("missing or wrong X-CSRF-Token: a change made with a session cookie must echo the session's CSRF token")]
    Csrf,
    /// The token is not known (or was deleted).
    #[error("unknown or revoked token")]
    UnknownToken,
    /// The role is too low.
    #[error("{action} needs the {needed} role; this token is {has}")]
    Role {
        /// What was tried.
        action: String,
        /// The role it needs.
        needed: &'static str,
        /// The caller's role.
        has: &'static str,
    },
    /// The token is limited to other environments.
    #[error("this token may not change environment {env:?} (it is limited to {allowed})")]
    Environment {
        /// The environment.
        env: String,
        /// The token's environments.
        allowed: String,
    },
    /// Only admins change a protected environment.
    #[error("environment {env:?} is protected: only admins may change what it serves")]
    Protected {
        /// The environment.
        env: String,
    },
}

impl Denied {
    /// 401 for a missing or unknown identity, 403 for a missing right.
    pub fn status(&self) -> u16 {
        match self {
            Denied::NoToken | Denied::UnknownToken | Denied::NoSession => 401,
            _ => 403,
        }
    }
}

impl Identity {
    /// Refuses unless the role is at least `needed`.
    pub fn require(&self, needed: Role, action: &str) -> Result<(), Denied> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(Denied::Role {
                action: action.to_owned(),
                needed: needed.as_str(),
                has: self.role.as_str(),
            })
        }
    }

    /// Refuses unless the caller may change what `env` serves.
    pub fn may_change(&self, env: &str, protected: bool) -> Result<(), Denied> {
        self.require(Role::Editor, "changing flags")?;
        if let Some(allowed) = &self.environments {
            if !allowed.iter().any(|e| e == env) {
                return Err(Denied::Environment {
                    env: env.to_owned(),
                    allowed: allowed.join(", "),
                });
            }
        }
        if protected && self.role < Role::Admin {
            return Err(Denied::Protected {
                env: env.to_owned(),
            });
        }
        Ok(())
    }
}

/// A stored role and environment list (`a,b`; NULL: all), as read back.
pub(crate) fn stored_rights(
    role: &str,
    environments: Option<String>,
) -> (Role, Option<Vec<String>>) {
    (
        Role::parse(role).unwrap_or(Role::Viewer),
        environments.map(|e| e.split(',').map(str::to_owned).collect()),
    )
}

/// The stored form of a secret: hex SHA-256.
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A new random secret, `prefix` + 64 hex digits.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something a server can go on from.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex(&bytes))
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Its id (for deleting it).
    pub id: String,
    /// Its name.
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

/// Looks up the bearer secret's token.
pub async fn identify(conn: &mut AnyConnection, secret: &str) -> Result<Option<Identity>, DbError> {
    let row = sqlx::query("SELECT id, name, role, environments FROM tokens WHERE hash = $1")
        .bind(hash(secret))
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (role, environments) = stored_rights(&row.try_get::<String, _>(2)?, row.try_get(3)?);
    Ok(Some(Identity {
        actor: format!("token:{}", row.try_get::<String, _>(1)?),
        token_id: row.try_get(0)?,
        role,
        environments,
    }))
}

/// Stores a token for `secret`; its id.
pub async fn insert(
    conn: &mut AnyConnection,
    secret: &str,
    name: &str,
    role: Role,
    environments: Option<&[String]>,
    created_by: &str,
) -> Result<TokenInfo, DbError> {
    let id = new_secret("")[..16].to_owned();
    let at = edgeflag_publish::now_ms();
    sqlx::query(
        "INSERT INTO tokens (id, name, hash, role, environments, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(name)
    .bind(hash(secret))
    .bind(role.as_str())
    .bind(environments.map(|e| e.join(",")))
    .bind(at)
    .bind(created_by)
    .execute(&mut *conn)
    .await?;
    Ok(TokenInfo {
        id,
        name: name.to_owned(),
        role,
        environments: environments.map(<[String]>::to_vec),
        created_at: at,
        created_by: created_by.to_owned(),
    })
}

/// Every token, oldest first.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<TokenInfo>, DbError> {
    let rows = sqlx::query(
        "SELECT id, name, role, environments, created_at, created_by FROM tokens \
         ORDER BY created_at, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let (role, environments) =
                stored_rights(&row.try_get::<String, _>(2)?, row.try_get(3)?);
            Ok(TokenInfo {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role,
                environments,
                created_at: row.try_get(4)?,
                created_by: row.try_get(5)?,
            })
        })
        .collect()
}

/// Deletes a token; whether it existed.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// How many tokens exist.
pub async fn count(conn: &mut AnyConnection) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM tokens")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, envs: Option<&[&str]>) -> Identity {
        Identity {
            actor: "token:t".into(),
            token_id: "t".into(),
            role,
            environments: envs.map(|e| e.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn roles_order_and_environment_limits() {
        assert!(who(Role::Viewer, None)
            .may_change("staging", false)
            .is_err());
        assert!(who(Role::Editor, None).may_change("staging", false).is_ok());
        assert_eq!(
            who(Role::Editor, None).may_change("production", true),
            Err(Denied::Protected {
                env: "production".into()
            })
        );
        assert!(who(Role::Admin, None)
            .may_change("production", true)
            .is_ok());
        let limited = who(Role::Editor, Some(&["staging"]));
        assert!(limited.may_change("staging", false).is_ok());
        assert_eq!(
            limited
                .may_change("production", false)
                .unwrap_err()
                .status(),
            403
        );
        assert!(who(Role::Editor, None).require(Role::Admin, "x").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret("efk_"), new_secret("efk_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
