//! The dossier's row lock, raced for real: uploads, deletions and a closure of one
//! dossier on several runtime threads at once (not `join!` on one task), many times, on
//! SQLite and PostgreSQL, with files in a real store.

use std::{path::PathBuf, sync::Arc};

use bytes::Bytes;
use domain::antivirus::VirusScan;
use futures_util::stream;
use jiff::Timestamp;
use services::{
    Clock, Db, catalogue,
    dossiers::closure,
    dossiers::{self, Dossier},
    files::attachments::{self, AttachmentError},
    files::storage::Storage,
    platform::clock::StartedClock,
    platform::demo::DEMO_EXAM,
    testing,
};

/// A running clock (milliseconds apart), so that a row written after the closure would
/// carry a later instant than the closure's.
fn clock() -> Arc<dyn Clock> {
    Arc::new(StartedClock::starting_at(
        "2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap(),
    ))
}

fn pdf(tag: usize) -> Vec<u8> {
    format!("%PDF-1.7\n% fichier {tag}\nstartxref\n0\n%%EOF\n").into_bytes()
}

async fn upload(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    dossier: &Dossier,
    piece: &str,
    tag: usize,
) -> Result<attachments::Attachment, AttachmentError> {
    let body = stream::iter(vec![Ok::<_, String>(Bytes::from(pdf(tag)))]);
    attachments::upload(
        db,
        storage,
        clock,
        dossier,
        piece,
        &format!("f{tag}.pdf"),
        VirusScan::NotScanned,
        body,
    )
    .await
}

/// The label, database, store and a running clock of one configuration, the exams
/// imported.
async fn setup(
    t: &testing::TestDb,
    store: &testing::TestStore,
) -> (String, Db, Storage, Arc<dyn Clock>) {
    let clock = clock();
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    catalogue::import_dir(&t.db, &exams, &*clock).await.unwrap();
    (
        format!("{}+{}", t.label, store.label),
        t.db.clone(),
        store.storage.clone(),
        clock,
    )
}

enum Outcome {
    Uploaded(attachments::Attachment),
    Deleted(String),
    Closed(closure::Closed),
    Refused,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_deletions_and_a_closure_at_once_never_let_a_file_slip_past_the_closure() {
    for (t, store) in testing::all_with_stores().await {
        let (label, db, storage, clock) = setup(&t, &store).await;
        let mut closed_rounds = 0;
        for round in 0..12 {
            let dossier = testing::dossier(
                &db,
                &*clock,
                DEMO_EXAM,
                "externe",
                &format!("Course{}", (b'a' + round as u8) as char),
            )
            .await;
            // Each mandatory pièce holds one file: the closure may win at any moment.
            let first = upload(&db, &storage, &*clock, &dossier, "piece-identite", 0)
                .await
                .unwrap();
            upload(&db, &storage, &*clock, &dossier, "diplome", 1)
                .await
                .unwrap();
            let mut tasks = Vec::new();
            for i in 0..6 {
                let (db, storage, clock, dossier) =
                    (db.clone(), storage.clone(), clock.clone(), dossier.clone());
                let piece = if i % 2 == 0 {
                    "piece-identite"
                } else {
                    "diplome"
                };
                tasks.push(tokio::spawn(async move {
                    match upload(&db, &storage, &*clock, &dossier, piece, 10 + i).await {
                        Ok(a) => Outcome::Uploaded(a),
                        Err(_) => Outcome::Refused,
                    }
                }));
            }
            {
                let (db, storage, clock, dossier, id) = (
                    db.clone(),
                    storage.clone(),
                    clock.clone(),
                    dossier.clone(),
                    first.id.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    match attachments::delete(&db, &storage, &*clock, &dossier, &id).await {
                        Ok(()) => Outcome::Deleted(id),
                        Err(_) => Outcome::Refused,
                    }
                }));
            }
            {
                let (db, clock, dossier) = (db.clone(), clock.clone(), dossier.clone());
                tasks.push(tokio::spawn(async move {
                    match closure::close(&db, &*clock, &dossier).await {
                        Ok(closed) => Outcome::Closed(closed),
                        Err(_) => Outcome::Refused,
                    }
                }));
            }
            let mut uploaded = Vec::new();
            let mut deleted = Vec::new();
            let mut closed = None;
            for task in tasks {
                match task.await.unwrap() {
                    Outcome::Uploaded(a) => uploaded.push(a),
                    Outcome::Deleted(id) => deleted.push(id),
                    Outcome::Closed(c) => closed = Some(c),
                    Outcome::Refused => {}
                }
            }
            let rows = attachments::list(&db, &dossier.id).await.unwrap();
            // What is there is what was there, less what was deleted, plus what was
            // uploaded: no answer lied.
            let mut expected: Vec<String> = uploaded.iter().map(|a| a.id.clone()).collect();
            expected.extend(
                rows.iter()
                    .filter(|r| r.name == "f0.pdf" || r.name == "f1.pdf")
                    .map(|r| r.id.clone()),
            );
            let mut present: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            expected.sort();
            present.sort();
            assert_eq!(present, expected, "{label} round {round}");
            assert_eq!(
                rows.iter().any(|r| r.id == first.id),
                deleted.is_empty(),
                "{label} round {round}"
            );
            // A pièce never holds more than it may.
            for (piece, max) in [("piece-identite", 2), ("diplome", 3)] {
                let n = rows.iter().filter(|r| r.piece_code == piece).count();
                assert!(n <= max, "{label} round {round}: {piece} holds {n}");
            }
            let now = dossiers::by_id(&db, &dossier.id).await.unwrap().unwrap();
            if let Some(closed) = closed {
                closed_rounds += 1;
                assert!(closed.by_this_request, "{label} round {round}");
                assert_eq!(now.status, "closed", "{label} round {round}");
                assert_eq!(now.closed_at, Some(closed.at), "{label} round {round}");
                // Nothing was added after the closure's instant...
                for a in &uploaded {
                    assert!(
                        a.created_at <= closed.at,
                        "{label} round {round}: a file written at {} after the closure at {}",
                        a.created_at,
                        closed.at
                    );
                }
                // ...the receipt lists exactly the rows there are, and the closure
                // counted a file for every mandatory pièce.
                let receipt = closure::receipt(&db, &now).await.unwrap().unwrap();
                let mut listed: Vec<&str> =
                    receipt.files.iter().map(|f| f.sha256.as_str()).collect();
                let mut held: Vec<&str> = rows.iter().map(|r| r.sha256.as_str()).collect();
                listed.sort();
                held.sort();
                assert_eq!(listed, held, "{label} round {round}");
                for piece in ["piece-identite", "diplome"] {
                    assert!(
                        rows.iter().any(|r| r.piece_code == piece),
                        "{label} round {round}: closed without {piece}"
                    );
                }
            } else {
                assert_eq!(now.status, "open", "{label} round {round}");
            }
        }
        // The race was run, not only its losing side.
        assert!(closed_rounds > 0, "{label}: no closure won in 12 rounds");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_uploads_racing_for_a_pieces_last_place_take_it_once() {
    for (t, store) in testing::all_with_stores().await {
        let (label, db, storage, clock) = setup(&t, &store).await;
        for round in 0..10 {
            let dossier = testing::dossier(
                &db,
                &*clock,
                DEMO_EXAM,
                "externe",
                &format!("Place{}", (b'a' + round as u8) as char),
            )
            .await;
            // One of the identity pièce's two places is taken.
            upload(&db, &storage, &*clock, &dossier, "piece-identite", 0)
                .await
                .unwrap();
            let racers: Vec<_> = (1..=2)
                .map(|i| {
                    let (db, storage, clock, dossier) =
                        (db.clone(), storage.clone(), clock.clone(), dossier.clone());
                    tokio::spawn(async move {
                        upload(&db, &storage, &*clock, &dossier, "piece-identite", i).await
                    })
                })
                .collect();
            let mut won = 0;
            for racer in racers {
                match racer.await.unwrap() {
                    Ok(_) => won += 1,
                    Err(AttachmentError::Refused(
                        domain::attachment::UploadError::TooManyFiles { max: 2 },
                    )) => {}
                    Err(e) => panic!("{label} round {round}: {e}"),
                }
            }
            assert_eq!(won, 1, "{label} round {round}");
            let rows = attachments::list(&db, &dossier.id).await.unwrap();
            assert_eq!(rows.len(), 2, "{label} round {round}");
        }
    }
}
