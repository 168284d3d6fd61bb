//! Finding an address as people type it: « 12 rue des Écoles », « 12 r
//! des ecoles Régie », an address code, a hexaclé or a BAN id, in any
//! letter case — for the technician ordering a line and the household
//! asking whether its home can have fibre.

use crate::plant::{Address, Plant};

/// At most this many addresses are proposed.
pub const PROPOSED: usize = 10;

/// Lower case without accents, punctuation as spaces, the usual street
/// abbreviations written out.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' => out.push('i'),
            'ô' | 'ö' | 'ó' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ç' => out.push('c'),
            'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace()
        .map(|w| match w {
            "r" => "rue",
            "av" | "ave" => "avenue",
            "bd" | "bld" | "boul" => "boulevard",
            "pl" => "place",
            "che" | "ch" => "chemin",
            "imp" => "impasse",
            "rte" => "route",
            "all" => "allee",
            "sq" => "square",
            "st" => "saint",
            "ste" => "sainte",
            "fg" | "fbg" => "faubourg",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The addresses `query` names: by code, hexaclé or BAN id (exactly, any
/// case), else by number and words of the street, postcode or commune
/// (all of them). At most [`PROPOSED`], the closest first.
pub fn addresses<'a>(plant: &'a Plant, query: &str) -> Vec<&'a Address> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > 200 {
        return Vec::new();
    }
    let upper = query.to_uppercase();
    let exact: Vec<&Address> = plant
        .addresses
        .values()
        .filter(|a| {
            a.code.as_str() == upper
                || a.ban_id
                    .as_ref()
                    .is_some_and(|b| b.as_str().eq_ignore_ascii_case(query))
                || a.hexacle.as_ref().is_some_and(|h| h.as_str() == upper)
        })
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let folded = fold(query);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    // A number (with its repetition: « 12 bis ») names the house.
    let number = words
        .iter()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.len() <= 4)
        .copied();
    let rest: Vec<&str> = words
        .iter()
        .filter(|w| Some(**w) != number && !matches!(**w, "bis" | "ter" | "quater"))
        .copied()
        .collect();
    if rest.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(u8, &Address)> = plant
        .addresses
        .values()
        .filter_map(|a| {
            let place = fold(&format!("{} {} {}", a.street, a.postcode, a.commune));
            let place_words: Vec<&str> = place.split(' ').collect();
            if !rest
                .iter()
                .all(|w| place_words.iter().any(|p| p.starts_with(w)))
            {
                return None;
            }
            let rank = match (number, a.number.as_deref()) {
                (Some(n), Some(m)) if fold(m) == n => 0,
                (Some(_), _) => 2,
                (None, _) => 1,
            };
            Some((rank, a))
        })
        .collect();
    // With a number given, only that house when it exists.
    if found.iter().any(|(r, _)| *r == 0) {
        found.retain(|(r, _)| *r == 0);
    }
    found.sort_by(|(ra, a), (rb, b)| {
        (ra, a.street.as_str(), house(a), a.code.as_str()).cmp(&(
            rb,
            b.street.as_str(),
            house(b),
            b.code.as_str(),
        ))
    });
    found.into_iter().take(PROPOSED).map(|(_, a)| a).collect()
}

/// A house number for sorting: 2 before 10.
fn house(a: &Address) -> u32 {
    a.number
        .as_deref()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// An address as written on an envelope: « 12 bis RUE DES ECOLES, 99100
/// REGIE-SUR-FIBRE ».
pub fn postal(a: &Address) -> String {
    let mut out = String::new();
    for part in [a.number.as_deref(), a.repetition.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
    {
        out.push_str(part.trim());
        out.push(' ');
    }
    out.push_str(a.street.trim());
    out.push_str(", ");
    out.push_str(a.postcode.trim());
    out.push(' ');
    out.push_str(a.commune.trim());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_addresses_fold_to_the_same_words() {
        assert_eq!(fold("12, R. des Écoles"), "12 rue des ecoles");
        assert_eq!(fold("Bd Saint-Exupéry"), "boulevard saint exupery");
        assert_eq!(fold("  Œuvre  "), "oeuvre");
        assert_eq!(fold(""), "");
    }

    proptest! {
        #[test]
        fn folding_never_panics_and_is_stable(s in "\\PC{0,80}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
        }
    }
}
