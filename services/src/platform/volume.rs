//! An exam of many dossiers, to try the service's side at the volume of a real
//! concours (`server seed-volume`, `make seed-volume`): varied candidates (voies,
//! aménagements, addresses), their files really stored, three in four closed, and the
//! closed ones at every stage of the instruction. Never on a real deployment.

use bytes::Bytes;
use domain::{antivirus::VirusScan, instruction::Decision};

use crate::{
    Clock, Db,
    access::{passwords::Passwords, staff::Staff},
    dossiers::{self, closure, following, instruction, messages},
    files::{attachments, storage::Storage},
    platform::demo::{self, DemoError},
};

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("{0}")]
    Step(String),
}

fn step(what: &str) -> impl Fn(&dyn std::fmt::Display) -> VolumeError + '_ {
    move |e| VolumeError::Step(format!("{what}: {e}"))
}

/// Common French surnames and given names: the volume seeds' candidates (and the
/// bench's at scale).
pub const SURNAMES: [&str; 40] = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
];

pub const FIRST_NAMES: [&str; 30] = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Jade", "Louise", "Emma", "Lucie", "Hugo",
    "Lucas", "Théo", "Nathan", "Louis", "Jules", "Arthur", "Gabriel", "Adam", "Raphaël", "Océane",
    "Julie", "Pauline", "Marine", "Élodie", "Thomas", "Maxime", "Antoine", "Kévin", "Nicolas",
];

/// What a seeding made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub dossiers: usize,
    pub files: usize,
    pub closed: usize,
}

/// A one-page PDF (A4, a line of text) that any viewer opens, stored for every file.
fn pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 18 Tf 72 770 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

/// `n` more candidates on the demo exam (10,000 in all at most: each has its own birth
/// date), instructed by `member`.
pub async fn seed(
    db: &Db,
    storage: &Storage,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    n: usize,
) -> Result<Seeded, VolumeError> {
    // A second run adds after the first.
    let first: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE exam_slug = $1")
        .bind(demo::DEMO_EXAM)
        .fetch_one(db.pool())
        .await
        .map_err(|e| step("count")(&e))?;
    let first = first as usize;
    let hash = Passwords::new(1)
        .map_err(|e| step("passwords")(&e))?
        .hash(demo::DEMO_PASSWORD)
        .await
        .map_err(|e| step("hash")(&e))?;
    let mut seeded = Seeded::default();
    for i in first..(first + n).min(10_000) {
        let d = candidate(db, clock, i, &hash).await?;
        seeded.dossiers += 1;
        // One in eight never sends a file.
        if i % 8 == 7 {
            continue;
        }
        let pieces = attachments::requested_pieces(db, &d)
            .await
            .map_err(|e| step("pieces")(&e))?;
        for piece in pieces
            .iter()
            .filter(|p| p.requirement == domain::exam::PieceRequirement::Mandatory)
        {
            let bytes = pdf(&format!("Dossier {} - piece de demonstration", d.number));
            let body = futures_util::stream::iter([Ok::<_, String>(Bytes::from(bytes))]);
            let name = format!("{}.pdf", piece.code);
            attachments::upload(
                db,
                storage,
                clock,
                &d,
                &piece.code,
                &name,
                VirusScan::NotScanned,
                body,
            )
            .await
            .map_err(|e| step("upload")(&e))?;
            seeded.files += 1;
        }
        // Three in four close.
        if i % 4 == 3 {
            continue;
        }
        closure::close(db, clock, &d)
            .await
            .map_err(|e| step("closure")(&e))?;
        seeded.closed += 1;
        instruct(db, clock, base_url, member, &d, i).await?;
    }
    // Nobody is to be mailed: the letters of a seeded exam count as sent.
    sqlx::query(
        "UPDATE outbox SET sent_at = created_at WHERE sent_at IS NULL AND dossier_id IN
           (SELECT id FROM dossiers WHERE exam_slug = $1)",
    )
    .bind(demo::DEMO_EXAM)
    .execute(db.pool())
    .await
    .map_err(|e| step("outbox")(&e))?;
    Ok(seeded)
}

/// The `i`th candidate: a name, a birth date, a voie, an address of their own.
async fn candidate(
    db: &Db,
    clock: &dyn Clock,
    i: usize,
    hash: &str,
) -> Result<dossiers::Dossier, VolumeError> {
    let surname = SURNAMES[i % SURNAMES.len()];
    let first = FIRST_NAMES[(i / SURNAMES.len()) % FIRST_NAMES.len()];
    let ascii = |s: &str| domain::candidate::PersonName::key_of(s).replace(' ', "-");
    let email = format!("{}.{}{i}@exemple.fr", ascii(first), ascii(surname));
    let voie = [
        "externe",
        "externe",
        "externe",
        "interne",
        "troisieme_concours",
    ][i % 5];
    let mut answers = demo::demo_answers();
    for (key, value) in [
        ("nom_naissance", surname.to_string()),
        ("prenoms", first.to_string()),
        (
            "date_naissance",
            format!(
                "{:02}/{:02}/{}",
                1 + i % 28,
                1 + (i / 28) % 12,
                1970 + (i / 336) % 30
            ),
        ),
        ("email", email.clone()),
        ("email_confirmation", email),
        (
            "telephone",
            format!(
                "06 {:02} {:02} {:02} {:02}",
                i / 1_000_000 % 100,
                i / 10_000 % 100,
                i / 100 % 100,
                i % 100
            ),
        ),
        ("voie", voie.to_string()),
        (
            "amenagement",
            if i.is_multiple_of(11) { "oui" } else { "non" }.to_string(),
        ),
        (
            "amenagement_precisions",
            "Tiers-temps et salle au rez-de-chaussée".to_string(),
        ),
    ] {
        answers.insert(key.to_string(), value);
    }
    Ok(demo::candidate_answering(db, clock, demo::DEMO_EXAM, answers, hash).await?)
}

/// The closed dossier `i` at one stage or another of the instruction.
async fn instruct(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    member: &Staff,
    d: &dossiers::Dossier,
    i: usize,
) -> Result<(), VolumeError> {
    let number = d.number.as_str();
    let decide = async |decision: Decision| {
        instruction::decide(db, clock, base_url, member, number, decision)
            .await
            .map(drop)
            .map_err(|e| step("decision")(&e))
    };
    match i % 10 {
        0..=1 => decide(Decision::Complete).await?,
        2 => {
            decide(Decision::Complete).await?;
            decide(Decision::Accept).await?;
        }
        3 => {
            decide(Decision::Incomplete {
                missing: "Copie du diplôme illisible".into(),
            })
            .await?
        }
        4 => {
            let day = clock.today_in_paris() + jiff::Span::new().days(10);
            messages::request_correction(
                db,
                clock,
                base_url,
                member,
                d,
                &["piece-identite".to_string()],
                "Le verso de la pièce d'identité manque.",
                day,
            )
            .await
            .map_err(|e| step("correction")(&e))?;
        }
        5 => {
            decide(Decision::Reject {
                reason: "Condition de diplôme non remplie".into(),
            })
            .await?
        }
        _ => {}
    }
    if i.is_multiple_of(13) {
        messages::send(
            db,
            clock,
            base_url,
            None,
            d,
            messages::Sender::Candidate,
            "Bonjour, pouvez-vous me confirmer que mon dossier est complet ?",
        )
        .await
        .map_err(|e| step("message")(&e))?;
    }
    if i.is_multiple_of(17) {
        following::follow(db, clock, member, &d.id, &member.id)
            .await
            .map_err(|e| step("follow")(&e))?;
    }
    Ok(())
}
