//! The demo candidate of the embedded set-up (`APP_DEMO=true`, as `make run` does), so
//! a newcomer can log in at once. Never enable it on a real deployment.

use domain::{
    DossierNumber, ExamSlug,
    registration::{Answers, Registration},
};

use crate::{
    Clock, Db,
    access::passwords::Passwords,
    dossiers::registrations,
    dossiers::{self, DossierError},
};

pub const DEMO_EXAM: &str = "demo-redacteur-territorial";
pub const DEMO_NUMBER: &str = "99-DEM0-0001";
pub const DEMO_PASSWORD: &str = "essai du parcours candidat";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo exam is missing or closed: {0}")]
    Exam(#[from] registrations::RegistrationError),
    #[error("the demo answers are invalid: {0:?}")]
    Answers(String),
    #[error(transparent)]
    Dossier(#[from] DossierError),
    #[error(transparent)]
    Password(#[from] crate::access::passwords::PasswordError),
    #[error(transparent)]
    Staff(#[from] crate::access::staff::StaffError),
}

/// Creates the demo dossier if it does not exist yet.
pub async fn seed(
    db: &Db,
    clock: &dyn Clock,
    passwords: &Passwords,
) -> Result<DossierNumber, DemoError> {
    let number =
        DossierNumber::parse(DEMO_NUMBER).map_err(|e| DemoError::Answers(e.to_string()))?;
    if let Some(dossier) = dossiers::by_number(db, &number).await? {
        // Retired by a run without the demo: its public password works again.
        let hash = passwords.hash(DEMO_PASSWORD).await?;
        set_password(db, &dossier.id, &hash).await?;
        return Ok(number);
    }
    let exam = registrations::exam(db, clock, DEMO_EXAM).await?;
    let answers = demo_answers();
    let registration = Registration::parse(&answers, &exam.wizard, clock.today_in_paris())
        .map_err(|(step, errors)| DemoError::Answers(format!("{step:?}: {errors:?}")))?;
    let hash = passwords.hash(DEMO_PASSWORD).await?;
    let slug = ExamSlug::parse(DEMO_EXAM).map_err(|e| DemoError::Answers(e.to_string()))?;
    Ok(dossiers::insert(db, clock, &slug, &registration, &hash, number, None).await?)
}

/// With the demo off, demo accounts an earlier run left are closed, since their
/// passwords are public: the candidate's becomes a random one nobody knows and its
/// sessions end; the staff member is disabled. Whether there was anything to close.
pub async fn retire(db: &Db, clock: &dyn Clock, passwords: &Passwords) -> Result<bool, DemoError> {
    let number =
        DossierNumber::parse(DEMO_NUMBER).map_err(|e| DemoError::Answers(e.to_string()))?;
    let mut retired = false;
    if let Some(dossier) = dossiers::by_number(db, &number).await? {
        let hash = passwords.hash(&crate::access::secrets::new_token()).await?;
        set_password(db, &dossier.id, &hash).await?;
        sqlx::query("DELETE FROM sessions WHERE dossier_id = $1")
            .bind(&dossier.id)
            .execute(db.pool())
            .await
            .map_err(DossierError::from)?;
        retired = true;
    }
    retired |= crate::access::staff::disable(db, clock, crate::access::staff::DEMO_EMAIL).await?;
    Ok(retired)
}

async fn set_password(db: &Db, dossier_id: &str, hash: &str) -> Result<(), DemoError> {
    sqlx::query("UPDATE dossiers SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(dossier_id)
        .execute(db.pool())
        .await
        .map_err(DossierError::from)?;
    Ok(())
}

/// The demo candidate's préinscription answers (externe, no accommodation); tests start
/// from them too.
pub fn demo_answers() -> Answers {
    [
        ("civilite", "madame"),
        ("nom_naissance", "Démo"),
        ("prenoms", "Camille"),
        ("date_naissance", "01/03/1995"),
        ("lieu_naissance", "Laval"),
        ("pays_naissance", "France"),
        ("nationalite", "francaise"),
        ("email", "camille.demo@exemple.fr"),
        ("email_confirmation", "camille.demo@exemple.fr"),
        ("telephone", "02 43 00 00 00"),
        ("adresse", "1 place de la Préfecture"),
        ("code_postal", "53000"),
        ("commune", "Laval"),
        ("pays", "France"),
        ("voie", "externe"),
        ("diplome", "Licence d'administration publique"),
        ("diplome_annee", "2017"),
        ("amenagement", "non"),
        ("attestation", "oui"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A candidate's dossier on `exam`, from the demo answers with the birth name `who`
/// (letters only) and this voie (`externe` or `interne`), already hashed password: for
/// tests and the benchmark, which need many candidates fast.
pub async fn candidate(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    voie: &str,
    who: &str,
    password_hash: &str,
) -> Result<dossiers::Dossier, DemoError> {
    let mut answers = demo_answers();
    answers.insert("nom_naissance".into(), who.into());
    answers.insert("voie".into(), voie.into());
    candidate_answering(db, clock, exam, answers, password_hash).await
}

/// A candidate's dossier on `exam` from these answers (the situation's answers of
/// every voie are added; those the voie does not ask are not kept).
pub async fn candidate_answering(
    db: &Db,
    clock: &dyn Clock,
    exam: &str,
    mut answers: Answers,
    password_hash: &str,
) -> Result<dossiers::Dossier, DemoError> {
    for (key, value) in [
        ("employeur", "Commune de Laval"),
        ("grade", "Adjoint administratif"),
        ("date_titularisation", "01/09/2019"),
        ("activite", "Secrétaire d'association depuis 2018"),
    ] {
        answers.entry(key.into()).or_insert_with(|| value.into());
    }
    let spec = registrations::exam(db, clock, exam).await?;
    let registration = Registration::parse(&answers, &spec.wizard, clock.today_in_paris())
        .map_err(|(step, errors)| DemoError::Answers(format!("{step:?}: {errors:?}")))?;
    let slug = ExamSlug::parse(exam).map_err(|e| DemoError::Answers(e.to_string()))?;
    let number = dossiers::create(db, clock, &slug, &registration, password_hash, None).await?;
    dossiers::by_number(db, &number)
        .await?
        .ok_or_else(|| DemoError::Answers("the new dossier is missing".into()))
}
