//! Which browser origins may read rulesets across origins.
//!
//! CORS is for what browsers use: `/<env>/current.efr`, `/<env>/versions/*.efr`
//! and `/<env>/events` (GET), and the OFREP routes
//! `/<env>/ofrep/v1/evaluate/flags[/{key}]` (POST, with `Authorization` and
//! `Content-Type`, so browsers preflight them). Nothing else carries CORS
//! headers, whatever the policy:
//! `/metrics`, `/healthz`, manifests and audit records (who published what, when)
//! are for operators and tools, not for scripts on other sites.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use edgeflag_publish::layout::Kind;

/// The CORS policy of the ruleset routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cors {
    /// `Access-Control-Allow-Origin: *`: any site may read the rulesets (the
    /// default: rulesets are what every browser of the service downloads anyway).
    #[default]
    Any,
    /// Only these origins (`scheme://host[:port]`): the request's `Origin` is
    /// echoed when it is one of them, and every answer carries `Vary: Origin`.
    Origins(Vec<String>),
    /// No CORS headers at all; cross-origin reads are left to the browser's
    /// same-origin policy.
    Disabled,
}

/// A `--cors-origin` value that is not an origin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// Not `*`, `none` or `scheme://host[:port]`.
    #[error("not a CORS origin: {0:?} (expected `*`, `none` or scheme://host[:port], no path)")]
    Invalid(String),
    /// `*` or `none` given together with other values.
    #[error("`{0}` cannot be combined with other CORS origins")]
    Exclusive(String),
}

impl Cors {
    /// The policy for a list of values as `edgeflag serve --cors-origin` takes
    /// them: none given → [`Cors::Any`]; `*` → [`Cors::Any`]; `none` or one empty
    /// value → [`Cors::Disabled`]; otherwise the origins, each
    /// `scheme://host[:port]`.
    pub fn from_values<S: AsRef<str>>(values: &[S]) -> Result<Cors, CorsError> {
        let values: Vec<&str> = values.iter().map(|v| v.as_ref().trim()).collect();
        for special in ["*", "none", ""] {
            if values.contains(&special) {
                return if values.len() == 1 {
                    Ok(if special == "*" {
                        Cors::Any
                    } else {
                        Cors::Disabled
                    })
                } else {
                    Err(CorsError::Exclusive(special.to_string()))
                };
            }
        }
        if values.is_empty() {
            return Ok(Cors::Any);
        }
        let mut origins = Vec::with_capacity(values.len());
        for v in values {
            if !is_origin(v) {
                return Err(CorsError::Invalid(v.to_string()));
            }
            origins.push(v.to_string());
        }
        Ok(Cors::Origins(origins))
    }

    /// The `Access-Control-Allow-Origin` value for a request with these headers,
    /// if any.
    fn allow_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        match self {
            Cors::Any => Some(HeaderValue::from_static("*")),
            Cors::Disabled => None,
            Cors::Origins(list) => {
                let origin = headers.get(header::ORIGIN)?;
                let text = origin.to_str().ok()?;
                list.iter()
                    .any(|o| o.eq_ignore_ascii_case(text))
                    .then(|| origin.clone())
            }
        }
    }
}

/// `scheme://host[:port]` with nothing after the authority.
fn is_origin(v: &str) -> bool {
    let Some((scheme, authority)) = v.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
}

/// The routes browsers use across origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BrowserRoute {
    /// `/<env>/current.efr`, `/<env>/versions/<n>.efr`, `/<env>/events`: GET.
    Ruleset,
    /// `/<env>/ofrep/v1/evaluate/flags[/<key>]`: POST.
    Ofrep,
}

/// Which browser route `path` is, if any.
pub(crate) fn browser_route(path: &str) -> Option<BrowserRoute> {
    let key = path.trim_start_matches('/');
    let (env, rest) = key.split_once('/')?;
    if !edgeflag_compiler::is_valid_environment(env) {
        return None;
    }
    if rest == "events" || matches!(Kind::of(key), Some(Kind::Current | Kind::Version)) {
        return Some(BrowserRoute::Ruleset);
    }
    let flags = rest.strip_prefix("ofrep/v1/evaluate/flags")?;
    let single = flags
        .strip_prefix('/')
        .is_some_and(|k| !k.is_empty() && !k.contains('/'));
    (flags.is_empty() || single).then_some(BrowserRoute::Ofrep)
}

/// The middleware: CORS headers on the browser routes only, preflights there.
pub(crate) async fn layer(cors: &Cors, req: Request<Body>, next: Next) -> Response {
    let route = match browser_route(req.uri().path()) {
        Some(route) if *cors != Cors::Disabled => route,
        _ => return next.run(req).await,
    };
    let allow = cors.allow_origin(req.headers());
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    if matches!(cors, Cors::Origins(_)) {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let Some(allow) = allow else {
        return resp;
    };
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Link, Retry-After"),
    );
    if preflight {
        let (methods, headers) = match route {
            BrowserRoute::Ruleset => (
                "GET, HEAD, OPTIONS",
                "If-None-Match, Cache-Control, Last-Event-ID",
            ),
            BrowserRoute::Ofrep => (
                "POST, OPTIONS",
                "Authorization, Content-Type, If-None-Match",
            ),
        };
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(headers),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let none: [&str; 0] = [];
        assert_eq!(Cors::from_values(&none).unwrap(), Cors::Any);
        assert_eq!(Cors::from_values(&["*"]).unwrap(), Cors::Any);
        assert_eq!(Cors::from_values(&["none"]).unwrap(), Cors::Disabled);
        assert_eq!(Cors::from_values(&[""]).unwrap(), Cors::Disabled);
        assert_eq!(
            Cors::from_values(&["https://app.example", "http://localhost:3000"]).unwrap(),
            Cors::Origins(vec![
                "https://app.example".into(),
                "http://localhost:3000".into()
            ])
        );
        for bad in ["app.example", "https://app.example/", "https://a b", "://x"] {
            assert!(Cors::from_values(&[bad]).is_err(), "{bad}");
        }
        assert!(Cors::from_values(&["*", "https://a.example"]).is_err());
    }

    #[test]
    fn browser_paths() {
        for p in [
            "/production/current.efr",
            "/production/events",
            "/production/versions/00000000000000000001.efr",
        ] {
            assert_eq!(browser_route(p), Some(BrowserRoute::Ruleset), "{p}");
        }
        for p in [
            "/production/ofrep/v1/evaluate/flags",
            "/production.client/ofrep/v1/evaluate/flags/new-checkout",
        ] {
            assert_eq!(browser_route(p), Some(BrowserRoute::Ofrep), "{p}");
        }
        for p in [
            "/metrics",
            "/healthz",
            "/production/manifest.json",
            "/production/audit/00000000000000000001.json",
            "/../current.efr",
            "/production/ofrep/v1/evaluate/flagsx",
            "/production/ofrep/v1/evaluate/flags/",
            "/production/ofrep/v1/evaluate/flags/a/b",
            "/production/ofrep/v1/configuration",
        ] {
            assert_eq!(browser_route(p), None, "{p}");
        }
    }
}
