//! Push: one Server-Sent Events connection to the URL an origin announces with
//! `Link: <…>; rel="edgeflag-events"`. The task parses `event:`/`data:` lines and
//! tells the poll loop about announced versions; the poll loop decides whether to
//! fetch. The task reconnects by itself, with backoff, until it is aborted.

use super::poll::{backoff, error_chain};
use super::sse::{SseEvent, SseParser};
use edgeflag_evaluator::accept::Position;
use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LINK};
use reqwest::Url;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the push task reports to the poll loop.
#[derive(Debug)]
pub(crate) enum PushMsg {
    /// The event stream is open.
    Connected,
    /// An event announced this position (for this environment, when the event
    /// names one).
    Announced {
        env: Option<String>,
        position: Position,
    },
    /// The stream ended or could not be opened; the task retries after a backoff.
    Disconnected {
        /// Why.
        reason: String,
        /// The client refused what the origin sent (an oversized line or event,
        /// a redirect the policy forbids), rather than losing the connection.
        refused: bool,
    },
}

/// Why one connection ended.
struct Ended {
    reason: String,
    refused: bool,
}

impl Ended {
    fn lost(reason: impl Into<String>) -> Ended {
        Ended {
            reason: reason.into(),
            refused: false,
        }
    }

    fn refused(reason: impl Into<String>) -> Ended {
        Ended {
            reason: reason.into(),
            refused: true,
        }
    }
}

/// Settings of the push task.
#[derive(Debug, Clone)]
pub(crate) struct PushConfig {
    /// Timeout to connect and receive the response headers.
    pub connect_timeout: Duration,
    /// A stream silent for this long is considered dead (the origin sends a
    /// keep-alive comment every 15 s).
    pub idle_timeout: Duration,
    /// First reconnection delay; doubled per failure up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest reconnection delay.
    pub max_backoff: Duration,
}

/// The event-stream URL announced by `Link` headers, resolved against `base`.
pub(crate) fn events_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in split_links(value) {
            let mut parts = link.split(';');
            let target = parts.next().unwrap_or_default().trim();
            let Some(target) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
                continue;
            };
            let is_events = parts.any(|p| {
                let Some((name, val)) = p.split_once('=') else {
                    return false;
                };
                name.trim().eq_ignore_ascii_case("rel")
                    && val
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("edgeflag-events"))
            });
            if is_events {
                if let Ok(url) = base.join(target) {
                    return Some(url);
                }
            }
        }
    }
    None
}

/// Splits a `Link` header value into links at commas outside `<…>` and quotes.
fn split_links(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_angle, mut in_quote) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

#[derive(serde::Deserialize)]
struct Announcement {
    #[serde(default)]
    env: Option<String>,
    version: u64,
    #[serde(default)]
    epoch: u64,
}

/// The environment (when named) and position announced by a `ruleset` event.
pub(crate) fn announcement(ev: &SseEvent) -> Option<(Option<String>, Position)> {
    if ev.event != "ruleset" {
        return None;
    }
    serde_json::from_str::<Announcement>(&ev.data)
        .ok()
        .map(|a| {
            let position = Position {
                epoch: a.epoch,
                version: a.version,
            };
            (a.env, position)
        })
}

/// Keeps one event stream open until the receiver is dropped or the task aborted.
pub(crate) async fn run(
    http: reqwest::Client,
    url: Url,
    cfg: PushConfig,
    tx: mpsc::Sender<PushMsg>,
) {
    let mut failures = 0u32;
    loop {
        let mut connected = false;
        let ended = stream_once(&http, &url, &cfg, &tx, &mut connected).await;
        let Some(Ended { reason, refused }) = ended else {
            return; // receiver gone
        };
        if connected {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        if refused {
            tracing::warn!(url = %url, error = %reason, "event stream refused; reconnecting after a backoff");
        } else {
            tracing::debug!(url = %url, error = %reason, "event stream closed");
        }
        if tx
            .send(PushMsg::Disconnected { reason, refused })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(backoff(cfg.base_backoff, cfg.max_backoff, failures)).await;
    }
}

/// One connection. Returns why it ended, or `None` when the receiver is gone.
async fn stream_once(
    http: &reqwest::Client,
    url: &Url,
    cfg: &PushConfig,
    tx: &mpsc::Sender<PushMsg>,
    connected: &mut bool,
) -> Option<Ended> {
    let req = http
        .get(url.clone())
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    let mut resp = match tokio::time::timeout(cfg.connect_timeout, req.send()).await {
        Err(_) => {
            return Some(Ended::lost(format!(
                "no response within {:?}",
                cfg.connect_timeout
            )))
        }
        Ok(Err(e)) if e.is_redirect() => {
            return Some(Ended::refused(format!(
                "event stream request failed: {}",
                error_chain(&e)
            )))
        }
        Ok(Err(e)) => return Some(Ended::lost(format!("request failed: {}", error_chain(&e)))),
        Ok(Ok(r)) => r,
    };
    if !resp.status().is_success() {
        return Some(Ended::lost(format!(
            "origin answered {}",
            resp.status().as_u16()
        )));
    }
    let is_sse = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    if !is_sse {
        return Some(Ended::lost("response is not text/event-stream"));
    }
    *connected = true;
    tracing::info!(url = %url, "event stream connected");
    tx.send(PushMsg::Connected).await.ok()?;
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(cfg.idle_timeout, resp.chunk()).await {
            Err(_) => {
                return Some(Ended::lost(format!(
                    "event stream silent for {:?}",
                    cfg.idle_timeout
                )))
            }
            Ok(Err(e)) => return Some(Ended::lost(format!("event stream failed: {e}"))),
            Ok(Ok(None)) => return Some(Ended::lost("event stream ended")),
            Ok(Ok(Some(c))) => c,
        };
        let events = match parser.feed(&chunk) {
            Ok(e) => e,
            Err(e) => return Some(Ended::refused(e)),
        };
        for ev in events {
            if let Some((env, position)) = announcement(&ev) {
                tracing::debug!(%position, "event stream announced a version");
                tx.send(PushMsg::Announced { env, position }).await.ok()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn parses_events_across_chunks_and_ignores_comments() {
        let mut p = SseParser::default();
        let mut got = p.feed(b": keep-alive\n\nevent: rule").unwrap();
        assert!(got.is_empty());
        got.extend(p.feed(b"set\r\ndata: {\"env\":\"prod\",").unwrap());
        got.extend(
            p.feed(b"\"version\":7,\"epoch\":3}\r\n\r\ndata: a\ndata: b\n\n")
                .unwrap(),
        );
        assert_eq!(
            got,
            [
                SseEvent {
                    event: "ruleset".into(),
                    data: "{\"env\":\"prod\",\"version\":7,\"epoch\":3}".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "a\nb".into()
                }
            ]
        );
        let position = Position {
            epoch: 3,
            version: 7,
        };
        assert_eq!(announcement(&got[0]), Some((Some("prod".into()), position)));
        assert_eq!(announcement(&got[1]), None);
    }

    #[test]
    fn finds_the_events_link_among_others() {
        let base = Url::parse("http://h:1/production/current.efr").unwrap();
        let mut h = HeaderMap::new();
        h.append(LINK, HeaderValue::from_static("</a,b>; rel=\"next\""));
        h.append(
            LINK,
            HeaderValue::from_static(
                "<x>; rel=other, </production/events>; rel=\"edgeflag-events\"",
            ),
        );
        assert_eq!(
            events_link(&h, &base).map(|u| u.to_string()),
            Some("http://h:1/production/events".to_owned())
        );
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static("<events>; rel=edgeflag-events"),
        );
        assert_eq!(
            events_link(&h, &base).map(|u| u.to_string()),
            Some("http://h:1/production/events".to_owned())
        );
        assert_eq!(events_link(&HeaderMap::new(), &base), None);
    }
}
