//! What the accountant hands on: the invoice and credit-note register
//! with VAT per rate, the payments journal and the arrears by age, and the
//! general-ledger accounts the FEC books to (the FEC itself: `fec`). Pure
//! functions of already-read documents, so each layout is pinned by tests.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ledger::Open;
use crate::model::{DocumentKind, Invoice};
use crate::money::Cents;
use crate::storage::ledger::Payment;
use crate::Error;

/// The general-ledger accounts and journal of the sales journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounts {
    /// Customers (class 411).
    pub customers: String,
    /// Sales of services (class 706).
    pub sales: String,
    /// VAT collected (class 44571).
    pub vat: String,
    pub journal_code: String,
    pub journal_label: String,
    /// The bank (class 512).
    pub bank: String,
    /// Cash at the counter (class 53).
    pub cash: String,
    /// Losses on bad debts: the FSL's write-offs (class 654).
    pub write_offs: String,
    /// Balances taken over from the concession (class 467).
    pub taken_over: String,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            customers: "411000".into(),
            sales: "706000".into(),
            vat: "445710".into(),
            journal_code: "VE".into(),
            journal_label: "Ventes".into(),
            bank: "512000".into(),
            cash: "530000".into(),
            write_offs: "654000".into(),
            taken_over: "467000".into(),
        }
    }
}

impl Accounts {
    pub fn check(&self) -> Result<(), Error> {
        for (value, class, what) in [
            (&self.customers, "411", "clients"),
            (&self.sales, "706", "ventes"),
            (&self.vat, "44571", "TVA collectée"),
            (&self.bank, "512", "banque"),
            (&self.cash, "53", "caisse"),
            (
                &self.write_offs,
                "654",
                "pertes sur créances irrécouvrables",
            ),
            (&self.taken_over, "467", "créances reprises"),
        ] {
            if !value.starts_with(class)
                || value.len() > 12
                || !value.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(Error::Invalid(format!(
                    "compte {what} « {value} » : des chiffres commençant par {class}"
                )));
            }
        }
        if self.journal_code.trim().is_empty()
            || self.journal_code.len() > 10
            || self.journal_label.trim().is_empty()
        {
            return Err(Error::Invalid(
                "le code et le libellé du journal sont obligatoires".into(),
            ));
        }
        Ok(())
    }
}

/// The FEC's columns, in their required order.
pub const FEC_COLUMNS: [&str; 18] = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
];

/// A CSV cell for a French spreadsheet (`;` separated).
fn cell(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn csv_amount(c: Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let a = c.0.unsigned_abs();
    format!("{sign}{},{:02}", a / 100, a % 100)
}

/// The register of invoices and credit notes: one row per document and
/// rate, then the totals per rate.
pub fn register_csv(documents: &[Invoice]) -> String {
    let mut out = String::from(
        "numero;type;date;compte;client;taux_tva;base_ht;tva;total_ttc;facture_corrigee\r\n",
    );
    let mut per_rate: std::collections::BTreeMap<u32, (String, Cents, Cents)> =
        std::collections::BTreeMap::new();
    for d in documents {
        for b in &d.breakdown {
            let gross = Cents(b.taxable.0 + b.tax.0);
            out.push_str(
                &[
                    cell(&d.number),
                    match d.kind {
                        DocumentKind::Invoice => "facture".into(),
                        DocumentKind::CreditNote => "avoir".into(),
                        DocumentKind::Balance => "solde repris".into(),
                    },
                    d.issued_on.format("%d/%m/%Y").to_string(),
                    cell(&d.buyer.code),
                    cell(&d.buyer.name),
                    b.rate.percent(),
                    csv_amount(b.taxable),
                    csv_amount(b.tax),
                    csv_amount(gross),
                    cell(d.corrects.as_deref().unwrap_or("")),
                ]
                .join(";"),
            );
            out.push_str("\r\n");
            let e = per_rate.entry(b.rate.basis_points).or_insert((
                b.rate.percent(),
                Cents::ZERO,
                Cents::ZERO,
            ));
            e.1 = Cents(e.1 .0 + b.taxable.0);
            e.2 = Cents(e.2 .0 + b.tax.0);
        }
    }
    for (_, (rate, base, tax)) in per_rate.iter().rev() {
        out.push_str(&format!(
            "TOTAL;;;;;{rate};{};{};{};\r\n",
            csv_amount(*base),
            csv_amount(*tax),
            csv_amount(Cents(base.0 + tax.0))
        ));
    }
    out
}

/// The payments journal: every entry with what it settled.
pub fn payments_csv(payments: &[Payment]) -> String {
    let mut out =
        String::from("numero;date;compte;mode;montant;reference;motif_rejet;factures\r\n");
    for p in payments {
        let settled: Vec<String> = p
            .allocations
            .iter()
            .map(|(n, c)| format!("{n} ({})", csv_amount(*c)))
            .collect();
        out.push_str(
            &[
                cell(&p.number),
                p.received_on.format("%d/%m/%Y").to_string(),
                cell(&p.account),
                p.method.as_str().to_owned(),
                csv_amount(p.amount),
                cell(p.reference.as_deref().unwrap_or("")),
                cell(p.reason.as_deref().unwrap_or("")),
                cell(&settled.join(", ")),
            ]
            .join(";"),
        );
        out.push_str("\r\n");
    }
    out
}

/// What is owed, by how late it is (days after the due date).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ageing {
    /// Not yet due.
    pub not_due: Cents,
    pub days_1_30: Cents,
    pub days_31_60: Cents,
    pub days_61_90: Cents,
    pub over_90: Cents,
}

/// Sorts open invoices into age buckets on `today`.
pub fn ageing(open: &[Open], today: NaiveDate, payment_days: u32) -> Result<Ageing, Error> {
    let mut a = Ageing::default();
    for o in open {
        let late = crate::ledger::days_late(o.issued_on, today, payment_days);
        let bucket = match late {
            i64::MIN..=0 => &mut a.not_due,
            1..=30 => &mut a.days_1_30,
            31..=60 => &mut a.days_31_60,
            61..=90 => &mut a.days_61_90,
            _ => &mut a.over_90,
        };
        *bucket = bucket.checked_add(o.due)?;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(number: &str, kind: DocumentKind, nets: &[i64]) -> Invoice {
        crate::test_support::document(number, kind, nets, "Famille\tMartin", "1 rue")
    }

    #[test]
    fn accounts_must_be_of_their_class() {
        assert!(Accounts::default().check().is_ok());
        assert!(Accounts {
            sales: "401000".into(),
            ..Accounts::default()
        }
        .check()
        .is_err());
        assert!(Accounts {
            vat: "44571A".into(),
            ..Accounts::default()
        }
        .check()
        .is_err());
    }

    #[test]
    fn the_register_totals_each_rate() {
        let docs = [
            doc("FA2026-000001", DocumentKind::Invoice, &[2492]),
            doc("AV2026-000001", DocumentKind::CreditNote, &[-500]),
        ];
        let csv = register_csv(&docs);
        let last = csv.lines().last().unwrap_or("");
        assert_eq!(last, "TOTAL;;;;;20,00;19,92;3,98;23,90;");
        assert!(csv.contains("AV2026-000001;avoir;01/12/2026"));
    }

    #[test]
    fn open_invoices_are_aged_from_their_due_date() {
        let o = |on: &str, c: i64| Open {
            invoice: "FA".into(),
            issued_on: on.parse().unwrap_or_default(),
            due: Cents(c),
        };
        let today: NaiveDate = "2026-12-01".parse().unwrap_or_default();
        let a = ageing(
            &[
                o("2026-11-20", 100),
                o("2026-10-15", 200),
                o("2026-09-20", 400),
                o("2026-08-20", 800),
                o("2026-01-01", 1600),
            ],
            today,
            30,
        )
        .unwrap_or_default();
        assert_eq!(
            (
                a.not_due,
                a.days_1_30,
                a.days_31_60,
                a.days_61_90,
                a.over_90
            ),
            (Cents(100), Cents(200), Cents(400), Cents(800), Cents(1600))
        );
    }
}
