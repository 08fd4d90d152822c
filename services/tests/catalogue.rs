//! The catalogue against real databases: SQLite always, PostgreSQL when configured.

use std::path::PathBuf;

use jiff::Timestamp;
use services::{
    catalogue::{self, CatalogueError},
    platform::clock::FixedClock,
    testing,
};
use sqlx::Row;

fn shipped_exams() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams")
}

fn at(instant: &str) -> FixedClock {
    FixedClock(instant.parse::<Timestamp>().unwrap())
}

async fn count(db: &services::Db, sql: &'static str) -> i64 {
    sqlx::query(sql).fetch_one(db.pool()).await.unwrap().get(0)
}

#[tokio::test]
async fn importing_the_shipped_exams_twice_changes_nothing() {
    let clock = at("2026-11-24T10:00:00Z");
    for t in testing::all().await {
        let n = catalogue::import_dir(&t.db, &shipped_exams(), &clock)
            .await
            .unwrap();
        assert_eq!(n, 3, "{}", t.label);
        let pieces = count(&t.db, "SELECT COUNT(*) FROM pieces").await;
        let first = catalogue::list_published(&t.db, &clock).await.unwrap();

        catalogue::import_dir(&t.db, &shipped_exams(), &clock)
            .await
            .unwrap();
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM exams").await,
            3,
            "{}",
            t.label
        );
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM pieces").await,
            pieces,
            "{}",
            t.label
        );
        assert_eq!(
            catalogue::list_published(&t.db, &clock).await.unwrap(),
            first,
            "{}",
            t.label
        );
    }
}

#[tokio::test]
async fn the_catalogue_lists_open_exams_first_with_the_notices_deadlines() {
    let clock = at("2026-11-24T10:00:00Z");
    for t in testing::all().await {
        catalogue::import_dir(&t.db, &shipped_exams(), &clock)
            .await
            .unwrap();
        let entries = catalogue::list_published(&t.db, &clock).await.unwrap();
        let slugs: Vec<&str> = entries.iter().map(|e| e.slug.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "demo-redacteur-territorial",
                "animateur-territorial-2025",
                "adjoint-patrimoine-principal-2e-classe-2024"
            ],
            "{}",
            t.label
        );
        let now = clock.0;
        assert!(entries[0].deadline.is_open_at(now));
        // The demo exam is always 30 days ahead of the day it was imported.
        assert_eq!(entries[0].deadline.last_day().to_string(), "2026-12-24");
        assert_eq!(
            entries[1].deadline.closes_at().to_string(),
            "2025-04-17T22:00:00Z"
        );
        assert_eq!(
            entries[2].deadline.closes_at().to_string(),
            "2023-11-30T23:00:00Z"
        );
        assert!(!entries[1].deadline.is_open_at(now) && !entries[2].deadline.is_open_at(now));
        // The stored instant agrees with the rule, for SQL comparisons later.
        let stored: i64 =
            sqlx::query("SELECT closes_at FROM exams WHERE slug = 'animateur-territorial-2025'")
                .fetch_one(t.db.pool())
                .await
                .unwrap()
                .get(0);
        assert_eq!(
            stored,
            entries[1].deadline.closes_at().as_millisecond(),
            "{}",
            t.label
        );
    }
}

#[tokio::test]
async fn an_edited_file_updates_the_exam_and_drops_removed_pieces() {
    let clock = at("2026-11-24T10:00:00Z");
    for t in testing::all().await {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("demo.toml");
        let original =
            std::fs::read_to_string(shipped_exams().join("demo-redacteur-territorial.toml"))
                .unwrap();
        std::fs::write(&file, &original).unwrap();
        catalogue::import_dir(&t.db, dir.path(), &clock)
            .await
            .unwrap();
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM pieces").await,
            7,
            "{}",
            t.label
        );

        let cut = original
            .split("\n[[pieces]]")
            .take(3)
            .collect::<Vec<_>>()
            .join("\n[[pieces]]");
        let edited = cut.replace("(démonstration)", "(démo)");
        std::fs::write(&file, edited).unwrap();
        catalogue::import_dir(&t.db, dir.path(), &clock)
            .await
            .unwrap();
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM pieces").await,
            2,
            "{}",
            t.label
        );
        let entries = catalogue::list_published(&t.db, &clock).await.unwrap();
        assert_eq!(entries[0].title, "Concours de rédacteur territorial (démo)");
    }
}

#[tokio::test]
async fn one_bad_file_imports_nothing_and_names_the_file() {
    let clock = at("2026-11-24T10:00:00Z");
    for t in testing::all().await {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            shipped_exams().join("animateur-territorial-2025.toml"),
            dir.path().join("a.toml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("b.toml"), "slug = \"x\"\n").unwrap();
        let err = catalogue::import_dir(&t.db, dir.path(), &clock)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CatalogueError::Toml { path, .. } if path.ends_with("b.toml")),
            "{err}"
        );
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM exams").await,
            0,
            "{}",
            t.label
        );
    }
}
