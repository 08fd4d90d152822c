//! Structured logs with `tracing`: text for a terminal, JSON for a log collector.

use tracing_subscriber::{EnvFilter, fmt};

use crate::Settings;

pub fn init(settings: &Settings) {
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // `try_init`: a second call (several tests in one process) keeps the first one.
    let _ = if settings.log_json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
