//! Amounts and dates as they are written in French, read and written the
//! same way by every crate's pages and letters: `1 234,50 €`, `149,90`,
//! `mars 2026`, `1er mars 2026`.

use chrono::{Datelike, NaiveDate};

/// The month names, January first.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `mars 2026`. A month outside 1–12 cannot come from a date; it is written
/// as a number rather than refused, since this only writes.
pub fn month_year(year: i32, month: u32) -> String {
    match month
        .checked_sub(1)
        .and_then(|i| MONTHS.get(usize::try_from(i).ok()?))
    {
        Some(name) => format!("{name} {year}"),
        None => format!("{month:02}/{year}"),
    }
}

/// `1er mars 2026`, `12 mars 2026`.
pub fn date(d: NaiveDate) -> String {
    let day = if d.day() == 1 {
        "1er".to_owned()
    } else {
        d.day().to_string()
    };
    format!("{day} {}", month_year(d.year(), d.month()))
}

/// Cents written in French: `1 234,50 €`, with a narrow no-break space
/// between thousands, as the Imprimerie nationale's rules want.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let whole = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped},{:02} €", c % 100)
}

/// An amount in euros as people type it, in cents: `12`, `12,5`, `12,50`,
/// `-3.20`, `1 234,56 €` (spaces, no-break spaces and a trailing euro sign
/// are allowed). At most two decimals. `None` when the text is not an
/// amount or does not fit in cents; each caller says so in its own words.
pub fn parse_euros(s: &str) -> Option<i64> {
    let t: String = s
        .trim()
        .trim_end_matches('€')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    let (whole, frac) = t.split_once([',', '.']).unwrap_or((t, ""));
    if whole.is_empty() || whole.len() > 13 || frac.len() > 2 {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    let cents = whole.checked_mul(100)?.checked_add(frac)?;
    Some(if negative { -cents } else { cents })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn months_and_dates() {
        assert_eq!(month_year(2026, 3), "mars 2026");
        assert_eq!(month_year(2026, 12), "décembre 2026");
        assert_eq!(month_year(2026, 0), "00/2026");
        assert_eq!(month_year(2026, 13), "13/2026");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(date(d(2026, 3, 1)), "1er mars 2026");
        assert_eq!(date(d(2026, 8, 12)), "12 août 2026");
    }

    #[test]
    fn amounts_are_written_with_grouped_thousands() {
        assert_eq!(euros(0), "0,00 €");
        assert_eq!(euros(5), "0,05 €");
        assert_eq!(euros(123_456), "1\u{202f}234,56 €");
        assert_eq!(euros(-100_000_000), "-1\u{202f}000\u{202f}000,00 €");
    }

    #[test]
    fn amounts_are_read_as_people_type_them() {
        for (text, cents) in [
            ("12", 1200),
            ("12,5", 1250),
            ("12.50", 1250),
            ("-3,20", -320),
            ("1 234,56 €", 123_456),
            ("1\u{a0}234,56", 123_456),
            (" 0,07 ", 7),
        ] {
            assert_eq!(parse_euros(text), Some(cents), "{text}");
        }
        for bad in [
            "",
            "€",
            ",50",
            "12,345",
            "1e3",
            "12,-5",
            "--1",
            "+5",
            "douze",
            "99999999999999",
        ] {
            assert_eq!(parse_euros(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(cents in -100_000_000_000i64..100_000_000_000) {
            prop_assert_eq!(parse_euros(&euros(cents)), Some(cents));
        }

        #[test]
        fn any_text_read_is_an_amount_written_back_the_same(s in ".{0,20}") {
            // Reading never panics, and what it accepts is a real amount.
            if let Some(cents) = parse_euros(&s) {
                prop_assert_eq!(parse_euros(&euros(cents)), Some(cents));
            }
        }
    }
}
