//! The FEC's rules, checked on a year of entries written by hand.

use super::*;
use crate::test_support::document;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

fn dated(mut doc: Invoice, on: &str, account: &str) -> Invoice {
    doc.issued_on = d(on);
    doc.account = account.into();
    doc
}

fn payment(
    number: &str,
    account: &str,
    method: Method,
    cents: i64,
    on: &str,
    settles: &[(&str, i64)],
) -> Payment {
    Payment {
        number: number.into(),
        account: account.into(),
        method,
        amount: Cents(cents),
        received_on: d(on),
        reference: None,
        reason: None,
        allocations: settles
            .iter()
            .map(|(n, c)| ((*n).to_owned(), Cents(*c)))
            .collect(),
    }
}

/// A year written by hand: Martin's October invoice (29,90 € TTC:
/// 24,92 + 4,98) is debited, returned, then paid in cash; Roux's
/// November invoice is partly credited (6,00 €) and paid by transfer for
/// the rest; Blanc's is half paid by the FSL, half written off; a 0 €
/// invoice; a balance taken over; Petit's December invoice is unpaid.
fn books() -> (Vec<Invoice>, Vec<Payment>, HashMap<String, String>) {
    let docs = vec![
        dated(
            document(
                "FA2026-000001",
                DocumentKind::Invoice,
                &[2492],
                "Martin",
                "x",
            ),
            "2026-10-01",
            "CPT-MARTIN",
        ),
        dated(
            document("FA2026-000002", DocumentKind::Invoice, &[2492], "Roux", "x"),
            "2026-11-02",
            "CPT-ROUX",
        ),
        dated(
            document(
                "FA2026-000003",
                DocumentKind::Invoice,
                &[2492],
                "Blanc",
                "x",
            ),
            "2026-11-02",
            "CPT-BLANC",
        ),
        dated(
            document(
                "FA2026-000004",
                DocumentKind::Invoice,
                &[2492, -2492],
                "Gratuit",
                "x",
            ),
            "2026-11-02",
            "CPT-GRATUIT",
        ),
        {
            let mut cn = dated(
                document(
                    "AV2026-000001",
                    DocumentKind::CreditNote,
                    &[-500],
                    "Roux",
                    "x",
                ),
                "2026-11-10",
                "CPT-ROUX",
            );
            cn.corrects = Some("FA2026-000002".into());
            cn
        },
        {
            let mut sr = dated(
                document("SR2026-000001", DocumentKind::Balance, &[], "Petit", "x"),
                "2026-10-15",
                "CPT-PETIT",
            );
            sr.gross = Cents(4500);
            sr
        },
        dated(
            document(
                "FA2026-000005",
                DocumentKind::Invoice,
                &[2492],
                "Petit",
                "x",
            ),
            "2026-12-01",
            "CPT-PETIT",
        ),
    ];
    let payments = vec![
        payment(
            "PA2026-000001",
            "CPT-MARTIN",
            Method::DirectDebit,
            2990,
            "2026-10-31",
            &[("FA2026-000001", 2990)],
        ),
        payment(
            "PA2026-000002",
            "CPT-MARTIN",
            Method::Return,
            -2990,
            "2026-11-06",
            &[("FA2026-000001", -2990)],
        ),
        payment(
            "PA2026-000003",
            "CPT-MARTIN",
            Method::Cash,
            2990,
            "2026-11-20",
            &[("FA2026-000001", 2990)],
        ),
        payment(
            "PA2026-000004",
            "CPT-ROUX",
            Method::Transfer,
            2390,
            "2026-11-25",
            &[("FA2026-000002", 2390)],
        ),
        payment(
            "PA2026-000005",
            "CPT-BLANC",
            Method::Fsl,
            1500,
            "2026-12-03",
            &[("FA2026-000003", 1500)],
        ),
        payment(
            "PA2026-000006",
            "CPT-BLANC",
            Method::WriteOff,
            1490,
            "2026-12-03",
            &[("FA2026-000003", 1490)],
        ),
    ];
    let names = [
        ("CPT-MARTIN", "Famille Martin"),
        ("CPT-ROUX", "Famille Roux"),
        ("CPT-BLANC", "Famille Blanc"),
        ("CPT-PETIT", "Société Éole — Œuvres"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    (docs, payments, names)
}

fn year() -> Vec<Row> {
    let (documents, payments, names) = books();
    let books = Books {
        documents: &documents,
        payments: &payments,
        names: &names,
    };
    rows(
        &books,
        &Accounts::default(),
        d("2026-01-01"),
        d("2026-12-31"),
    )
}

fn cents(s: &str) -> i64 {
    let (units, hundredths) = s.split_once(',').unwrap_or(("x", "x"));
    assert_eq!(hundredths.len(), 2, "two decimals after a comma: {s}");
    units.parse::<i64>().unwrap_or(i64::MIN) * 100 + hundredths.parse::<i64>().unwrap_or(0)
}

#[test]
fn the_columns_are_the_eighteen_of_the_article_in_order() {
    let rows = year();
    assert_eq!(
        rows[0].to_vec(),
        [
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
            "Idevise"
        ]
    );
    let file = text(&rows);
    assert!(file.ends_with("\r\n"));
    for line in file.strip_suffix("\r\n").unwrap_or_default().split("\r\n") {
        assert_eq!(line.split('\t').count(), 18, "{line}");
    }
}

#[test]
fn dates_amounts_and_numbers_follow_the_article() {
    let rows = year();
    let is_date =
        |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok();
    for r in &rows[1..] {
        assert!(is_date(&r[3]) && is_date(&r[9]) && is_date(&r[15]), "{r:?}");
        assert!(r[14].is_empty() || is_date(&r[14]), "{r:?}");
        // Debit and credit: no sign, a decimal comma, one of them zero.
        assert!(cents(&r[11]) >= 0 && cents(&r[12]) >= 0, "{r:?}");
        assert!(cents(&r[11]) == 0 || cents(&r[12]) == 0, "{r:?}");
        assert!(
            !r[4].is_empty() && !r[8].is_empty() && !r[10].is_empty(),
            "{r:?}"
        );
    }
    // Entries numbered 1, 2, 3 … without a gap, each balanced.
    let mut numbers: Vec<u32> = rows[1..]
        .iter()
        .map(|r| r[2].parse().unwrap_or(0))
        .collect();
    numbers.dedup();
    assert_eq!(
        numbers,
        (1..=u32::try_from(numbers.len()).unwrap_or(0)).collect::<Vec<_>>()
    );
    for n in &numbers {
        let (debit, credit) = rows[1..]
            .iter()
            .filter(|r| r[2] == n.to_string())
            .fold((0, 0), |(a, b), r| (a + cents(&r[11]), b + cents(&r[12])));
        assert_eq!(debit, credit, "entry {n}");
    }
    // Six documents with something to book and six payments: the 0 €
    // invoice is no entry.
    assert_eq!(numbers.len(), 12);
    assert!(rows.iter().all(|r| r[8] != "FA2026-000004"));
}

#[test]
fn each_journal_books_to_its_accounts_with_the_hand_figures() {
    let rows = year();
    let of = |piece: &str| -> Vec<(String, String, String, String)> {
        rows.iter()
            .filter(|r| r[8] == piece)
            .map(|r| (r[0].clone(), r[4].clone(), r[11].clone(), r[12].clone()))
            .collect()
    };
    let row = |j: &str, a: &str, dr: &str, cr: &str| {
        (j.to_owned(), a.to_owned(), dr.to_owned(), cr.to_owned())
    };
    // 29,90 € TTC: 24,92 € net, 4,98 € VAT.
    assert_eq!(
        of("FA2026-000001"),
        vec![
            row("VE", "411000", "29,90", "0,00"),
            row("VE", "706000", "0,00", "24,92"),
            row("VE", "445710", "0,00", "4,98")
        ]
    );
    // The credit note of 5,00 € net: 6,00 € TTC back.
    assert_eq!(
        of("AV2026-000001"),
        vec![
            row("VE", "411000", "0,00", "6,00"),
            row("VE", "706000", "5,00", "0,00"),
            row("VE", "445710", "1,00", "0,00")
        ]
    );
    assert_eq!(
        of("PA2026-000001"),
        vec![
            row("BQ", "512000", "29,90", "0,00"),
            row("BQ", "411000", "0,00", "29,90")
        ]
    );
    assert_eq!(
        of("PA2026-000002"),
        vec![
            row("BQ", "512000", "0,00", "29,90"),
            row("BQ", "411000", "29,90", "0,00")
        ]
    );
    assert_eq!(
        of("PA2026-000003"),
        vec![
            row("CA", "530000", "29,90", "0,00"),
            row("CA", "411000", "0,00", "29,90")
        ]
    );
    assert_eq!(
        of("PA2026-000006"),
        vec![
            row("OD", "654000", "14,90", "0,00"),
            row("OD", "411000", "0,00", "14,90")
        ]
    );
    assert_eq!(
        of("SR2026-000001"),
        vec![
            row("OD", "411000", "45,00", "0,00"),
            row("OD", "467000", "0,00", "45,00")
        ]
    );
    // The customer line names the account and its holder.
    let customer = rows
        .iter()
        .find(|r| r[8] == "PA2026-000004" && r[4] == "411000");
    assert_eq!(
        customer.map(|r| (r[6].as_str(), r[7].as_str(), r[0].as_str(), r[1].as_str())),
        Some(("CPT-ROUX", "Famille Roux", "BQ", "Banque"))
    );
}

#[test]
fn settled_invoices_are_lettered_with_their_payments() {
    let rows = year();
    let letter = |piece: &str| {
        rows.iter()
            .find(|r| r[8] == piece && r[4] == "411000")
            .map(|r| (r[13].clone(), r[14].clone()))
            .unwrap_or_default()
    };
    // Martin: debited, returned, paid in cash: one letter, the day of
    // the last payment.
    let martin = letter("FA2026-000001");
    assert!(!martin.0.is_empty());
    assert_eq!(martin.1, "20261120");
    for p in ["PA2026-000001", "PA2026-000002", "PA2026-000003"] {
        assert_eq!(letter(p), martin, "{p}");
    }
    // Roux: the credit note and the transfer settle the invoice.
    let roux = letter("FA2026-000002");
    assert!(!roux.0.is_empty() && roux.0 != martin.0);
    assert_eq!(letter("AV2026-000001"), roux);
    assert_eq!(letter("PA2026-000004"), roux);
    assert_eq!(roux.1, "20261125");
    // Blanc: the FSL's payment and write-off.
    assert_eq!(letter("PA2026-000006"), letter("FA2026-000003"));
    assert!(!letter("FA2026-000003").0.is_empty());
    // Petit owes: nothing lettered; lines off the customer account never are.
    assert_eq!(letter("FA2026-000005"), (String::new(), String::new()));
    assert_eq!(letter("SR2026-000001"), (String::new(), String::new()));
    assert!(rows[1..]
        .iter()
        .filter(|r| r[4] != "411000")
        .all(|r| r[13].is_empty() && r[14].is_empty()));
}

#[test]
fn a_months_file_keeps_the_years_numbers() {
    let (documents, payments, names) = books();
    let books = Books {
        documents: &documents,
        payments: &payments,
        names: &names,
    };
    let whole = rows(
        &books,
        &Accounts::default(),
        d("2026-01-01"),
        d("2026-12-31"),
    );
    let december = rows(
        &books,
        &Accounts::default(),
        d("2026-12-01"),
        d("2026-12-31"),
    );
    assert!(december[1..].iter().all(|r| r[3].starts_with("202612")));
    let in_year: Vec<&Row> = whole[1..]
        .iter()
        .filter(|r| r[3].starts_with("202612"))
        .collect();
    assert_eq!(december[1..].iter().collect::<Vec<_>>(), in_year);
    assert_ne!(december[1][2], "1");
}

#[test]
fn the_file_is_named_after_the_closing_day_and_written_in_latin_9() {
    assert_eq!(
        file_name("213 500 000", closing_day(d("2026-05-31"))),
        "213500000FEC20261231.txt"
    );
    assert_eq!(opening_day(d("2026-05-31")), d("2026-01-01"));
    assert_eq!(
        latin9("é€Œ — «x»\u{202f}’"),
        b"\xe9\xa4\xbc - \xabx\xbb '".to_vec()
    );
    assert_eq!(latin9("漢"), b"?".to_vec());
    let file = latin9(&text(&year()));
    assert!(
        file.windows(4).any(|w| w == b"\xc9ole"),
        "É of Éole in Latin-9"
    );
}
