//! The Fichier des écritures comptables (LPF art. A47 A-1) of a fiscal
//! year: every entry the régie books, in the journals it keeps —
//!
//! - `VE` sales (its code and label in `[accounting]`): an invoice debits the customer (411, with the account as
//!   auxiliary) and credits sales (706) per rate and VAT collected (44571);
//!   a credit note the reverse;
//! - `BQ` bank: transfers, direct debits, cheques, cards and the FSL's
//!   payments debit the bank (512) and credit the customer; a returned
//!   debit the reverse;
//! - `CA` cash: payments in cash at the counter (530);
//! - `OD` miscellaneous: the FSL's write-offs (654 debited) and the
//!   balances taken over from the concession (467 credited).
//!
//! Entries are numbered in one continuous sequence from the first day of
//! the year (`EcritureNum` 1, 2, 3 … whatever the range exported, so a
//! month's file has the numbers of the year's); a document with nothing to
//! book (a 0 € invoice) is no entry and takes no number. Each entry is
//! balanced. The customer lines of invoices settled in full — by payments,
//! credit notes and returns that together balance — share a lettering code
//! (`EcritureLet`, `DateLet` the day of the last). Eighteen columns in the
//! article's order, tab-separated, dates `AAAAMMJJ`, amounts with a decimal
//! comma; the file is written in ISO 8859-15, one of the encodings the
//! article allows, and named `SIRENFECAAAAMMJJ.txt` after the year's
//! closing day.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};

use crate::exports::{Accounts, FEC_COLUMNS};
use crate::ledger::Method;
use crate::model::{DocumentKind, Invoice};
use crate::money::Cents;
use crate::storage::ledger::Payment;

/// One line of the file, its eighteen columns in order.
pub type Row = [String; 18];

/// What the FEC is made from: a year's documents and account entries, and
/// the payers' names (auxiliary account labels).
#[derive(Debug)]
pub struct Books<'a> {
    pub documents: &'a [Invoice],
    pub payments: &'a [Payment],
    pub names: &'a HashMap<String, String>,
}

/// One line of an entry before it is numbered: account, its label,
/// auxiliary (customer) or not, signed amount (+ debit, − credit).
struct Leg {
    account: String,
    label: String,
    customer: bool,
    amount: Cents,
}

struct Entry {
    journal: (String, String),
    on: NaiveDate,
    piece: String,
    customer: String,
    label: String,
    legs: Vec<Leg>,
    /// The documents this entry's customer line settles or is: the
    /// lettering's links.
    links: Vec<String>,
}

const BANK: (&str, &str) = ("BQ", "Banque");
const CASH: (&str, &str) = ("CA", "Caisse");
const MISC: (&str, &str) = ("OD", "Opérations diverses");

fn journal(j: (&str, &str)) -> (String, String) {
    (j.0.to_owned(), j.1.to_owned())
}

fn amount(c: Cents) -> String {
    let a = c.0.unsigned_abs();
    format!("{},{:02}", a / 100, a % 100)
}

fn date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// A text field: tabs and line breaks would break the layout.
fn field(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn document_entry(d: &Invoice, accounts: &Accounts) -> Option<Entry> {
    let sales = (
        accounts.journal_code.clone(),
        accounts.journal_label.clone(),
    );
    let (journal, label, links) = match d.kind {
        DocumentKind::Invoice => (
            sales,
            format!("Facture {}", d.number),
            vec![d.number.clone()],
        ),
        DocumentKind::CreditNote => (
            sales,
            format!("Avoir {}", d.number),
            d.corrects.iter().cloned().collect(),
        ),
        DocumentKind::Balance => (
            journal(MISC),
            format!("Solde repris {}", d.number),
            vec![d.number.clone()],
        ),
    };
    let mut legs = vec![Leg {
        account: accounts.customers.clone(),
        label: "Clients".into(),
        customer: true,
        amount: d.gross,
    }];
    if d.kind == DocumentKind::Balance {
        legs.push(Leg {
            account: accounts.taken_over.clone(),
            label: "Créances reprises de la concession".into(),
            customer: false,
            amount: Cents(-d.gross.0),
        });
    } else {
        for b in &d.breakdown {
            legs.push(Leg {
                account: accounts.sales.clone(),
                label: format!("Prestations de services TVA {} %", b.rate.percent()),
                customer: false,
                amount: Cents(-b.taxable.0),
            });
            legs.push(Leg {
                account: accounts.vat.clone(),
                label: format!("TVA collectée {} %", b.rate.percent()),
                customer: false,
                amount: Cents(-b.tax.0),
            });
        }
    }
    legs.retain(|l| l.amount.0 != 0);
    // Nothing to book (a 0 € invoice): no entry, no number.
    if legs.iter().all(|l| l.customer) {
        return None;
    }
    Some(Entry {
        journal,
        on: d.issued_on,
        piece: d.number.clone(),
        customer: d.account.clone(),
        label,
        legs,
        links,
    })
}

fn payment_entry(p: &Payment, accounts: &Accounts) -> Option<Entry> {
    if p.amount.0 == 0 {
        return None;
    }
    let (j, account, account_label, label) = match p.method {
        Method::Cash => (CASH, &accounts.cash, "Caisse", "Paiement en espèces"),
        Method::Card => (BANK, &accounts.bank, "Banque", "Paiement par carte"),
        Method::Cheque => (BANK, &accounts.bank, "Banque", "Paiement par chèque"),
        Method::Transfer => (BANK, &accounts.bank, "Banque", "Virement reçu"),
        Method::DirectDebit => (BANK, &accounts.bank, "Banque", "Prélèvement SEPA"),
        Method::Fsl => (BANK, &accounts.bank, "Banque", "Aide du FSL"),
        Method::Return => (BANK, &accounts.bank, "Banque", "Rejet de prélèvement"),
        Method::WriteOff => (
            MISC,
            &accounts.write_offs,
            "Pertes sur créances irrécouvrables",
            "Abandon de créance (FSL)",
        ),
    };
    Some(Entry {
        journal: journal(j),
        on: p.received_on,
        piece: p.number.clone(),
        customer: p.account.clone(),
        label: format!("{label} {}", p.number),
        legs: vec![
            Leg {
                account: account.clone(),
                label: account_label.into(),
                customer: false,
                amount: p.amount,
            },
            Leg {
                account: accounts.customers.clone(),
                label: "Clients".into(),
                customer: true,
                amount: Cents(-p.amount.0),
            },
        ],
        links: p.allocations.iter().map(|(n, _)| n.clone()).collect(),
    })
}

/// Letters for the n-th lettering group: A … Z, AA … ZZ, AAA …
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(char::from(b'A' + u8::try_from(n % 26).unwrap_or(0)));
        n /= 26;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out.iter().rev().collect()
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The FEC rows (header first) of the entries dated `from`–`to`, numbered
/// from the first entry of `books`, which must hold the whole year up to
/// `to`.
pub fn rows(books: &Books<'_>, accounts: &Accounts, from: NaiveDate, to: NaiveDate) -> Vec<Row> {
    let mut entries: Vec<Entry> = books
        .documents
        .iter()
        .filter_map(|d| document_entry(d, accounts))
        .chain(
            books
                .payments
                .iter()
                .filter_map(|p| payment_entry(p, accounts)),
        )
        .filter(|e| e.on <= to)
        .collect();
    // By date, then journal, then piece: the order entries were booked.
    entries.sort_by(|a, b| (a.on, &a.journal.0, &a.piece).cmp(&(b.on, &b.journal.0, &b.piece)));

    // Lettering: entries linked through the documents they concern form
    // groups; a group whose customer lines balance is settled.
    let mut parent: Vec<usize> = (0..entries.len()).collect();
    let mut by_document: HashMap<&str, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        for link in &e.links {
            match by_document.get(link.as_str()) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    by_document.insert(link.as_str(), i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, (i64, NaiveDate, usize)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let root = find(&mut parent, i);
        let customer: i64 = e
            .legs
            .iter()
            .filter(|l| l.customer)
            .map(|l| l.amount.0)
            .sum();
        let g = groups.entry(root).or_insert((0, e.on, 0));
        g.0 += customer;
        g.1 = g.1.max(e.on);
        g.2 += 1;
    }
    let mut lettering: HashMap<usize, (String, NaiveDate)> = HashMap::new();
    let mut next = 0;
    for (i, _) in entries.iter().enumerate() {
        let root = find(&mut parent, i);
        if lettering.contains_key(&root) {
            continue;
        }
        if let Some(&(balance, last, size)) = groups.get(&root) {
            if balance == 0 && size > 1 {
                lettering.insert(root, (letters(next), last));
                next += 1;
            }
        }
    }

    let mut out: Vec<Row> = vec![FEC_COLUMNS.map(str::to_owned)];
    for (n, e) in entries.iter().enumerate() {
        if e.on < from {
            continue;
        }
        let letter = lettering.get(&find(&mut parent, n));
        let name = books
            .names
            .get(&e.customer)
            .map_or(String::new(), |s| field(s));
        for leg in &e.legs {
            let (debit, credit) = if leg.amount.0 > 0 {
                (leg.amount, Cents::ZERO)
            } else {
                (Cents::ZERO, leg.amount)
            };
            let (let_code, let_date) = match (leg.customer, letter) {
                (true, Some((code, on))) => (code.clone(), date(*on)),
                _ => (String::new(), String::new()),
            };
            out.push([
                field(&e.journal.0),
                field(&e.journal.1),
                (n + 1).to_string(),
                date(e.on),
                leg.account.clone(),
                leg.label.clone(),
                if leg.customer {
                    field(&e.customer)
                } else {
                    String::new()
                },
                if leg.customer {
                    name.clone()
                } else {
                    String::new()
                },
                field(&e.piece),
                date(e.on),
                field(&format!("{} {name}", e.label)).trim().to_owned(),
                amount(debit),
                amount(credit),
                let_code,
                let_date,
                date(e.on),
                String::new(),
                String::new(),
            ]);
        }
    }
    out
}

/// The rows as the file's text (tab-separated, CRLF).
pub fn text(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push_str(&r.join("\t"));
        out.push_str("\r\n");
    }
    out
}

/// The text in ISO 8859-15 (Latin-9, which has « € », « œ », « Š »…): a
/// character it lacks is written as its nearest (dashes, quotes, spaces)
/// or `?`.
pub fn latin9(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let c = match c {
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{00a0}' | '\u{202f}' | '\u{2009}' => ' ',
            other => other,
        };
        let (bytes, _, unmappable) = encoding_rs::ISO_8859_15.encode(c.encode_utf8(&mut buf));
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// `SIRENFECAAAAMMJJ.txt`, after the closing day of the fiscal year.
pub fn file_name(siren: &str, closing: NaiveDate) -> String {
    let siren: String = siren.chars().filter(char::is_ascii_digit).collect();
    format!("{siren}FEC{}.txt", date(closing))
}

/// The closing day of the fiscal year holding `day` (the calendar year: a
/// régie keeps its books by calendar year).
pub fn closing_day(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 12, 31).unwrap_or(day)
}

/// The first day of the fiscal year holding `day`.
pub fn opening_day(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
}

#[cfg(test)]
mod tests;
