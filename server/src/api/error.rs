//! The API's error answers: one JSON shape, one status per cause.

use crate::auth::Denied;
use crate::change::ChangeError;
use crate::db::DbError;
use crate::project::Problem;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: `{"error": CODE, "message": "...", "problems": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: u16,
    /// A stable code: `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`,
    /// `PRECONDITION_FAILED`, `INVALID`, `BAD_REQUEST`, `TOO_MANY_REQUESTS`, `UNAVAILABLE`,
    /// `INTERNAL`.
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Every compile error of an invalid change (422), each located.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status` and `code`.
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            message: message.into(),
            problems: Vec::new(),
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BAD_REQUEST", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    /// Says when to retry (`Retry-After`, seconds).
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> ApiError {
        let code = if d.status() == 401 {
            "UNAUTHORIZED"
        } else {
            "FORBIDDEN"
        };
        ApiError::new(d.status(), code, d.to_string())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        tracing::error!("database: {e}");
        let mut err = ApiError::new(503, "UNAVAILABLE", format!("{e}; nothing was changed"));
        err.retry_after = Some(2);
        err
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        DbError::Sql(e).into()
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        let message = e.to_string();
        match e {
            ChangeError::NotFound(..) => ApiError::not_found(message),
            ChangeError::Exists(..) => ApiError::new(409, "CONFLICT", message),
            ChangeError::Conflict { .. } => ApiError::new(412, "PRECONDITION_FAILED", message),
            ChangeError::Invalid(problems) => {
                let mut err = ApiError::new(422, "INVALID", message);
                err.message = problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n");
                err.problems = problems;
                err
            }
            ChangeError::Refused(_) => ApiError::new(422, "INVALID", message),
            ChangeError::Denied(d) => d.into(),
            ChangeError::Db(e) => e.into(),
            ChangeError::NotPublished { .. } => {
                tracing::error!("{message}");
                let mut err = ApiError::new(503, "UNAVAILABLE", message);
                err.retry_after = Some(5);
                err
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let mut resp = (status, axum::Json(self)).into_response();
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
