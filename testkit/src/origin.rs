//! A test origin: a real HTTP/1.1 server on loopback whose behaviour each test
//! switches (ETag/304, `Link` + Server-Sent Events, errors, `Retry-After`, stalls,
//! truncated bodies), and which can be stopped and restarted on the same port.
//! Deliberately not axum: it must be able to misbehave.
#![allow(missing_docs)]

use edgeflag_evaluator::Ruleset;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// The path the origin serves the ruleset at.
pub const RULESET_PATH: &str = "/production/current.efr";
/// The path of its event stream.
pub const EVENTS_PATH: &str = "/production/events";
/// A second path that always serves the ruleset (a same-origin redirect target).
pub const MOVED_PATH: &str = "/production/moved/current.efr";
/// Most bytes one [`Sse::Flood`] stream writes before giving up by itself.
pub const FLOOD_LIMIT: u64 = 50 * 1024 * 1024;

// ---------------------------------------------------------------------------
// The test origin
// ---------------------------------------------------------------------------

/// How the origin answers a request for the ruleset.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The current ruleset, with ETag (304 on a match) and, when enabled, Link.
    Serve,
    /// This status, with an optional `Retry-After` value, empty body.
    Status(u16, Option<String>),
    /// Never answers (until the client gives up).
    Stall,
    /// `200` with the full Content-Length but only half the body, then closes.
    Truncate,
    /// `302 Found` with this `Location` (absolute or relative).
    Redirect(String),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub wall: std::time::SystemTime,
    pub path: String,
    pub if_none_match: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sse {
    /// No event stream (404).
    Off,
    /// Events: the current version on connect, then every announcement.
    On,
    /// Headers, then silence (no keep-alives): a dead stream.
    Silent,
    /// Headers, then `data: xxx…` lines (1 KiB each) and never a blank line, up to
    /// [`FLOOD_LIMIT`] bytes or until the client closes the connection. The bytes
    /// each such stream managed to write are pushed to [`State::flooded`].
    Flood,
}

pub struct State {
    pub mode: Mode,
    /// Answers used (once each) before `mode`.
    pub queue: VecDeque<Mode>,
    pub body: Vec<u8>,
    pub etag: String,
    pub link: bool,
    pub sse: Sse,
    pub requests: Vec<Request>,
    pub subscribers: Vec<mpsc::UnboundedSender<String>>,
    /// Bytes written by each finished [`Sse::Flood`] stream, in order.
    pub flooded: Vec<u64>,
    /// Accept loop and connection tasks, aborted by `stop`.
    pub tasks: Vec<AbortHandle>,
}

pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

/// A strong ETag: a hash of the content, as `edgeflag serve` makes them.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// A `ruleset` event announcing `version` of `epoch`.
pub fn event_of(version: u64, epoch: u64) -> String {
    format!("event: ruleset\ndata: {{\"env\":\"production\",\"version\":{version},\"epoch\":{epoch},\"etag\":\"\\\"x\\\"\"}}\n\n")
}

/// The epoch in a ruleset's header (0 if it does not load).
pub fn epoch_of(bytes: &[u8]) -> u64 {
    Ruleset::from_bytes(bytes).map_or(0, |r| r.header().epoch)
}

pub fn version_of(bytes: &[u8]) -> u64 {
    Ruleset::from_bytes(bytes).map_or(0, |r| r.header().version)
}

impl Origin {
    pub async fn start(body: Vec<u8>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Serve,
            queue: VecDeque::new(),
            etag: etag_of(&body),
            body,
            link: false,
            sse: Sse::Off,
            requests: Vec::new(),
            subscribers: Vec::new(),
            flooded: Vec::new(),
            tasks: Vec::new(),
        }));
        let origin = Origin { addr, state };
        origin.serve(listener);
        origin
    }

    pub fn url(&self) -> String {
        format!("http://{}{RULESET_PATH}", self.addr)
    }

    pub fn serve(&self, listener: TcpListener) {
        let state = self.state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let st = state.clone();
                let conn = tokio::spawn(async move {
                    let _ = handle(sock, st).await;
                });
                state.lock().unwrap().tasks.push(conn.abort_handle());
            }
        });
        self.state.lock().unwrap().tasks.push(accept.abort_handle());
    }

    /// Closes the listener and every connection.
    pub fn stop(&self) {
        let mut st = self.state.lock().unwrap();
        for t in st.tasks.drain(..) {
            t.abort();
        }
        st.subscribers.clear();
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        // The aborted accept task drops the listener asynchronously: retry.
        for _ in 0..100 {
            if let Ok(l) = TcpListener::bind(self.addr).await {
                self.serve(l);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }

    pub fn set_body(&self, body: Vec<u8>) {
        let mut st = self.state.lock().unwrap();
        st.etag = etag_of(&body);
        st.body = body;
    }

    /// Serves a new ruleset and announces it on the event streams.
    pub fn publish(&self, body: Vec<u8>) {
        let v = version_of(&body);
        self.set_body(body);
        self.announce(v);
    }

    /// Announces `version`, in the epoch of the ruleset served now.
    pub fn announce(&self, version: u64) {
        let mut st = self.state.lock().unwrap();
        let epoch = epoch_of(&st.body);
        st.subscribers
            .retain(|s| s.send(event_of(version, epoch)).is_ok());
    }

    /// Ends every open event stream.
    pub fn drop_streams(&self) {
        self.state.lock().unwrap().subscribers.clear();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn queue(&self, mode: Mode) {
        self.state.lock().unwrap().queue.push_back(mode);
    }

    pub fn set_link(&self, on: bool) {
        self.state.lock().unwrap().link = on;
    }

    pub fn set_sse(&self, sse: Sse) {
        self.state.lock().unwrap().sse = sse;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn ruleset_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == RULESET_PATH)
            .collect()
    }

    /// Bytes written by each finished [`Sse::Flood`] stream.
    pub fn flooded(&self) -> Vec<u64> {
        self.state.lock().unwrap().flooded.clone()
    }

    pub fn count(&self, path: &str, status: u16) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == path && r.status == status)
            .count()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn read_head(sock: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        let n = sock.read(&mut byte).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&byte[..n]);
    }
}

/// One connection, one request (every answer closes the connection).
pub async fn handle(mut sock: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(head) = read_head(&mut sock).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let if_none_match = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("if-none-match"))
        .map(|(_, v)| v.trim().to_owned());
    let at = Instant::now();
    let record = |status: u16| {
        state.lock().unwrap().requests.push(Request {
            at,
            wall: std::time::SystemTime::now(),
            path: path.clone(),
            if_none_match: if_none_match.clone(),
            status,
        });
    };

    if path == EVENTS_PATH {
        let (sse, version, epoch) = {
            let st = state.lock().unwrap();
            (st.sse, version_of(&st.body), epoch_of(&st.body))
        };
        if sse == Sse::Off {
            record(404);
            sock.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        }
        record(200);
        sock.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        )
        .await?;
        if sse == Sse::Silent {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        if sse == Sse::Flood {
            let written = flood(&mut sock).await;
            state.lock().unwrap().flooded.push(written);
            return Ok(());
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        state.lock().unwrap().subscribers.push(tx);
        sock.write_all(b": hello\n\n").await?;
        sock.write_all(event_of(version, epoch).as_bytes()).await?;
        while let Some(ev) = rx.recv().await {
            sock.write_all(ev.as_bytes()).await?;
        }
        // Dropped by the origin: end the stream.
        return sock.shutdown().await;
    }

    if path != RULESET_PATH && path != MOVED_PATH {
        record(404);
        sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }

    let (mode, body, etag, link) = {
        let mut st = state.lock().unwrap();
        let mode = if path == MOVED_PATH {
            Mode::Serve
        } else {
            st.queue.pop_front().unwrap_or_else(|| st.mode.clone())
        };
        (mode, st.body.clone(), st.etag.clone(), st.link)
    };
    let link = if link {
        format!("link: <{EVENTS_PATH}>; rel=\"edgeflag-events\"\r\n")
    } else {
        String::new()
    };
    match mode {
        Mode::Serve => {
            if if_none_match.as_deref() == Some(etag.as_str()) {
                record(304);
                let head = format!(
                    "HTTP/1.1 304 Not Modified\r\netag: {etag}\r\n{link}connection: close\r\n\r\n"
                );
                sock.write_all(head.as_bytes()).await?;
            } else {
                record(200);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.edgeflag.ruleset\r\n\
                     content-length: {}\r\netag: {etag}\r\n{link}connection: close\r\n\r\n",
                    body.len()
                );
                sock.write_all(head.as_bytes()).await?;
                sock.write_all(&body).await?;
            }
        }
        Mode::Status(code, retry_after) => {
            record(code);
            let ra = retry_after
                .map(|v| format!("retry-after: {v}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {code} Failing\r\n{ra}content-length: 0\r\nconnection: close\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await?;
        }
        Mode::Stall => {
            record(0);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Mode::Truncate => {
            record(200);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\netag: {etag}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&body[..body.len() / 2]).await?;
            sock.flush().await?;
        }
        Mode::Redirect(location) => {
            record(302);
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await?;
        }
    }
    sock.shutdown().await
}

/// Writes `data:` lines without ever ending the event, until [`FLOOD_LIMIT`] or a
/// write fails (the client closed). Paced (a 1 ms pause every 64 KiB, so at most
/// about 64 MB/s) so that socket buffers hold little of what counts as written.
async fn flood(sock: &mut TcpStream) -> u64 {
    let mut line = b"data: ".to_vec();
    line.resize(1023, b'x');
    line.push(b'\n');
    let mut written = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while written < FLOOD_LIMIT && Instant::now() < deadline {
        if sock.write_all(&line).await.is_err() {
            break;
        }
        written += line.len() as u64;
        if written % (64 * 1024) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    written
}
