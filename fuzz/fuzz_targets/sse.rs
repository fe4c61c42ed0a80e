//! The Rust client's event-stream parser (`client/src/sse.rs`, compiled here from
//! the same file, so the target links neither reqwest nor tokio).
//!
//! Input: byte 0 is the number of chunk boundaries (mod 16), then two bytes per
//! boundary (a position, mod the stream length); the rest is the stream, where
//! `0xFD n b` expands to byte `b` repeated `n + 1` times and `0xFE k b` to `b`
//! repeated `MAX_LINE - 16 + k % 32` times (so short inputs reach the 64 KiB
//! bounds from either side, and most inputs stay short and fast). Checks: after every chunk the parser holds no more
//! than `MAX_LINE` + `MAX_EVENT` (it errors rather than grows); no dispatched
//! event is larger than `MAX_EVENT`; and the events, and whether the stream is
//! refused, do not depend on where the chunks split.
#![no_main]

#[allow(dead_code)]
#[path = "../../client/src/sse.rs"]
mod sse;

use libfuzzer_sys::fuzz_target;
use sse::{SseEvent, SseParser, MAX_EVENT, MAX_LINE};

fn expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if (data[i] == 0xFD || data[i] == 0xFE) && i + 2 < data.len() {
            let k = usize::from(data[i + 1]);
            let n = if data[i] == 0xFD {
                k + 1
            } else {
                MAX_LINE - 16 + k % 32
            };
            out.extend(std::iter::repeat_n(data[i + 2], n));
            i += 3;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Feeds `chunks` in order: the events and whether the parser refused the stream.
fn run(chunks: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut p = SseParser::default();
    let mut events = Vec::new();
    for chunk in chunks {
        match p.feed(chunk) {
            Ok(evs) => events.extend(evs),
            Err(e) => {
                assert!(
                    e.contains("longer than") || e.contains("larger than"),
                    "{e}"
                );
                return (events, true);
            }
        }
        let held = p.held();
        assert!(held.within_bounds(), "parser holds {held:?}");
    }
    for ev in &events {
        assert!(
            ev.data.len() <= MAX_EVENT,
            "an event of {} bytes",
            ev.data.len()
        );
        assert!(ev.event.len() + ev.data.len() <= MAX_EVENT || ev.event == "message");
    }
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 16);
    if rest.len() < 2 * n {
        return;
    }
    let (cuts, stream) = rest.split_at(2 * n);
    let stream = expand(stream);
    let mut at: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    at.sort_unstable();
    let mut chunks = Vec::with_capacity(n + 1);
    let mut start = 0;
    for &cut in &at {
        chunks.push(&stream[start..cut]);
        start = cut;
    }
    chunks.push(&stream[start..]);

    let (split_events, split_refused) = run(&chunks);
    let (whole_events, whole_refused) = run(&[&stream]);
    assert_eq!(split_refused, whole_refused, "refusal depends on the split");
    if !whole_refused {
        assert_eq!(split_events, whole_events, "events depend on the split");
    } else {
        // One feed that fails returns no events; split feeds return those of the
        // chunks before the failing one, all of which are whole events.
        assert!(whole_events.is_empty());
    }
});
