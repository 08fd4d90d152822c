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
