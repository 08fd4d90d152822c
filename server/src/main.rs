use anyhow::Context;
use server::{Application, Settings, telemetry};
use services::{Db, catalogue};

const USAGE: &str =
    "usage: server [serve | migrate | seed | seed-volume [N] | staff-create EMAIL NAME
                     | staff-disable EMAIL | staff-enable EMAIL]
  serve          migrate, import the exams folder, then serve (the default)
  migrate        apply the database migrations and exit
  seed           migrate and import the exams folder, then exit
  seed-volume    also add N (default 2000) candidates to the demo exam, instructed
                 by the demo staff member: the service's side at volume (demo only)
  staff-create   create a service concours account; the password is asked for
                 (or read from STAFF_PASSWORD, for scripts)
  staff-disable  end a staff member's access now (login and open sessions); the
                 account stays, named in the audit log
  staff-enable   give a disabled account its access back, with a new password
                 (asked for, or STAFF_PASSWORD)";

/// The password of a staff command: STAFF_PASSWORD for scripts, else asked for.
fn staff_password() -> anyhow::Result<String> {
    Ok(match std::env::var("STAFF_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => rpassword::prompt_password("Mot de passe (12 caractères au moins) : ")?,
    })
}

/// The configured database, its migrations applied.
async fn migrated(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url).await?;
    server::startup::migrate(&db).await?;
    Ok(db)
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn refused(why: &str) -> ! {
    eprintln!("Refusé : {why}");
    std::process::exit(1);
}

/// Upload buffers are large (a part, a chunk of a body) and short-lived, allocated on
/// one thread and freed on another. glibc's default raises its mmap threshold each
/// time such a block is freed, after which they come from per-thread arenas that keep
/// their peak: 100 uploads at once left the process twice the size of what was in
/// use. A fixed threshold keeps every block of 128 KiB and more in its own mapping,
/// given back to the system when freed.
fn keep_large_buffers_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> anyhow::Result<()> {
    keep_large_buffers_returnable();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve_or_run())
}

async fn serve_or_run() -> anyhow::Result<()> {
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
            migrated(&settings).await?;
            tracing::info!("migrations applied");
        }
        Some("seed") => {
            let db = migrated(&settings).await?;
            let n = catalogue::import_dir(&db, &settings.exams_dir, &*settings.clock()).await?;
            tracing::info!(exams = n, "exams imported");
        }
        Some("seed-volume") => {
            let n: usize = match std::env::args().nth(2) {
                Some(n) => n.parse().unwrap_or_else(|_| usage()),
                None => 2000,
            };
            // Fictitious candidates and the demo staff member's public password: never
            // on a public site, as APP_DEMO.
            if settings.base_url.starts_with("https://") {
                refused(
                    "seed-volume ajoute des candidats fictifs : jamais sur un site public (APP_BASE_URL en https).",
                );
            }
            let db = migrated(&settings).await?;
            let clock = settings.clock();
            catalogue::import_dir(&db, &settings.exams_dir, &*clock).await?;
            let passwords = services::access::passwords::Passwords::new(1)?;
            services::access::staff::seed_demo(&db, &passwords, &*clock).await?;
            let member =
                services::access::staff::active_by_email(&db, services::access::staff::DEMO_EMAIL)
                    .await?
                    .context("the demo staff member")?;
            let storage = services::files::storage::Storage::from_url(
                &settings.storage_url,
                &settings.data_dir.join("spool"),
            )
            .await?;
            let started = std::time::Instant::now();
            let seeded = services::platform::volume::seed(
                &db,
                &storage,
                &*clock,
                &settings.base_url,
                &member,
                n,
            )
            .await?;
            println!(
                "{} dossiers ajoutés au concours de démonstration ({} fichiers, {} clôturés) en {:.0} s.",
                seeded.dossiers,
                seeded.files,
                seeded.closed,
                started.elapsed().as_secs_f64()
            );
        }
        Some("staff-create") => {
            let (Some(email), Some(name)) = (std::env::args().nth(2), std::env::args().nth(3))
            else {
                usage()
            };
            let password = staff_password()?;
            let db = migrated(&settings).await?;
            let passwords = services::access::passwords::Passwords::new(1)?;
            match services::access::staff::create(
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
                Err(services::access::staff::StaffError::Invalid(why)) => refused(&why),
                Err(services::access::staff::StaffError::AlreadyExists) => refused(&format!(
                    "un compte existe déjà pour {email} (désactivé : server staff-enable)."
                )),
                Err(e) => return Err(e.into()),
            }
        }
        Some("staff-disable") => {
            let Some(email) = std::env::args().nth(2) else {
                usage()
            };
            let db = migrated(&settings).await?;
            match services::access::staff::disable(&db, &*settings.clock(), &email).await {
                Ok(true) => println!("Compte désactivé : {email} ne peut plus se connecter."),
                Ok(false) => refused(&format!("aucun compte actif pour {email}.")),
                Err(services::access::staff::StaffError::Invalid(why)) => refused(&why),
                Err(e) => return Err(e.into()),
            }
        }
        Some("staff-enable") => {
            let Some(email) = std::env::args().nth(2) else {
                usage()
            };
            let password = staff_password()?;
            let db = migrated(&settings).await?;
            let passwords = services::access::passwords::Passwords::new(1)?;
            match services::access::staff::enable(&db, &passwords, &email, &password).await {
                Ok(true) => println!("Compte réactivé : {email}, avec son nouveau mot de passe."),
                Ok(false) => refused(&format!("aucun compte désactivé pour {email}.")),
                Err(services::access::staff::StaffError::Invalid(why)) => refused(&why),
                Err(e) => return Err(e.into()),
            }
        }
        Some(_) => usage(),
    }
    Ok(())
}
