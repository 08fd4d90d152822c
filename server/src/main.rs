use anyhow::Context;
use server::{Application, Settings, telemetry};
use services::{Db, catalogue};

const USAGE: &str = "usage: server [serve | migrate | seed | staff-create EMAIL NAME]
  serve         migrate, import the exams folder, then serve (the default)
  migrate       apply the database migrations and exit
  seed          migrate and import the exams folder, then exit
  staff-create  create a service concours account; the password is asked for
                (or read from STAFF_PASSWORD, for scripts)";

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
        Some("staff-create") => {
            let (Some(email), Some(name)) = (std::env::args().nth(2), std::env::args().nth(3))
            else {
                eprintln!("{USAGE}");
                std::process::exit(2);
            };
            let password = match std::env::var("STAFF_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => rpassword::prompt_password("Mot de passe (12 caractères au moins) : ")?,
            };
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let passwords = services::passwords::Passwords::new(1)?;
            match services::staff::create(
                &db,
                &passwords,
                &*settings.clock(),
                &email,
                &name,
                &password,
            )
            .await
            {
                Ok(member) => println!("Compte créé : {} <{}>", member.name, member.email),
                Err(services::staff::StaffError::Invalid(why)) => {
                    eprintln!("Refusé : {why}");
                    std::process::exit(1);
                }
                Err(services::staff::StaffError::AlreadyExists) => {
                    eprintln!("Refusé : un compte existe déjà pour {email}.");
                    std::process::exit(1);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
