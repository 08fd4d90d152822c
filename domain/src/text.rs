//! Lower case for comparing what a candidate typed (an address and its confirmation, a
//! password and the candidate's names).

/// `text` in lower case. On the server, Unicode's full mapping. In the browser, the
/// letters of the Latin, Greek and Cyrillic alphabets only ([`lower_char`]): Unicode's
/// whole table would add about 5 KiB to every page that checks a form, and the server
/// checks everything again. The browser's checks differ only for a capital from
/// another alphabet typed in one field and in small letters in the other.
pub fn lower(text: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    return text.chars().map(lower_char).collect();
    #[cfg(not(target_arch = "wasm32"))]
    text.to_lowercase()
}

/// A Latin (Basic, Latin-1, Extended-A), Greek or Cyrillic capital in lower case, as
/// Unicode maps it; any other character as it is.
pub fn lower_char(c: char) -> char {
    let code = c as u32;
    let lowered = match code {
        0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE => code + 0x20,
        // Extended-A: capitals at even points, then from Ĺ at odd ones (İ and ĸ have
        // no single-letter pair).
        0x100..=0x12F | 0x132..=0x137 | 0x14A..=0x177 if code.is_multiple_of(2) => code + 1,
        0x139..=0x148 | 0x179..=0x17E if !code.is_multiple_of(2) => code + 1,
        0x178 => 0xFF,
        0x391..=0x3A1 | 0x3A3..=0x3AB => code + 0x20,
        0x386 => 0x3AC,
        0x388..=0x38A => code + 0x25,
        0x38C => 0x3CC,
        0x38E..=0x38F => code + 0x3F,
        0x400..=0x40F => code + 0x50,
        0x410..=0x42F => code + 0x20,
        _ => code,
    };
    char::from_u32(lowered).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_char_is_unicodes_lower_case_where_it_changes_anything() {
        let mut changed = 0;
        for code in 0..=0x4FF {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let ours = lower_char(c);
            if ours != c {
                changed += 1;
                let unicode: String = c.to_lowercase().collect();
                assert_eq!(ours.to_string(), unicode, "U+{code:04X}");
            }
        }
        // Every capital of those alphabets is covered, but İ (two letters in lower case).
        let capitals = (0..=0x4FF)
            .filter(|code| matches!(code, 0..=0x17F | 0x386..=0x3AB | 0x400..=0x42F))
            .filter_map(char::from_u32)
            .filter(|c| {
                let l: Vec<char> = c.to_lowercase().collect();
                l.len() == 1 && l[0] != *c
            })
            .count();
        assert_eq!(changed, capitals);
    }

    #[test]
    fn french_names_and_addresses_fold_as_on_the_server() {
        for text in [
            "ÉLODIE Lefèvre",
            "Œuvre",
            "ÇA",
            "Ÿves",
            "Prénom.NOM@Exemple.FR",
            "ΣΩ Жук",
        ] {
            let browser: String = text.chars().map(lower_char).collect();
            assert_eq!(browser, text.to_lowercase(), "{text}");
        }
    }
}
