use anyhow::Context;
use server::{Application, Settings, telemetry};
use services::{Db, catalogue};

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
            let clock = settings.clock();
            if let Some(start) = settings.test_now {
                tracing::warn!(%start, "APP_ENV=test: the clock starts at APP_NOW");
            }
            let app = Application::build(settings, clock).await?;
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
            let n = catalogue::import_dir(&db, &settings.exams_dir, &*settings.clock()).await?;
            tracing::info!(exams = n, "exams imported");
        }
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
