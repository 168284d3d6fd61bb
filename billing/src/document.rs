//! Invoices and credit notes as documents, in French, with the mentions
//! French law requires (Code de commerce L441-9, CGI art. 242 nonies A):
//! seller and buyer with their addresses, the seller's SIREN and VAT
//! number (and the buyer's for a business), number and dates, each line
//! with quantity, unit price net of VAT and rate, totals per rate, the
//! payment date and terms; for a business, the late-payment penalties and
//! the €40 recovery indemnity. A credit note names the invoice it corrects.

use chrono::NaiveDate;
use regie_core::pdf::{Block, Column, Pdf, Table};
use serde::{Deserialize, Serialize};

use crate::model::{AccountKind, DocumentKind, Invoice};
use crate::Error;

/// The régie as seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    pub name: String,
    pub address: String,
    /// Absent until configured: the document says so.
    pub siren: Option<String>,
    pub vat_number: Option<String>,
    /// Days between issue and payment.
    pub payment_days: u32,
}

/// The SEPA pre-notification printed on an invoice paid by direct debit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebitNotice {
    /// The planned debit day.
    pub on: NaiveDate,
    pub rum: String,
    /// The debtor's IBAN, masked.
    pub iban: String,
    /// The régie's creditor identifier (ICS).
    pub creditor_id: String,
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The blocks of the document, for the PDF and for text snapshots.
pub fn blocks(invoice: &Invoice, seller: &Seller, debit: Option<&DebitNotice>) -> Vec<Block> {
    let credit = invoice.kind == DocumentKind::CreditNote;
    let title = if credit {
        format!("Avoir n° {}", invoice.number)
    } else {
        format!("Facture n° {}", invoice.number)
    };
    let mut from = vec![seller.name.clone(), seller.address.clone()];
    from.push(format!(
        "SIREN : {}",
        seller.siren.as_deref().unwrap_or("non configuré")
    ));
    from.push(format!(
        "N° de TVA intracommunautaire : {}",
        seller.vat_number.as_deref().unwrap_or("non configuré")
    ));
    let b = &invoice.buyer;
    let mut to = vec![
        format!("Client : {} (compte {})", b.name, b.code),
        b.address.clone(),
        format!("{} {}", b.postcode, b.town),
    ];
    if let Some(s) = &b.siren {
        to.push(format!("SIREN : {s}"));
    }
    if let Some(v) = &b.vat_number {
        to.push(format!("N° de TVA intracommunautaire : {v}"));
    }
    let mut refs = vec![
        format!("Date d'émission : {}", date(invoice.issued_on)),
        format!("Période facturée : {}", invoice.period),
    ];
    if let Some(c) = &invoice.corrects {
        refs.push(format!("Rectifie la facture n° {c}"));
    }
    if let Some(s) = &invoice.subscription {
        refs.push(format!("Abonnement : {s}"));
    }
    let rows = invoice
        .lines
        .iter()
        .map(|l| {
            vec![
                l.description.clone(),
                "1".to_owned(),
                l.net.to_string(),
                format!("{} %", l.rate.percent()),
                l.net.to_string(),
            ]
        })
        .collect();
    let lines = Table {
        columns: vec![
            Column {
                title: "Désignation".into(),
                share: 10,
                right: false,
            },
            Column {
                title: "Qté".into(),
                share: 1,
                right: true,
            },
            Column {
                title: "Prix unitaire HT".into(),
                share: 3,
                right: true,
            },
            Column {
                title: "TVA".into(),
                share: 2,
                right: true,
            },
            Column {
                title: "Total HT".into(),
                share: 3,
                right: true,
            },
        ],
        rows,
    };
    let mut vat_rows: Vec<Vec<String>> = invoice
        .breakdown
        .iter()
        .map(|v| {
            vec![
                format!("TVA {} %", v.rate.percent()),
                v.taxable.to_string(),
                v.tax.to_string(),
            ]
        })
        .collect();
    vat_rows.push(vec![
        "Total".into(),
        invoice.net.to_string(),
        invoice.tax.to_string(),
    ]);
    let vat = Table {
        columns: vec![
            Column {
                title: "Taux".into(),
                share: 2,
                right: false,
            },
            Column {
                title: "Base HT".into(),
                share: 2,
                right: true,
            },
            Column {
                title: "Montant de TVA".into(),
                share: 2,
                right: true,
            },
        ],
        rows: vat_rows,
    };
    let mut out = vec![
        Block::Lines(from),
        Block::Space(14),
        Block::Lines(to),
        Block::Space(18),
        Block::Title(title),
        Block::Lines(refs),
        Block::Table(lines),
        Block::Table(vat),
        Block::Heading(format!(
            "{} : {}",
            if credit {
                "Total de l'avoir TTC"
            } else {
                "Total TTC à payer"
            },
            invoice.gross
        )),
    ];
    let mut terms = Vec::new();
    if credit {
        terms.push(
            "Ce montant vient en déduction de votre solde ; s'il vous est dû, il vous est remboursé."
                .to_owned(),
        );
    } else {
        let due = invoice
            .issued_on
            .checked_add_days(chrono::Days::new(u64::from(seller.payment_days)))
            .unwrap_or(invoice.issued_on);
        terms.push(format!(
            "À payer au plus tard le {}, par prélèvement SEPA, virement ou au guichet de la régie (espèces, carte, chèque). Pas d'escompte pour paiement anticipé.",
            date(due)
        ));
        if let Some(d) = debit {
            terms.push(format!(
                "Prélèvement SEPA : {} seront prélevés le {} sur le compte {} (mandat {}, créancier {}). Ce message vaut pré-notification.",
                invoice.gross,
                date(d.on),
                d.iban,
                d.rum,
                d.creditor_id
            ));
        }
        if b.kind == AccountKind::Business {
            terms.push(
                "En cas de retard de paiement : pénalités au taux d'intérêt de la BCE majoré de 10 points, et indemnité forfaitaire pour frais de recouvrement de 40 € (articles L441-10 et D441-5 du Code de commerce)."
                    .to_owned(),
            );
        }
    }
    out.push(Block::Heading("Conditions de paiement".into()));
    out.extend(terms.into_iter().map(Block::Paragraph));
    out
}

/// The blocks as plain text, one line each: for snapshots and search.
pub fn text(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Title(t) => out.push_str(&format!("# {t}\n")),
            Block::Heading(t) => out.push_str(&format!("## {t}\n")),
            Block::Paragraph(t) => out.push_str(&format!("{t}\n")),
            Block::Lines(l) => l.iter().for_each(|x| out.push_str(&format!("{x}\n"))),
            Block::Space(_) => out.push('\n'),
            Block::Table(t) => {
                let header: Vec<&str> = t.columns.iter().map(|c| c.title.as_str()).collect();
                out.push_str(&format!("| {} |\n", header.join(" | ")));
                for r in &t.rows {
                    out.push_str(&format!("| {} |\n", r.join(" | ")));
                }
            }
        }
    }
    out
}

/// The document as PDF.
pub fn pdf(
    invoice: &Invoice,
    seller: &Seller,
    debit: Option<&DebitNotice>,
) -> Result<Vec<u8>, Error> {
    let title = match invoice.kind {
        DocumentKind::Invoice => format!("Facture {}", invoice.number),
        DocumentKind::CreditNote => format!("Avoir {}", invoice.number),
    };
    Ok(regie_core::pdf::render(&Pdf {
        title,
        author: seller.name.clone(),
        blocks: blocks(invoice, seller, debit),
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::{Line, LineKind};
    use crate::model::Account;
    use crate::money::{totals, Cents, VatRate};

    fn seller() -> Seller {
        Seller {
            name: "Régie publique de la fibre de Saint-Exemple".into(),
            address: "Hôtel de ville, 1 place de la Mairie, 35000 Saint-Exemple".into(),
            siren: Some("213500000".into()),
            vat_number: Some("FR45213500000".into()),
            payment_days: 30,
        }
    }

    fn invoice(kind: AccountKind) -> Invoice {
        let lines = vec![
            Line {
                kind: LineKind::Subscription,
                description: "Fibre 300 — novembre 2026".into(),
                net: Cents(2492),
                rate: VatRate::STANDARD,
            },
            Line {
                kind: LineKind::SocialTariff,
                description: "Tarif social (15 jours)".into(),
                net: Cents(-1246),
                rate: VatRate::STANDARD,
            },
        ];
        let t = totals(lines.iter().map(|l| (l.net, l.rate))).unwrap_or_else(|e| panic!("{e}"));
        Invoice {
            number: "FA2026-000042".into(),
            kind: DocumentKind::Invoice,
            account: "CPT-AB2CD3".into(),
            subscription: Some("ABO-XY7Z9K".into()),
            period: "2026-11".into(),
            issued_on: "2026-12-01".parse().unwrap_or_default(),
            lines,
            breakdown: t.breakdown,
            net: t.net,
            tax: t.tax,
            gross: t.gross,
            corrects: None,
            buyer: Account {
                code: "CPT-AB2CD3".into(),
                kind,
                name: "Famille Martin".into(),
                address: "3 rue des Lilas".into(),
                postcode: "35000".into(),
                town: "Saint-Exemple".into(),
                email: None,
                siren: (kind == AccountKind::Business).then(|| "732829320".to_owned()),
                vat_number: None,
                household: None,
            },
        }
    }

    #[test]
    fn a_household_invoice_has_every_mention() {
        let household = text(&blocks(&invoice(AccountKind::Household), &seller(), None));
        insta::assert_snapshot!(household);
        for needed in [
            "SIREN : 213500000",
            "FR45213500000",
            "Famille Martin",
            "3 rue des Lilas",
            "FA2026-000042",
            "Date d'émission : 01/12/2026",
            "Prix unitaire HT",
            "20,00 %",
            "Total TTC à payer : 14,95 €",
            "31/12/2026",
        ] {
            assert!(household.contains(needed), "{needed} missing");
        }
        assert!(
            !household.contains("40 €"),
            "the recovery indemnity is for businesses"
        );
        assert!(!household.contains("AAH") && !household.contains("RSA"));
    }

    #[test]
    fn a_business_invoice_states_penalties_and_a_credit_note_its_invoice() {
        let business = text(&blocks(&invoice(AccountKind::Business), &seller(), None));
        assert!(business.contains("SIREN : 732829320") && business.contains("40 €"));
        let mut cn = invoice(AccountKind::Household);
        cn.kind = DocumentKind::CreditNote;
        cn.number = "AV2026-000003".into();
        cn.corrects = Some("FA2026-000042".into());
        let credit = text(&blocks(&cn, &seller(), None));
        assert!(
            credit.contains("# Avoir n° AV2026-000003")
                && credit.contains("Rectifie la facture n° FA2026-000042")
        );
        let notice = DebitNotice {
            on: "2026-12-31".parse().unwrap_or_default(),
            rum: "RUM-CPT-AB2CD3-01".into(),
            iban: "FR76 **** **** **** **** **** 189".into(),
            creditor_id: "FR72ZZZ123456".into(),
        };
        let debited = text(&blocks(
            &invoice(AccountKind::Household),
            &seller(),
            Some(&notice),
        ));
        assert!(
            debited.contains("prélevés le 31/12/2026")
                && debited.contains("RUM-CPT-AB2CD3-01")
                && debited.contains("pré-notification")
        );
        let unset = Seller {
            siren: None,
            ..seller()
        };
        assert!(
            text(&blocks(&invoice(AccountKind::Household), &unset, None))
                .contains("SIREN : non configuré")
        );
        let pdf = pdf(&cn, &seller(), None).unwrap_or_default();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn the_pdf_reads_back_with_its_mentions() {
        let pdf = pdf(&invoice(AccountKind::Household), &seller(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF-"));
        let Ok(dir) = tempfile::tempdir() else { return };
        let path = dir.path().join("facture.pdf");
        std::fs::write(&path, &pdf).unwrap_or_else(|e| panic!("{e}"));
        // Rendered check with poppler's pdftotext (-layout keeps the
        // columns on their line) where installed; CI has it.
        let Ok(out) = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&path)
            .arg("-")
            .output()
        else {
            assert!(
                std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
                "pdftotext (poppler-utils) is required"
            );
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        for expected in [
            "Facture n° FA2026-000042",
            "SIREN : 213500000",
            "Famille Martin",
            "Total TTC à payer : 14,95 €",
        ] {
            assert!(
                text.contains(expected),
                "{expected} missing from the rendered PDF: {text}"
            );
        }
        let row = text
            .lines()
            .find(|l| l.contains("Fibre 300"))
            .unwrap_or_default();
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "Fibre 300 — novembre 2026",
                "1",
                "24,92 €",
                "20,00 %",
                "24,92 €"
            ],
            "{row}"
        );
    }
}
