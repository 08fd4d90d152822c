//! The registration deadline: « le JJ mois AAAA avant minuit (heure métropolitaine) ».

use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};

use crate::{french, paris};

/// A registration deadline. Built only from its last day, so the closing instant is
/// always midnight Paris time at the end of that day, never a hand-typed instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Date", into = "Date")]
pub struct Deadline {
    last_day: Date,
    closes_at: Timestamp,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("la date limite {0} est hors de la plage des dates gérées")]
pub struct DeadlineOutOfRange(pub Date);

impl Deadline {
    /// The deadline whose last day of registration is `last_day`: it closes at the first
    /// instant of the next day in Europe/Paris.
    pub fn on(last_day: Date) -> Result<Self, DeadlineOutOfRange> {
        let next_day = last_day
            .tomorrow()
            .map_err(|_| DeadlineOutOfRange(last_day))?;
        // Midnight exists every day in Paris (the clocks change at 02:00 / 03:00), so
        // `start_of_day` is exact; it also stays right if a future rule moved that.
        let closes_at = next_day
            .to_zoned(paris::zone())
            .and_then(|z| z.start_of_day())
            .map_err(|_| DeadlineOutOfRange(last_day))?
            .timestamp();
        Ok(Self {
            last_day,
            closes_at,
        })
    }

    pub fn last_day(&self) -> Date {
        self.last_day
    }

    /// The first instant at which registration is closed.
    pub fn closes_at(&self) -> Timestamp {
        self.closes_at
    }

    /// When the dossiers of an exam with this deadline are erased: `months` after the
    /// closing instant, on the Paris calendar (the same midnight, that many months
    /// later; a day the month lacks becomes its last day).
    pub fn purges_at(&self, months: u32) -> Timestamp {
        self.closes_at
            .to_zoned(paris::zone())
            .checked_add(jiff::Span::new().months(i64::from(months)))
            .map_or(Timestamp::MAX, |z| z.timestamp())
    }

    /// Registration is open strictly before the closing instant, as decided by the
    /// server's clock.
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        now < self.closes_at
    }

    /// As the notices write it: « le jeudi 30 novembre 2023 avant minuit (heure de
    /// Paris) », through [`french::deadline`] like every other deadline.
    pub fn to_french(&self) -> String {
        french::deadline(self.closes_at)
    }
}

impl TryFrom<Date> for Deadline {
    type Error = DeadlineOutOfRange;
    fn try_from(value: Date) -> Result<Self, Self::Error> {
        Self::on(value)
    }
}

impl From<Deadline> for Date {
    fn from(value: Deadline) -> Self {
        value.last_day
    }
}

/// How near the deadline is, for the warnings of an open dossier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Calm,
    /// Three days or less.
    LastDays,
    /// The last 24 hours.
    LastDay,
    /// The last hour.
    LastHour,
    Passed,
}

impl Urgency {
    pub fn of(remaining_ms: i64) -> Self {
        const HOUR: i64 = 3_600_000;
        const DAY: i64 = 24 * HOUR;
        const THREE_DAYS: i64 = 3 * DAY;
        match remaining_ms {
            ..=0 => Self::Passed,
            1..=HOUR => Self::LastHour,
            _ if remaining_ms <= DAY => Self::LastDay,
            _ if remaining_ms <= THREE_DAYS => Self::LastDays,
            _ => Self::Calm,
        }
    }

    /// The warning an open dossier shows, if any.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            Self::Calm => None,
            Self::LastDays => Some(
                "La date limite approche : déposez vos pièces et clôturez votre inscription sans attendre le dernier soir.",
            ),
            Self::LastDay => Some(
                "Dernier jour : votre inscription doit être clôturée ce soir avant minuit (heure de Paris).",
            ),
            Self::LastHour => Some(
                "Moins d'une heure avant la clôture des inscriptions : clôturez votre inscription maintenant.",
            ),
            Self::Passed => Some("dossier non clôturé : inscription non prise en compte"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, civil::date};

    fn closes(y: i16, m: i8, d: i8) -> String {
        Deadline::on(date(y, m, d)).unwrap().closes_at().to_string()
    }

    #[test]
    fn the_notices_deadlines_close_at_paris_midnight() {
        // Examen professionnel d'adjoint du patrimoine: winter time (UTC+1).
        assert_eq!(closes(2023, 11, 30), "2023-11-30T23:00:00Z");
        // Concours d'animateur territorial: summer time (UTC+2).
        assert_eq!(closes(2025, 4, 17), "2025-04-17T22:00:00Z");
    }

    #[test]
    fn days_when_france_changes_hour() {
        // Last Sunday of March 2025 (30th): the day itself has 23 hours, and the
        // deadline on the Saturday before closes at midnight still in winter time.
        assert_eq!(closes(2025, 3, 29), "2025-03-29T23:00:00Z");
        assert_eq!(closes(2025, 3, 30), "2025-03-30T22:00:00Z");
        // Last Sunday of October 2025 (26th): the day has 25 hours.
        assert_eq!(closes(2025, 10, 25), "2025-10-25T22:00:00Z");
        assert_eq!(closes(2025, 10, 26), "2025-10-26T23:00:00Z");
        // The registration window over the change day really is 23 / 25 hours long.
        let spring = Deadline::on(date(2025, 3, 30)).unwrap().closes_at()
            - Deadline::on(date(2025, 3, 29)).unwrap().closes_at();
        assert_eq!(spring.get_seconds(), 23 * 3600);
        let autumn = Deadline::on(date(2025, 10, 26)).unwrap().closes_at()
            - Deadline::on(date(2025, 10, 25)).unwrap().closes_at();
        assert_eq!(autumn.get_seconds(), 25 * 3600);
    }

    #[test]
    fn open_until_one_millisecond_before_closed_at_the_instant() {
        let deadline = Deadline::on(date(2023, 11, 30)).unwrap();
        let at = deadline.closes_at();
        let ms = SignedDuration::from_millis(1);
        assert!(deadline.is_open_at(at.checked_sub(ms).unwrap()));
        assert!(!deadline.is_open_at(at));
        assert!(!deadline.is_open_at(at.checked_add(ms).unwrap()));
    }

    #[test]
    fn written_as_the_notices_do() {
        assert_eq!(
            Deadline::on(date(2023, 11, 30)).unwrap().to_french(),
            "le jeudi 30 novembre 2023 avant minuit (heure de Paris)"
        );
        assert_eq!(
            Deadline::on(date(2025, 4, 17)).unwrap().to_french(),
            "le jeudi 17 avril 2025 avant minuit (heure de Paris)"
        );
    }

    #[test]
    fn the_last_representable_day_is_refused_not_a_panic() {
        assert!(Deadline::on(Date::MAX).is_err());
    }

    proptest::proptest! {
        /// Whatever the day, the closing instant is midnight Paris time on the next
        /// day, and it is 23, 24 or 25 hours after the previous day's.
        #[test]
        fn closes_at_paris_midnight_of_the_next_day(days in 0i32..(200 * 366)) {
            let day = date(1970, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let deadline = Deadline::on(day).unwrap();
            let local = deadline.closes_at().to_zoned(paris::zone());
            proptest::prop_assert_eq!(local.date(), day.tomorrow().unwrap());
            proptest::prop_assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
            let previous = Deadline::on(day.yesterday().unwrap()).unwrap();
            let hours = (deadline.closes_at() - previous.closes_at()).get_seconds() / 3600;
            proptest::prop_assert!((23..=25).contains(&hours));
        }
    }

    #[test]
    fn warnings_grow_as_the_deadline_nears() {
        let hour = 3_600_000;
        assert_eq!(Urgency::of(4 * 24 * hour), Urgency::Calm);
        assert_eq!(Urgency::of(72 * hour), Urgency::LastDays);
        assert_eq!(Urgency::of(24 * hour + 1), Urgency::LastDays);
        assert_eq!(Urgency::of(24 * hour), Urgency::LastDay);
        assert_eq!(Urgency::of(hour + 1), Urgency::LastDay);
        assert_eq!(Urgency::of(hour), Urgency::LastHour);
        assert_eq!(Urgency::of(1), Urgency::LastHour);
        assert_eq!(Urgency::of(0), Urgency::Passed);
        assert_eq!(Urgency::of(-1), Urgency::Passed);
        assert_eq!(Urgency::Calm.warning(), None);
        assert_eq!(
            Urgency::Passed.warning(),
            Some("dossier non clôturé : inscription non prise en compte")
        );
    }
}
