//! The server's clock. Injected everywhere a rule needs "now", so tests can stand one
//! millisecond on either side of a deadline.

use std::sync::Arc;

use jiff::{Timestamp, civil::Date};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Today's date in Paris, the calendar the deadlines are written in.
    fn today_in_paris(&self) -> Date {
        self.now().to_zoned(domain::deadline::paris()).date()
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock stopped at one instant, for tests.
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock tests move by hand.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn at(instant: Timestamp) -> Self {
        Self(std::sync::atomic::AtomicI64::new(instant.as_millisecond()))
    }

    pub fn set(&self, instant: Timestamp) {
        self.0.store(
            instant.as_millisecond(),
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        self.0
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.0.load(std::sync::atomic::Ordering::SeqCst))
            .expect("a representable instant")
    }
}

/// A clock that starts at a chosen instant and runs on from it at the machine's pace:
/// the test clock of `APP_ENV=test` + `APP_NOW`, so a browser test can stand a minute
/// before a deadline and watch it pass.
pub struct StartedClock {
    start: Timestamp,
    since: std::time::Instant,
}

impl StartedClock {
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            start,
            since: std::time::Instant::now(),
        }
    }
}

impl Clock for StartedClock {
    fn now(&self) -> Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.since.elapsed())
            .unwrap_or(jiff::SignedDuration::MAX);
        self.start.saturating_add(elapsed).unwrap_or(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_clock_runs_on_from_its_start() {
        let start: Timestamp = "2025-04-17T21:59:59Z".parse().unwrap();
        let clock = StartedClock::starting_at(start);
        let first = clock.now();
        assert!(first >= start);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let later = clock.now();
        assert!(later.duration_since(first) >= jiff::SignedDuration::from_millis(20));
        // Far from the machine's own clock: it is the start that counts.
        assert!(later < start + jiff::SignedDuration::from_secs(60));
    }
}
