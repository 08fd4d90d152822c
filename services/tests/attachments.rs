//! Uploads against real databases and a real store: a folder, and an S3 server when
//! `make test` started one.

use domain::antivirus::VirusScan;
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use domain::attachment::UploadError;
use futures_util::stream;
use jiff::{SignedDuration, Timestamp};
use services::{
    Db,
    access::passwords::Passwords,
    catalogue, dossiers,
    dossiers::Dossier,
    files::attachments::{self, AttachmentError},
    files::storage::Storage,
    platform::clock::ManualClock,
    platform::demo,
    testing,
};
use sha2::{Digest, Sha256};

struct Env {
    db: Db,
    clock: ManualClock,
    storage: Storage,
    store: testing::TestStore,
    dossier: Dossier,
    label: String,
    _t: testing::TestDb,
}

async fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    for (t, store) in testing::all_with_stores().await {
        let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
        let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
        catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
        let number = demo::seed(&t.db, &clock, &Passwords::new(1).unwrap())
            .await
            .unwrap();
        let dossier = dossiers::by_number(&t.db, &number).await.unwrap().unwrap();
        out.push(Env {
            db: t.db.clone(),
            clock,
            storage: store.storage.clone(),
            label: format!("{}+{}", t.label, store.label),
            store,
            dossier,
            _t: t,
        });
    }
    out
}

fn pdf(body_len: usize) -> Vec<u8> {
    let mut f = b"%PDF-1.7\n".to_vec();
    f.extend(std::iter::repeat_n(b'x', body_len));
    f.extend(b"\nstartxref\n0\n%%EOF\n");
    f
}

fn jpeg(len: usize) -> Vec<u8> {
    services::testing::jpeg(len)
}

/// The file in chunks of 64 KiB, as a network would deliver it.
fn chunks(data: Vec<u8>) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
    let parts: Vec<Result<Bytes, String>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

impl Env {
    async fn upload(
        &self,
        piece: &str,
        name: &str,
        data: Vec<u8>,
    ) -> Result<attachments::Attachment, AttachmentError> {
        attachments::upload(
            &self.db,
            &self.storage,
            &self.clock,
            &self.dossier,
            piece,
            name,
            VirusScan::NotScanned,
            chunks(data),
        )
        .await
    }

    /// How many files the store holds.
    async fn stored(&self) -> usize {
        self.storage.list().await.unwrap().len()
    }
}

#[tokio::test]
async fn a_pdf_and_a_jpeg_are_stored_with_their_hash() {
    for env in envs().await {
        let data = pdf(300_000);
        let a = env
            .upload("piece-identite", "Carte d'identité recto.PDF", data.clone())
            .await
            .unwrap();
        assert_eq!(a.size, data.len() as u64);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(a.name, "Carte d'identité recto.PDF");
        let b = env
            .upload("piece-identite", "verso.jpg", jpeg(50_000))
            .await
            .unwrap();
        assert_eq!(b.kind, domain::FileKind::Jpeg);
        let list = attachments::list(&env.db, &env.dossier.id).await.unwrap();
        assert_eq!(list.len(), 2, "{}", env.label);
        let stored = env.storage.read_all(&a.storage_key).await.unwrap();
        assert_eq!(stored, data);
        assert_eq!(env.stored().await, 2);
    }
}

#[tokio::test]
async fn an_oversize_upload_is_cut_off_and_leaves_nothing() {
    for env in envs().await {
        // A 100 MiB body that counts how much of it was read.
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let body = stream::iter((0..1600).map(move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut chunk = vec![b'x'; 64 * 1024];
            if i == 0 {
                chunk[..5].copy_from_slice(b"%PDF-");
            }
            Ok::<_, String>(Bytes::from(chunk))
        }));
        let err = attachments::upload(
            &env.db,
            &env.storage,
            &env.clock,
            &env.dossier,
            "piece-identite",
            "gros.pdf",
            VirusScan::NotScanned,
            body,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                AttachmentError::Refused(UploadError::TooLarge { limit_mib: 10, .. })
            ),
            "{err}"
        );
        // Stopped just past 10 MiB, not at 100.
        assert_eq!(pulled.load(Ordering::SeqCst), 161, "{}", env.label);
        assert_eq!(env.stored().await, 0);
        assert!(
            attachments::list(&env.db, &env.dossier.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn bad_files_are_refused_with_the_reason() {
    for env in envs().await {
        let png = b"\x89PNG\r\n\x1a\n0000000000".to_vec();
        let exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
        let mut encrypted = pdf(1000);
        encrypted.splice(20..20, b"/Encrypt 5 0 R".iter().copied());
        let truncated = pdf(1000)[..500].to_vec();
        for (name, data, expected) in [
            (
                "photo.pdf",
                png,
                "« photo.pdf » doit être au format PDF ou JPEG.",
            ),
            (
                "setup.pdf",
                exe,
                "« setup.pdf » doit être au format PDF ou JPEG.",
            ),
            ("vide.pdf", vec![], "« vide.pdf » est vide."),
            (
                "court.pdf",
                b"%PD".to_vec(),
                "« court.pdf » doit être au format PDF ou JPEG.",
            ),
            (
                "secret.pdf",
                encrypted,
                "« secret.pdf » est protégé par un mot de passe : enregistrez-le sans protection puis déposez-le de nouveau.",
            ),
            (
                "coupé.pdf",
                truncated,
                "« coupé.pdf » est incomplet ou endommagé : enregistrez-le de nouveau, puis déposez-le.",
            ),
        ] {
            let err = env.upload("piece-identite", name, data).await.unwrap_err();
            assert_eq!(err.to_string(), expected, "{}", env.label);
        }
        assert_eq!(env.stored().await, 0);
        // A hostile name is stored cleaned, never used as a path.
        let a = env
            .upload("piece-identite", "../../etc/passwd\u{0}.pdf", pdf(10))
            .await
            .unwrap();
        assert_eq!(a.name, "passwd .pdf");
        assert!(!a.storage_key.contains('/'));
    }
}

#[tokio::test]
async fn a_storage_failure_leaves_no_row() {
    for mut env in envs().await {
        let broken = testing::broken_store(&env.store).await;
        env.storage = broken.storage.clone();
        // Small, and past a part: the single put and the multipart upload both fail.
        for size in [1000, 6 * 1024 * 1024] {
            let Err(err) = env.upload("piece-identite", "a.pdf", pdf(size)).await else {
                panic!("{}: stored on a store that takes nothing", env.label);
            };
            assert!(matches!(err, AttachmentError::Storage(_)), "{err}");
        }
        let err = env
            .upload("piece-identite", "a.pdf", pdf(1000))
            .await
            .unwrap_err();
        assert!(matches!(err, AttachmentError::Storage(_)), "{err}");
        assert!(
            attachments::list(&env.db, &env.dossier.id)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            env.label
        );
    }
}

#[tokio::test]
async fn delete_removes_the_row_and_the_file_and_only_the_owner_may() {
    for env in envs().await {
        let a = env
            .upload("piece-identite", "a.pdf", pdf(1000))
            .await
            .unwrap();
        // Someone else's dossier: the same id is "not found", for reading and deleting.
        let mut other = env.dossier.clone();
        other.id = "another-dossier".into();
        assert!(matches!(
            attachments::get(&env.db, &other.id, &a.id).await,
            Err(AttachmentError::NotFound)
        ));
        assert!(matches!(
            attachments::delete(&env.db, &env.storage, &env.clock, &other, &a.id).await,
            Err(AttachmentError::NotFound)
        ));
        assert_eq!(env.stored().await, 1);

        attachments::delete(&env.db, &env.storage, &env.clock, &env.dossier, &a.id)
            .await
            .unwrap();
        assert_eq!(env.stored().await, 0, "{}", env.label);
        assert!(
            attachments::list(&env.db, &env.dossier.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_piece_takes_at_most_its_number_of_files() {
    for env in envs().await {
        env.upload("piece-identite", "recto.jpg", jpeg(10))
            .await
            .unwrap();
        env.upload("piece-identite", "verso.jpg", jpeg(10))
            .await
            .unwrap();
        let err = env
            .upload("piece-identite", "encore.jpg", jpeg(10))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AttachmentError::Refused(UploadError::TooManyFiles { max: 2 })
            ),
            "{err}"
        );
        assert_eq!(env.stored().await, 2, "{}", env.label);
    }
}

#[tokio::test]
async fn only_requested_pieces_and_only_while_the_dossier_is_open() {
    for env in envs().await {
        // The demo candidate is externe: no état des services, no medical certificate.
        for piece in [
            "etat-des-services",
            "certificat-medical-amenagement",
            "nimporte-quoi",
        ] {
            assert!(
                matches!(
                    env.upload(piece, "a.pdf", pdf(10)).await,
                    Err(AttachmentError::UnknownPiece)
                ),
                "{piece}"
            );
        }
        let a = env.upload("diplome", "licence.pdf", pdf(10)).await.unwrap();
        // Past the deadline, an open dossier is read-only.
        env.clock.advance(SignedDuration::from_hours(24 * 40));
        assert!(
            matches!(
                env.upload("diplome", "b.pdf", pdf(10)).await,
                Err(AttachmentError::Locked)
            ),
            "{}",
            env.label
        );
        assert!(matches!(
            attachments::delete(&env.db, &env.storage, &env.clock, &env.dossier, &a.id).await,
            Err(AttachmentError::Locked)
        ));
        assert_eq!(env.stored().await, 1);
    }
}

#[tokio::test]
async fn the_sweep_removes_orphans_only() {
    for env in envs().await {
        let kept = env
            .upload("piece-identite", "a.pdf", pdf(10))
            .await
            .unwrap();
        // A crash between the file and its row leaves this behind.
        let mut orphan = env.storage.create().await.unwrap();
        orphan
            .write(bytes::Bytes::from_static(b"orphan"))
            .await
            .unwrap();
        let orphan = orphan.commit().await.unwrap();
        // Young, it may be an upload whose row is being written (by another server).
        assert_eq!(
            attachments::sweep(&env.db, &env.storage, attachments::ORPHAN_AGE)
                .await
                .unwrap(),
            0,
            "{}",
            env.label
        );
        assert!(env.storage.exists(&orphan).await);
        assert_eq!(
            attachments::sweep(&env.db, &env.storage, std::time::Duration::ZERO)
                .await
                .unwrap(),
            1,
            "{}",
            env.label
        );
        assert!(!env.storage.exists(&orphan).await);
        assert!(env.storage.exists(&kept.storage_key).await);
        assert_eq!(env.stored().await, 1);
    }
}

#[tokio::test]
async fn a_phone_photo_loses_its_location_but_keeps_its_orientation() {
    for env in envs().await {
        // EXIF with Orientation 6 (taken upright, stored sideways), then a position.
        let mut payload = b"Exif\0\0MM\0\x2A\0\0\0\x08".to_vec();
        payload.extend([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
        payload.extend(b"GPS 48.0686 N 0.7694 W");
        let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE1];
        photo.extend(((payload.len() + 2) as u16).to_be_bytes());
        photo.extend(&payload);
        let picture_start = photo.len();
        photo.extend([0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
        photo.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
        photo.extend(std::iter::repeat_n(0x42, 200_000));
        photo.extend([0xFF, 0xD9]);

        let a = env
            .upload("piece-identite", "IMG_0001.JPG", photo.clone())
            .await
            .unwrap();
        let stored = env.storage.read_all(&a.storage_key).await.unwrap();
        let has = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"48.0686"), "{}", env.label);
        assert!(has(b"Exif\0\0MM"), "the orientation stays");
        assert!(
            stored.ends_with(&photo[picture_start..]),
            "the picture is untouched"
        );
        assert_eq!(a.size, stored.len() as u64);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&stored)));
    }
}

#[tokio::test]
async fn a_dossier_takes_files_up_to_its_total_size() {
    use domain::attachment::MAX_DOSSIER_BYTES;
    for env in envs().await {
        testing::file_row(&env.db, &env.dossier.id, MAX_DOSSIER_BYTES - 1000).await;
        let err = env
            .upload("diplome", "Licence.pdf", pdf(2000))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                AttachmentError::Refused(UploadError::DossierFull { limit_mib: 100, .. })
            ),
            "{err}"
        );
        assert_eq!(env.stored().await, 0, "{}", env.label);
        // What still fits is taken.
        env.upload("diplome", "Licence.pdf", pdf(500))
            .await
            .unwrap();
        assert_eq!(env.stored().await, 1);
    }
}

#[tokio::test]
async fn two_uploads_racing_for_the_last_megabytes_cannot_both_get_them() {
    use domain::attachment::MAX_DOSSIER_BYTES;
    use futures_util::StreamExt;
    for env in envs().await {
        // Another upload lands while this one streams: the total it read at the start
        // is stale by the time it is recorded, so the insert decides again.
        let file = pdf(4000);
        let (first, rest) = file.split_at(100);
        let (first, rest) = (Bytes::copy_from_slice(first), Bytes::copy_from_slice(rest));
        let env_ref = &env;
        let body = Box::pin(
            stream::once(async move {
                testing::file_row(&env_ref.db, &env_ref.dossier.id, MAX_DOSSIER_BYTES - 1000).await;
                Ok::<_, String>(first)
            })
            .chain(stream::iter([Ok(rest)])),
        );
        let err = attachments::upload(
            &env.db,
            &env.storage,
            &env.clock,
            &env.dossier,
            "diplome",
            "Licence.pdf",
            VirusScan::NotScanned,
            body,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                &err,
                AttachmentError::Refused(UploadError::DossierFull { .. })
            ),
            "{}: {err}",
            env.label
        );
        assert_eq!(env.stored().await, 0, "{}", env.label);
        assert!(
            attachments::list(&env.db, &env.dossier.id)
                .await
                .unwrap()
                .iter()
                .all(|a| a.piece_code != "diplome")
        );
    }
}

#[tokio::test]
async fn a_server_killed_during_an_upload_leaves_no_file_and_its_part_is_swept() {
    for env in envs().await {
        // Killed after its first part went to the store: no abort, no commit.
        let mut pending = env.storage.create().await.unwrap();
        pending
            .write(vec![b'x'; 6 * 1024 * 1024].into())
            .await
            .unwrap();
        std::mem::forget(pending);
        // Never a file: nothing listed, no row.
        assert_eq!(env.stored().await, 0, "{}", env.label);
        assert!(
            attachments::list(&env.db, &env.dossier.id)
                .await
                .unwrap()
                .is_empty()
        );
        if env.store.label == "local" {
            // The folder holds the unfinished part until the sweep.
            let folder = PathBuf::from(&env.store.url).join("files");
            let staged = || std::fs::read_dir(&folder).map_or(0, |d| d.count());
            assert_eq!(staged(), 1, "{}", env.label);
            attachments::sweep(&env.db, &env.storage, attachments::ORPHAN_AGE)
                .await
                .unwrap();
            assert_eq!(staged(), 1, "young: it may still be written");
            attachments::sweep(&env.db, &env.storage, std::time::Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(staged(), 0, "{}", env.label);
        }
        // On S3 an unfinished multipart upload is no object; the bucket's lifecycle
        // rule (AbortIncompleteMultipartUpload, README) ends it.
    }
}

/// From now on every insert into this database's `attachments` fails, as a database
/// that breaks between the stored file and its row would make it.
async fn refuse_attachment_rows(db: &Db) {
    let statements: &[&'static str] = match db.kind() {
        services::platform::db::DbKind::Sqlite => {
            &["CREATE TRIGGER refuse_rows BEFORE INSERT ON attachments
             BEGIN SELECT RAISE(ABORT, 'insertion refusée par le test'); END"]
        }
        services::platform::db::DbKind::Postgres => &[
            "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'insertion refusée par le test'; END $$",
            "CREATE TRIGGER refuse_rows BEFORE INSERT ON attachments
             FOR EACH ROW EXECUTE FUNCTION refuse_rows()",
        ],
    };
    for sql in statements {
        sqlx::query(*sql).execute(db.pool()).await.unwrap();
    }
}

#[tokio::test]
async fn a_file_whose_row_fails_is_an_error_and_its_object_waits_for_the_sweep() {
    for env in envs().await {
        let kept_data = pdf(1000);
        let kept = env
            .upload("piece-identite", "gardé.pdf", kept_data.clone())
            .await
            .unwrap();
        refuse_attachment_rows(&env.db).await;
        let result = env.upload("piece-identite", "perdu.pdf", pdf(2000)).await;
        // Said to the candidate, not a silent success.
        assert!(
            matches!(result, Err(AttachmentError::Db(_))),
            "{}: {result:?}",
            env.label
        );
        // No row; what was saved before is still there.
        let rows = attachments::list(&env.db, &env.dossier.id).await.unwrap();
        assert_eq!(rows, vec![kept.clone()], "{}", env.label);
        // The object was stored first and is left for the sweep: after a failed commit
        // the row may exist after all, and only the sweep looks.
        let keys: Vec<String> = env
            .storage
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| *key != kept.storage_key)
            .collect();
        let [orphan] = &keys[..] else {
            panic!("{}: objects without a row: {keys:?}", env.label);
        };
        // Young, it may be another server's upload whose row is on its way.
        let sweep = |age| attachments::sweep(&env.db, &env.storage, age);
        assert_eq!(
            sweep(attachments::ORPHAN_AGE).await.unwrap(),
            0,
            "{}",
            env.label
        );
        assert!(env.storage.exists(orphan).await, "{}", env.label);
        if env.store.label == "local" {
            // The pass's own call, its files aged on disk: a minute short of the orphan
            // age it stays, a second past it goes; the file with a row stays, however old.
            let files = PathBuf::from(&env.store.url).join("files");
            let age = |key: &str, by: std::time::Duration| {
                std::fs::File::open(files.join(key))
                    .unwrap()
                    .set_modified(std::time::SystemTime::now() - by)
                    .unwrap();
            };
            let minute = std::time::Duration::from_secs(60);
            age(orphan, attachments::ORPHAN_AGE - minute);
            age(&kept.storage_key, attachments::ORPHAN_AGE * 24);
            assert_eq!(
                sweep(attachments::ORPHAN_AGE).await.unwrap(),
                0,
                "{}",
                env.label
            );
            assert!(env.storage.exists(orphan).await, "{}", env.label);
            age(orphan, attachments::ORPHAN_AGE + minute / 60);
            assert_eq!(
                sweep(attachments::ORPHAN_AGE).await.unwrap(),
                1,
                "{}",
                env.label
            );
        } else {
            // An S3 object's age is the server's: a zero minimum stands for an old one.
            assert_eq!(
                sweep(std::time::Duration::ZERO).await.unwrap(),
                1,
                "{}",
                env.label
            );
        }
        assert!(!env.storage.exists(orphan).await, "{}", env.label);
        assert_eq!(
            env.storage.read_all(&kept.storage_key).await.unwrap(),
            kept_data
        );
        let rows = attachments::list(&env.db, &env.dossier.id).await.unwrap();
        assert_eq!(rows, vec![kept], "{}", env.label);
    }
}

/// A resumable upload's last PATCH starts before midnight and its last byte arrives
/// at `end`: only the completion's own check (under the dossier's lock) can tell.
async fn last_patch_ending_at(env: &Env, end: Timestamp) -> Result<bool, AttachmentError> {
    use futures_util::StreamExt;
    let data = pdf(50_000);
    let upload = services::files::uploads::create(
        &env.db,
        &env.storage,
        &env.clock,
        &env.dossier,
        "diplome",
        "licence.pdf",
        data.len() as u64,
    )
    .await
    .unwrap();
    let clock = &env.clock;
    let body = Box::pin(
        stream::iter([Ok::<_, String>(Bytes::from(data))])
            .chain(stream::once(async move { clock.set(end) }).filter_map(|()| async { None })),
    );
    let appended = services::files::uploads::append(
        &env.db,
        &env.storage,
        &env.clock,
        &env.dossier,
        ("diplome", &upload.id),
        0,
        VirusScan::NotScanned,
        body,
    )
    .await?;
    Ok(appended.file.is_some())
}

#[tokio::test]
async fn an_upload_completed_at_the_deadline_is_refused_by_the_completion_check_alone() {
    for env in envs().await {
        let closes_at: i64 = sqlx::query_scalar("SELECT closes_at FROM exams WHERE slug = $1")
            .bind(env.dossier.exam_slug.to_string())
            .fetch_one(env.db.pool())
            .await
            .unwrap();
        let deadline = Timestamp::from_millisecond(closes_at).unwrap();
        // The PATCH's own check passes a minute before midnight in both cases.
        env.clock.set(deadline - SignedDuration::from_mins(1));
        let just_before = deadline - SignedDuration::from_millis(1);
        assert!(
            matches!(last_patch_ending_at(&env, just_before).await, Ok(true)),
            "{}",
            env.label
        );

        env.clock.set(deadline - SignedDuration::from_mins(1));
        let at_midnight = last_patch_ending_at(&env, deadline).await;
        assert!(
            matches!(at_midnight, Err(AttachmentError::Locked)),
            "{}: {at_midnight:?}",
            env.label
        );
        // One file (the one before midnight), and nothing left of the late one.
        let files = attachments::list(&env.db, &env.dossier.id).await.unwrap();
        assert_eq!(files.len(), 1, "{}", env.label);
        let uploads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads")
            .fetch_one(env.db.pool())
            .await
            .unwrap();
        assert_eq!(uploads, 0, "{}", env.label);
    }
}
