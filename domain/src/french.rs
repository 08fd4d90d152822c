//! French wording of dates and durations, identical in the browser and on the server.

use jiff::civil::{Date, Weekday};

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "lundi",
        Weekday::Tuesday => "mardi",
        Weekday::Wednesday => "mercredi",
        Weekday::Thursday => "jeudi",
        Weekday::Friday => "vendredi",
        Weekday::Saturday => "samedi",
        Weekday::Sunday => "dimanche",
    }
}

/// « jeudi 30 novembre 2023 », « vendredi 1er décembre 2023 ».
pub fn long_date(date: Date) -> String {
    let day = match date.day() {
        1 => "1er".to_string(),
        d => d.to_string(),
    };
    format!(
        "{} {} {} {}",
        weekday(date.weekday()),
        day,
        MONTHS[(date.month() - 1) as usize],
        date.year()
    )
}

/// « 23 h 05 », in Paris time.
pub fn paris_time(at: jiff::Timestamp) -> String {
    let z = at.to_zoned(crate::paris::zone());
    format!("{} h {:02}", z.hour(), z.minute())
}

/// « jeudi 17 avril 2025 à 23 h 59 », in Paris time: how the product writes an instant.
pub fn paris_date_time(at: jiff::Timestamp) -> String {
    let z = at.to_zoned(crate::paris::zone());
    format!("{} à {}", long_date(z.date()), paris_time(at))
}

/// [`paris_date_time`] of milliseconds since the epoch, as the UI carries instants.
pub fn paris_date_time_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(paris_date_time)
        .unwrap_or_default()
}

/// « le mardi 15 décembre 2026 avant minuit (heure de Paris) »: how every deadline is
/// written, on pages, in mails, on PDFs and on the staff side. `closes_at` is the first
/// instant it is closed: at a Paris midnight (every deadline the product stores) the day
/// before is the last day; at another instant its time is written.
pub fn deadline(closes_at: jiff::Timestamp) -> String {
    let z = closes_at.to_zoned(crate::paris::zone());
    if z.hour() == 0 && z.minute() == 0 && z.second() == 0 {
        let last_day = z.date().yesterday().unwrap_or(z.date());
        format!("le {} avant minuit (heure de Paris)", long_date(last_day))
    } else {
        format!(
            "le {} à {} (heure de Paris)",
            long_date(z.date()),
            paris_time(closes_at)
        )
    }
}

/// [`deadline`] of milliseconds since the epoch, as the UI carries instants.
pub fn deadline_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(deadline)
        .unwrap_or_default()
}

/// « 40 secondes », « 37 minutes », « 1 h 05 »: how long to wait before trying again,
/// rounded up (a candidate told one minute who tries after 59 seconds is refused again).
pub fn wait(seconds: u64) -> String {
    match seconds {
        0..=1 => "1 seconde".to_string(),
        2..=59 => format!("{seconds} secondes"),
        60..=3600 => match seconds.div_ceil(60) {
            1 => "1 minute".to_string(),
            m => format!("{m} minutes"),
        },
        _ => {
            let minutes = seconds.div_ceil(60);
            format!("{} h {:02}", minutes / 60, minutes % 60)
        }
    }
}

/// « 1 fichier sur 2 », « 0 fichier sur 1 », « 3 fichiers sur 3 »: how full a pièce is.
pub fn files_of(count: u64, max: u64) -> String {
    let s = if count > 1 { "s" } else { "" };
    format!("{count} fichier{s} sur {max}")
}

/// The time left before a deadline, for a countdown: « 12 j 03 h 05 min 09 s ».
/// Zero or negative means the deadline has passed.
pub fn remaining(millis: i64) -> String {
    if millis <= 0 {
        return "délai expiré".to_string();
    }
    let total = millis / 1000;
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if days > 0 {
        format!("{days} j {hours:02} h {minutes:02} min {seconds:02} s")
    } else {
        format!("{hours:02} h {minutes:02} min {seconds:02} s")
    }
}

/// « 1,2 Mo », « 350 Ko »: a file's size as the candidate reads it. Tenths are counted
/// in integers: float formatting would bring its tables into the browser's Wasm.
pub fn size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        let tenths = (bytes.saturating_mul(10) + MIB / 2) / MIB;
        format!("{},{} Mo", tenths / 10, tenths % 10)
    } else {
        format!("{} Ko", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_kilo_and_megabytes() {
        assert_eq!(size(0), "0 Ko");
        assert_eq!(size(1), "1 Ko");
        assert_eq!(size(350 * 1024), "350 Ko");
        assert_eq!(size(1024 * 1024), "1,0 Mo");
        assert_eq!(size(10 * 1024 * 1024), "10,0 Mo");
        assert_eq!(size(1_258_291), "1,2 Mo");
        // Rounded to the nearest tenth, as « {:.1} » would.
        assert_eq!(size(1024 * 1024 * 3 / 2 - 1), "1,5 Mo");
        assert_eq!(size(1024 * 1024 * 2 - 1), "2,0 Mo");
        for bytes in [1_048_576u64, 1_500_000, 7_654_321, 99_999_999, 104_857_600] {
            let float = format!("{:.1} Mo", bytes as f64 / 1_048_576.0).replace('.', ",");
            assert_eq!(size(bytes), float, "{bytes}");
        }
    }
    use jiff::civil::date;

    #[test]
    fn every_deadline_is_written_one_way() {
        // A stored deadline: midnight in Paris, winter and summer.
        let winter = date(2026, 12, 16)
            .at(0, 0, 0, 0)
            .to_zoned(crate::paris::zone())
            .unwrap();
        assert_eq!(
            deadline(winter.timestamp()),
            "le mardi 15 décembre 2026 avant minuit (heure de Paris)"
        );
        let summer = date(2025, 4, 18)
            .at(0, 0, 0, 0)
            .to_zoned(crate::paris::zone())
            .unwrap();
        assert_eq!(
            deadline_ms(summer.timestamp().as_millisecond()),
            "le jeudi 17 avril 2025 avant minuit (heure de Paris)"
        );
        // The same instant as Deadline writes it.
        let d = crate::Deadline::on(date(2025, 4, 17)).unwrap();
        assert_eq!(deadline(d.closes_at()), d.to_french());
        // An instant that is not a midnight keeps its time.
        let noon = date(2026, 12, 1)
            .at(12, 30, 0, 0)
            .to_zoned(crate::paris::zone())
            .unwrap();
        assert_eq!(
            deadline(noon.timestamp()),
            "le mardi 1er décembre 2026 à 12 h 30 (heure de Paris)"
        );
    }

    #[test]
    fn waits_are_rounded_up() {
        assert_eq!(wait(0), "1 seconde");
        assert_eq!(wait(5), "5 secondes");
        assert_eq!(wait(60), "1 minute");
        assert_eq!(wait(61), "2 minutes");
        assert_eq!(wait(3599), "60 minutes");
        assert_eq!(wait(3600), "60 minutes");
        assert_eq!(wait(3601), "1 h 01");
        assert_eq!(wait(7200), "2 h 00");
    }

    #[test]
    fn first_of_the_month_is_premier() {
        assert_eq!(long_date(date(2023, 12, 1)), "vendredi 1er décembre 2023");
        assert_eq!(long_date(date(2024, 8, 15)), "jeudi 15 août 2024");
    }

    #[test]
    fn instants_are_written_in_paris_time_summer_and_winter() {
        let summer: jiff::Timestamp = "2025-04-17T21:59:30Z".parse().unwrap();
        assert_eq!(paris_date_time(summer), "jeudi 17 avril 2025 à 23 h 59");
        let winter: jiff::Timestamp = "2023-11-30T22:05:00Z".parse().unwrap();
        assert_eq!(paris_date_time(winter), "jeudi 30 novembre 2023 à 23 h 05");
        assert_eq!(
            paris_time("2023-11-30T23:00:00Z".parse().unwrap()),
            "0 h 00"
        );
    }

    #[test]
    fn remaining_time() {
        assert_eq!(remaining(0), "délai expiré");
        assert_eq!(remaining(-5), "délai expiré");
        assert_eq!(remaining(999), "00 h 00 min 00 s");
        assert_eq!(remaining(61_000), "00 h 01 min 01 s");
        assert_eq!(
            remaining(((3 * 24 + 4) * 3600 + 5 * 60 + 6) * 1000),
            "3 j 04 h 05 min 06 s"
        );
    }
}
