//! The antivirus against a real clamd (`make test` starts two through
//! scripts/with-clamd.sh, whose database holds the EICAR test signature), on every
//! database and store.

use std::path::PathBuf;

use bytes::Bytes;
use domain::{DossierNumber, antivirus::VirusScan};
use futures_util::stream;
use jiff::Timestamp;
use services::{
    access::passwords::Passwords,
    catalogue, dossiers,
    dossiers::closure,
    files::antivirus::{self, Clamd},
    files::attachments,
    platform::clock::ManualClock,
    platform::demo,
    testing,
};

/// What the counting clamd below never gives a verdict for.
const POISON: &[u8] = b"clamd-cannot-finish-this";

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
    let down = Clamd::parse("unix:/nonexistent/clamd.sock").unwrap();
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
                let mut file = Vec::new();
                loop {
                    let mut length = [0u8; 4];
                    conn.read_exact(&mut length).await.unwrap();
                    let length = u32::from_be_bytes(length) as usize;
                    if length == 0 {
                        break;
                    }
                    let mut chunk = vec![0u8; length];
                    conn.read_exact(&mut chunk).await.unwrap();
                    file.extend(chunk);
                }
                // A moment of work, so that passes side by side overlap.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                count.fetch_add(1, Ordering::SeqCst);
                // A file it cannot finish: the connection closes without a verdict.
                if file.windows(POISON.len()).any(|w| w == POISON) {
                    return;
                }
                conn.write_all(b"stream: OK\0").await.unwrap();
            });
        }
    });
    (
        Clamd::parse(&format!("unix:{}", path.display())).unwrap(),
        scanned,
    )
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

#[tokio::test]
async fn a_file_clamd_never_finishes_waits_behind_the_others_then_is_erreur_d_analyse() {
    use std::sync::atomic::Ordering;
    for (t, store) in testing::all_with_stores().await {
        let label = format!("{}+{}", t.label, store.label);
        let (db, storage) = (&t.db, &store.storage);
        let (clock, _, dossier) = demo_dossier(db).await;
        let sockets = tempfile::tempdir().unwrap();
        let (clamd, scanned) = counting_clamd(sockets.path()).await;
        let mut files = Vec::new();
        // The poisoned one first: the oldest, it would be first every pass.
        for (name, inside) in [
            ("a.pdf", POISON),
            ("b.pdf", b"b".as_slice()),
            ("c.pdf", b"c"),
        ] {
            let file = attachments::upload(
                db,
                storage,
                &clock,
                &dossier,
                "diplome",
                name,
                VirusScan::Pending,
                body(pdf(inside, 100)),
            )
            .await
            .unwrap();
            files.push(file.id);
        }
        // One file per pass: the poisoned one is tried, then the others go first.
        let one = || antivirus::pass(db, storage, &clock, &clamd, 1);
        assert_eq!(one().await.unwrap(), 0, "{label}");
        assert_eq!(one().await.unwrap(), 1, "{label}");
        assert_eq!(one().await.unwrap(), 1, "{label}");
        assert_eq!(scan_of(db, &files[1]).await, VirusScan::Clean, "{label}");
        assert_eq!(scan_of(db, &files[2]).await, VirusScan::Clean, "{label}");
        assert_eq!(scan_of(db, &files[0]).await, VirusScan::Pending, "{label}");
        // Its last attempt makes it « erreur d'analyse », never sain; then it rests.
        for _ in 1..antivirus::MAX_ATTEMPTS - 1 {
            assert_eq!(one().await.unwrap(), 0, "{label}");
        }
        assert_eq!(one().await.unwrap(), 1, "{label}");
        assert_eq!(scan_of(db, &files[0]).await, VirusScan::Failed, "{label}");
        assert_eq!(one().await.unwrap(), 0, "{label}");
        assert_eq!(
            scanned.load(Ordering::SeqCst),
            2 + antivirus::MAX_ATTEMPTS as usize,
            "{label}"
        );
    }
}

#[tokio::test]
async fn past_clamd_s_limits_a_file_is_erreur_d_analyse_whatever_clamd_answers() {
    let (Some(shipped), Some(alert)) = (clamd("TEST_CLAMD_SHIPPED"), clamd("TEST_CLAMD_ALERT"))
    else {
        services::testing::missing("clamd", "TEST_CLAMD_SHIPPED, set by scripts/with-clamd.sh");
        return;
    };
    // Both scan 1 Mo of a file (MaxFileSize); the virus is past it.
    let mut hidden = pdf(b"", 1536 * 1024);
    // At the end of the stream's data.
    let end = hidden.len() - b"\nendstream\nendobj\nstartxref\n0\n%%EOF\n".len();
    hidden.splice(end..end, EICAR.iter().copied());
    let bytes = || -> services::files::storage::ByteStream {
        Box::pin(stream::iter([Ok(Bytes::from(hidden.clone()))]))
    };
    // As distributions ship it, clamd answers « OK »: it did not see the virus. Told
    // nothing of its limit, we would call the file sain.
    let blind = shipped.clone().with_max_file(u64::MAX);
    assert_eq!(
        antivirus::scan(&blind, bytes()).await.unwrap(),
        antivirus::Verdict::Clean
    );
    // With AlertExceedsMax, it says so: not a virus, not sain either.
    let limited = antivirus::scan(&alert, bytes()).await.unwrap();
    assert!(
        matches!(&limited, antivirus::Verdict::Failed(why) if why.contains("Heuristics.Limits.Exceeded")),
        "{limited:?}"
    );

    for (t, store) in testing::all_with_stores().await {
        let label = format!("{}+{}", t.label, store.label);
        let (db, storage) = (&t.db, &store.storage);
        let (clock, _, dossier) = demo_dossier(db).await;
        let file = attachments::upload(
            db,
            storage,
            &clock,
            &dossier,
            "diplome",
            "scan.pdf",
            VirusScan::Pending,
            body(hidden.clone()),
        )
        .await
        .unwrap();
        // Told its MaxFileSize (APP_CLAMD_MAX_FILE), the file is not even sent.
        let told = shipped.clone().with_max_file(1024 * 1024);
        assert_eq!(
            antivirus::pass(db, storage, &clock, &told, 16)
                .await
                .unwrap(),
            1,
            "{label}"
        );
        assert_eq!(scan_of(db, &file.id).await, VirusScan::Failed, "{label}");
        // Not a virus: its bytes stay for staff to look at.
        assert!(storage.exists(&file.storage_key).await, "{label}");
    }
}
