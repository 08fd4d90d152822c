//! The candidate's answers, field by field: each value that passes gets its own type.
//! The same functions run in the browser (instant messages) and on the server (which
//! decides).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A French message about one field, shown next to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

/// What a parser says of an empty answer; the wizard words it per field
/// (`registration::what_to_type`).
pub const REQUIRED: &str = "Ce champ est obligatoire.";

fn err<T>(message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError(message.into()))
}

/// A name as written on an identity document: letters (accents included), spaces,
/// hyphens and apostrophes, as in « N'Diaye », « Le Bihan-Kerouédan ».
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        // One space between words; the typographic apostrophe becomes the plain one.
        let value = input
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('’', "'");
        if value.is_empty() {
            return err(REQUIRED);
        }
        if value.chars().count() > 60 {
            return err("60 caractères au maximum.");
        }
        if !value
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''))
        {
            return err(
                "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes.",
            );
        }
        if !value.chars().next().is_some_and(char::is_alphabetic)
            || !value.chars().last().is_some_and(char::is_alphabetic)
        {
            return err("Le nom doit commencer et finir par une lettre.");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For comparing identities: lowercase, without accents, hyphens or apostrophes,
    /// so « Lefèvre » and « LEFEVRE » are the same person.
    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }

    /// The same comparison key for any text, e.g. what staff type to find a name.
    pub fn key_of(text: &str) -> String {
        text.chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .map(fold_accent)
            .collect()
    }
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => 'a',
        'ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' | 'í' | 'ì' => 'i',
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' => 'o',
        'ù' | 'û' | 'ü' | 'ú' => 'u',
        'ÿ' | 'ý' => 'y',
        'ñ' => 'n',
        other => other,
    }
}

/// An email address, checked for shape only (the message we send proves the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        let shape = "Saisissez une adresse électronique valide, par exemple prenom.nom@exemple.fr.";
        if value.is_empty() {
            return err(REQUIRED);
        }
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return err(shape);
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return err(shape);
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return err(shape);
        }
        // The domain is case-insensitive; the local part is kept as typed.
        Ok(Self(format!("{local}@{}", crate::text::lower(domain))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For finding a candidate's dossiers whatever the case they typed.
    pub fn key(&self) -> String {
        crate::text::lower(&self.0)
    }
}

/// A phone number: French (10 digits starting with 0, or +33) or international (+ and
/// 8 to 15 digits). Stored in international form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
            .collect();
        let shape = "Saisissez un numéro de téléphone valide, par exemple 06 12 34 56 78 ou +33 6 12 34 56 78.";
        if compact.is_empty() {
            return err(REQUIRED);
        }
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        let international = if let Some(rest) = compact.strip_prefix("+33") {
            // +33 (0)6… is a common way to write it.
            let rest = rest.strip_prefix('0').unwrap_or(rest);
            if rest.len() != 9 || !digits(rest) {
                return err(shape);
            }
            format!("+33{rest}")
        } else if let Some(rest) = compact.strip_prefix('+') {
            if !(8..=15).contains(&rest.len()) || !digits(rest) {
                return err(shape);
            }
            compact.clone()
        } else if let Some(rest) = compact.strip_prefix("0033") {
            if rest.len() != 9 || !digits(rest) {
                return err(shape);
            }
            format!("+33{rest}")
        } else if compact.len() == 10
            && compact.starts_with('0')
            && digits(&compact)
            && &compact[1..2] != "0"
        {
            format!("+33{}", &compact[1..])
        } else {
            return err(shape);
        };
        Ok(Self(international))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// French numbers as people write them: « 06 12 34 56 78 ».
    pub fn display(&self) -> String {
        match self.0.strip_prefix("+33") {
            Some(rest) => {
                let national = format!("0{rest}");
                national
                    .as_bytes()
                    .chunks(2)
                    .map(|pair| String::from_utf8_lossy(pair).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            None => self.0.clone(),
        }
    }
}

/// A date of birth: a real calendar date, of someone between 16 and 100 years old.
pub fn birth_date(input: &str, today: Date) -> Result<Date, FieldError> {
    let value = input.trim();
    if value.is_empty() {
        return err(REQUIRED);
    }
    let date = parse_date(value).ok_or_else(|| {
        FieldError("Saisissez une date réelle, au format JJ/MM/AAAA.".to_string())
    })?;
    let age = today.year() as i32
        - date.year() as i32
        - i32::from((today.month(), today.day()) < (date.month(), date.day()));
    if date > today {
        return err("La date de naissance ne peut pas être dans le futur.");
    }
    if !(16..=100).contains(&age) {
        return err("Vérifiez l'année de naissance : vous devez avoir entre 16 et 100 ans.");
    }
    Ok(date)
}

/// A past date, such as a date of titularisation.
pub fn past_date(input: &str, today: Date) -> Result<Date, FieldError> {
    let value = input.trim();
    if value.is_empty() {
        return err(REQUIRED);
    }
    let date = parse_date(value).ok_or_else(|| {
        FieldError("Saisissez une date réelle, au format JJ/MM/AAAA.".to_string())
    })?;
    if date > today {
        return err("Cette date ne peut pas être dans le futur.");
    }
    if date.year() < 1950 {
        return err("Vérifiez l'année.");
    }
    Ok(date)
}

/// `JJ/MM/AAAA` (what people type) or `AAAA-MM-JJ` (what `<input type=date>` sends).
/// Read by hand rather than with jiff's parser, which would add its whole formatting
/// machinery to the browser's Wasm for one format.
pub fn parse_date(value: &str) -> Option<Date> {
    let parts: Vec<&str> = value.trim().split(['/', '.', '-']).map(str::trim).collect();
    let [first, month, last] = parts[..] else {
        return None;
    };
    let iso = first.len() == 4 && value.contains('-');
    let (year, day) = if iso { (first, last) } else { (last, first) };
    let year: i16 = year.parse().ok()?;
    if year < 1000 {
        return None;
    }
    Date::new(year, month.parse().ok()?, day.parse().ok()?).ok()
}

/// Free text of a bounded length (an employer, a grade, a diploma).
pub fn required_text(input: &str, max: usize) -> Result<String, FieldError> {
    let value = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return err(REQUIRED);
    }
    if value.chars().count() > max {
        return err(format!("{max} caractères au maximum."));
    }
    if value.chars().any(char::is_control) {
        return err("Ce texte contient des caractères non autorisés.");
    }
    Ok(value)
}

/// Optional free text: empty is fine, otherwise as [`required_text`].
pub fn optional_text(input: &str, max: usize) -> Result<Option<String>, FieldError> {
    if input.trim().is_empty() {
        Ok(None)
    } else {
        required_text(input, max).map(Some)
    }
}

/// A French postal code (5 digits), when the address is in France.
pub fn postal_code(input: &str) -> Result<String, FieldError> {
    let value: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if value.is_empty() {
        return err(REQUIRED);
    }
    if value.len() != 5 || !value.chars().all(|c| c.is_ascii_digit()) {
        return err("Le code postal comporte 5 chiffres, par exemple 53000.");
    }
    Ok(value)
}

/// Passwords follow current guidance (NIST SP 800-63B, ANSSI): length over
/// composition rules, and no password from the lists attackers try first.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A password a candidate chose. Never logged, never serialised.
pub struct Password(String);

/// Why a new password is refused. A form that redirects carries its code (`?erreur=`),
/// and the page shows the message: never text taken from an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    Missing,
    TooShort,
    TooLong,
    Personal,
    Common,
    Mismatch,
}

impl PasswordProblem {
    const ALL: [Self; 6] = [
        Self::Missing,
        Self::TooShort,
        Self::TooLong,
        Self::Personal,
        Self::Common,
        Self::Mismatch,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "vide",
            Self::TooShort => "court",
            Self::TooLong => "long",
            Self::Personal => "personnel",
            Self::Common => "courant",
            Self::Mismatch => "different",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn message(self) -> String {
        match self {
            Self::Missing => "Choisissez un mot de passe.".into(),
            Self::TooShort => format!(
                "Le mot de passe doit comporter au moins {PASSWORD_MIN_CHARS} caractères (une phrase de quelques mots est idéale)."
            ),
            Self::TooLong => format!("{PASSWORD_MAX_CHARS} caractères au maximum."),
            Self::Personal => "Ce mot de passe reprend votre nom ou votre adresse électronique : choisissez-en un autre.".into(),
            Self::Common => "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre.".into(),
            Self::Mismatch => "Saisissez le même mot de passe dans les deux champs.".into(),
        }
    }

    /// What is wrong with this new password and its confirmation, if anything.
    pub fn of(password: &str, confirmation: &str, context: &[&str]) -> Option<Self> {
        match Password::check(password, context) {
            Err(problem) => Some(problem),
            Ok(_) if password != confirmation => Some(Self::Mismatch),
            Ok(_) => None,
        }
    }
}

impl Password {
    /// `context` holds the candidate's own words (names, email): a password made of
    /// them is refused.
    pub fn parse(input: &str, context: &[&str]) -> Result<Self, FieldError> {
        Self::check(input, context).map_err(|problem| FieldError(problem.message()))
    }

    /// The same, saying which rule the password breaks.
    pub fn check(input: &str, context: &[&str]) -> Result<Self, PasswordProblem> {
        let chars = input.chars().count();
        if chars == 0 {
            return Err(PasswordProblem::Missing);
        }
        if chars < PASSWORD_MIN_CHARS {
            return Err(PasswordProblem::TooShort);
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(PasswordProblem::TooLong);
        }
        let lower = crate::text::lower(input);
        // What is left once the candidate's own words and the usual passwords are taken
        // out must still be long enough to be guessed only by brute force.
        let mut rest = lower.clone();
        let mut personal = false;
        let words = context
            .iter()
            .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
            .map(crate::text::lower);
        for word in words {
            if word.chars().count() >= 3 && rest.contains(&word) {
                personal = true;
                rest = rest.replace(&word, "");
            }
        }
        let mut common: Vec<&str> = COMMON_PASSWORDS.to_vec();
        common.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for password in common {
            rest = rest.replace(password, "");
        }
        let left = rest.chars().filter(|c| c.is_alphanumeric()).count();
        let distinct = lower
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if personal && left < 6 {
            return Err(PasswordProblem::Personal);
        }
        if distinct < 5 || left < 6 || is_sequence(&lower) {
            return Err(PasswordProblem::Common);
        }
        Ok(Self(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Runs such as « 123456789012 » or « abcdefghijkl ».
fn is_sequence(s: &str) -> bool {
    let bytes: Vec<u32> = s.chars().map(u32::from).collect();
    bytes.windows(2).all(|w| w[1] == w[0] + 1) || bytes.windows(2).all(|w| w[1] + 1 == w[0])
}

/// The most frequent passwords and their French favourites; a password that is mostly
/// one of them is refused.
const COMMON_PASSWORDS: &[&str] = &[
    "123456",
    "password",
    "motdepasse",
    "azerty",
    "qwerty",
    "soleil",
    "bonjour",
    "doudou",
    "loulou",
    "chouchou",
    "marseille",
    "iloveyou",
    "jetaime",
    "nicolas",
    "julien",
    "camille",
    "football",
    "princesse",
    "coucou",
    "admin",
    "welcome",
    "letmein",
    "dragon",
    "monkey",
    "sunshine",
    "master",
    "concours",
    "inscription",
    "password1",
    "azertyuiop",
    "qwertyuiop",
    "123456789",
    "000000",
    "111111",
    "abc123",
    "azerty123",
    "motdepasse1",
    "changeme",
];

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn real_names() {
        for name in [
            "N'Diaye",
            "Le Bihan-Kerouédan",
            "Éloïse",
            "D’Artagnan",
            "Ødegaard",
            "José María",
        ] {
            assert!(PersonName::parse(name).is_ok(), "{name}");
        }
        assert_eq!(
            PersonName::parse("  Jean   Pierre ").unwrap().as_str(),
            "Jean Pierre"
        );
        assert_eq!(
            PersonName::parse("D’Artagnan").unwrap().as_str(),
            "D'Artagnan"
        );
        for bad in [
            "",
            "   ",
            "R2D2",
            "-Paul",
            "Paul-",
            "<script>",
            "Jean_Pierre",
        ] {
            assert!(PersonName::parse(bad).is_err(), "{bad}");
        }
        assert!(PersonName::parse(&"a".repeat(61)).is_err());
    }

    #[test]
    fn identity_keys_ignore_case_and_accents() {
        let a = PersonName::parse("Lefèvre-Dupont").unwrap();
        let b = PersonName::parse("LEFEVRE DUPONT").unwrap();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Marie.Curie@Exemple.FR ").unwrap().as_str(),
            "Marie.Curie@exemple.fr"
        );
        assert!(Email::parse("prenom+concours@sous.domaine.fr").is_ok());
        assert!(Email::parse("élodie@exemple.fr").is_ok());
        for bad in [
            "",
            "marie",
            "marie@",
            "@exemple.fr",
            "marie@exemple",
            "ma rie@exemple.fr",
            "marie@exemple..fr",
            "marie@-exemple.fr",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn french_phone_formats() {
        for (input, stored) in [
            ("06 12 34 56 78", "+33612345678"),
            ("06.12.34.56.78", "+33612345678"),
            ("0612345678", "+33612345678"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+33 (0)6 12 34 56 78", "+33612345678"),
            ("0033 6 12 34 56 78", "+33612345678"),
            ("02-43-59-09-09", "+33243590909"),
            ("+262 262 12 34 56", "+262262123456"),
        ] {
            assert_eq!(
                PhoneNumber::parse(input).unwrap().as_str(),
                stored,
                "{input}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("0612345678").unwrap().display(),
            "06 12 34 56 78"
        );
        for bad in [
            "",
            "12345",
            "06 12 34 56",
            "0012345678",
            "06 12 34 56 78 9",
            "+33 6 12",
            "abc",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn birth_dates() {
        let today = date(2026, 11, 24);
        assert_eq!(birth_date("14/07/1990", today).unwrap(), date(1990, 7, 14));
        assert_eq!(birth_date("1990-07-14", today).unwrap(), date(1990, 7, 14));
        assert_eq!(birth_date("24/11/2010", today).unwrap(), date(2010, 11, 24));
        assert!(
            birth_date("25/11/2010", today).is_err(),
            "15 years old the day before"
        );
        for bad in [
            "",
            "31/02/1990",
            "29/02/1991",
            "1990",
            "14/13/1990",
            "01/01/2030",
            "01/01/1900",
        ] {
            assert!(birth_date(bad, today).is_err(), "{bad}");
        }
        assert!(birth_date("29/02/1992", today).is_ok());
    }

    #[test]
    fn passwords_favour_length() {
        assert!(Password::parse("cheval correct agrafe", &[]).is_ok());
        assert!(Password::parse("Tr0mb0ne-Rouge", &[]).is_ok());
        for bad in [
            "",
            "court",
            "Azerty123!",
            "motdepasse123",
            "aaaaaaaaaaaaaa",
            "123456789012",
            "abcdefghijklm",
        ] {
            assert!(Password::parse(bad, &[]).is_err(), "{bad}");
        }
        assert!(Password::parse("curie.marie.2024", &["Curie", "Marie"]).is_err());
        assert!(Password::parse(&"x".repeat(129), &[]).is_err());
        assert_eq!(
            format!(
                "{:?}",
                Password::parse("cheval correct agrafe", &[]).unwrap()
            ),
            "Password(…)"
        );
    }

    proptest::proptest! {
        #[test]
        fn accepted_names_are_trimmed_and_safe(s in "\\PC{0,80}") {
            if let Ok(name) = PersonName::parse(&s) {
                let v = name.as_str();
                proptest::prop_assert!(!v.contains("  ") && v.trim() == v);
                proptest::prop_assert!(v.chars().all(|c| c.is_alphabetic() || " -'".contains(c)));
                proptest::prop_assert!(v.chars().count() <= 60);
            }
        }

        /// Valid shapes, as people write them (national, +33 with or without its 0,
        /// 0033, another country's +), with their separators: every one parses, to the
        /// international form, and that form parses to itself.
        #[test]
        fn valid_phone_numbers_parse_to_international_form(
            shape in 0usize..5,
            first in 1u8..10,
            rest in "[0-9]{8}",
            // Another country: not 33, which is France's and has its own shape.
            foreign in "[124-9][0-9]{7,13}",
            separator in proptest::sample::select(vec!["", " ", ".", "-", "\u{a0}"]),
        ) {
            let national: String = format!("0{first}{rest}")
                .as_bytes()
                .chunks(2)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(separator);
            let typed = match shape {
                0 => national.clone(),
                1 => format!("+33{separator}{first}{rest}"),
                2 => format!("+33 (0){first}{rest}"),
                3 => format!("0033{first}{rest}"),
                _ => format!("+{foreign}"),
            };
            let phone = PhoneNumber::parse(&typed);
            proptest::prop_assert!(phone.is_ok(), "{typed}");
            let phone = phone.unwrap();
            let v = phone.as_str();
            let expected = if shape == 4 { format!("+{foreign}") } else { format!("+33{first}{rest}") };
            proptest::prop_assert_eq!(v, expected.as_str());
            let again = PhoneNumber::parse(v).unwrap();
            proptest::prop_assert_eq!(again.as_str(), v);
        }

        /// Invalid shapes never parse: too short, too long, letters, a national number
        /// starting 00 without the country.
        #[test]
        fn invalid_phone_numbers_are_refused(
            short in "0[1-9][0-9]{0,7}",
            long in "0[1-9][0-9]{9,14}",
            letters in "0[1-9][0-9]{3}[a-zA-Z][0-9]{3}",
            plus_short in "\\+[0-9]{1,6}",
        ) {
            for bad in [short, long, letters, plus_short, "0012345678".to_string()] {
                proptest::prop_assert!(PhoneNumber::parse(&bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn dates_round_trip_through_the_french_format(days in 0i32..40_000) {
            let d = date(1930, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let typed = format!("{:02}/{:02}/{}", d.day(), d.month(), d.year());
            proptest::prop_assert_eq!(parse_date(&typed), Some(d));
            // And as a date input sends it, which is also jiff's own form.
            proptest::prop_assert_eq!(parse_date(&d.to_string()), Some(d));
        }
    }
}
