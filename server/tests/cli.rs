//! The server's staff commands, run as an administrator runs them: the binary, its exit
//! code and what it prints, against a real SQLite file.

use std::{path::Path, process::Output};

use services::{Db, access::passwords::Passwords, access::staff, platform::clock::SystemClock};

fn server(data: &Path, args: &[&str], password: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("APP_DATA_DIR", data)
        .env("DATABASE_URL", sqlite_url(data))
        .env("STAFF_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the server binary runs")
}

fn sqlite_url(data: &Path) -> String {
    format!("sqlite://{}", data.join("concours.db").display())
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn logs_in(data: &Path, password: &str) -> bool {
    let db = Db::connect(&sqlite_url(data)).await.unwrap();
    let passwords = Passwords::new(1).unwrap();
    staff::login(
        &db,
        &passwords,
        &SystemClock,
        "agent@cdg.fr",
        password,
        "127.0.0.1",
    )
    .await
    .is_ok()
}

#[tokio::test]
async fn staff_accounts_are_created_disabled_and_enabled_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let first = "une phrase assez longue";
    let second = "une phrase neuve et longue";

    let out = server(
        data,
        &["staff-create", "agent@cdg.fr", "Claire Agent"],
        first,
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("Compte créé : Claire Agent <agent@cdg.fr>"));
    let out = server(data, &["staff-create", "Agent@cdg.fr", "Autre"], second);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("un compte existe déjà"),
        "{}",
        said(&out)
    );
    let out = server(data, &["staff-create", "autre@cdg.fr", "Autre"], "court");
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("Refusé"), "{}", said(&out));
    assert!(logs_in(data, first).await);

    let out = server(data, &["staff-disable", "agent@cdg.fr"], "");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("Compte désactivé"));
    assert!(!logs_in(data, first).await);
    let out = server(data, &["staff-disable", "agent@cdg.fr"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("aucun compte actif"), "{}", said(&out));

    let out = server(data, &["staff-enable", "agent@cdg.fr"], second);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("Compte réactivé"));
    assert!(!logs_in(data, first).await);
    assert!(logs_in(data, second).await);

    // A command it does not know, or one missing its address: the usage, exit 2.
    for args in [
        &["staff-remove", "agent@cdg.fr"][..],
        &["staff-disable"][..],
    ] {
        let out = server(data, args, "");
        assert_eq!(out.status.code(), Some(2));
        assert!(said(&out).contains("usage: server"));
    }
}

#[test]
fn seed_volume_fills_the_demo_exam_and_never_a_public_site() {
    let data = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |base_url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["seed-volume", "12"])
            .env("APP_DATA_DIR", data.path())
            .env("DATABASE_URL", sqlite_url(data.path()))
            .env("APP_EXAMS_DIR", root.join("exams"))
            .env("APP_CENTRE_FILE", root.join("centre.toml"))
            .env("APP_BASE_URL", base_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the server binary runs")
    };
    let out = run("https://concours.cdg.example");
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("jamais sur un site public"),
        "{}",
        said(&out)
    );
    let out = run("http://127.0.0.1:3000");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        said(&out).contains("12 dossiers ajoutés au concours de démonstration"),
        "{}",
        said(&out)
    );
}
