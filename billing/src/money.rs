//! Money and VAT: integer cents, French VAT rates, the EN 16931 rounding
//! rules (each line's net amount to the cent, the VAT of a rate computed
//! once on the sum of its lines) and daily prorata.
//!
//! Prices are voted and shown to households VAT included; invoices carry
//! net amounts. A line's net amount is its VAT-included amount divided by
//! (1 + rate), rounded half away from zero to the cent, so the invoice's
//! total may differ from the sum of the VAT-included prices by a cent at
//! most per rate: the law and EN 16931 want the net-first computation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An amount in euro cents; negative for a credit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// An amount as people write it: `12`, `12,5`, `12,50`, `-3.20`,
    /// `1 234,56 €`. At most two decimals.
    pub fn parse(s: &str) -> Result<Self, Error> {
        regie_core::fr::parse_euros(s).map(Cents).ok_or_else(|| {
            Error::Invalid(format!("« {} » n'est pas un montant en euros", s.trim()))
        })
    }

    pub fn checked_add(self, other: Cents) -> Result<Cents, Error> {
        self.0
            .checked_add(other.0)
            .map(Cents)
            .ok_or(Error::Overflow)
    }

    pub fn checked_sub(self, other: Cents) -> Result<Cents, Error> {
        self.0
            .checked_sub(other.0)
            .map(Cents)
            .ok_or(Error::Overflow)
    }

    /// The sum of amounts, refusing an overflow.
    pub fn sum(items: impl IntoIterator<Item = Cents>) -> Result<Cents, Error> {
        items.into_iter().try_fold(Cents::ZERO, Cents::checked_add)
    }

    /// `self × numerator / denominator`, rounded half away from zero.
    pub fn mul_div(self, numerator: i64, denominator: i64) -> Result<Cents, Error> {
        if denominator <= 0 {
            return Err(Error::Invalid("division par zéro".into()));
        }
        let p = i128::from(self.0) * i128::from(numerator);
        let d = i128::from(denominator);
        let q = p / d;
        let r = p % d;
        let rounded = if 2 * r.abs() >= d { q + p.signum() } else { q };
        i64::try_from(rounded)
            .map(Cents)
            .map_err(|_| Error::Overflow)
    }
}

impl Cents {
    /// The amount as XML files write it: a point, two decimals, no
    /// grouping (`24.92`, `-12.46`).
    pub fn decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    }
}

impl fmt::Display for Cents {
    /// `1 234,50 €` (narrow no-break space between thousands).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&regie_core::fr::euros(self.0))
    }
}

/// A VAT rate in basis points (2000 = 20 %) with its EN 16931 category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VatRate {
    pub basis_points: u32,
    pub category: VatCategory,
}

/// EN 16931 VAT category codes (UNTDID 5305) the régie uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VatCategory {
    /// Standard or reduced rate.
    S,
    /// Zero rated.
    Z,
    /// Exempt.
    E,
    /// Outside the scope of VAT (e.g. an aid paid by the commune).
    O,
}

impl VatCategory {
    pub fn code(self) -> &'static str {
        match self {
            VatCategory::S => "S",
            VatCategory::Z => "Z",
            VatCategory::E => "E",
            VatCategory::O => "O",
        }
    }
}

impl VatRate {
    /// 20 %: internet access.
    pub const STANDARD: VatRate = VatRate {
        basis_points: 2000,
        category: VatCategory::S,
    };
    /// 10 %.
    pub const INTERMEDIATE: VatRate = VatRate {
        basis_points: 1000,
        category: VatCategory::S,
    };
    /// 5,5 %.
    pub const REDUCED: VatRate = VatRate {
        basis_points: 550,
        category: VatCategory::S,
    };
    /// 2,1 %.
    pub const SUPER_REDUCED: VatRate = VatRate {
        basis_points: 210,
        category: VatCategory::S,
    };
    /// Outside the scope of VAT.
    pub const OUT_OF_SCOPE: VatRate = VatRate {
        basis_points: 0,
        category: VatCategory::O,
    };

    /// A rate as written (`20`, `5,5`, `2.1`, `0`), standard category, or
    /// zero outside the scope; only the French rates are accepted.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim().trim_end_matches('%').trim().replace(',', ".");
        match t.as_str() {
            "20" | "20.0" => Ok(VatRate::STANDARD),
            "10" | "10.0" => Ok(VatRate::INTERMEDIATE),
            "5.5" => Ok(VatRate::REDUCED),
            "2.1" => Ok(VatRate::SUPER_REDUCED),
            "0" => Ok(VatRate::OUT_OF_SCOPE),
            _ => Err(Error::Invalid(format!(
                "taux de TVA « {} » inconnu (20, 10, 5,5, 2,1 ou 0)",
                s.trim()
            ))),
        }
    }

    /// The rate as people write it and [`VatRate::parse`] reads it (`20`,
    /// `5,5`, `2,1`, `0`).
    pub fn as_written(self) -> String {
        let (units, hundredths) = (self.basis_points / 100, self.basis_points % 100);
        match hundredths {
            0 => units.to_string(),
            h if h % 10 == 0 => format!("{units},{}", h / 10),
            h => format!("{units},{h:02}"),
        }
    }

    /// The rate as a percentage with a comma (`20,00`, `5,50`).
    pub fn percent(self) -> String {
        format!("{},{:02}", self.basis_points / 100, self.basis_points % 100)
    }

    /// The net amount of a VAT-included amount, to the cent.
    pub fn net_of(self, gross: Cents) -> Result<Cents, Error> {
        gross.mul_div(10_000, 10_000 + i64::from(self.basis_points))
    }

    /// The VAT on a net amount, to the cent.
    pub fn tax_on(self, net: Cents) -> Result<Cents, Error> {
        net.mul_div(i64::from(self.basis_points), 10_000)
    }
}

/// One rate's total on a document (EN 16931 BG-23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VatBreakdown {
    pub rate: VatRate,
    /// The sum of the net amounts of the lines at this rate (BT-116).
    pub taxable: Cents,
    /// The VAT, computed once on that sum (BT-117).
    pub tax: Cents,
}

/// Document totals (EN 16931 BG-22).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub breakdown: Vec<VatBreakdown>,
    /// The sum of the line net amounts (BT-106).
    pub net: Cents,
    /// The sum of the VAT per rate (BT-110).
    pub tax: Cents,
    /// Net plus VAT (BT-112).
    pub gross: Cents,
}

/// Totals of lines given as (net amount, rate): VAT per rate on the sum of
/// its lines, rates in ascending order.
pub fn totals(lines: impl IntoIterator<Item = (Cents, VatRate)>) -> Result<Totals, Error> {
    let mut per_rate: std::collections::BTreeMap<VatRate, Cents> =
        std::collections::BTreeMap::new();
    for (net, rate) in lines {
        let e = per_rate.entry(rate).or_default();
        *e = e.checked_add(net)?;
    }
    let mut breakdown = Vec::with_capacity(per_rate.len());
    for (rate, taxable) in per_rate {
        breakdown.push(VatBreakdown {
            rate,
            taxable,
            tax: rate.tax_on(taxable)?,
        });
    }
    let net = Cents::sum(breakdown.iter().map(|b| b.taxable))?;
    let tax = Cents::sum(breakdown.iter().map(|b| b.tax))?;
    Ok(Totals {
        breakdown,
        net,
        gross: net.checked_add(tax)?,
        tax,
    })
}

/// A monthly amount for `days` of a month of `days_in_month` days, rounded
/// to the cent: the daily prorata of a start, an end or a plan change.
pub fn prorata(monthly: Cents, days: u32, days_in_month: u32) -> Result<Cents, Error> {
    check_days(days, days_in_month)?;
    monthly.mul_div(i64::from(days), i64::from(days_in_month))
}

fn check_days(days: u32, days_in_month: u32) -> Result<(), Error> {
    if days_in_month == 0 || days > days_in_month {
        return Err(Error::Invalid(format!(
            "prorata de {days} jours sur {days_in_month}"
        )));
    }
    Ok(())
}

/// The rule of every prorated line (README, « Arrondis »): the net amount
/// of `days` out of `days_in_month` of a monthly price VAT included, taken
/// exactly — price ÷ (1 + rate) × days ÷ days in the month — and rounded
/// once, half away from zero, to the cent. A whole month is the price's
/// net amount ([`VatRate::net_of`]). The social tariff's reduction for a
/// run of days is what the offer's price makes for them less what the
/// level's price makes, each by this rule.
pub fn prorated_net(
    monthly_gross: Cents,
    rate: VatRate,
    days: u32,
    days_in_month: u32,
) -> Result<Cents, Error> {
    check_days(days, days_in_month)?;
    let denominator = (10_000 + i64::from(rate.basis_points))
        .checked_mul(i64::from(days_in_month))
        .ok_or(Error::Overflow)?;
    let numerator = 10_000i64
        .checked_mul(i64::from(days))
        .ok_or(Error::Overflow)?;
    monthly_gross.mul_div(numerator, denominator)
}

/// "1 jour", "14 jours".
pub fn days_label(n: u32) -> String {
    if n <= 1 {
        format!("{n} jour")
    } else {
        format!("{n} jours")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn amounts_parse_as_written() {
        // The reading itself is regie_core::fr's, tested there; here, that
        // Cents takes it and refuses in its own words.
        assert_eq!(Cents::parse("-3,20").ok(), Some(Cents(-320)));
        assert_eq!(Cents::parse("1 234,56 €").ok(), Some(Cents(123_456)));
        match Cents::parse("1,2,3") {
            Err(Error::Invalid(m)) => assert!(m.contains("« 1,2,3 »"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(Cents(123_450).to_string(), "1\u{202f}234,50 €");
        assert_eq!(Cents(2492).decimal(), "24.92");
        assert_eq!(Cents(-1246).decimal(), "-12.46");
        assert_eq!(Cents(5).decimal(), "0.05");
        assert_eq!(Cents(-5).to_string(), "-0,05 €");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(Cents(1).mul_div(1, 2).ok(), Some(Cents(1)));
        assert_eq!(Cents(-1).mul_div(1, 2).ok(), Some(Cents(-1)));
        assert_eq!(Cents(10).mul_div(1, 3).ok(), Some(Cents(3)));
        assert!(Cents(1).mul_div(1, 0).is_err());
        assert!(Cents(i64::MAX).mul_div(2, 1).is_err());
    }

    #[test]
    fn a_29_90_offer_is_24_92_net_and_4_98_vat() {
        let net = VatRate::STANDARD.net_of(Cents(2990)).unwrap_or_default();
        assert_eq!(net, Cents(2492));
        let t = totals([(net, VatRate::STANDARD)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.net, t.tax, t.gross),
            (Cents(2492), Cents(498), Cents(2990))
        );
    }

    #[test]
    fn vat_is_computed_once_per_rate_on_the_sum() {
        // Three lines of 0,02 € net: line by line the VAT would round to
        // nothing; on their sum (0,06 €) it is 0,01 €.
        let t = totals([(Cents(2), VatRate::STANDARD); 3]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.tax, Cents(1));
        let mixed = totals([
            (Cents(1000), VatRate::STANDARD),
            (Cents(1000), VatRate::REDUCED),
            (Cents(-200), VatRate::STANDARD),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mixed.breakdown.len(), 2);
        assert_eq!(mixed.breakdown[0].rate, VatRate::REDUCED);
        assert_eq!(mixed.breakdown[0].tax, Cents(55));
        assert_eq!(mixed.breakdown[1].taxable, Cents(800));
        assert_eq!(mixed.breakdown[1].tax, Cents(160));
        assert_eq!(mixed.gross, Cents(2015));
    }

    #[test]
    fn rates_parse_and_show_in_french() {
        assert_eq!(VatRate::parse("5,5 %").ok(), Some(VatRate::REDUCED));
        assert_eq!(VatRate::parse("20").ok(), Some(VatRate::STANDARD));
        assert!(VatRate::parse("19,6").is_err());
        assert_eq!(VatRate::REDUCED.percent(), "5,50");
        for r in [
            VatRate::STANDARD,
            VatRate::INTERMEDIATE,
            VatRate::REDUCED,
            VatRate::SUPER_REDUCED,
            VatRate::OUT_OF_SCOPE,
        ] {
            assert_eq!(
                VatRate::parse(&r.as_written()).ok(),
                Some(r),
                "{}",
                r.as_written()
            );
        }
    }

    #[test]
    fn prorata_counts_days() {
        // Started on the 17th of a 30-day month: 14 days of 29,90 €.
        assert_eq!(prorata(Cents(2990), 14, 30).ok(), Some(Cents(1395)));
        assert_eq!(prorata(Cents(2990), 30, 30).ok(), Some(Cents(2990)));
        assert!(prorata(Cents(2990), 31, 30).is_err());
    }

    #[test]
    fn a_prorated_net_is_rounded_once() {
        // 29,90 € for 14 days of 30: 29,90 / 1,2 × 14 / 30 = 11,6277… → 11,63.
        assert_eq!(
            prorated_net(Cents(2990), VatRate::STANDARD, 14, 30).ok(),
            Some(Cents(1163))
        );
        // 29,99 / 1,2 × 25 / 31 = 20,154… → 20,15; 10 / 1,2 × 25 / 31 = 6,720… → 6,72.
        assert_eq!(
            prorated_net(Cents(2999), VatRate::STANDARD, 25, 31).ok(),
            Some(Cents(2015))
        );
        assert_eq!(
            prorated_net(Cents(1000), VatRate::STANDARD, 25, 31).ok(),
            Some(Cents(672))
        );
        // A whole month is the price's net amount.
        assert_eq!(
            prorated_net(Cents(2990), VatRate::STANDARD, 31, 31).ok(),
            VatRate::STANDARD.net_of(Cents(2990)).ok()
        );
        assert!(prorated_net(Cents(2990), VatRate::STANDARD, 32, 31).is_err());
        assert_eq!(days_label(1), "1 jour");
        assert_eq!(days_label(14), "14 jours");
    }

    proptest! {
        #[test]
        fn written_amounts_read_back(c in -10_000_000_000i64..10_000_000_000) {
            prop_assert_eq!(Cents::parse(&Cents(c).to_string()).ok(), Some(Cents(c)));
        }

        #[test]
        fn net_plus_vat_is_within_a_cent_of_the_gross(gross in 0i64..10_000_000, rate in prop::sample::select(vec![VatRate::STANDARD, VatRate::INTERMEDIATE, VatRate::REDUCED, VatRate::SUPER_REDUCED])) {
            let net = rate.net_of(Cents(gross)).unwrap_or_default();
            let back = net.0 + rate.tax_on(net).unwrap_or_default().0;
            prop_assert!((back - gross).abs() <= 1, "{} → {} → {}", gross, net.0, back);
        }

        #[test]
        fn prorata_of_whole_month_parts_adds_up_within_a_cent_per_part(monthly in 0i64..100_000, split in 1u32..30) {
            let a = prorata(Cents(monthly), split, 30).unwrap_or_default();
            let b = prorata(Cents(monthly), 30 - split, 30).unwrap_or_default();
            prop_assert!((a.0 + b.0 - monthly).abs() <= 1);
        }

        #[test]
        fn totals_are_consistent(lines in prop::collection::vec((-100_000i64..100_000, 0usize..3), 0..40)) {
            let rates = [VatRate::STANDARD, VatRate::REDUCED, VatRate::OUT_OF_SCOPE];
            let t = totals(lines.iter().map(|(n, r)| (Cents(*n), rates[*r]))).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(t.net.0, lines.iter().map(|(n, _)| n).sum::<i64>());
            prop_assert_eq!(t.gross.0, t.net.0 + t.tax.0);
            prop_assert_eq!(t.tax.0, t.breakdown.iter().map(|b| b.tax.0).sum::<i64>());
        }
    }
}
