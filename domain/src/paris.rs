//! Paris time: the one time zone of every deadline (« heure métropolitaine ») and of
//! every date and hour the product shows.

use jiff::tz::TimeZone;

/// Embedded from the tz database at compile time, so the browser and the server apply
/// the same CET/CEST rules without reading the host's zoneinfo.
pub fn zone() -> TimeZone {
    jiff::tz::get!("Europe/Paris")
}
