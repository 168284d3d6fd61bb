//! Money received and owed, without SQL: how a payment is spread over the
//! open invoices, what a bank's transfer statement and its SEPA reject
//! report say, which ISO reason a return carries, and what the dunning
//! schedule asks for an account in arrears.
//!
//! Storage books what these functions decide; keeping them pure lets the
//! tests pin every rule with hand-written cases.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Cents;
use crate::Error;

/// How money reached (or left) the régie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Cash at the counter.
    Cash,
    /// Card at the counter.
    Card,
    Cheque,
    /// A bank transfer, imported from the bank's statement.
    Transfer,
    /// A SEPA direct debit, booked on its collection date.
    DirectDebit,
    /// The part of the arrears the FSL pays.
    Fsl,
    /// The part of the arrears the FSL's decision writes off.
    WriteOff,
    /// A direct debit the bank returned or rejected (negative).
    Return,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Cash,
        Method::Card,
        Method::Cheque,
        Method::Transfer,
        Method::DirectDebit,
        Method::Fsl,
        Method::WriteOff,
        Method::Return,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Cash => "cash",
            Method::Card => "card",
            Method::Cheque => "cheque",
            Method::Transfer => "transfer",
            Method::DirectDebit => "direct_debit",
            Method::Fsl => "fsl",
            Method::WriteOff => "write_off",
            Method::Return => "return",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "mode de paiement « {} » inconnu ; attendu : cash, card ou cheque",
                    s.trim()
                ))
            })
    }

    /// The methods an accountant enters at the counter.
    pub fn at_counter(self) -> bool {
        matches!(self, Method::Cash | Method::Card | Method::Cheque)
    }

    pub fn label(self) -> &'static str {
        match self {
            Method::Cash => "espèces",
            Method::Card => "carte bancaire",
            Method::Cheque => "chèque",
            Method::Transfer => "virement",
            Method::DirectDebit => "prélèvement SEPA",
            Method::Fsl => "aide du FSL",
            Method::WriteOff => "abandon de créance (FSL)",
            Method::Return => "rejet de prélèvement",
        }
    }
}

/// The ISO 20022 reason of a returned or rejected direct debit, as banks
/// send them in pain.002 and camt reports (EPC SDD rulebook, list of
/// R-transaction reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnReason(&'static str, &'static str, bool);

const REASONS: &[(&str, &str, bool)] = &[
    // (code, meaning in French, whether the mandate can no longer be used)
    ("AC01", "IBAN incorrect", true),
    ("AC04", "compte clôturé", true),
    ("AC06", "compte bloqué", true),
    ("AC13", "compte de débiteur non consommateur", false),
    ("AG01", "prélèvement interdit sur ce compte", true),
    ("AG02", "code opération incorrect", false),
    ("AM04", "provision insuffisante", false),
    ("AM05", "opération en double", false),
    ("BE05", "créancier non reconnu", false),
    ("CNOR", "banque du créancier injoignable", false),
    ("DNOR", "banque du débiteur injoignable", false),
    ("FF01", "format de fichier invalide", false),
    ("MD01", "pas de mandat", true),
    ("MD02", "données du mandat incomplètes ou fausses", false),
    ("MD06", "remboursement demandé par le débiteur", false),
    ("MD07", "débiteur décédé", true),
    ("MS02", "refus du débiteur", false),
    ("MS03", "motif non précisé par la banque", false),
    ("RC01", "BIC incorrect", false),
    ("RR01", "identification du débiteur manquante", false),
    ("RR02", "nom ou adresse du débiteur manquant", false),
    ("RR03", "nom ou adresse du créancier manquant", false),
    ("RR04", "motif réglementaire", false),
    ("SL01", "service spécifique de la banque du débiteur", false),
    ("FOCR", "annulation à la demande du créancier", false),
    ("DUPL", "opération en double", false),
    ("TECH", "problème technique", false),
];

impl ReturnReason {
    /// A code from the list above, in capitals.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let code = s.trim().to_ascii_uppercase();
        REASONS
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(c, l, e)| ReturnReason(c, l, *e))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "motif de rejet « {} » inconnu (codes ISO 20022 : AC01, AC04, AM04, MD06, MS02…)",
                    s.trim()
                ))
            })
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    pub fn label(self) -> &'static str {
        self.1
    }

    /// The mandate cannot serve again (closed account, no mandate,
    /// debtor deceased…): it is revoked when the return is booked.
    pub fn ends_mandate(self) -> bool {
        self.2
    }
}

/// An invoice that still owes something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Open {
    pub invoice: String,
    pub issued_on: NaiveDate,
    pub due: Cents,
}

/// Spreads `amount` over the open invoices: the one named first, then the
/// oldest (by issue date, then number). Answers (invoice, part) pairs;
/// what is left over stays on the account as a credit.
pub fn allocate(amount: Cents, open: &[Open], preferred: Option<&str>) -> Vec<(String, Cents)> {
    let mut order: Vec<&Open> = open.iter().filter(|o| o.due.0 > 0).collect();
    order.sort_by(|a, b| {
        let first = |o: &Open| Some(o.invoice.as_str()) != preferred;
        (first(a), a.issued_on, &a.invoice).cmp(&(first(b), b.issued_on, &b.invoice))
    });
    let mut left = amount.0.max(0);
    let mut out = Vec::new();
    for o in order {
        if left == 0 {
            break;
        }
        let part = left.min(o.due.0);
        out.push((o.invoice.clone(), Cents(part)));
        left -= part;
    }
    out
}

/// One credit line of the bank's statement, as the accountant exports it:
/// a CSV with a header row naming at least `date`, `montant` and
/// `libelle` (a `reference` column is read too when present), `;` or `,`
/// between fields, dates `JJ/MM/AAAA` or `AAAA-MM-JJ`, amounts `29,90`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankLine {
    /// Line in the file (the header is line 1).
    pub line: usize,
    pub date: NaiveDate,
    pub amount: Cents,
    /// The label and reference as the bank gives them, joined.
    pub text: String,
}

/// A fault in an imported file: which line, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// A date as French banks write it.
pub fn bank_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

/// Reads a transfer statement: every credit line, or every fault found
/// (the import is all or nothing). Debit lines (negative amounts) are not
/// payments and are passed over.
pub fn parse_transfers(data: &[u8]) -> Result<Vec<BankLine>, Vec<Fault>> {
    let text = String::from_utf8_lossy(data);
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() >= first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let fault = |line: usize, field: &str, reason: String| Fault {
        line,
        field: field.into(),
        reason,
    };
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|h| {
                h.trim_start_matches('\u{feff}')
                    .to_lowercase()
                    .replace(['é', 'è'], "e")
            })
            .collect(),
        Err(e) => return Err(vec![fault(1, "en-tête", e.to_string())]),
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_date), Some(c_amount), Some(c_label)) =
        (col("date"), col("montant"), col("libelle"))
    else {
        return Err(vec![fault(
            1,
            "en-tête",
            "colonnes attendues : date, montant, libelle (et reference si la banque la donne)"
                .into(),
        )]);
    };
    let c_ref = col("reference");
    let mut lines = Vec::new();
    let mut faults = Vec::new();
    // Faults past the first MAX_FAULTS are counted, not kept.
    let mut more = 0usize;
    for (i, record) in reader.records().enumerate() {
        if faults.len() > MAX_FAULTS {
            more += faults.len() - MAX_FAULTS;
            faults.truncate(MAX_FAULTS);
        }
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let reason = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "ligne illisible : texte qui n'est pas en UTF-8",
                    _ => "ligne illisible",
                };
                faults.push(fault(line, "ligne", reason.into()));
                continue;
            }
        };
        let get = |c: usize| record.get(c).unwrap_or("").trim().to_owned();
        let date = bank_date(&get(c_date));
        if date.is_none() {
            faults.push(fault(
                line,
                "date",
                format!("« {} » : JJ/MM/AAAA attendu", get(c_date)),
            ));
        }
        let amount = Cents::parse(&get(c_amount));
        if let Err(e) = &amount {
            faults.push(fault(line, "montant", e.to_string()));
        }
        let text = [Some(get(c_label)), c_ref.map(get)]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if let (Some(date), Ok(amount)) = (date, amount) {
            if amount.0 > 0 {
                lines.push(BankLine {
                    line,
                    date,
                    amount,
                    text,
                });
            }
        }
    }
    if faults.is_empty() {
        Ok(lines)
    } else {
        // A statement with thousands of faults is the wrong file: list the
        // first ones, count the rest.
        if faults.len() > MAX_FAULTS {
            more += faults.len() - MAX_FAULTS;
            faults.truncate(MAX_FAULTS);
        }
        if more > 0 {
            faults.push(fault(
                0,
                "fichier",
                format!("et {more} autres erreurs, non listées : est-ce le bon fichier ?"),
            ));
        }
        Err(faults)
    }
}

/// Most faults listed for one statement.
pub const MAX_FAULTS: usize = 1000;

/// The invoice numbers (`FA2026-000123`) and account codes (`CPT-…`)
/// a bank label mentions, in order.
pub fn references_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-').to_ascii_uppercase())
        .filter(|w| {
            let invoice = w.len() == 13
                && w.starts_with("FA")
                && w.as_bytes().get(6) == Some(&b'-')
                && w.get(2..6)
                    .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
                && w.get(7..)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            invoice || w.starts_with("CPT-") && w.len() > 4
        })
        .collect()
}

/// One rejected or returned direct debit from the bank's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Returned {
    /// The end-to-end identifier the régie sent: the invoice number.
    pub end_to_end: String,
    pub reason: ReturnReason,
}

/// Reads a pain.002 payment status report (any version from .001.02 on):
/// every transaction whose status is `RJCT` with its reason code. The
/// elements are matched by local name, so the namespace version does not
/// matter.
pub fn parse_status_report(xml: &[u8]) -> Result<Vec<Returned>, Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, Option<String>)> = None;
    let mut buf = Vec::new();
    let bad = |e: String| Error::Invalid(format!("rapport pain.002 illisible : {e}"));
    let mut root_seen = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if !root_seen {
                    root_seen = true;
                    if name != "Document" {
                        return Err(bad(format!("racine <{name}>, <Document> attendu")));
                    }
                }
                if name == "TxInfAndSts" {
                    current = Some((None, None, None));
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.pop().as_deref() == Some("TxInfAndSts") {
                    if let Some((e2e, status, reason)) = current.take() {
                        let e2e =
                            e2e.ok_or_else(|| bad("une transaction sans OrgnlEndToEndId".into()))?;
                        // A transaction without its own status follows its
                        // group's; only rejections are booked.
                        if status.as_deref().unwrap_or("RJCT") == "RJCT" {
                            let code = reason.ok_or_else(|| {
                                bad(format!("le rejet de {e2e} n'a pas de motif"))
                            })?;
                            out.push(Returned {
                                end_to_end: e2e,
                                reason: ReturnReason::parse(&code)?,
                            });
                        }
                    }
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(cur) = current.as_mut() {
                    let value = t
                        .unescape()
                        .map_err(|e| bad(e.to_string()))?
                        .trim()
                        .to_owned();
                    let leaf = path.last().map(String::as_str);
                    let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
                    match (parent.map(String::as_str), leaf) {
                        (Some("TxInfAndSts"), Some("OrgnlEndToEndId")) => cur.0 = Some(value),
                        (Some("TxInfAndSts"), Some("TxSts")) => cur.1 = Some(value),
                        (Some("Rsn"), Some("Cd")) => cur.2 = Some(value),
                        _ => {}
                    }
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(bad(e.to_string())),
            Ok(_) => {}
        }
        buf.clear();
    }
    if !root_seen {
        return Err(bad("document vide".into()));
    }
    Ok(out)
}

/// The dunning schedule: reminder letters at these days after the due
/// date, then the request to suspend (or, for a protected household, to
/// throttle) on the last day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    pub reminder_days: Vec<u32>,
    pub suspend_days: u32,
    /// A debit returned for insufficient funds (AM04) is presented once
    /// more, in the next batch.
    pub represent_returned: bool,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            reminder_days: vec![10, 25],
            suspend_days: 40,
            represent_returned: true,
        }
    }
}

impl Schedule {
    pub fn check(&self) -> Result<(), Error> {
        if self.reminder_days.windows(2).any(|w| w[0] >= w[1])
            || self
                .reminder_days
                .last()
                .is_some_and(|l| *l >= self.suspend_days)
        {
            return Err(Error::Invalid(
                "relances : des jours croissants, tous avant celui de la suspension".into(),
            ));
        }
        Ok(())
    }

    /// The steps reached `late_days` after the due date: 1.. for the
    /// reminders, then the suspension step (`reminder_days.len() + 1`).
    pub fn reached(&self, late_days: i64) -> Vec<Step> {
        let mut out: Vec<Step> = self
            .reminder_days
            .iter()
            .enumerate()
            .filter(|(_, d)| late_days >= i64::from(**d))
            .map(|(i, _)| Step::Reminder(i + 1))
            .collect();
        if late_days >= i64::from(self.suspend_days) {
            out.push(Step::Suspension);
        }
        out
    }
}

/// A step of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The n-th reminder letter.
    Reminder(usize),
    Suspension,
}

impl Step {
    /// Its number in the stored history (suspension is 0, so adding a
    /// reminder to the schedule never renumbers it).
    pub fn number(self) -> i64 {
        match self {
            Step::Reminder(n) => n as i64,
            Step::Suspension => 0,
        }
    }
}

/// Why a household in arrears keeps its line (Code de l'action sociale et
/// des familles, art. L115-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Protection {
    /// Its request to the FSL, filed on that day, awaits a decision.
    FslPending { filed_on: NaiveDate },
    /// Its social tariff ended and its renewal is in the grace period.
    SocialTariffGrace { until: NaiveDate },
}

impl Protection {
    /// What the page says.
    pub fn explain(&self) -> String {
        match self {
            Protection::FslPending { filed_on } => format!(
                "demande d'aide au FSL déposée le {} et en attente : la ligne n'est pas coupée, au plus ralentie",
                filed_on.format("%d/%m/%Y")
            ),
            Protection::SocialTariffGrace { until } => format!(
                "renouvellement du tarif social en cours (délai de grâce jusqu'au {}) : la ligne n'est pas coupée, au plus ralentie",
                until.format("%d/%m/%Y")
            ),
        }
    }
}

/// What the line of an account should be, given its arrears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wanted {
    /// No arrears past the schedule's end: the line runs normally.
    Normal,
    /// Suspended for unpaid bills (the walled garden).
    Suspended,
    /// Slowed, never cut: the household is protected.
    Throttled,
}

/// How many days past its due date an invoice issued on `issued_on` is on
/// `today`: zero on the due date, negative before. The due date is the
/// issue date plus the régie's payment term, as printed on the invoice.
/// The dunning pass, the ageing of the arrears and the arrears page all
/// count with this.
pub fn days_late(issued_on: NaiveDate, today: NaiveDate, payment_days: u32) -> i64 {
    (today - issued_on).num_days() - i64::from(payment_days)
}

/// The line policy for an account: arrears past the last step suspend it
/// unless the household is protected, in which case it is only throttled.
pub fn wanted(late_days: Option<i64>, schedule: &Schedule, protected: bool) -> Wanted {
    match late_days {
        Some(d) if d >= i64::from(schedule.suspend_days) => {
            if protected {
                Wanted::Throttled
            } else {
                Wanted::Suspended
            }
        }
        _ => Wanted::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn days_late_count_from_the_due_date() {
        let issued = d("2026-11-01");
        assert_eq!(days_late(issued, d("2026-12-01"), 30), 0);
        assert_eq!(days_late(issued, d("2026-12-11"), 30), 10);
        assert_eq!(days_late(issued, d("2026-11-15"), 30), -16);
        assert_eq!(days_late(issued, d("2027-01-01"), 0), 61);
    }

    fn open(n: &str, on: &str, due: i64) -> Open {
        Open {
            invoice: n.into(),
            issued_on: d(on),
            due: Cents(due),
        }
    }

    #[test]
    fn payments_go_to_the_oldest_invoice_unless_one_is_named() {
        let o = [
            open("FA2026-000003", "2026-10-01", 2990),
            open("FA2026-000001", "2026-09-01", 2990),
            open("FA2026-000007", "2026-11-01", 2990),
        ];
        assert_eq!(
            allocate(Cents(4000), &o, None),
            vec![
                ("FA2026-000001".into(), Cents(2990)),
                ("FA2026-000003".into(), Cents(1010))
            ]
        );
        assert_eq!(
            allocate(Cents(4000), &o, Some("FA2026-000007")),
            vec![
                ("FA2026-000007".into(), Cents(2990)),
                ("FA2026-000001".into(), Cents(1010))
            ]
        );
        // More than owed: the rest stays as a credit.
        let all = allocate(Cents(10_000), &o, None);
        assert_eq!(all.iter().map(|(_, c)| c.0).sum::<i64>(), 8970);
        assert!(allocate(Cents(0), &o, None).is_empty());
    }

    proptest! {
        #[test]
        fn allocation_never_exceeds_the_payment_nor_a_due(
            amount in 0i64..1_000_000,
            dues in proptest::collection::vec(0i64..100_000, 0..8),
        ) {
            let o: Vec<Open> = dues.iter().enumerate()
                .map(|(i, c)| open(&format!("FA2026-{i:06}"), "2026-01-01", *c)).collect();
            let parts = allocate(Cents(amount), &o, None);
            let total: i64 = parts.iter().map(|(_, c)| c.0).sum();
            prop_assert!(total <= amount);
            prop_assert_eq!(total, amount.min(dues.iter().sum()));
            for (n, c) in &parts {
                let due = o.iter().find(|x| &x.invoice == n).map(|x| x.due.0).unwrap_or(0);
                prop_assert!(c.0 > 0 && c.0 <= due);
            }
        }
    }

    #[test]
    fn transfer_statements_are_read_or_every_fault_reported() {
        let ok = "Date;Libellé;Montant;Référence\n\
                  03/11/2026;VIR SEPA MARTIN;29,90;FA2026-000012\n\
                  04/11/2026;FRAIS TENUE COMPTE;-2,50;\n\
                  2026-11-05;VIR DUPONT CPT-AB12CD;15;\n";
        let lines = parse_transfers(ok.as_bytes()).unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].amount, Cents(2990));
        assert_eq!(lines[0].date, d("2026-11-03"));
        assert_eq!(lines[0].text, "VIR SEPA MARTIN FA2026-000012");
        assert_eq!(lines[1].line, 4);
        let bad = "date;montant;libelle\n31/02/2026;12,00;X\n01/03/2026;douze;Y\n";
        let faults = parse_transfers(bad.as_bytes()).err().unwrap_or_default();
        assert_eq!(faults.len(), 2);
        assert_eq!((faults[0].line, faults[0].field.as_str()), (2, "date"));
        assert_eq!((faults[1].line, faults[1].field.as_str()), (3, "montant"));
        let no_header = parse_transfers(b"a;b\n1;2\n").err().unwrap_or_default();
        assert_eq!(no_header[0].field, "en-tête");
    }

    #[test]
    fn a_statement_full_of_faults_lists_the_first_and_counts_the_rest() {
        let mut bad = String::from("date;montant;libelle\n");
        for _ in 0..50_000 {
            bad.push_str("pas une date;12,00;X\n");
        }
        let faults = parse_transfers(bad.as_bytes()).err().unwrap_or_default();
        assert_eq!(faults.len(), MAX_FAULTS + 1);
        let last = faults.last().map(|f| f.reason.clone()).unwrap_or_default();
        assert!(last.contains("et 49000 autres erreurs"), "{last}");
    }

    #[test]
    fn references_are_found_in_bank_labels() {
        assert_eq!(
            references_in("VIR SEPA fa2026-000012 / CPT-AB12CD merci"),
            vec!["FA2026-000012".to_string(), "CPT-AB12CD".to_string()]
        );
        assert!(references_in("FA2026-12 FA20260000012 CPT-").is_empty());
    }

    #[test]
    fn reasons_are_iso_codes() {
        let r = ReturnReason::parse("am04").unwrap_or(ReturnReason("", "", false));
        assert_eq!((r.code(), r.label()), ("AM04", "provision insuffisante"));
        assert!(!r.ends_mandate());
        assert!(ReturnReason::parse("AC04").is_ok_and(|r| r.ends_mandate()));
        assert!(ReturnReason::parse("ZZ99").is_err());
    }

    #[test]
    fn status_reports_give_the_rejected_transactions() {
        let xml = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-11-20T10:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>REGIE-1</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>FA2026-000001</OrgnlEndToEndId><TxSts>RJCT</TxSts>
<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></TxInfAndSts>
<TxInfAndSts><OrgnlEndToEndId>FA2026-000002</OrgnlEndToEndId><TxSts>ACCP</TxSts></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#;
        let r = parse_status_report(xml.as_bytes()).unwrap_or_default();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].end_to_end, "FA2026-000001");
        assert_eq!(r[0].reason.code(), "AM04");
        assert!(parse_status_report(b"<Other/>").is_err());
        assert!(parse_status_report(b"").is_err());
        assert!(parse_status_report(
            b"<Document><TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts></Document>"
        )
        .is_err());
    }

    #[test]
    fn the_schedule_reminds_then_suspends_or_throttles() {
        let s = Schedule::default();
        assert!(s.check().is_ok());
        assert!(s.reached(9).is_empty());
        assert_eq!(s.reached(25), vec![Step::Reminder(1), Step::Reminder(2)]);
        assert_eq!(s.reached(40).last(), Some(&Step::Suspension));
        assert_eq!(wanted(Some(39), &s, false), Wanted::Normal);
        assert_eq!(wanted(Some(40), &s, false), Wanted::Suspended);
        assert_eq!(wanted(Some(400), &s, true), Wanted::Throttled);
        assert_eq!(wanted(None, &s, false), Wanted::Normal);
        assert!(Schedule {
            reminder_days: vec![30, 20],
            suspend_days: 40,
            represent_returned: true,
        }
        .check()
        .is_err());
        assert!(Schedule {
            reminder_days: vec![10, 45],
            suspend_days: 40,
            represent_returned: true,
        }
        .check()
        .is_err());
    }
}
