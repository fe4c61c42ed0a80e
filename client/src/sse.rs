//! The `text/event-stream` parser of the push task (`push.rs`), alone in a
//! module with no dependency beyond `std`: the fuzz target `fuzz/fuzz_targets/sse.rs`
//! compiles this very file (`#[path]`) without linking reqwest and tokio.
//!
//! What it holds between chunks is bounded: the unfinished line by [`MAX_LINE`],
//! the event being assembled by [`MAX_EVENT`]; past either, [`SseParser::feed`]
//! returns an error and the connection ends.
//!
//! A cargo-fuzz build (`--cfg fuzzing`) shrinks both bounds to a few hundred
//! bytes: the same checks, at a size the fuzzer crosses thousands of times a
//! second (a 64 KiB line costs an instrumented build milliseconds). The unit
//! tests below cover the real 64 KiB.

/// Longest line accepted from the event stream; a longer one ends the connection.
pub(crate) const MAX_LINE: usize = if cfg!(fuzzing) { 256 } else { 64 * 1024 };

/// Largest event accepted from the event stream: its `event:` name and all its
/// `data:` lines together. A larger one ends the connection (the task reconnects
/// with its backoff). An announcement is about a hundred bytes; without this
/// bound, `data:` lines that are never followed by a blank line grow without end.
/// With [`MAX_LINE`] it bounds what a parser holds to about 128 KiB.
pub(crate) const MAX_EVENT: usize = if cfg!(fuzzing) { 384 } else { 64 * 1024 };

/// One dispatched Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Incremental `text/event-stream` parser (lines end with LF or CRLF).
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&line, &mut out)?;
            } else {
                // A line's CR before its LF is its ending, not part of it.
                let room = if b == b'\r' { MAX_LINE + 1 } else { MAX_LINE };
                if self.line.len() >= room {
                    return Err(format!("event stream line longer than {MAX_LINE} bytes"));
                }
                self.line.push(b);
            }
        }
        debug_assert!(self.held().within_bounds(), "{:?}", self.held());
        Ok(out)
    }

    /// What the parser holds between chunks.
    pub(crate) fn held(&self) -> Held {
        Held {
            line: self.line.len(),
            event: self.event.len() + self.data.len(),
            capacity: self.line.capacity() + self.event.capacity() + self.data.capacity(),
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), String> {
        if line.is_empty() {
            if self.has_data {
                let event = std::mem::take(&mut self.event);
                out.push(SseEvent {
                    event: if event.is_empty() {
                        "message".to_owned()
                    } else {
                        event
                    },
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // comment (keep-alive)
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (&*line, ""),
        };
        let grown = match field {
            "event" => self.data.len() + value.len(),
            "data" => self.event.len() + self.data.len() + 1 + value.len(),
            _ => 0,
        };
        if grown > MAX_EVENT {
            return Err(format!(
                "event stream event larger than {MAX_EVENT} bytes (no blank line ends it)"
            ));
        }
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields: not used
        }
        Ok(())
    }
}

/// What a parser holds between chunks, in bytes ([`SseParser::held`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// The unfinished line (at most [`MAX_LINE`]).
    pub line: usize,
    /// The event being assembled: its name and data (at most [`MAX_EVENT`]).
    pub event: usize,
    /// Allocated for both, which amortized growth may take to twice the above.
    pub capacity: usize,
}

impl Held {
    /// Whether this is within the documented bounds.
    pub(crate) fn within_bounds(&self) -> bool {
        self.line <= MAX_LINE + 1
            && self.event <= MAX_EVENT
            && self.capacity <= 2 * (MAX_LINE + MAX_EVENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_lines_are_refused() {
        let mut p = SseParser::default();
        assert!(p.feed(&vec![b'x'; MAX_LINE + 1]).is_err());
        // A CR is a line's ending only right before its LF.
        let mut p = SseParser::default();
        let mut line = vec![b'x'; MAX_LINE];
        line.extend_from_slice(b"\rx");
        assert!(p.feed(&line).is_err());
    }

    #[test]
    fn a_line_of_the_limit_is_taken_with_either_ending() {
        for ending in [&b"\n"[..], b"\r\n"] {
            let mut p = SseParser::default();
            let mut line = b"data:".to_vec();
            line.resize(MAX_LINE, b'y');
            line.extend_from_slice(ending);
            line.extend_from_slice(ending);
            let evs = p.feed(&line).expect("taken");
            assert_eq!(evs.len(), 1);
            assert_eq!(evs[0].data.len(), MAX_LINE - 5);
        }
    }

    #[test]
    fn events_larger_than_the_limit_are_refused() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "x".repeat(1000));
        let mut fed = 0;
        let err = loop {
            match p.feed(line.as_bytes()) {
                Ok(evs) => assert!(evs.is_empty()),
                Err(e) => break e,
            }
            fed += line.len();
            assert!(fed <= MAX_EVENT + 2 * line.len(), "accepted {fed} bytes");
        };
        assert!(err.contains("larger than"), "{err}");
        assert!(fed >= MAX_EVENT - 2 * line.len());
        // An event of exactly the limit (two lines joined by a newline) is dispatched.
        let mut p = SseParser::default();
        let (a, b) = ("y".repeat(32_000), "z".repeat(MAX_EVENT - 32_001));
        let evs = p.feed(format!("data: {a}\ndata: {b}\n\n").as_bytes());
        assert!(
            matches!(evs.as_deref(), Ok([ev]) if ev.data.len() == MAX_EVENT),
            "{:?}",
            evs.map(|e| e.len())
        );
        // So is one after many small events (the limit is per event).
        let mut p = SseParser::default();
        for _ in 0..200 {
            assert_eq!(p.feed(line.as_bytes()).map(|e| e.len()), Ok(0));
            assert_eq!(p.feed(b"\n").map(|e| e.len()), Ok(1));
        }
    }

    #[test]
    fn what_a_parser_holds_is_reported() {
        let mut p = SseParser::default();
        p.feed(b"event: ruleset\ndata: abc\npartial").unwrap();
        let held = p.held();
        assert_eq!((held.line, held.event), (7, 10));
        assert!(held.within_bounds());
        p.feed(b"\n\n").unwrap();
        assert_eq!((p.held().line, p.held().event), (0, 0));
    }
}
