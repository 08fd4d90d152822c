#[test]
fn answers_are_cut_to_their_fields_maximum() {
    assert_eq!(cut_answer("commune", "Laval".into()), "Laval");
    assert_eq!(cut_answer("commune", "é".repeat(5000)).chars().count(), 200);
    assert_eq!(cut_answer("activite", "x".repeat(5000)).len(), 4000);
    assert_eq!(cut_answer("email", "a".repeat(300)).len(), 254);
}

use super::*;
use jiff::civil::date;

const TODAY: Date = date(2026, 11, 24);

fn concours() -> WizardExam {
    WizardExam {
        kind: ExamKind::Concours,
        voies: vec![Voie::Externe, Voie::Interne, Voie::TroisiemeConcours],
    }
}

pub(crate) fn complete() -> Answers {
    [
        ("civilite", "madame"),
        ("nom_naissance", "N’Diaye"),
        ("nom_usage", ""),
        ("prenoms", "Aminata Marie"),
        ("date_naissance", "14/07/1990"),
        ("lieu_naissance", "Laval"),
        ("pays_naissance", "France"),
        ("nationalite", "francaise"),
        ("email", "aminata.ndiaye@exemple.fr"),
        ("email_confirmation", "Aminata.NDiaye@Exemple.fr"),
        ("telephone", "06 12 34 56 78"),
        ("adresse", "12 rue de la Paix"),
        ("code_postal", "53000"),
        ("commune", "Laval"),
        ("pays", "France"),
        ("voie", "externe"),
        ("diplome", "Licence de droit"),
        ("diplome_annee", "2012"),
        ("amenagement", "non"),
        ("attestation", "oui"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn a_complete_wizard_gives_a_registration() {
    let r = Registration::parse(&complete(), &concours(), TODAY).unwrap();
    assert_eq!(r.birth_name.as_str(), "N'Diaye");
    assert_eq!(r.phone.as_str(), "+33612345678");
    assert_eq!(r.voie, Some(Voie::Externe));
    assert!(matches!(r.situation, Situation::Diploma { year: 2012, .. }));
    assert_eq!(r.display_name(), "Aminata Marie N'DIAYE");
    assert_eq!(r.identity_key(), "ndiaye|aminatamarie|1990-07-14");
}

#[test]
fn the_voie_step_exists_only_when_the_exam_has_voies() {
    let pro = WizardExam {
        kind: ExamKind::ExamenProfessionnel,
        voies: vec![],
    };
    assert!(!Step::sequence(&pro).contains(&Step::Voie));
    assert_eq!(Step::Coordonnees.next(&pro), Some(Step::Situation));
    assert_eq!(Step::Coordonnees.next(&concours()), Some(Step::Voie));
    assert_eq!(Step::Identite.previous(&concours()), None);
    assert_eq!(Step::Verification.next(&concours()), None);
}

#[test]
fn the_situation_follows_the_voie() {
    let mut a = complete();
    a.insert("voie".into(), "interne".into());
    let errors = check_step(Step::Situation, &a, &concours(), TODAY);
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["date_titularisation", "employeur", "grade"]
    );
    a.insert("voie".into(), "troisieme_concours".into());
    assert_eq!(
        check_step(Step::Situation, &a, &concours(), TODAY)
            .keys()
            .collect::<Vec<_>>(),
        ["activite"]
    );
    // An examen professionnel always asks for the employer, whatever was typed.
    let pro = WizardExam {
        kind: ExamKind::ExamenProfessionnel,
        voies: vec![],
    };
    assert!(check_step(Step::Situation, &complete(), &pro, TODAY).contains_key("employeur"));
    assert_eq!(
        Step::Situation.relevant_fields(&pro, &complete()),
        ["employeur", "grade", "date_titularisation"]
    );
    assert_eq!(
        Step::Situation.relevant_fields(&concours(), &complete()),
        ["diplome", "diplome_annee"]
    );
    assert_eq!(
        Step::Amenagement.relevant_fields(&concours(), &complete()),
        ["amenagement"]
    );
}

#[test]
fn each_step_names_its_wrong_fields() {
    let mut a = complete();
    a.insert("email_confirmation".into(), "autre@exemple.fr".into());
    a.insert("code_postal".into(), "530".into());
    let errors = check_step(Step::Coordonnees, &a, &concours(), TODAY);
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["code_postal", "email_confirmation"]
    );
    // Abroad, any postal code will do.
    a.insert("pays".into(), "Belgique".into());
    a.insert("code_postal".into(), "1000".into());
    a.insert(
        "email_confirmation".into(),
        "aminata.ndiaye@exemple.fr".into(),
    );
    assert!(check_step(Step::Coordonnees, &a, &concours(), TODAY).is_empty());
    let mut a = complete();
    a.insert("amenagement".into(), "oui".into());
    assert!(
        check_step(Step::Amenagement, &a, &concours(), TODAY)
            .contains_key("amenagement_precisions")
    );
    a.remove("attestation");
    assert!(check_step(Step::Verification, &a, &concours(), TODAY).contains_key("attestation"));
}

#[test]
fn an_incomplete_wizard_sends_back_to_the_first_wrong_step() {
    let mut a = complete();
    a.remove("telephone");
    a.remove("diplome");
    let (step, errors) = Registration::parse(&a, &concours(), TODAY).unwrap_err();
    assert_eq!(step, Step::Coordonnees);
    assert!(errors.contains_key("telephone"));
}

#[test]
fn passwords_must_match_and_avoid_the_candidates_words() {
    let a = complete();
    assert!(check_password("cheval correct agrafe", "cheval correct agrafe", &a).is_empty());
    assert!(
        check_password("cheval correct agrafe", "cheval correct", &a)
            .contains_key("mot_de_passe_confirmation")
    );
    assert!(check_password("aminata1990!", "aminata1990!", &a).contains_key("mot_de_passe"));
}
