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
    /// The régie's account for transfers (IBAN, BIC), when configured:
    /// printed on the invoice and carried in its CII (BG-17).
    pub bank: Option<(String, String)>,
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
    /// The amount announced: the invoice's total. A payment or a credit
    /// note before the debit day lowers what is debited, never raises it.
    pub amount: crate::money::Cents,
}

/// The day an invoice issued on `issued_on` is debited: `days` after issue
/// (the payment delay, and never less than the pre-notification delay). The
/// invoice prints this day and the SEPA batch never debits before it.
pub fn debit_day(issued_on: NaiveDate, days: u32) -> NaiveDate {
    issued_on
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(issued_on)
}

impl DebitNotice {
    /// The pre-notification of `invoice` when its account pays by direct
    /// debit under `mandate`: the debit falls `days` after issue. A credit
    /// note, or an invoice with nothing to pay, is never debited.
    pub fn new(
        invoice: &Invoice,
        mandate: &crate::storage::Mandate,
        creditor_id: &str,
        days: u32,
    ) -> Option<Self> {
        if invoice.kind != DocumentKind::Invoice || invoice.gross.0 <= 0 {
            return None;
        }
        Some(Self {
            on: debit_day(invoice.issued_on, days),
            amount: invoice.gross,
            rum: mandate.rum.clone(),
            iban: mandate.iban.masked(),
            creditor_id: creditor_id.to_owned(),
        })
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The blocks of the document, for the PDF and for text snapshots.
pub fn blocks(invoice: &Invoice, seller: &Seller, debit: Option<&DebitNotice>) -> Vec<Block> {
    if invoice.kind == DocumentKind::Balance {
        return balance_blocks(invoice, seller);
    }
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
    } else if invoice.gross.0 <= 0 {
        terms.push("Rien à payer pour cette facture.".to_owned());
    } else {
        let due = debit_day(invoice.issued_on, seller.payment_days);
        match debit {
            Some(d) => terms.push(format!(
                "Prélèvement SEPA : {} seront prélevés le {} sur le compte {} (mandat {}, créancier {}). \
                 Si un paiement ou un avoir intervient d'ici là, seul le reste dû sera prélevé. \
                 Ce message vaut pré-notification.",
                d.amount,
                date(d.on),
                d.iban,
                d.rum,
                d.creditor_id
            )),
            None => {
                let transfer = seller
                    .bank
                    .as_ref()
                    .map(|(iban, bic)| format!(", par virement (IBAN {iban}, BIC {bic}, référence {})", invoice.number))
                    .unwrap_or_default();
                terms.push(format!(
                    "À payer au plus tard le {}{transfer} ou au guichet de la régie (espèces, carte, chèque). Pas d'escompte pour paiement anticipé.",
                    date(due)
                ));
            }
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

/// A balance taken over: not an invoice of the régie, but the statement
/// of what the household still owed the outgoing operator, now owed to
/// the régie.
fn balance_blocks(balance: &Invoice, seller: &Seller) -> Vec<Block> {
    let b = &balance.buyer;
    let mut out = vec![
        Block::Lines(vec![seller.name.clone(), seller.address.clone()]),
        Block::Space(14),
        Block::Lines(vec![
            format!("Client : {} (compte {})", b.name, b.code),
            b.address.clone(),
            format!("{} {}", b.postcode, b.town),
        ]),
        Block::Space(18),
        Block::Title(format!("Solde repris n° {}", balance.number)),
        Block::Lines(vec![format!("Date : {}", date(balance.issued_on))]),
    ];
    for l in &balance.lines {
        out.push(Block::Paragraph(l.description.clone()));
    }
    out.push(Block::Heading(format!("Montant dû : {}", balance.gross)));
    out.push(Block::Paragraph(
        "Ce montant, resté impayé auprès de l'opérateur sortant, est désormais dû à la régie. Il ne comporte pas de TVA nouvelle : elle figurait sur la facture d'origine.".into(),
    ));
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
        DocumentKind::Balance => format!("Solde repris {}", invoice.number),
    };
    render(title, seller, blocks(invoice, seller, debit))
}

/// Documents rendered as PDFs on `threads` threads (at least one), in
/// the order given: a month's mailing takes a fraction of the time it
/// would on one core (a PDF costs about a millisecond of CPU).
pub fn pdfs(
    docs: &[(Invoice, Option<DebitNotice>)],
    seller: &Seller,
    threads: usize,
) -> Vec<Result<Vec<u8>, Error>> {
    let per_thread = docs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = docs
            .chunks(per_thread)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(d, notice)| pdf(d, seller, notice.as_ref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(Error::Invalid(
                        "le rendu d'un document a échoué".into(),
                    ))]
                })
            })
            .collect()
    })
}

fn letterhead(seller: &Seller, to: &crate::model::Account, on: NaiveDate) -> Vec<Block> {
    vec![
        Block::Lines(vec![seller.name.clone(), seller.address.clone()]),
        Block::Space(8),
        Block::Lines(vec![
            to.name.clone(),
            to.address.clone(),
            format!("{} {}", to.postcode, to.town),
        ]),
        Block::Space(8),
        Block::Paragraph(format!("Le {}", date(on))),
    ]
}

/// The receipt of a payment at the counter: who paid, how much, how,
/// and which invoices it settled.
pub fn receipt_blocks(
    p: &crate::storage::ledger::Payment,
    payer: &crate::model::Account,
    seller: &Seller,
) -> Vec<Block> {
    let mut out = letterhead(seller, payer, p.received_on);
    out.push(Block::Title(format!("Reçu de paiement {}", p.number)));
    out.push(Block::Paragraph(format!(
        "Nous avons reçu de {} la somme de {} le {}, par {}{}.",
        payer.name,
        p.amount,
        date(p.received_on),
        p.method.label(),
        p.reference
            .as_deref()
            .map(|r| format!(" (référence {r})"))
            .unwrap_or_default()
    )));
    if p.allocations.is_empty() {
        out.push(Block::Paragraph(
            "Cette somme reste au crédit du compte et réglera les prochaines factures.".into(),
        ));
    } else {
        out.push(Block::Table(Table {
            columns: vec![
                Column {
                    title: "Facture réglée".into(),
                    share: 3,
                    right: false,
                },
                Column {
                    title: "Montant".into(),
                    share: 2,
                    right: true,
                },
            ],
            rows: p
                .allocations
                .iter()
                .map(|(n, c)| vec![n.clone(), c.to_string()])
                .collect(),
        }));
    }
    out.push(Block::Paragraph(format!("Compte {}.", payer.code)));
    out
}

/// A reminder letter: the open invoices, what is owed, and what follows
/// if nothing is paid; it always says where to find help.
pub fn reminder_blocks(
    payer: &crate::model::Account,
    seller: &Seller,
    n: usize,
    open: &[crate::ledger::Open],
    on: NaiveDate,
) -> Vec<Block> {
    let owed = crate::money::Cents(open.iter().map(|o| o.due.0).sum());
    let mut out = letterhead(seller, payer, on);
    out.push(Block::Title(format!("Relance n° {n} : facture impayée")));
    out.push(Block::Paragraph(format!(
        "Sauf erreur de notre part, votre compte {} présente un solde impayé de {owed}.",
        payer.code
    )));
    out.push(Block::Table(Table {
        columns: vec![
            Column {
                title: "Facture".into(),
                share: 3,
                right: false,
            },
            Column {
                title: "Émise le".into(),
                share: 2,
                right: false,
            },
            Column {
                title: "Reste dû".into(),
                share: 2,
                right: true,
            },
        ],
        rows: open
            .iter()
            .map(|o| vec![o.invoice.clone(), date(o.issued_on), o.due.to_string()])
            .collect(),
    }));
    out.push(Block::Paragraph(
        "Vous pouvez régler par virement en indiquant le numéro de la facture, ou au guichet de la mairie (espèces, carte, chèque).".into(),
    ));
    out.push(Block::Paragraph(
        "Si vous rencontrez des difficultés, vous pouvez demander l'aide du fonds de solidarité pour le logement (FSL) auprès de votre centre communal d'action sociale : tant que votre demande est examinée, votre connexion n'est pas coupée.".into(),
    ));
    out
}

/// Blocks rendered as a PDF document.
pub fn render(title: String, seller: &Seller, blocks: Vec<Block>) -> Result<Vec<u8>, Error> {
    Ok(regie_core::pdf::render(&Pdf {
        title,
        author: seller.name.clone(),
        blocks,
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
            bank: Some((
                "FR76 3000 6000 0112 3456 7890 189".into(),
                "AGRIFRPP".into(),
            )),
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
    fn a_reminder_names_what_is_owed_and_where_to_find_help() {
        let payer = invoice(AccountKind::Household).buyer;
        let open = [crate::ledger::Open {
            invoice: "FA2026-000042".into(),
            issued_on: "2026-12-01".parse().unwrap_or_default(),
            due: crate::money::Cents(1495),
        }];
        let letter = text(&reminder_blocks(
            &payer,
            &seller(),
            2,
            &open,
            "2027-01-15".parse().unwrap_or_default(),
        ));
        insta::assert_snapshot!(letter);
        for needed in [
            "Relance n° 2",
            "14,95 €",
            "FA2026-000042",
            "FSL",
            "n'est pas coupée",
        ] {
            assert!(letter.contains(needed), "{needed} missing");
        }
    }

    #[test]
    fn a_receipt_says_who_paid_how_much_and_what_it_settled() {
        let payer = invoice(AccountKind::Household).buyer;
        let p = crate::storage::ledger::Payment {
            number: "PA2026-000007".into(),
            account: payer.code.clone(),
            method: crate::ledger::Method::Cheque,
            amount: crate::money::Cents(2000),
            received_on: "2026-12-12".parse().unwrap_or_default(),
            reference: Some("0001234".into()),
            reason: None,
            allocations: vec![("FA2026-000042".into(), crate::money::Cents(1495))],
        };
        let receipt = text(&receipt_blocks(&p, &payer, &seller()));
        insta::assert_snapshot!(receipt);
        for needed in [
            "Reçu de paiement PA2026-000007",
            "20,00 €",
            "chèque",
            "0001234",
            "14,95 €",
        ] {
            assert!(receipt.contains(needed), "{needed} missing");
        }
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
            amount: Cents(2990),
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
        assert!(debited.contains("seul le reste dû sera prélevé"));
        // Without a mandate: the transfer details and the reference.
        let household = text(&blocks(&invoice(AccountKind::Household), &seller(), None));
        assert!(
            household.contains("par virement (IBAN FR76 3000 6000 0112 3456 7890 189, BIC AGRIFRPP, référence FA2026-000042)"),
            "{household}"
        );
        // Nothing to pay: no payment terms, no debit.
        let mut free = invoice(AccountKind::Household);
        free.lines[1].net = Cents(-2492);
        let t =
            totals(free.lines.iter().map(|l| (l.net, l.rate))).unwrap_or_else(|e| panic!("{e}"));
        (free.net, free.tax, free.gross, free.breakdown) = (t.net, t.tax, t.gross, t.breakdown);
        let mandate = crate::storage::Mandate {
            rum: "RUM-CPT-AB2CD3-01".into(),
            account: "CPT-AB2CD3".into(),
            holder: "Famille Martin".into(),
            iban: crate::sepa::Iban::parse("FR7630006000011234567890189")
                .unwrap_or_else(|e| panic!("{e}")),
            bic: None,
            signed_on: "2026-01-01".parse().unwrap_or_default(),
        };
        assert_eq!(DebitNotice::new(&free, &mandate, "FR72ZZZ123456", 30), None);
        let nothing = text(&blocks(&free, &seller(), None));
        assert!(
            nothing.contains("Rien à payer")
                && !nothing.contains("prélev")
                && !nothing.contains("À payer"),
            "{nothing}"
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
