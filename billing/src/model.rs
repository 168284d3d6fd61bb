//! Offers, accounts, subscriptions and invoices as billing's callers see
//! them; the input types check themselves once (`check`), so storage only
//! ever receives valid values.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::compute::Line;
use crate::money::{Cents, VatBreakdown, VatRate};
use crate::Error;

/// An offer voted by délibération.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewOffer {
    pub code: String,
    pub name: String,
    /// Monthly price, VAT included.
    pub monthly_gross: Cents,
    pub rate: VatRate,
    pub setup_fee: Cents,
    pub deliberation: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

fn text(v: &str, what: &str, max: usize) -> Result<(), Error> {
    let n = v.trim().chars().count();
    if n == 0 || n > max {
        return Err(Error::Invalid(format!(
            "{what} est obligatoire ({max} caractères au plus)"
        )));
    }
    Ok(())
}

impl NewOffer {
    pub fn check(&self) -> Result<(), Error> {
        let code = self.code.trim();
        if code.is_empty()
            || code.len() > 20
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::Invalid(format!(
                "code d'offre « {code} » invalide (lettres, chiffres et tirets, 20 au plus)"
            )));
        }
        text(&self.name, "le nom de l'offre", 120)?;
        text(&self.deliberation, "la délibération", 60)?;
        if self.monthly_gross.0 < 0 || self.setup_fee.0 < 0 {
            return Err(Error::Invalid("un prix ne peut être négatif".into()));
        }
        if self.valid_to.is_some_and(|to| to < self.valid_from) {
            return Err(Error::Invalid("l'offre finit avant de commencer".into()));
        }
        Ok(())
    }
}

/// An offer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub code: String,
    pub name: String,
    pub monthly_gross: Cents,
    pub rate: VatRate,
    pub setup_fee: Cents,
    pub deliberation: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// Who pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Household,
    Business,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Household => "household",
            AccountKind::Business => "business",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "household" => Ok(AccountKind::Household),
            "business" => Ok(AccountKind::Business),
            other => Err(Error::Invalid(format!(
                "type de compte « {other} » inconnu"
            ))),
        }
    }
}

/// A SIREN: nine digits passing the Luhn check.
pub fn check_siren(s: &str) -> Result<(), Error> {
    let digits: Vec<u32> = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Invalid(format!("SIREN « {s} » : seulement des chiffres")))?;
    if digits.len() != 9 {
        return Err(Error::Invalid(format!(
            "SIREN « {s} » : 9 chiffres attendus"
        )));
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    if !sum.is_multiple_of(10) {
        return Err(Error::Invalid(format!(
            "SIREN « {s} » : la clé de contrôle est fausse"
        )));
    }
    Ok(())
}

/// A French intra-community VAT number: `FR`, a two-digit key, the SIREN.
/// The key is (12 + 3 × (SIREN mod 97)) mod 97.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatNumber(String);

impl VatNumber {
    /// Reads a number as written (spaces allowed, any letter case) and
    /// checks its key and that it is the number of `siren`.
    pub fn parse(s: &str, siren: Option<&str>) -> Result<Self, Error> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        let bad = |why: &str| Error::Invalid(format!("numéro de TVA « {} » : {why}", s.trim()));
        let rest = compact
            .strip_prefix("FR")
            .ok_or_else(|| bad("un numéro français commence par FR"))?;
        let digits: Vec<u32> = rest
            .chars()
            .map(|c| c.to_digit(10))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("FR suivi de 11 chiffres attendu"))?;
        if digits.len() != 11 {
            return Err(bad("FR suivi de 11 chiffres attendu"));
        }
        let number = |ds: &[u32]| ds.iter().fold(0u64, |n, d| n * 10 + u64::from(*d));
        let key = number(&digits[..2]);
        let of = number(&digits[2..]);
        if (12 + 3 * (of % 97)) % 97 != key {
            return Err(bad("la clé ne correspond pas au SIREN qu'il contient"));
        }
        let of_text = format!("{of:09}");
        match siren.map(|x| x.chars().filter(|c| !c.is_whitespace()).collect::<String>()) {
            Some(siren) if siren != of_text => Err(bad(&format!(
                "il est celui du SIREN {of_text}, pas du SIREN {siren} du compte"
            ))),
            None => Err(bad("un numéro de TVA va avec le SIREN du compte")),
            Some(_) => Ok(VatNumber(compact)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for VatNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A payer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewAccount {
    pub kind: AccountKind,
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub town: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Businesses: required.
    #[serde(default)]
    pub siren: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
    /// Households: their social-tariff household code, for the tariff.
    #[serde(default)]
    pub household: Option<String>,
}

impl NewAccount {
    pub fn check(&self) -> Result<(), Error> {
        text(&self.name, "le nom du payeur", 120)?;
        text(&self.address, "l'adresse", 200)?;
        text(&self.town, "la commune", 80)?;
        let pc = self.postcode.trim();
        if pc.len() != 5 || !pc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid(format!(
                "code postal « {pc} » : 5 chiffres attendus"
            )));
        }
        match (self.kind, self.siren.as_deref()) {
            (AccountKind::Business, None) => {
                return Err(Error::Invalid(
                    "le SIREN d'une entreprise est obligatoire".into(),
                ))
            }
            (_, Some(s)) => check_siren(s)?,
            _ => {}
        }
        if let Some(v) = self.vat_number.as_deref().filter(|v| !v.trim().is_empty()) {
            VatNumber::parse(v, self.siren.as_deref())?;
        }
        if let Some(e) = &self.email {
            if !e.contains('@') || e.trim().len() > 200 {
                return Err(Error::Invalid(format!(
                    "adresse électronique « {e} » invalide"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub code: String,
    pub kind: AccountKind,
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub town: String,
    pub email: Option<String>,
    pub siren: Option<String>,
    pub vat_number: Option<String>,
    pub household: Option<String>,
}

/// One stretch of a subscription's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub offer: String,
    pub on_request_suspension: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub code: String,
    pub account: String,
    pub line_id: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
    /// A balance the outgoing operator left open, taken over by the régie:
    /// owed and collected like an invoice, but not a sale of the régie (no
    /// VAT, not in the registers).
    Balance,
}

/// An issued invoice or credit note: never changed once issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub number: String,
    pub kind: DocumentKind,
    pub account: String,
    pub subscription: Option<String>,
    pub period: String,
    pub issued_on: NaiveDate,
    pub lines: Vec<Line>,
    pub breakdown: Vec<VatBreakdown>,
    pub net: Cents,
    pub tax: Cents,
    pub gross: Cents,
    /// For a credit note: the invoice it corrects.
    pub corrects: Option<String>,
    /// The buyer as at issue time (a later change of address does not
    /// change an issued invoice).
    pub buyer: Account,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sirens_are_checked_by_their_key() {
        assert!(check_siren("732 829 320").is_ok());
        assert!(check_siren("732829321").is_err());
        assert!(check_siren("73282932").is_err());
        assert!(check_siren("73282932A").is_err());
    }

    #[test]
    fn vat_numbers_are_checked_by_their_key_and_siren() {
        // SIREN 552 100 554: 552100554 mod 97 = 28; (12 + 3 × 28) mod 97 = 96.
        let ok = VatNumber::parse("fr 96 552100554", Some("552 100 554"));
        assert_eq!(ok.ok().map(|v| v.to_string()), Some("FR96552100554".into()));
        // A wrong key.
        assert!(VatNumber::parse("FR00552100554", Some("552100554")).is_err());
        // Another company's valid number: 732829320 mod 97 = 43; (12 + 129) mod 97 = 44.
        assert!(VatNumber::parse("FR44732829320", Some("732829320")).is_ok());
        match VatNumber::parse("FR44732829320", Some("552100554")) {
            Err(Error::Invalid(m)) => assert!(m.contains("pas du SIREN 552100554"), "{m}"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "",
            "96552100554",
            "FR9655210055",
            "FR965521005545",
            "FRAB552100554",
            "FR 96 552100554 é",
        ] {
            assert!(VatNumber::parse(bad, Some("552100554")).is_err(), "{bad}");
        }
        assert!(VatNumber::parse("FR96552100554", None).is_err());
    }

    proptest::proptest! {
        #[test]
        fn vat_number_parsing_never_panics_and_reads_what_it_prints(s in "\\PC{0,20}", siren in 0u64..1_000_000_000) {
            let _ = VatNumber::parse(&s, Some("552100554"));
            let siren = format!("{siren:09}");
            let key = (12 + 3 * (siren.parse::<u64>().unwrap_or(0) % 97)) % 97;
            let written = format!("FR{key:02}{siren}");
            let read = VatNumber::parse(&written, Some(&siren));
            proptest::prop_assert_eq!(read.map(|v| v.to_string()).ok(), Some(written));
        }
    }

    fn account() -> NewAccount {
        NewAccount {
            kind: AccountKind::Household,
            name: "Famille Martin".into(),
            address: "3 rue des Lilas".into(),
            postcode: "35000".into(),
            town: "Rennes".into(),
            email: None,
            siren: None,
            vat_number: None,
            household: None,
        }
    }

    #[test]
    fn accounts_need_an_address_and_businesses_a_siren() {
        assert!(account().check().is_ok());
        assert!(NewAccount {
            postcode: "3500".into(),
            ..account()
        }
        .check()
        .is_err());
        assert!(NewAccount {
            kind: AccountKind::Business,
            ..account()
        }
        .check()
        .is_err());
        assert!(NewAccount {
            kind: AccountKind::Business,
            siren: Some("732829320".into()),
            ..account()
        }
        .check()
        .is_ok());
        assert!(NewAccount {
            email: Some("martin".into()),
            ..account()
        }
        .check()
        .is_err());
    }
}
