//! Retrying transient failures: one backoff policy for every source that retries by itself
//! (the Prometheus client, the metrics-server collector; the AWS SDKs retry on their own).

use std::time::Duration;

/// How many retries, and the pause before each: `base`, doubled each time, capped at `max`,
/// optionally with "equal jitter" (between half and all of it) so many clients do not retry
/// in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub retries: u32,
    pub base: Duration,
    pub max: Duration,
    /// Seed of the jitter; `None`: exact delays.
    pub jitter_seed: Option<u64>,
}

impl Backoff {
    /// `retries` retries after `base`, `2 x base`, `4 x base`, ... without a cap or jitter.
    pub(crate) fn doubling(retries: u32, base: Duration) -> Self {
        Self { retries, base, max: Duration::MAX, jitter_seed: None }
    }

    /// The pauses before each retry, in order; `None` once the retries are used up.
    pub(crate) fn schedule(self) -> Schedule {
        Schedule { backoff: self, attempt: 0 }
    }
}

/// The pauses of one retried operation.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    backoff: Backoff,
    attempt: u32,
}

impl Schedule {
    /// Retries made so far.
    pub(crate) fn retries(&self) -> u32 {
        self.attempt
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let b = &self.backoff;
        if self.attempt >= b.retries {
            return None;
        }
        let delay = match b.jitter_seed {
            Some(seed) => backoff_delay(self.attempt, b.base, b.max, seed),
            None => b.base.saturating_mul(1u32 << self.attempt.min(20)).min(b.max),
        };
        self.attempt += 1;
        Some(delay)
    }
}

/// One attempt's failure: worth another attempt or not.
#[derive(Debug)]
pub(crate) enum Failure<E> {
    Transient(E),
    Permanent(E),
}

/// Runs `attempt` until it succeeds, fails permanently, or the retries are used up (the last
/// error is returned), sleeping between attempts; `on_retry` hears of each retry first.
pub(crate) fn retry<T, E>(
    backoff: Backoff,
    mut attempt: impl FnMut() -> Result<T, Failure<E>>,
    mut on_retry: impl FnMut(&E, Duration),
) -> Result<T, E> {
    let mut schedule = backoff.schedule();
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(Failure::Transient(e)) => match schedule.next() {
                Some(delay) => {
                    on_retry(&e, delay);
                    std::thread::sleep(delay);
                }
                None => return Err(e),
            },
            Err(Failure::Permanent(e)) => return Err(e),
        }
    }
}

/// Delay before retry `attempt` (0-based): exponential from `base`, capped at `max`, with
/// "equal jitter" (between half and all of it).
pub(crate) fn backoff_delay(attempt: u32, base: Duration, max: Duration, seed: u64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    // splitmix64 of the seed: a cheap, well-spread jitter without a random-number crate.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(u64::from(attempt));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let frac = (z >> 11) as f64 / (1u64 << 53) as f64;
    exp.mul_f64(0.5 + 0.5 * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(8);
        for attempt in 0..10 {
            let d = backoff_delay(attempt, base, max, 42);
            let full = base.saturating_mul(1 << attempt).min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|s| backoff_delay(3, base, max, s)).collect();
        assert!(spread.len() > 10);
        let exact: Vec<_> = Backoff::doubling(3, Duration::from_millis(10)).schedule().collect();
        assert_eq!(exact, [10, 20, 40].map(Duration::from_millis));
    }

    #[test]
    fn retries_transient_failures_only() {
        let backoff = Backoff::doubling(2, Duration::ZERO);
        let mut calls = 0;
        let mut heard = 0;
        let r: Result<(), &str> = retry(
            backoff,
            || {
                calls += 1;
                Err(Failure::Transient("busy"))
            },
            |_, _| heard += 1,
        );
        assert_eq!((r, calls, heard), (Err("busy"), 3, 2));
        let mut calls = 0;
        let r: Result<(), &str> = retry(
            backoff,
            || {
                calls += 1;
                Err(Failure::Permanent("no"))
            },
            |_, _| {},
        );
        assert_eq!((r, calls), (Err("no"), 1));
        let mut calls = 0;
        let r = retry(
            backoff,
            || {
                calls += 1;
                if calls < 2 {
                    Err(Failure::Transient("busy"))
                } else {
                    Ok(calls)
                }
            },
            |_, _| {},
        );
        assert_eq!(r, Ok(2));
    }
}
