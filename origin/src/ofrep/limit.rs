//! The OFREP request rate: a token bucket per key (one for the whole origin
//! when no keys are configured), refilled at `rate` tokens a second and holding
//! at most one second's worth, so a burst of `rate` requests passes and the
//! rest wait for the refill.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every key (or the one of the open origin).
#[derive(Debug)]
pub(crate) struct Limiter {
    /// Tokens a second; 0: unlimited.
    rate: u32,
    buckets: Vec<Mutex<Bucket>>,
}

impl Limiter {
    /// `n` buckets (at least one), full, refilled at `rate` a second.
    pub(crate) fn new(rate: u32, n: usize) -> Limiter {
        let now = Instant::now();
        Limiter {
            rate,
            buckets: (0..n.max(1))
                .map(|_| {
                    Mutex::new(Bucket {
                        tokens: f64::from(rate),
                        at: now,
                    })
                })
                .collect(),
        }
    }

    /// The rate in force (0: unlimited).
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Takes a token from bucket `i`; `Err(wait)` when there is none, with how
    /// long until there is one.
    pub(crate) fn take(&self, i: usize) -> Result<(), Duration> {
        if self.rate == 0 {
            return Ok(());
        }
        let Some(bucket) = self.buckets.get(i) else {
            return Ok(());
        };
        let rate = f64::from(self.rate);
        let now = Instant::now();
        // A poisoned bucket is still a bucket: the numbers in it are whole.
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate.max(1.0));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_rate_passes_then_waits() {
        let l = Limiter::new(5, 2);
        for _ in 0..5 {
            assert!(l.take(0).is_ok());
        }
        let wait = l.take(0).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        // Another key has its own bucket.
        assert!(l.take(1).is_ok());
    }

    #[test]
    fn zero_is_unlimited() {
        let l = Limiter::new(0, 1);
        for _ in 0..10_000 {
            assert!(l.take(0).is_ok());
        }
    }
}
