//! « Mes données »: everything the service holds on a candidate (GDPR article 15),
//! for the archive the espace offers (`/espace/mes-donnees.zip`): the answers as JSON
//! and as a page to read, each deposited file with its SHA-256, the messages and
//! their files, the mails, the sessions. The server adds the files' bytes and the two
//! PDFs.

use serde::Serialize;

use crate::{
    Db, DbError,
    dossiers::{Dossier, export::entry_name, messages},
    files::attachments::{self, Attachment},
    letters::outbox,
};

/// What the archive holds besides the files' bytes.
#[derive(Debug)]
pub struct MyData {
    /// `donnees.json`.
    pub json: String,
    /// `donnees.html`: the same, to read.
    pub html: String,
    /// The stored files, as the archive names them.
    pub files: Vec<crate::files::storage::Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum MyDataError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Files(#[from] attachments::AttachmentError),
    #[error(transparent)]
    Messages(#[from] messages::MessageError),
}

impl From<sqlx::Error> for MyDataError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

#[derive(Serialize)]
struct Export<'a> {
    genere_le: String,
    dossier: DossierPart<'a>,
    reponses: &'a domain::registration::Registration,
    pieces: Vec<FilePart>,
    messages: Vec<MessagePart>,
    courriels: Vec<MailPart>,
    sessions: Vec<SessionPart>,
    note: &'static str,
}

#[derive(Serialize)]
struct DossierPart<'a> {
    numero: String,
    concours: &'a str,
    etat: &'static str,
    preinscription_le: String,
    cloture_le: Option<String>,
    desistement_le: Option<String>,
    /// What FranceConnect certified, and the pairwise subject that links the dossier.
    franceconnect: Option<CertifiedPart<'a>>,
}

#[derive(Serialize)]
struct CertifiedPart<'a> {
    comment: &'static str,
    le: String,
    identifiant_franceconnect: String,
    identite: &'a domain::certified::CertifiedIdentity,
}

#[derive(Serialize)]
struct FilePart {
    piece: String,
    fichier: String,
    dans_l_archive: Option<String>,
    taille_octets: u64,
    sha256: String,
    depose_le: String,
    antivirus: &'static str,
}

#[derive(Serialize)]
struct MessagePart {
    auteur: &'static str,
    le: String,
    texte: String,
    fichier: Option<String>,
}

#[derive(Serialize)]
struct MailPart {
    objet: String,
    ecrit_le: String,
    envoye_le: Option<String>,
}

#[derive(Serialize)]
struct SessionPart {
    ouverte_le: String,
    expire_le: String,
}

const NOTE: &str = "Le service ne conserve pas d'autre historique de vos connexions que les sessions ouvertes ci-dessus ; votre mot de passe n'est conservé que sous une forme chiffrée irréversible (argon2id) et ne figure pas ici.";

fn when(ms: i64) -> String {
    format!(
        "{} (heure de Paris)",
        domain::french::paris_date_time_ms(ms)
    )
}

/// « Pièce - fichier.pdf » under `folder`, « (2) » added when the name is taken.
fn unique_entry(folder: &str, piece: &str, attachment: &Attachment, taken: &[String]) -> String {
    let mut n = 1;
    loop {
        let file = match n {
            1 => attachment.name.clone(),
            n => format!("({n}) {}", attachment.name),
        };
        let name = format!("{folder}{}", entry_name(piece, &file, attachment.kind));
        if !taken.contains(&name) {
            return name;
        }
        n += 1;
    }
}

/// Everything held on this dossier's candidate, at `now_ms`.
pub async fn gather(db: &Db, dossier: &Dossier, now_ms: i64) -> Result<MyData, MyDataError> {
    let pieces = crate::catalogue::pieces(db, dossier.exam_slug.as_str()).await?;
    let label = |code: &str| {
        pieces
            .iter()
            .find(|p| p.code == code)
            .map_or_else(|| code.to_string(), |p| p.label.clone())
    };
    let mut files = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let mut file_parts = Vec::new();
    let attachments = attachments::list(db, &dossier.id).await?;
    let conversation = messages::history(db, &dossier.id).await?;
    let mut entry_of = |folder: &str, piece: &str, a: &Attachment| {
        // An infected file's bytes are gone: its row only is said.
        let entry = a.scan.counts().then(|| {
            let name = unique_entry(folder, piece, a, &taken);
            taken.push(name.clone());
            files.push(crate::files::storage::Entry {
                name: name.clone(),
                key: a.storage_key.clone(),
                at_ms: a.created_at,
            });
            name
        });
        FilePart {
            piece: piece.to_string(),
            fichier: a.name.clone(),
            dans_l_archive: entry,
            taille_octets: a.size,
            sha256: a.sha256.clone(),
            depose_le: when(a.created_at),
            antivirus: a.scan.label(),
        }
    };
    for a in attachments
        .iter()
        .filter(|a| !a.piece_code.starts_with('_'))
    {
        file_parts.push(entry_of("pieces/", &label(&a.piece_code), a));
    }
    let mut message_parts = Vec::new();
    for m in &conversation {
        let file = m.file.as_ref().map(|a| {
            entry_of("messages/", "Message", a)
                .dans_l_archive
                .unwrap_or_else(|| a.name.clone())
        });
        message_parts.push(MessagePart {
            auteur: match m.author {
                messages::Author::Candidate => "vous",
                messages::Author::Service => "le service concours",
            },
            le: when(m.created_at),
            texte: m.body.clone(),
            fichier: file,
        });
    }
    let mails = outbox::of_dossier(db, &dossier.id)
        .await?
        .into_iter()
        .map(|s| MailPart {
            objet: s.subject,
            ecrit_le: when(s.created_at),
            envoye_le: s.sent_at.map(when),
        })
        .collect();
    let sessions = sqlx::query_as::<_, (i64, i64)>(
        "SELECT created_at, expires_at FROM sessions WHERE dossier_id = $1 AND expires_at > $2 ORDER BY created_at",
    )
    .bind(&dossier.id)
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(|(opened, expires)| SessionPart {
        ouverte_le: when(opened),
        expire_le: when(expires),
    })
    .collect();
    let (withdrawn_at, subject): (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT withdrawn_at, franceconnect_sub FROM dossiers WHERE id = $1")
            .bind(&dossier.id)
            .fetch_one(db.pool())
            .await?;
    let export = Export {
        genere_le: when(now_ms),
        dossier: DossierPart {
            numero: dossier.number.to_string(),
            concours: &dossier.exam_title,
            etat: state_words(&dossier.status, withdrawn_at),
            preinscription_le: when(dossier.created_at),
            cloture_le: dossier.closed_at.map(when),
            desistement_le: withdrawn_at.map(when),
            franceconnect: match (&dossier.certified, subject) {
                (Some(c), Some(subject)) => Some(CertifiedPart {
                    comment: if c.via == "inscription" {
                        "préinscription avec FranceConnect"
                    } else {
                        "dossier lié à FranceConnect"
                    },
                    le: when(c.at),
                    identifiant_franceconnect: subject,
                    identite: &c.identity,
                }),
                _ => None,
            },
        },
        reponses: &dossier.registration,
        pieces: file_parts,
        messages: message_parts,
        courriels: mails,
        sessions,
        note: NOTE,
    };
    let json = serde_json::to_string_pretty(&export).unwrap_or_default();
    let html = to_html(&export);
    Ok(MyData { json, html, files })
}

fn state_words(status: &str, withdrawn_at: Option<i64>) -> &'static str {
    if withdrawn_at.is_some() {
        return "désisté";
    }
    match status {
        "open" => "préinscrit, en construction",
        "closed" => "clôturé, en cours d'instruction",
        "accepted" => "admis à concourir",
        "rejected" => "refusé",
        _ => "inconnu",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The export as a page a person reads: headings, definition lists, tables.
fn to_html(e: &Export) -> String {
    let r = e.reponses;
    let mut out = String::new();
    let row = |out: &mut String, label: &str, value: &str| {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            escape(label),
            escape(value)
        ));
    };
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Mes données · dossier {n}</title></head><body>\n<h1>Mes données · dossier {n}</h1>\n<p>{g}</p>\n<h2>Dossier</h2>\n<dl>\n",
        n = escape(&e.dossier.numero),
        g = escape(&format!("Extraites le {}.", e.genere_le)),
    ));
    row(&mut out, "Concours", e.dossier.concours);
    row(&mut out, "État", e.dossier.etat);
    row(&mut out, "Préinscription le", &e.dossier.preinscription_le);
    if let Some(at) = &e.dossier.cloture_le {
        row(&mut out, "Clôturé le", at);
    }
    if let Some(at) = &e.dossier.desistement_le {
        row(&mut out, "Désistement le", at);
    }
    if let Some(fc) = &e.dossier.franceconnect {
        row(
            &mut out,
            "Identité certifiée par FranceConnect",
            &format!(
                "{}, le {} (identifiant FranceConnect propre à ce service : {})",
                fc.comment, fc.le, fc.identifiant_franceconnect
            ),
        );
    }
    out.push_str("</dl>\n<h2>Vos réponses</h2>\n<dl>\n");
    row(&mut out, "Civilité", &r.civilite);
    row(&mut out, "Nom", &r.display_name());
    row(
        &mut out,
        "Date et lieu de naissance",
        &format!(
            "{}, {} ({})",
            domain::french::long_date(r.birth_date),
            r.birth_place,
            r.birth_country
        ),
    );
    row(&mut out, "Nationalité", &r.nationality);
    row(&mut out, "Adresse électronique", r.email.as_str());
    row(&mut out, "Téléphone", r.phone.as_str());
    let mut address = r.address.clone();
    if let Some(more) = &r.address_complement {
        address.push_str(&format!(", {more}"));
    }
    address.push_str(&format!(", {} {}, {}", r.postal_code, r.city, r.country));
    row(&mut out, "Adresse", &address);
    if let Some(voie) = r.voie {
        row(&mut out, "Voie", voie.label());
    }
    row(
        &mut out,
        "Aménagement d'épreuves demandé",
        r.accommodation.as_deref().unwrap_or("aucun"),
    );
    out.push_str(
        "</dl>\n<p>Toutes vos réponses, telles qu'enregistrées, sont dans donnees.json.</p>\n",
    );
    out.push_str("<h2>Pièces déposées</h2>\n");
    if e.pieces.is_empty() {
        out.push_str("<p>Aucune.</p>\n");
    } else {
        out.push_str("<table><thead><tr><th scope=\"col\">Pièce</th><th scope=\"col\">Fichier dans l'archive</th><th scope=\"col\">Taille (octets)</th><th scope=\"col\">Déposé le</th><th scope=\"col\">Empreinte SHA-256</th></tr></thead><tbody>\n");
        for f in &e.pieces {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                escape(&f.piece),
                escape(
                    f.dans_l_archive
                        .as_deref()
                        .unwrap_or("(supprimé : infecté)")
                ),
                f.taille_octets,
                escape(&f.depose_le),
                escape(&f.sha256)
            ));
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<h2>Messages</h2>\n");
    if e.messages.is_empty() {
        out.push_str("<p>Aucun.</p>\n");
    }
    for m in &e.messages {
        out.push_str(&format!(
            "<h3>De {} le {}</h3>\n<p>{}</p>\n",
            escape(m.auteur),
            escape(&m.le),
            escape(&m.texte).replace('\n', "<br>")
        ));
        if let Some(file) = &m.fichier {
            out.push_str(&format!("<p>Fichier joint : {}</p>\n", escape(file)));
        }
    }
    out.push_str("<h2>Courriels envoyés</h2>\n");
    if e.courriels.is_empty() {
        out.push_str("<p>Aucun.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for m in &e.courriels {
            let sent = m.envoye_le.as_ref().map_or_else(
                || "pas encore envoyé".to_string(),
                |at| format!("envoyé le {at}"),
            );
            out.push_str(&format!(
                "<li>{} ({})</li>\n",
                escape(&m.objet),
                escape(&sent)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Connexions</h2>\n<ul>\n");
    for s in &e.sessions {
        out.push_str(&format!(
            "<li>Session ouverte le {}, jusqu'au {}</li>\n",
            escape(&s.ouverte_le),
            escape(&s.expire_le)
        ));
    }
    out.push_str(&format!(
        "</ul>\n<p>{}</p>\n</body></html>\n",
        escape(e.note)
    ));
    out
}
