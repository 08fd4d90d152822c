//! The préinscription: drafts kept in the database (so a reload, a dropped connection
//! or another server instance loses nothing), then the dossier's creation.

use domain::{
    DossierNumber, ExamSlug,
    certified::CertifiedIdentity,
    registration::{self, Answers, FieldErrors, Registration, Step, WizardExam},
};
use sqlx::Row;

use crate::{
    Clock, Db, DbError,
    access::passwords::{PasswordError, Passwords},
    access::secrets::token_hash,
    access::throttle,
    dossiers::{self, DossierError},
};

/// Drafts untouched this long are dropped.
const DRAFT_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("unknown exam")]
    UnknownExam,
    #[error("registration is closed for this exam")]
    Closed,
    #[error("step {0:?} has errors")]
    Invalid(Step, FieldErrors),
    #[error("no password chosen yet")]
    NoPassword,
    #[error("this person already has a dossier for this exam")]
    AlreadyRegistered,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("corrupt draft: {0}")]
    Corrupt(String),
    /// A creation limit is reached (see [`create_dossier`]): try again at `retry_at_ms`.
    #[error("too many new dossiers ({0:?})")]
    TooMany(Crowded, i64),
}

/// Which creation limit was reached: the page words each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crowded {
    /// Too many dossiers created from this connection.
    Client,
    /// Too many dossiers given this e-mail address.
    Email,
}

impl From<sqlx::Error> for RegistrationError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

impl From<DossierError> for RegistrationError {
    fn from(value: DossierError) -> Self {
        match value {
            DossierError::RegistrationClosed => Self::Closed,
            DossierError::AlreadyRegistered => Self::AlreadyRegistered,
            DossierError::Db(e) => Self::Db(e),
            DossierError::Corrupt(e) => Self::Corrupt(e),
            DossierError::NumberTaken => Self::Corrupt("dossier number taken".into()),
        }
    }
}

/// An exam open for préinscription, with what the wizard needs of it.
#[derive(Clone, Debug)]
pub struct OpenExam {
    pub slug: ExamSlug,
    pub title: String,
    /// The first instant registration is closed (ms since the epoch).
    pub closes_at_ms: i64,
    pub wizard: WizardExam,
    pub open: bool,
}

pub async fn exam(db: &Db, clock: &dyn Clock, slug: &str) -> Result<OpenExam, RegistrationError> {
    let slug = ExamSlug::parse(slug).map_err(|_| RegistrationError::UnknownExam)?;
    let row = sqlx::query(
        "SELECT title, kind, voies, closes_at FROM exams WHERE slug = $1 AND published = 1",
    )
    .bind(slug.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or(RegistrationError::UnknownExam)?;
    let kind: String = row.try_get("kind")?;
    let voies: String = row.try_get("voies")?;
    let closes_at: i64 = row.try_get("closes_at")?;
    let corrupt = || RegistrationError::Corrupt(slug.to_string());
    Ok(OpenExam {
        title: row.try_get("title")?,
        wizard: WizardExam {
            kind: domain::ExamKind::parse(&kind).ok_or_else(corrupt)?,
            voies: voies
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| domain::Voie::parse(v).ok_or_else(corrupt))
                .collect::<Result<_, _>>()?,
        },
        open: clock.now().as_millisecond() < closes_at,
        closes_at_ms: closes_at,
        slug,
    })
}

/// What the wizard has kept for one browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    pub answers: Answers,
    pub errors: FieldErrors,
    pub password_chosen: bool,
    /// The identity FranceConnect certified, when the préinscription began there: its
    /// fields ([`domain::certified::LOCKED_FIELDS`]) are locked.
    pub certified: Option<CertifiedIdentity>,
}

pub async fn load_draft(db: &Db, token: &str, exam: &ExamSlug) -> Result<Draft, RegistrationError> {
    let row = sqlx::query("SELECT answers, errors, password_hash, certified FROM drafts WHERE token_hash = $1 AND exam_slug = $2")
        .bind(token_hash(token))
        .bind(exam.as_str())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Ok(Draft::default());
    };
    let answers: String = row.try_get("answers")?;
    let errors: String = row.try_get("errors")?;
    let hash: Option<String> = row.try_get("password_hash")?;
    let certified: Option<String> = row.try_get("certified")?;
    Ok(Draft {
        certified: certified
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| RegistrationError::Corrupt(e.to_string()))?,
        answers: serde_json::from_str(&answers)
            .map_err(|e| RegistrationError::Corrupt(e.to_string()))?,
        errors: serde_json::from_str(&errors)
            .map_err(|e| RegistrationError::Corrupt(e.to_string()))?,
        password_chosen: hash.is_some(),
    })
}

async fn store_draft(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    exam: &ExamSlug,
    draft: &Draft,
    password_hash: Option<&str>,
) -> Result<(), RegistrationError> {
    let now = clock.now().as_millisecond();
    let json = |v| serde_json::to_string(v).map_err(|e| RegistrationError::Corrupt(e.to_string()));
    sqlx::query(
        "INSERT INTO drafts (token_hash, exam_slug, answers, errors, password_hash, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (token_hash, exam_slug) DO UPDATE SET
             answers = excluded.answers, errors = excluded.errors,
             password_hash = COALESCE(excluded.password_hash, drafts.password_hash),
             updated_at = excluded.updated_at",
    )
    .bind(token_hash(token))
    .bind(exam.as_str())
    .bind(json(&draft.answers)?)
    .bind(json(&draft.errors)?)
    .bind(password_hash)
    .bind(now)
    .execute(db.pool())
    .await?;
    sqlx::query("DELETE FROM drafts WHERE updated_at < $1")
        .bind(now - DRAFT_LIFETIME_MS)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Keeps what was typed on one step and checks it. Going back keeps the answers
/// without checking them. Returns the step to show next (the same one when it has
/// errors). The password is hashed at once and never stored in clear.
#[allow(clippy::too_many_arguments)]
pub async fn save_step(
    db: &Db,
    clock: &dyn Clock,
    passwords: &Passwords,
    token: &str,
    exam: &OpenExam,
    step: Step,
    forward: bool,
    mut typed: Answers,
) -> Result<Step, RegistrationError> {
    if !exam.open {
        return Err(RegistrationError::Closed);
    }
    let mut draft = load_draft(db, token, &exam.slug).await?;
    let mut password_hash = None;
    if step == Step::MotDePasse {
        let password = typed.remove("mot_de_passe").unwrap_or_default();
        let confirmation = typed
            .remove("mot_de_passe_confirmation")
            .unwrap_or_default();
        if forward || !password.is_empty() {
            let errors = registration::check_password(&password, &confirmation, &draft.answers);
            let unchanged = password.is_empty() && confirmation.is_empty() && draft.password_chosen;
            if !unchanged {
                for field in step.fields() {
                    draft.errors.remove(*field);
                }
                if errors.is_empty() {
                    password_hash = Some(passwords.hash(&password).await?);
                } else if forward {
                    draft.errors.extend(errors);
                    store_draft(db, clock, token, &exam.slug, &draft, None).await?;
                    return Ok(step);
                }
            }
        }
    }
    // Only this step's fields are taken from the form.
    for field in step.fields() {
        if let Some(value) = typed.remove(*field) {
            let value = registration::cut_answer(field, value);
            draft.answers.insert(field.to_string(), value);
        } else if *field == "attestation" {
            draft.answers.remove(*field);
        }
        draft.errors.remove(*field);
    }
    // What FranceConnect certified is not the form's to change, whatever is posted.
    if let Some(certified) = &draft.certified {
        draft.answers.extend(certified.locked_answers());
    }
    let next = if forward {
        let today = clock.today_in_paris();
        let errors = if step == Step::MotDePasse {
            FieldErrors::new()
        } else {
            registration::check_step(step, &draft.answers, &exam.wizard, today)
        };
        if errors.is_empty() {
            step.next(&exam.wizard).unwrap_or(step)
        } else {
            draft.errors.extend(errors);
            step
        }
    } else {
        step.previous(&exam.wizard).unwrap_or(step)
    };
    store_draft(
        db,
        clock,
        token,
        &exam.slug,
        &draft,
        password_hash.as_deref(),
    )
    .await?;
    Ok(next)
}

/// Starts (or takes over) this browser's préinscription to `exam` with an identity
/// FranceConnect certified: its fields filled and locked, the usage name and e-mail
/// address suggested where none is typed yet, the pairwise subject kept for the dossier.
pub async fn certify_draft(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    exam: &OpenExam,
    subject: &str,
    identity: &CertifiedIdentity,
    id_token: &str,
) -> Result<(), RegistrationError> {
    if !exam.open {
        return Err(RegistrationError::Closed);
    }
    let mut draft = load_draft(db, token, &exam.slug).await?;
    for (field, value) in identity.suggested_answers() {
        draft
            .answers
            .entry(field.clone())
            .or_insert_with(|| value.clone());
        if field == "email" {
            draft
                .answers
                .entry("email_confirmation".into())
                .or_insert(value);
        }
    }
    draft.answers.extend(identity.locked_answers());
    for field in domain::certified::LOCKED_FIELDS {
        draft.errors.remove(field);
    }
    store_draft(db, clock, token, &exam.slug, &draft, None).await?;
    let certified =
        serde_json::to_string(identity).map_err(|e| RegistrationError::Corrupt(e.to_string()))?;
    sqlx::query(
        "UPDATE drafts SET franceconnect_sub = $1, certified = $2, franceconnect_id_token = $3
         WHERE token_hash = $4 AND exam_slug = $5",
    )
    .bind(subject)
    .bind(certified)
    .bind(id_token)
    .bind(token_hash(token))
    .bind(exam.slug.as_str())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The id_token of the FranceConnect sign-in this draft began with, if any: the
/// dossier's first session keeps it, so that its logout ends FranceConnect's too.
pub async fn draft_id_token(
    db: &Db,
    token: &str,
    exam: &ExamSlug,
) -> Result<Option<String>, RegistrationError> {
    Ok(sqlx::query(
        "SELECT franceconnect_id_token FROM drafts WHERE token_hash = $1 AND exam_slug = $2",
    )
    .bind(token_hash(token))
    .bind(exam.as_str())
    .fetch_optional(db.pool())
    .await?
    .map(|r| r.try_get::<Option<String>, _>("franceconnect_id_token"))
    .transpose()?
    .flatten())
}

/// Keeps who was refused for an identity already registered on this exam, for staff
/// to see on the existing dossier: the first one may not be who they say. One row per
/// e-mail address, with how many times and when last.
async fn record_refused_duplicate(
    db: &Db,
    clock: &dyn Clock,
    exam: &ExamSlug,
    registration: &Registration,
) -> Result<(), RegistrationError> {
    let now = clock.now().as_millisecond();
    sqlx::query(
        "INSERT INTO refused_duplicates (id, exam_slug, identity_key, name, email, phone, first_at, at, times)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)
         ON CONFLICT (exam_slug, identity_key, email) DO UPDATE
         SET name = excluded.name, phone = excluded.phone, at = excluded.at,
             times = refused_duplicates.times + 1",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(exam.as_str())
    .bind(registration.identity_key())
    .bind(registration.display_name())
    .bind(registration.email.as_str())
    .bind(registration.phone.as_str())
    .bind(now)
    .execute(db.pool())
    .await?;
    tracing::warn!(exam = %exam.as_str(), "préinscription refused: identity already registered");
    Ok(())
}

/// Refused préinscriptions shown on one page of a dossier's.
pub const REFUSED_DUPLICATES_PER_PAGE: i64 = 20;

/// One refused préinscription with this dossier's identity, as staff see it: who, and
/// how many times from this address, first and last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedDuplicate {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub first_at: i64,
    pub at: i64,
    pub times: i64,
}

/// The préinscriptions refused because this dossier holds their identity, the latest
/// first, page `page` (from 1) of [`REFUSED_DUPLICATES_PER_PAGE`]; and how many there
/// are in all.
pub async fn refused_duplicates(
    db: &Db,
    dossier_id: &str,
    page: i64,
) -> Result<(Vec<RefusedDuplicate>, i64), RegistrationError> {
    const OF_DOSSIER: &str = "FROM refused_duplicates r
         JOIN dossiers d ON d.exam_slug = r.exam_slug AND d.identity_key = r.identity_key
         WHERE d.id = $1";
    let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n {OF_DOSSIER}"
    )))
    .bind(dossier_id)
    .fetch_one(db.pool())
    .await?
    .try_get("n")?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.name, r.email, r.phone, r.first_at, r.at, r.times {OF_DOSSIER}
         ORDER BY r.at DESC, r.id LIMIT $2 OFFSET $3"
    )))
    .bind(dossier_id)
    .bind(REFUSED_DUPLICATES_PER_PAGE)
    .bind((page.max(1) - 1) * REFUSED_DUPLICATES_PER_PAGE)
    .fetch_all(db.pool())
    .await?;
    let shown = rows
        .iter()
        .map(|r| {
            Ok(RefusedDuplicate {
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                first_at: r.try_get("first_at")?,
                at: r.try_get("at")?,
                times: r.try_get("times")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((shown, total))
}

/// Creates the dossier from a complete draft, deletes the draft, and emails the
/// number. A mail failure does not undo the dossier: the page shows the number too.
///
/// Counted before it is made, and given back when nothing was made (but for a refused
/// duplicate, which stays counted): per e-mail address
/// (5 a day: a family may share one, a stranger cannot flood someone's mailbox) and per
/// `client` (60 an hour, 200 a day: forty candidates behind one school's or operator's
/// address all get through on the last evening; a script does not create without
/// bound).
pub async fn create_dossier(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    token: &str,
    exam: &OpenExam,
    attestation: bool,
    client: &str,
) -> Result<(String, DossierNumber), RegistrationError> {
    if !exam.open {
        return Err(RegistrationError::Closed);
    }
    let mut draft = load_draft(db, token, &exam.slug).await?;
    if attestation {
        draft.answers.insert("attestation".into(), "oui".into());
    } else {
        draft.answers.remove("attestation");
    }
    let today = clock.today_in_paris();
    let registration: Registration = match Registration::parse(&draft.answers, &exam.wizard, today)
    {
        Ok(r) => r,
        Err((step, errors)) => {
            draft.errors = errors.clone();
            store_draft(db, clock, token, &exam.slug, &draft, None).await?;
            return Err(RegistrationError::Invalid(step, errors));
        }
    };
    let now_ms = clock.now().as_millisecond();
    let by_email = match throttle::attempt(
        db,
        &[throttle::new_dossier_email_limit(
            registration.email.as_str(),
        )],
        now_ms,
    )
    .await?
    {
        Ok(counted) => counted,
        Err(retry_at) => return Err(RegistrationError::TooMany(Crowded::Email, retry_at)),
    };
    let by_client =
        match throttle::attempt(db, &throttle::new_dossier_limits(client), now_ms).await? {
            Ok(counted) => counted,
            Err(retry_at) => {
                throttle::forgive(db, by_email, &[]).await?;
                return Err(RegistrationError::TooMany(Crowded::Client, retry_at));
            }
        };
    let created = create_counted(db, clock, base_url, token, exam, &registration).await;
    match created {
        // Refused as a duplicate: counted all the same, or retrying (or a script)
        // would cost nothing.
        Ok(_) | Err(RegistrationError::AlreadyRegistered) => {}
        Err(_) => {
            throttle::forgive(db, by_email, &[]).await?;
            throttle::forgive(db, by_client, &[]).await?;
        }
    }
    created
}

/// [`create_dossier`] once its limits are counted.
async fn create_counted(
    db: &Db,
    clock: &dyn Clock,
    base_url: &str,
    token: &str,
    exam: &OpenExam,
    registration: &Registration,
) -> Result<(String, DossierNumber), RegistrationError> {
    let row = sqlx::query(
        "SELECT password_hash, franceconnect_sub, certified FROM drafts WHERE token_hash = $1 AND exam_slug = $2",
    )
    .bind(token_hash(token))
    .bind(exam.slug.as_str())
    .fetch_optional(db.pool())
    .await?;
    let Some(hash) = row.as_ref().and_then(|r| {
        r.try_get::<Option<String>, _>("password_hash")
            .ok()
            .flatten()
    }) else {
        return Err(RegistrationError::NoPassword);
    };
    let franceconnect: Option<(String, String)> = match &row {
        Some(r) => r
            .try_get::<Option<String>, _>("franceconnect_sub")?
            .zip(r.try_get::<Option<String>, _>("certified")?),
        None => None,
    };
    let announce = |number: &DossierNumber| {
        let body = format!(
            "Bonjour {name},\n\nVotre préinscription au {exam} est enregistrée.\n\n\
             Votre n° de dossier : {number}\n\n\
             C'est votre identifiant pour vous connecter à votre espace sécurisé, avec le mot de passe \
             que vous avez choisi :\n{base_url}/connexion\n\n\
             Votre dossier d'inscription est joint à ce message (PDF) ; il reste disponible dans votre \
             espace sécurisé.\n\n\
             Déposez-y vos pièces justificatives, puis cliquez sur « CLÔTURER MON INSCRIPTION » : \
             votre inscription ne sera prise en compte qu'après cette clôture.\n\n\
             Date limite de clôture : {deadline}.\n\n\
             Le service concours\n",
            name = registration.display_name(),
            exam = exam.title,
            deadline = domain::french::deadline_ms(exam.closes_at_ms),
        );
        crate::letters::outbox::Letter::text(
            registration.email.as_str(),
            format!("Votre n° de dossier : {number}"),
            body,
        )
        .with_dossier_sheet()
    };
    let number =
        match dossiers::create(db, clock, &exam.slug, registration, &hash, Some(&announce)).await {
            Ok(number) => number,
            Err(DossierError::AlreadyRegistered) => {
                record_refused_duplicate(db, clock, &exam.slug, registration).await?;
                return Err(RegistrationError::AlreadyRegistered);
            }
            Err(e) => return Err(e.into()),
        };
    if let Some((subject, certified)) = franceconnect {
        sqlx::query(
            "UPDATE dossiers SET franceconnect_sub = $1, franceconnect_via = 'inscription',
                 franceconnect_at = $2, certified = $3
             WHERE number = $4",
        )
        .bind(subject)
        .bind(clock.now().as_millisecond())
        .bind(certified)
        .bind(number.as_str())
        .execute(db.pool())
        .await?;
    }
    sqlx::query("DELETE FROM drafts WHERE token_hash = $1 AND exam_slug = $2")
        .bind(token_hash(token))
        .bind(exam.slug.as_str())
        .execute(db.pool())
        .await?;
    let dossier_id: String = sqlx::query("SELECT id FROM dossiers WHERE number = $1")
        .bind(number.as_str())
        .fetch_one(db.pool())
        .await?
        .try_get("id")?;
    Ok((dossier_id, number))
}
