//! Identifiers people read and type: line ids and ONT serial numbers.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Letters of a line id: digits and capitals without I, L, O and U
/// (Crockford's alphabet), so that an id read over the phone or copied from
/// a work order cannot be mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The stable human id of a subscriber line, `RGE-XXXX-XXXX`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LineId(String);

impl LineId {
    /// A fresh random id (40 bits: collisions are caught by the primary key
    /// and retried).
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let mut s = String::with_capacity(13);
        s.push_str("RGE-");
        for i in 0..8 {
            if i == 4 {
                s.push('-');
            }
            s.push(ALPHABET[rng.gen_range(0..32)] as char);
        }
        Self(s)
    }

    /// Parses an id as typed: case and surrounding spaces do not matter, and
    /// the letters people confuse with digits (O, I, L) are read as the
    /// digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let bad = || {
            format!(
                "« {} » n'est pas un identifiant de ligne (RGE-XXXX-XXXX)",
                s.trim()
            )
        };
        let rest = upper.strip_prefix("RGE-").ok_or_else(bad)?;
        let (a, b) = rest.split_once('-').ok_or_else(bad)?;
        if a.len() != 4 || b.len() != 4 {
            return Err(bad());
        }
        let mut out = String::from("RGE-");
        for (i, c) in a.chars().chain(b.chars()).enumerate() {
            if i == 4 {
                out.push('-');
            }
            let c = match c {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
                return Err(bad());
            }
            out.push(c);
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for LineId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<LineId> for String {
    fn from(id: LineId) -> String {
        id.0
    }
}

/// A GPON ONT serial number: a four-letter vendor code and eight hex digits
/// (`HWTC1A2B3C4D`), kept in capitals.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OntSerial(String);

impl OntSerial {
    /// Parses a serial as typed or as an OLT prints it. The vendor part may
    /// also come in the hex form some OLTs show (`48575443` for `HWTC`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect::<String>()
            .to_ascii_uppercase();
        let bad = || {
            format!(
                "« {} » n'est pas un numéro de série d'ONT : 4 lettres du fabricant puis 8 chiffres hexadécimaux (ex. HWTC1A2B3C4D)",
                s.trim()
            )
        };
        let chars: Vec<char> = t.chars().collect();
        let (vendor, rest) = if chars.len() == 16 && chars.iter().all(char::is_ascii_hexdigit) {
            // The vendor written as the hexadecimal of its four letters.
            let mut v = String::new();
            for pair in chars.get(..8).unwrap_or_default().chunks(2) {
                let hex: String = pair.iter().collect();
                let byte = u8::from_str_radix(&hex, 16).map_err(|_| bad())?;
                v.push(char::from(byte));
            }
            (v, chars.get(8..).unwrap_or_default().iter().collect())
        } else if chars.len() == 12 {
            let (vendor, rest) = chars.split_at(4);
            (vendor.iter().collect(), rest.iter().collect::<String>())
        } else {
            return Err(bad());
        };
        if !vendor.chars().all(|c| c.is_ascii_uppercase())
            || !rest.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        Ok(Self(format!("{vendor}{rest}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The vendor code (`HWTC`, `UBNT`, `ALCL`, ...).
    pub fn vendor(&self) -> &str {
        // Four ASCII letters first (checked by `parse`).
        self.0.get(..4).unwrap_or(&self.0)
    }
}

impl fmt::Display for OntSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OntSerial {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<OntSerial> for String {
    fn from(s: OntSerial) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_line_ids_parse_back() {
        for _ in 0..1000 {
            let id = LineId::generate();
            assert_eq!(LineId::parse(id.as_str()), Ok(id.clone()));
            assert_eq!(id.as_str().len(), 13);
        }
    }

    #[test]
    fn line_ids_are_read_as_typed() {
        assert_eq!(
            LineId::parse(" rge-ab12-o0il ").unwrap().as_str(),
            "RGE-AB12-0011"
        );
        assert!(LineId::parse("RGE-AB12-00U1").is_err());
        assert!(LineId::parse("RGE-AB12").is_err());
        assert!(LineId::parse("XYZ-AB12-0000").is_err());
        assert!(LineId::parse("RGE-AB12-00000").is_err());
        assert!(LineId::parse("RGE-ÀB1-0000").is_err());
    }

    #[test]
    fn serials_are_vendor_letters_and_hex() {
        assert_eq!(
            OntSerial::parse("hwtc1a2b3c4d").unwrap().as_str(),
            "HWTC1A2B3C4D"
        );
        assert_eq!(OntSerial::parse("HWTC-1A2B3C4D").unwrap().vendor(), "HWTC");
        // The hex form an OLT prints.
        assert_eq!(
            OntSerial::parse("485754431A2B3C4D").unwrap().as_str(),
            "HWTC1A2B3C4D"
        );
        for bad in [
            "",
            "HWTC1A2B3C4",
            "HWTC1A2B3C4G",
            "H1TC1A2B3C4D",
            "ÉWTC1A2B3C4D",
            "HWTC1A2B3C4D5",
        ] {
            let e = OntSerial::parse(bad).unwrap_err();
            assert!(e.contains("numéro de série"), "{bad}: {e}");
        }
    }

    proptest! {
        #[test]
        fn serial_parse_never_panics(s in "\\PC{0,20}") {
            let _ = OntSerial::parse(&s);
            let _ = LineId::parse(&s);
        }

        #[test]
        fn valid_serials_round_trip(v in "[A-Z]{4}", h in "[0-9A-F]{8}") {
            let s = OntSerial::parse(&format!("{v}{h}")).unwrap();
            prop_assert_eq!(OntSerial::parse(s.as_str()).unwrap(), s.clone());
            prop_assert_eq!(s.vendor(), v.as_str());
        }
    }
}
