//! The préinscription wizard: its steps, the answers a candidate types, the checks of
//! each step, and the typed [`Registration`] the dossier is created from.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::{
    ExamKind, Voie,
    candidate::{self, Email, FieldError, PersonName, PhoneNumber},
};

/// The raw answers, field name → typed text. Kept as typed (even when invalid) so a
/// page reload, a back button or a refused step never loses anything.
pub type Answers = BTreeMap<String, String>;
/// Field name → French message.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Identite,
    Coordonnees,
    Voie,
    Situation,
    Amenagement,
    MotDePasse,
    Verification,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Identite,
        Step::Coordonnees,
        Step::Voie,
        Step::Situation,
        Step::Amenagement,
        Step::MotDePasse,
        Step::Verification,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Step::Identite => "identite",
            Step::Coordonnees => "coordonnees",
            Step::Voie => "voie",
            Step::Situation => "situation",
            Step::Amenagement => "amenagement",
            Step::MotDePasse => "mot-de-passe",
            Step::Verification => "verification",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Identite => "Identité",
            Step::Coordonnees => "Coordonnées",
            Step::Voie => "Voie d'accès",
            Step::Situation => "Situation",
            Step::Amenagement => "Aménagement d'épreuves",
            Step::MotDePasse => "Mot de passe",
            Step::Verification => "Vérifiez vos réponses",
        }
    }

    /// The steps of this exam's wizard: no voie step when the exam offers none.
    pub fn sequence(exam: &WizardExam) -> Vec<Step> {
        Step::ALL
            .into_iter()
            .filter(|s| *s != Step::Voie || !exam.voies.is_empty())
            .collect()
    }

    pub fn next(self, exam: &WizardExam) -> Option<Step> {
        let steps = Step::sequence(exam);
        let i = steps.iter().position(|s| *s == self)?;
        steps.get(i + 1).copied()
    }

    pub fn previous(self, exam: &WizardExam) -> Option<Step> {
        let steps = Step::sequence(exam);
        let i = steps.iter().position(|s| *s == self)?;
        i.checked_sub(1).map(|i| steps[i])
    }

    /// The fields this step asks for.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Step::Identite => &[
                "civilite",
                "nom_naissance",
                "nom_usage",
                "prenoms",
                "date_naissance",
                "lieu_naissance",
                "pays_naissance",
                "nationalite",
            ],
            Step::Coordonnees => &[
                "email",
                "email_confirmation",
                "telephone",
                "adresse",
                "complement_adresse",
                "code_postal",
                "commune",
                "pays",
            ],
            Step::Voie => &["voie"],
            Step::Situation => &[
                "diplome",
                "diplome_annee",
                "employeur",
                "grade",
                "date_titularisation",
                "activite",
            ],
            Step::Amenagement => &["amenagement", "amenagement_precisions"],
            Step::MotDePasse => &["mot_de_passe", "mot_de_passe_confirmation"],
            Step::Verification => &["attestation"],
        }
    }
}

/// The most characters a wizard answer keeps: free-text descriptions may be long, every
/// other answer fits on an identity document or an envelope. Longer input is cut before
/// it is stored, so no one fills the drafts table through one field.
pub fn max_chars(field: &str) -> usize {
    match field {
        "activite" | "amenagement_precisions" => 4000,
        "email" | "email_confirmation" => 254,
        _ => 200,
    }
}

/// An answer cut to its field's maximum.
pub fn cut_answer(field: &str, value: String) -> String {
    let max = max_chars(field);
    match value.char_indices().nth(max) {
        Some((at, _)) => value[..at].to_string(),
        None => value,
    }
}

impl Step {
    /// The fields of this step that apply to these answers: the situation fields of the
    /// chosen voie only, the accommodation details only when one is requested.
    pub fn relevant_fields(self, exam: &WizardExam, answers: &Answers) -> Vec<&'static str> {
        self.fields()
            .iter()
            .copied()
            .filter(|field| match self {
                Step::Situation => match exam.situation(answers) {
                    SituationKind::Diploma => field.starts_with("diplome"),
                    SituationKind::PublicAgent => {
                        ["employeur", "grade", "date_titularisation"].contains(field)
                    }
                    SituationKind::Activity => *field == "activite",
                },
                Step::Amenagement => {
                    *field == "amenagement" || get(answers, "amenagement") == "oui"
                }
                _ => true,
            })
            .collect()
    }
}

/// What the wizard needs to know of the exam.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardExam {
    pub kind: ExamKind,
    pub voies: Vec<Voie>,
}

/// What the candidate does in their situation step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SituationKind {
    /// Externe: a diploma.
    Diploma,
    /// Interne or examen professionnel: a public employer, a grade.
    PublicAgent,
    /// Troisième concours: a professional or elected activity.
    Activity,
}

impl WizardExam {
    pub fn voie(&self, answers: &Answers) -> Option<Voie> {
        if self.voies.len() == 1 {
            return Some(self.voies[0]);
        }
        answers
            .get("voie")
            .and_then(|v| Voie::parse(v))
            .filter(|v| self.voies.contains(v))
    }

    pub fn situation(&self, answers: &Answers) -> SituationKind {
        match (self.kind, self.voie(answers)) {
            (ExamKind::ExamenProfessionnel, _) => SituationKind::PublicAgent,
            (_, Some(Voie::Interne)) => SituationKind::PublicAgent,
            (_, Some(Voie::TroisiemeConcours)) => SituationKind::Activity,
            _ => SituationKind::Diploma,
        }
    }
}

fn get<'a>(answers: &'a Answers, field: &str) -> &'a str {
    answers.get(field).map(String::as_str).unwrap_or("")
}

/// What to do about an empty answer: the message says what to type, not only that
/// something is missing.
pub fn what_to_type(field: &str) -> &'static str {
    match field {
        "nom_naissance" => "Saisissez votre nom de naissance.",
        "nom_usage" => "Saisissez votre nom d'usage.",
        "prenoms" => "Saisissez votre ou vos prénoms.",
        "date_naissance" => "Saisissez votre date de naissance, par exemple 14/07/1990.",
        "lieu_naissance" => "Saisissez votre commune de naissance.",
        "pays_naissance" => "Saisissez votre pays de naissance.",
        "email" => "Saisissez votre adresse électronique, par exemple prenom.nom@exemple.fr.",
        "telephone" => "Saisissez votre numéro de téléphone, par exemple 06 12 34 56 78.",
        "adresse" => "Saisissez votre adresse : numéro et voie.",
        "code_postal" => "Saisissez votre code postal, par exemple 53000.",
        "commune" => "Saisissez votre commune.",
        "pays" => "Saisissez votre pays.",
        "diplome" => "Saisissez l'intitulé de votre diplôme le plus élevé.",
        "diplome_annee" => "Saisissez l'année d'obtention de votre diplôme, par exemple 2012.",
        "employeur" => "Saisissez le nom de votre employeur.",
        "grade" => "Saisissez votre grade.",
        "date_titularisation" => "Saisissez votre date de titularisation, par exemple 01/09/2015.",
        "activite" => "Décrivez votre activité professionnelle ou votre mandat.",
        "amenagement_precisions" => "Décrivez les aménagements que vous demandez.",
        _ => "Complétez ce champ.",
    }
}

/// Checks one step. The password step is checked with [`check_password`] instead,
/// since the password itself is never kept in a draft.
pub fn check_step(step: Step, answers: &Answers, exam: &WizardExam, today: Date) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let mut check = |field: &str, result: Result<(), FieldError>| {
        if let Err(e) = result {
            let message = if e.0 == candidate::REQUIRED {
                what_to_type(field).to_string()
            } else {
                e.0
            };
            errors.insert(field.to_string(), message);
        }
    };
    let a = |f: &str| get(answers, f);
    match step {
        Step::Identite => {
            check(
                "civilite",
                match a("civilite") {
                    "madame" | "monsieur" => Ok(()),
                    _ => Err(FieldError("Indiquez votre civilité.".into())),
                },
            );
            check(
                "nom_naissance",
                PersonName::parse(a("nom_naissance")).map(drop),
            );
            if !a("nom_usage").trim().is_empty() {
                check("nom_usage", PersonName::parse(a("nom_usage")).map(drop));
            }
            check("prenoms", PersonName::parse(a("prenoms")).map(drop));
            check(
                "date_naissance",
                candidate::birth_date(a("date_naissance"), today).map(drop),
            );
            check(
                "lieu_naissance",
                candidate::required_text(a("lieu_naissance"), 100).map(drop),
            );
            check(
                "pays_naissance",
                candidate::required_text(a("pays_naissance"), 60).map(drop),
            );
            check(
                "nationalite",
                match a("nationalite") {
                    "francaise" | "ue" | "autre" => Ok(()),
                    _ => Err(FieldError("Indiquez votre nationalité.".into())),
                },
            );
        }
        Step::Coordonnees => {
            let email = Email::parse(a("email"));
            let mismatch = match (&email, Email::parse(a("email_confirmation"))) {
                (Ok(e1), Ok(e2)) => e1.key() != e2.key(),
                _ => {
                    !a("email_confirmation").trim().is_empty()
                        && a("email").trim() != a("email_confirmation").trim()
                }
            };
            check("email", email.map(drop));
            if a("email_confirmation").trim().is_empty() {
                check(
                    "email_confirmation",
                    Err(FieldError(
                        "Saisissez de nouveau votre adresse électronique.".into(),
                    )),
                );
            } else if mismatch {
                check(
                    "email_confirmation",
                    Err(FieldError(
                        "Saisissez la même adresse électronique dans les deux champs.".into(),
                    )),
                );
            }
            check("telephone", PhoneNumber::parse(a("telephone")).map(drop));
            check(
                "adresse",
                candidate::required_text(a("adresse"), 120).map(drop),
            );
            check(
                "complement_adresse",
                candidate::optional_text(a("complement_adresse"), 120).map(drop),
            );
            check(
                "commune",
                candidate::required_text(a("commune"), 80).map(drop),
            );
            check("pays", candidate::required_text(a("pays"), 60).map(drop));
            let in_france = a("pays").trim().eq_ignore_ascii_case("france");
            if in_france {
                check(
                    "code_postal",
                    candidate::postal_code(a("code_postal")).map(drop),
                );
            } else {
                check(
                    "code_postal",
                    candidate::optional_text(a("code_postal"), 12).map(drop),
                );
            }
        }
        Step::Voie => {
            if exam.voie(answers).is_none() {
                check(
                    "voie",
                    Err(FieldError(
                        "Choisissez la voie par laquelle vous vous présentez.".into(),
                    )),
                );
            }
        }
        Step::Situation => match exam.situation(answers) {
            SituationKind::Diploma => {
                check(
                    "diplome",
                    candidate::required_text(a("diplome"), 150).map(drop),
                );
                check("diplome_annee", year(a("diplome_annee"), today));
            }
            SituationKind::PublicAgent => {
                check(
                    "employeur",
                    candidate::required_text(a("employeur"), 150).map(drop),
                );
                check("grade", candidate::required_text(a("grade"), 120).map(drop));
                check(
                    "date_titularisation",
                    candidate::past_date(a("date_titularisation"), today).map(drop),
                );
            }
            SituationKind::Activity => {
                check(
                    "activite",
                    candidate::required_text(a("activite"), 500).map(drop),
                );
            }
        },
        Step::Amenagement => match a("amenagement") {
            "non" => {}
            "oui" => check(
                "amenagement_precisions",
                candidate::required_text(a("amenagement_precisions"), 1000).map(drop),
            ),
            _ => check(
                "amenagement",
                Err(FieldError(
                    "Indiquez si vous demandez un aménagement d'épreuves.".into(),
                )),
            ),
        },
        Step::MotDePasse => {}
        Step::Verification => {
            if a("attestation") != "oui" {
                check(
                    "attestation",
                    Err(FieldError(
                        "Cochez la case pour certifier l'exactitude de vos réponses.".into(),
                    )),
                );
            }
        }
    }
    errors
}

fn year(input: &str, today: Date) -> Result<(), FieldError> {
    match input.trim().parse::<i16>() {
        Ok(y) if (1950..=today.year()).contains(&y) => Ok(()),
        _ => Err(FieldError(format!(
            "Saisissez une année entre 1950 et {}.",
            today.year()
        ))),
    }
}

/// Checks the password step; the candidate's names and email may not make it up.
pub fn check_password(password: &str, confirmation: &str, answers: &Answers) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let context = [
        get(answers, "nom_naissance"),
        get(answers, "nom_usage"),
        get(answers, "prenoms"),
        get(answers, "email").split('@').next().unwrap_or(""),
    ];
    if let Err(e) = candidate::Password::parse(password, &context) {
        errors.insert("mot_de_passe".into(), e.0);
    } else if password != confirmation {
        errors.insert(
            "mot_de_passe_confirmation".into(),
            candidate::PasswordProblem::Mismatch.message(),
        );
    }
    errors
}

/// One person, one dossier per exam: the key of a birth name, given names and birth
/// date, ignoring case and accents (a typed préinscription and a certified identity
/// alike).
pub fn identity_key(birth_name: &PersonName, first_names: &PersonName, birth_date: Date) -> String {
    format!("{}|{}|{}", birth_name.key(), first_names.key(), birth_date)
}

/// The answers of a complete wizard, typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub civilite: String,
    pub birth_name: PersonName,
    pub usage_name: Option<PersonName>,
    pub first_names: PersonName,
    pub birth_date: Date,
    pub birth_place: String,
    pub birth_country: String,
    pub nationality: String,
    pub email: Email,
    pub phone: PhoneNumber,
    pub address: String,
    pub address_complement: Option<String>,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub voie: Option<Voie>,
    pub situation: Situation,
    /// The aménagement requested, if any.
    pub accommodation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Situation {
    Diploma {
        title: String,
        year: i16,
    },
    PublicAgent {
        employer: String,
        grade: String,
        titularisation: Date,
    },
    Activity {
        description: String,
    },
}

impl Registration {
    /// Every step checked again, then typed. Errors come with the step to go back to.
    pub fn parse(
        answers: &Answers,
        exam: &WizardExam,
        today: Date,
    ) -> Result<Self, (Step, FieldErrors)> {
        for step in Step::sequence(exam) {
            if step == Step::MotDePasse {
                continue;
            }
            let errors = check_step(step, answers, exam, today);
            if !errors.is_empty() {
                return Err((step, errors));
            }
        }
        let a = |f: &str| get(answers, f);
        // The checks above passed, so these parse; `expect` would still be wrong on
        // input, hence the `ok()?`-style fallbacks through `map_err`.
        let fail = |field: &str| {
            (
                Step::Identite,
                FieldErrors::from([(field.to_string(), "Réponse invalide.".to_string())]),
            )
        };
        let situation = match exam.situation(answers) {
            SituationKind::Diploma => Situation::Diploma {
                title: candidate::required_text(a("diplome"), 150).map_err(|_| fail("diplome"))?,
                year: a("diplome_annee")
                    .trim()
                    .parse()
                    .map_err(|_| fail("diplome_annee"))?,
            },
            SituationKind::PublicAgent => Situation::PublicAgent {
                employer: candidate::required_text(a("employeur"), 150)
                    .map_err(|_| fail("employeur"))?,
                grade: candidate::required_text(a("grade"), 120).map_err(|_| fail("grade"))?,
                titularisation: candidate::past_date(a("date_titularisation"), today)
                    .map_err(|_| fail("date_titularisation"))?,
            },
            SituationKind::Activity => Situation::Activity {
                description: candidate::required_text(a("activite"), 500)
                    .map_err(|_| fail("activite"))?,
            },
        };
        Ok(Self {
            civilite: a("civilite").to_string(),
            birth_name: PersonName::parse(a("nom_naissance")).map_err(|_| fail("nom_naissance"))?,
            usage_name: match a("nom_usage").trim() {
                "" => None,
                n => Some(PersonName::parse(n).map_err(|_| fail("nom_usage"))?),
            },
            first_names: PersonName::parse(a("prenoms")).map_err(|_| fail("prenoms"))?,
            birth_date: candidate::birth_date(a("date_naissance"), today)
                .map_err(|_| fail("date_naissance"))?,
            birth_place: candidate::required_text(a("lieu_naissance"), 100)
                .map_err(|_| fail("lieu_naissance"))?,
            birth_country: candidate::required_text(a("pays_naissance"), 60)
                .map_err(|_| fail("pays_naissance"))?,
            nationality: a("nationalite").to_string(),
            email: Email::parse(a("email")).map_err(|_| fail("email"))?,
            phone: PhoneNumber::parse(a("telephone")).map_err(|_| fail("telephone"))?,
            address: candidate::required_text(a("adresse"), 120).map_err(|_| fail("adresse"))?,
            address_complement: candidate::optional_text(a("complement_adresse"), 120)
                .map_err(|_| fail("complement_adresse"))?,
            postal_code: a("code_postal").split_whitespace().collect(),
            city: candidate::required_text(a("commune"), 80).map_err(|_| fail("commune"))?,
            country: candidate::required_text(a("pays"), 60).map_err(|_| fail("pays"))?,
            voie: exam.voie(answers),
            situation,
            accommodation: match a("amenagement") {
                "oui" => Some(
                    candidate::required_text(a("amenagement_precisions"), 1000)
                        .map_err(|_| fail("amenagement_precisions"))?,
                ),
                _ => None,
            },
        })
    }

    /// One person, one dossier per exam: birth name, first names and birth date,
    /// ignoring case and accents.
    pub fn identity_key(&self) -> String {
        identity_key(&self.birth_name, &self.first_names, self.birth_date)
    }

    pub fn display_name(&self) -> String {
        let name = self.usage_name.as_ref().unwrap_or(&self.birth_name);
        format!(
            "{} {}",
            self.first_names.as_str(),
            name.as_str().to_uppercase()
        )
    }
}

/// Every field's label, for the error summary and the « Vérifiez vos réponses » page.
pub const LABELS: &[(&str, &str)] = &[
    ("civilite", "Civilité"),
    ("nom_naissance", "Nom de naissance"),
    ("nom_usage", "Nom d'usage"),
    ("prenoms", "Prénom(s)"),
    ("date_naissance", "Date de naissance"),
    ("lieu_naissance", "Commune de naissance"),
    ("pays_naissance", "Pays de naissance"),
    ("nationalite", "Nationalité"),
    ("email", "Adresse électronique"),
    (
        "email_confirmation",
        "Confirmation de l'adresse électronique",
    ),
    ("telephone", "Téléphone"),
    ("adresse", "Adresse"),
    ("complement_adresse", "Complément d'adresse"),
    ("code_postal", "Code postal"),
    ("commune", "Commune"),
    ("pays", "Pays"),
    ("voie", "Voie"),
    ("diplome", "Diplôme"),
    ("diplome_annee", "Année d'obtention"),
    ("employeur", "Employeur"),
    ("grade", "Grade"),
    ("date_titularisation", "Date de titularisation"),
    ("activite", "Activité professionnelle ou mandat"),
    ("amenagement", "Aménagement d'épreuves"),
    ("amenagement_precisions", "Aménagements demandés"),
    ("mot_de_passe", "Mot de passe"),
    ("mot_de_passe_confirmation", "Confirmation du mot de passe"),
    ("attestation", "Attestation sur l'honneur"),
    ("dossier", "Dossier"),
];

pub fn label(field: &str) -> &'static str {
    LABELS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

pub const CIVILITES: [(&str, &str); 2] = [("madame", "Madame"), ("monsieur", "Monsieur")];
pub const NATIONALITES: [(&str, &str); 3] = [
    ("francaise", "Française"),
    (
        "ue",
        "Ressortissant d'un autre État de l'Union européenne ou de l'Espace économique européen",
    ),
    ("autre", "Autre"),
];
pub const OUI_NON: [(&str, &str); 2] = [("non", "Non"), ("oui", "Oui")];

/// How an answer reads on the summary page.
pub fn shown(field: &str, value: &str) -> String {
    let pick = |options: &[(&str, &str)]| {
        options
            .iter()
            .find(|(c, _)| *c == value)
            .map(|(_, l)| l.to_string())
    };
    match field {
        "civilite" => pick(&CIVILITES),
        "nationalite" => pick(&NATIONALITES),
        "amenagement" => pick(&OUI_NON),
        "voie" => Voie::parse(value).map(|v| format!("Concours {}", v.label())),
        _ => None,
    }
    .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests;
