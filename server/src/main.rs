use std::sync::Arc;

use anyhow::Context;
use server::{Application, Settings, telemetry};
use services::{Db, SystemClock, catalogue};

const USAGE: &str = "usage: server [serve | migrate | seed]
  serve    migrate, import the exams folder, then serve (the default)
  migrate  apply the database migrations and exit
  seed     migrate and import the exams folder, then exit";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env().context("invalid configuration")?;
    telemetry::init(&settings);
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("serve") => {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            app.run_until_stopped().await?;
        }
        Some("migrate") => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
        }
        Some("seed") => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let n = catalogue::import_dir(&db, &settings.exams_dir, &SystemClock).await?;
            tracing::info!(exams = n, "exams imported");
        }
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
