//! The web dashboard, embedded in the binary.
//!
//! `dashboard/` is a TypeScript app built by Vite into `dashboard/dist`
//! (`npm ci && npm run build` there; `scripts/test.sh` and `scripts/demo.sh`
//! do it). The build output is embedded at compile time: `/` serves its
//! `index.html`, `/_dashboard/…` its assets (no environment name starts with
//! `_`, so they never shadow the origin's `/<env>/…` paths). A binary built
//! before the dashboard serves a page saying how to build it.
//!
//! Every answer carries a Content-Security-Policy allowing only this origin's
//! scripts, styles and connections, and `X-Frame-Options: DENY`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(rust_embed::Embed)]
#[folder = "../dashboard/dist/"]
#[allow_missing = true]
struct Built;

/// The path prefix of the dashboard's assets.
pub const ASSETS: &str = "/_dashboard";

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>edgeflag</title>\
<h1>The dashboard is not built into this binary</h1>\
<p>Run <code>npm ci &amp;&amp; npm run build</code> in <code>dashboard/</code>, then rebuild \
(<code>bash scripts/server.sh</code> does both). The API is at <code>/api/v1/</code>.</p>";

/// Whether this binary carries a built dashboard.
pub fn is_built() -> bool {
    Built::get("index.html").is_some()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn answer(status: StatusCode, kind: &'static str, cache: &'static str, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn index() -> Response {
    match Built::get("index.html") {
        Some(file) => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            file.data.into_owned(),
        ),
        None => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            NOT_BUILT.as_bytes().to_vec(),
        ),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    // Vite names assets by their content hash: they never change.
    let name = format!("{}/{path}", &ASSETS[1..]);
    match Built::get(&name) {
        Some(file) => answer(
            StatusCode::OK,
            content_type(&path),
            "public, max-age=31536000, immutable",
            file.data.into_owned(),
        ),
        None => answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no-cache",
            format!("no dashboard asset {path:?}\n").into_bytes(),
        ),
    }
}

/// The dashboard's routes: `/` and `/_dashboard/{*path}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route(&format!("{ASSETS}/{{*path}}"), get(asset))
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            super::content_type("a/b.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(super::content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(super::content_type("noext"), "application/octet-stream");
    }
}
