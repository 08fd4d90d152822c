//! The two printouts the service makes: the accusé de réception of a closed dossier
//! and the dossier d'inscription, each headed by the Centre that issues it.

use super::{Block, Printout};
use crate::letters::Letterhead;

/// Who issues a printout, at its head: the Centre's name, its service concours and
/// address, and how to reach it (an accusé de réception names its issuer).
fn issuer(head: &Letterhead) -> Vec<Block> {
    let c = &head.centre;
    vec![
        Block::Issuer(c.nom.clone()),
        Block::Small(format!("Service concours · {}", c.adresse)),
        Block::Small(format!("{} · {} · {}", c.email, c.telephone, c.site)),
    ]
}

/// The accusé de réception of a closed dossier.
pub fn receipt(r: &crate::dossiers::closure::Receipt, head: &Letterhead) -> Printout {
    use domain::french;
    let base_url = &head.base_url;
    let mut blocks = issuer(head);
    blocks.extend([
        Block::Title("Accusé de réception".into()),
        Block::Field("N° de dossier".into(), r.number.clone()),
        Block::Field("Concours".into(), r.exam_title.clone()),
        Block::Field("Candidat".into(), r.candidate.clone()),
        Block::Field(
            "Inscription clôturée le".into(),
            format!(
                "{} (heure de Paris)",
                french::paris_date_time_ms(r.closed_at)
            ),
        ),
        Block::Text("Votre dossier est clôturé, il est en cours d'instruction.".into()),
        Block::Heading(format!("Fichiers reçus ({})", r.files.len())),
    ]);
    for f in &r.files {
        blocks.extend([
            Block::Rule,
            Block::Field("Pièce".into(), f.piece.clone()),
            Block::Field("Fichier".into(), f.name.clone()),
            Block::Field(
                "Taille".into(),
                format!("{} ({} octets)", french::size(f.size), f.size),
            ),
            Block::Field(
                "Déposé le".into(),
                french::paris_date_time_ms(f.deposited_at),
            ),
            Block::Hash("Empreinte SHA-256".into(), f.sha256.clone()),
        ]);
    }
    blocks.extend([
        Block::Rule,
        Block::Small(format!(
            "Empreinte de cet accusé de réception (SHA-256) : {}",
            r.fingerprint()
        )),
        Block::Small(
            "L'empreinte SHA-256 identifie exactement chaque fichier reçu : le moindre changement du fichier la change."
                .into(),
        ),
        Block::Small(format!(
            "Cet accusé de réception reste consultable dans votre espace sécurisé : {base_url}/espace/accuse-de-reception"
        )),
    ]);
    Printout {
        title: format!("Accusé de réception · dossier {}", r.number),
        issuer: head.centre.nom.clone(),
        blocks,
    }
}

/// The dossier d'inscription: the number to log in with, the answers that identify
/// the candidate, the deadline and the pièces to send.
pub fn dossier_sheet(
    dossier: &crate::dossiers::Dossier,
    pieces: &[domain::exam::PieceSpec],
    head: &Letterhead,
) -> Printout {
    use domain::{exam::PieceRequirement, french};
    let r = &dossier.registration;
    let mut address = r.address.clone();
    if let Some(more) = &r.address_complement {
        address.push_str(&format!(", {more}"));
    }
    address.push_str(&format!(", {} {}, {}", r.postal_code, r.city, r.country));
    let base_url = &head.base_url;
    let mut blocks = issuer(head);
    blocks.extend([
        Block::Title("Dossier d'inscription".into()),
        Block::Field("Concours".into(), dossier.exam_title.clone()),
        Block::Text("Votre n° de dossier :".into()),
        Block::Big(dossier.number.to_string()),
        Block::Text(
            "C'est votre identifiant de connexion à votre espace sécurisé, avec le mot de passe choisi à la préinscription (il ne figure pas ici)."
                .into(),
        ),
        Block::Heading("Candidat".into()),
        Block::Field("Nom".into(), r.display_name()),
        Block::Field(
            "Date et lieu de naissance".into(),
            format!("{}, {} ({})", french::long_date(r.birth_date), r.birth_place, r.birth_country),
        ),
        Block::Field("Adresse électronique".into(), r.email.as_str().into()),
        Block::Field("Téléphone".into(), r.phone.as_str().into()),
        Block::Field("Adresse".into(), address),
    ]);
    if let Some(voie) = r.voie {
        blocks.push(Block::Field("Voie".into(), voie.label().into()));
    }
    blocks.extend([
        Block::Field(
            "Préinscription le".into(),
            format!(
                "{} (heure de Paris)",
                french::paris_date_time_ms(dossier.created_at)
            ),
        ),
        Block::Heading("Date limite de clôture".into()),
        Block::Text(format!(
            "Clôturer l'inscription {}.",
            dossier.deadline.to_french()
        )),
        Block::Heading(format!("Pièces demandées ({})", pieces.len())),
    ]);
    for piece in pieces {
        let when = match piece.requirement {
            PieceRequirement::Mandatory => "obligatoire avant la clôture",
            PieceRequirement::MayFollow => "peut être transmise après la clôture",
            PieceRequirement::Optional => "facultative",
        };
        blocks.push(Block::Item(format!("• {} ({when})", piece.label)));
    }
    blocks.extend([
        Block::Heading("Et maintenant".into()),
        Block::Item(format!(
            "1. Connectez-vous à votre espace sécurisé : {base_url}/connexion"
        )),
        Block::Item("2. Déposez chaque pièce demandée, au format PDF ou JPEG.".into()),
        Block::Item(
            "3. Cliquez sur « clôturer mon inscription » avant la date limite : votre inscription n'est prise en compte qu'après cette clôture."
                .into(),
        ),
    ]);
    Printout {
        title: format!("Dossier d'inscription · dossier {}", dossier.number),
        issuer: head.centre.nom.clone(),
        blocks,
    }
}
