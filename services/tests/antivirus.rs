//! The antivirus against a real clamd (`make test` starts two through
//! scripts/with-clamd.sh, whose database holds the EICAR test signature), on every
//! database and store.

use std::path::PathBuf;

use bytes::Bytes;
use domain::{DossierNumber, antivirus::VirusScan};
use futures_util::stream;
use jiff::Timestamp;
use services::{
    antivirus::{self, Clamd},
    attachments, catalogue,
    clock::ManualClock,
    closure, demo, dossiers,
    passwords::Passwords,
    testing,
};

/// The EICAR test file: every antivirus reports it, and it is harmless.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn clamd(var: &str) -> Option<Clamd> {
    let address = std::env::var(var).ok()?;
    Some(Clamd::parse(&address).expect("a clamd address"))
}

fn pdf(inside: &[u8], padding: usize) -> Vec<u8> {
    let mut f = b"%PDF-1.7\n1 0 obj\n<< /Length 68 >>\nstream\n".to_vec();
    f.extend_from_slice(inside);
    f.extend(std::iter::repeat_n(b'x', padding));
    f.extend(b"\nendstream\nendobj\nstartxref\n0\n%%EOF\n");
    f
}

fn body(data: Vec<u8>) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
    stream::iter(
        data.chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    )
}

/// The exams imported and the demo candidate's dossier, on a clock before its deadline.
async fn demo_dossier(db: &services::Db) -> (ManualClock, DossierNumber, dossiers::Dossier) {
    let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    catalogue::import_dir(db, &exams, &clock).await.unwrap();
    let number = demo::seed(db, &clock, &Passwords::new(1).unwrap())
        .await
        .unwrap();
    let dossier = dossiers::by_number(db, &number).await.unwrap().unwrap();
    (clock, number, dossier)
}

async fn scan_of(db: &services::Db, id: &str) -> VirusScan {
    let dossier_files =
        sqlx::query_scalar::<_, String>("SELECT scan FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    VirusScan::from_code(&dossier_files).unwrap()
}

#[tokio::test]
async fn infected_files_are_deleted_and_stop_counting_clean_ones_are_sain_and_nothing_is_sain_by_mistake()
 {
    let (Some(clamd), Some(small)) = (clamd("TEST_CLAMD"), clamd("TEST_CLAMD_SMALL")) else {
        services::testing::missing("clamd", "TEST_CLAMD, set by scripts/with-clamd.sh");
        return;
    };
    let down = Clamd::Unix(PathBuf::from("/nonexistent/clamd.sock"));
    for (t, store) in testing::all_with_stores().await {
        let label = format!("{}+{}", t.label, store.label);
        let (db, storage) = (&t.db, &store.storage);
        let (clock, _, dossier) = demo_dossier(db).await;
        let upload = |piece: &'static str, name: &'static str, data: Vec<u8>| {
            let (dossier, clock) = (dossier.clone(), &clock);
            async move {
                attachments::upload(
                    db,
                    storage,
                    clock,
                    &dossier,
                    piece,
                    name,
                    VirusScan::Pending,
                    body(data),
                )
                .await
                .unwrap()
            }
        };
        let clean = upload("piece-identite", "cni.pdf", pdf(b"", 100)).await;
        let infected = upload("piece-identite", "virus.pdf", pdf(EICAR, 100)).await;
        let big = upload("diplome", "diplome.pdf", pdf(b"", 2 * 1024 * 1024)).await;
        assert_eq!(clean.scan, VirusScan::Pending, "{label}");

        // clamd down: everything waits, nothing is called sain.
        let done = antivirus::pass(db, storage, &clock, &down, 16)
            .await
            .unwrap();
        assert_eq!(done, 0, "{label}");
        for file in [&clean, &infected, &big] {
            assert_eq!(scan_of(db, &file.id).await, VirusScan::Pending, "{label}");
        }

        // A clamd that takes 1 Mo: the 2 Mo file is an « erreur d'analyse », never sain.
        let small_pass = antivirus::pass(db, storage, &clock, &small, 16).await;
        assert_eq!(small_pass.unwrap(), 3, "{label}");
        assert_eq!(scan_of(db, &big.id).await, VirusScan::Failed, "{label}");
        assert_eq!(scan_of(db, &clean.id).await, VirusScan::Clean, "{label}");
        assert_eq!(
            scan_of(db, &infected.id).await,
            VirusScan::Infected,
            "{label}"
        );

        // The infected file's bytes are gone; the clean one's are kept.
        assert!(!storage.exists(&infected.storage_key).await, "{label}");
        assert!(storage.exists(&clean.storage_key).await, "{label}");
        let listed = attachments::list(db, &dossier.id).await.unwrap();
        assert_eq!(listed.len(), 3, "{label}: the candidate still reads why");

        // Back up (the 40 Mo one): a file left waiting is scanned; done ones are not
        // scanned again.
        let later = upload("piece-identite", "verso.pdf", pdf(b"", 10)).await;
        let done = antivirus::pass(db, storage, &clock, &clamd, 16)
            .await
            .unwrap();
        assert_eq!(done, 1, "{label}");
        assert_eq!(scan_of(db, &later.id).await, VirusScan::Clean, "{label}");
        // The new identity card took the infected one's place: rows stay bounded
        // however many infected files a dossier sends.
        let listed = attachments::list(db, &dossier.id).await.unwrap();
        assert!(listed.iter().all(|f| f.id != infected.id), "{label}");
        assert_eq!(listed.len(), 3, "{label}");
    }
}

#[tokio::test]
async fn an_infected_file_does_not_count_for_the_closure_nor_the_receipt() {
    let Some(clamd) = clamd("TEST_CLAMD") else {
        services::testing::missing("clamd", "TEST_CLAMD, set by scripts/with-clamd.sh");
        return;
    };
    for (t, store) in testing::all_with_stores().await {
        let label = format!("{}+{}", t.label, store.label);
        let (db, storage) = (&t.db, &store.storage);
        let (clock, number, dossier) = demo_dossier(db).await;
        let pieces = attachments::requested_pieces(db, &dossier).await.unwrap();
        // Every mandatory pièce gets a clean file, but the identity card an infected one.
        let mut infected = None;
        for piece in pieces
            .iter()
            .filter(|p| p.requirement == domain::PieceRequirement::Mandatory)
        {
            let data = if piece.code == "piece-identite" {
                pdf(EICAR, 10)
            } else {
                pdf(b"", 10)
            };
            let saved = attachments::upload(
                db,
                storage,
                &clock,
                &dossier,
                &piece.code,
                "document.pdf",
                VirusScan::Pending,
                body(data),
            )
            .await
            .unwrap();
            if piece.code == "piece-identite" {
                infected = Some(saved);
            }
        }
        let infected = infected.expect("the demo exam asks for an identity card");
        antivirus::pass(db, storage, &clock, &clamd, 16)
            .await
            .unwrap();
        let refused = closure::close(db, &clock, &dossier).await;
        match refused {
            Err(closure::ClosureError::MissingPieces(missing)) => {
                assert_eq!(missing.len(), 1, "{label}");
                assert_eq!(missing[0].code, "piece-identite", "{label}");
            }
            other => panic!("{label}: {other:?}"),
        }
        // Another identity card, still waiting for its scan: the closure is not held.
        attachments::upload(
            db,
            storage,
            &clock,
            &dossier,
            "piece-identite",
            "cni.pdf",
            VirusScan::Pending,
            body(pdf(b"", 10)),
        )
        .await
        .unwrap();
        closure::close(db, &clock, &dossier)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        let closed = dossiers::by_number(db, &number).await.unwrap().unwrap();
        let receipt = closure::receipt(db, &closed).await.unwrap().unwrap();
        assert!(
            receipt.files.iter().all(|f| f.sha256 != infected.sha256),
            "{label}: the infected file is not on the receipt"
        );
        assert!(receipt.files.iter().any(|f| f.name == "cni.pdf"), "{label}");
    }
}

/// A clamd of the test's own on a Unix socket: reads each `zINSTREAM` to its end,
/// answers « OK », and counts the files it was sent.
async fn counting_clamd(
    dir: &std::path::Path,
) -> (Clamd, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = dir.join("fake-clamd.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let scanned = Arc::new(AtomicUsize::new(0));
    let count = scanned.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut command = [0u8; 10];
                conn.read_exact(&mut command).await.unwrap();
                assert_eq!(&command, b"zINSTREAM\0");
                loop {
                    let mut length = [0u8; 4];
                    conn.read_exact(&mut length).await.unwrap();
                    let length = u32::from_be_bytes(length) as usize;
                    if length == 0 {
                        break;
                    }
                    let mut chunk = vec![0u8; length];
                    conn.read_exact(&mut chunk).await.unwrap();
                }
                // A moment of work, so that passes side by side overlap.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                count.fetch_add(1, Ordering::SeqCst);
                conn.write_all(b"stream: OK\0").await.unwrap();
            });
        }
    });
    (Clamd::Unix(path), scanned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_side_by_side_scan_each_file_once() {
    use std::sync::atomic::Ordering;
    for (t, store) in testing::all_with_stores().await {
        let label = format!("{}+{}", t.label, store.label);
        let (db, storage) = (&t.db, &store.storage);
        let (clock, _, dossier) = demo_dossier(db).await;
        let sockets = tempfile::tempdir().unwrap();
        let (clamd, scanned) = counting_clamd(sockets.path()).await;
        let mut ids = Vec::new();
        for (piece, n) in [("piece-identite", 2), ("diplome", 3)] {
            for i in 0..n {
                let file = attachments::upload(
                    db,
                    storage,
                    &clock,
                    &dossier,
                    piece,
                    &format!("{piece}-{i}.pdf"),
                    VirusScan::Pending,
                    body(pdf(format!("{piece} {i}").as_bytes(), 1000)),
                )
                .await
                .unwrap();
                ids.push(file.id);
            }
        }
        // Three servers' passes at once, on one database.
        let (a, b, c) = tokio::join!(
            antivirus::pass(db, storage, &clock, &clamd, 16),
            antivirus::pass(db, storage, &clock, &clamd, 16),
            antivirus::pass(db, storage, &clock, &clamd, 16),
        );
        let done = a.unwrap() + b.unwrap() + c.unwrap();
        assert_eq!(done, ids.len(), "{label}: verdicts recorded");
        assert_eq!(
            scanned.load(Ordering::SeqCst),
            ids.len(),
            "{label}: files sent to clamd"
        );
        for id in &ids {
            assert_eq!(scan_of(db, id).await, VirusScan::Clean, "{label}");
        }
        // A later pass finds nothing left to scan.
        assert_eq!(
            antivirus::pass(db, storage, &clock, &clamd, 16)
                .await
                .unwrap(),
            0
        );
        assert_eq!(scanned.load(Ordering::SeqCst), ids.len(), "{label}");
    }
}
