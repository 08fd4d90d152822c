//! The n° de dossier: the candidate's identifiant, read aloud on the phone and typed on
//! a phone keyboard, so short, unambiguous and forgiving.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Crockford's base 32: no I, L, O or U, so nothing reads as another character.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `AA-XXXX-XXXX`: the two digits of the year it was created, then 40 random bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DossierNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Ce numéro de dossier n'a pas la forme attendue (par exemple 26-K7M4-9QXH).")]
pub struct InvalidDossierNumber;

impl DossierNumber {
    /// A new number from the year and 5 random bytes (the caller's random source).
    pub fn generate(year: i16, random: [u8; 5]) -> Self {
        let mut bits = random
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut chars = [0u8; 8];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET[(bits & 31) as usize];
            bits >>= 5;
        }
        let body = String::from_utf8_lossy(&chars).into_owned();
        Self(format!(
            "{:02}-{}-{}",
            year.rem_euclid(100),
            &body[..4],
            &body[4..]
        ))
    }

    /// What a candidate types: any case, with or without dashes or spaces, O for 0 and
    /// I or L for 1.
    pub fn parse(input: &str) -> Result<Self, InvalidDossierNumber> {
        let compact: Vec<u8> = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{a0}' | '.'))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect();
        if compact.len() != 10
            || !compact[..2].iter().all(u8::is_ascii_digit)
            || !compact[2..].iter().all(|b| ALPHABET.contains(b))
        {
            return Err(InvalidDossierNumber);
        }
        let s = String::from_utf8_lossy(&compact).into_owned();
        Ok(Self(format!("{}-{}-{}", &s[..2], &s[2..6], &s[6..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DossierNumber {
    type Error = InvalidDossierNumber;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DossierNumber> for String {
    fn from(value: DossierNumber) -> Self {
        value.0
    }
}

impl fmt::Display for DossierNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_read_well() {
        assert_eq!(
            DossierNumber::generate(2026, [0; 5]).as_str(),
            "26-0000-0000"
        );
        assert_eq!(
            DossierNumber::generate(2026, [255; 5]).as_str(),
            "26-ZZZZ-ZZZZ"
        );
    }

    #[test]
    fn typed_numbers_are_forgiven() {
        let n = DossierNumber::parse("26-K7M4-9QXH").unwrap();
        assert_eq!(DossierNumber::parse(" 26 k7m4 9qxh ").unwrap(), n);
        assert_eq!(DossierNumber::parse("26K7M49QXH").unwrap(), n);
        assert_eq!(
            DossierNumber::parse("26-0O1I-L000").unwrap().as_str(),
            "26-0011-1000"
        );
        for bad in [
            "",
            "26-K7M4",
            "26-K7M4-9QXU",
            "AB-K7M4-9QXH",
            "26-K7M4-9QXH-1",
            "26-é7M4-9QXH",
        ] {
            assert!(DossierNumber::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_generated_number_parses_back(year in 2000i16..2100, random in proptest::array::uniform5(0u8..)) {
            let n = DossierNumber::generate(year, random);
            proptest::prop_assert_eq!(DossierNumber::parse(n.as_str()), Ok(n.clone()));
            proptest::prop_assert_eq!(DossierNumber::parse(&n.as_str().to_lowercase()), Ok(n));
        }

        #[test]
        fn distinct_random_bytes_give_distinct_numbers(a in proptest::array::uniform5(0u8..), b in proptest::array::uniform5(0u8..)) {
            proptest::prop_assume!(a != b);
            proptest::prop_assert_ne!(DossierNumber::generate(2026, a), DossierNumber::generate(2026, b));
        }
    }
}
