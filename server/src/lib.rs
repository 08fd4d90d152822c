//! The axum server: configuration, router and start-up, shared by `main` and the tests.

mod archive;
pub mod config;
mod connections;
mod counts;
mod files;
mod flood;
mod franceconnect;
mod health;
mod messages;
mod metrics;
mod multipart;
mod pacing;
mod refusals;
mod security;
mod staff;
pub mod startup;
pub mod telemetry;
pub mod tus;

pub use config::Settings;
pub use startup::{Application, Stop};
