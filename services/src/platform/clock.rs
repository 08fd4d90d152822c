//! The server's clock. Injected everywhere a rule needs "now", so tests can stand one
//! millisecond on either side of a deadline.

use std::{future::Future, pin::Pin, sync::Arc};

use jiff::{Timestamp, civil::Date};

/// What [`Clock::sleep_until`] returns.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Ready once the clock reads `at` or later: a bound kept on this clock's time (an
    /// outbox claim) is kept by a wait on the same clock, so a test that moves the
    /// clock by hand moves the wait with it.
    fn sleep_until(&self, at: Timestamp) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                let left = at.duration_since(self.now());
                if left <= jiff::SignedDuration::ZERO {
                    return;
                }
                tokio::time::sleep(left.unsigned_abs()).await;
            }
        })
    }

    /// Today's date in Paris, the calendar the deadlines are written in.
    fn today_in_paris(&self) -> Date {
        self.now().to_zoned(domain::paris::zone()).date()
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

/// A clock tests move by hand; what sleeps on it wakes when it is moved past.
pub struct ManualClock {
    millis: std::sync::atomic::AtomicI64,
    moved: tokio::sync::Notify,
}

impl ManualClock {
    pub fn at(instant: Timestamp) -> Self {
        Self {
            millis: std::sync::atomic::AtomicI64::new(instant.as_millisecond()),
            moved: tokio::sync::Notify::new(),
        }
    }

    pub fn set(&self, instant: Timestamp) {
        self.millis.store(
            instant.as_millisecond(),
            std::sync::atomic::Ordering::SeqCst,
        );
        self.moved.notify_waiters();
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        self.millis
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.millis.load(std::sync::atomic::Ordering::SeqCst))
            .expect("a representable instant")
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                // Listening before reading the time: a move in between is not missed.
                let moved = self.moved.notified();
                let mut moved = std::pin::pin!(moved);
                moved.as_mut().enable();
                if self.now() >= at {
                    return;
                }
                moved.await;
            }
        })
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

    #[tokio::test]
    async fn a_sleep_on_a_manual_clock_ends_when_the_clock_is_moved_past() {
        let start: Timestamp = "2026-12-15T22:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::at(start));
        let until = start + jiff::SignedDuration::from_secs(90);
        let sleeping = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(until).await }
        });
        clock.advance(jiff::SignedDuration::from_secs(89));
        tokio::task::yield_now().await;
        assert!(!sleeping.is_finished());
        clock.advance(jiff::SignedDuration::from_secs(1));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeping)
            .await
            .expect("woken by the move")
            .unwrap();
    }

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
