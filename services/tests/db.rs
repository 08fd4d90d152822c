//! The database connection's own guarantees.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

/// On PostgreSQL a statement that waits for a lock another transaction holds gives up
/// after 10 s: a request never hangs all night behind a stuck transaction.
#[tokio::test]
async fn a_statement_stuck_behind_a_lock_fails_within_seconds() {
    let Some(test_db) = services::testing::postgres().await else {
        return;
    };
    let mut holder = sqlx::PgConnection::connect(&test_db.url).await.unwrap();
    for statement in [
        "CREATE TABLE stuck (id INT PRIMARY KEY)",
        "INSERT INTO stuck VALUES (1)",
        "BEGIN",
        "UPDATE stuck SET id = 1",
    ] {
        holder.execute(statement).await.unwrap();
    }
    let started = Instant::now();
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        sqlx::query("UPDATE stuck SET id = 1").execute(test_db.db.pool()),
    )
    .await
    .expect("the statement gave up by itself");
    let error = waited.expect_err("the row is locked by the other transaction");
    assert!(error.to_string().contains("lock timeout"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));
    holder.execute("ROLLBACK").await.unwrap();
}
