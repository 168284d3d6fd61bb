//! Taking over from the concession: the outgoing operator's subscriber
//! base loaded from five CSV files (offers, accounts, lines in service,
//! SEPA mandates, open balances), checked whole before anything is kept.
//!
//! Three passes, each reporting every problem it finds with its file,
//! line, field and reason (the same report as the GraceTHD import):
//! 1. each file is read and each field parsed (`read`);
//! 2. references between files are checked, and each line's address is
//!    matched by hexaclé to a premises of the inventory;
//! 3. everything is written in one transaction, in chunks under
//!    savepoints, a refused chunk written again row by row so that one
//!    refused row does not hide the next (see `rows!`): accounts by
//!    billing, lines taken over by provisioning (path, ONT id, ONT,
//!    addresses, FreeRADIUS), then subscriptions, mandates (their RUM
//!    kept) and balances by billing.
//!
//! The transaction is committed only when no pass found an error and the
//! run is not a dry run: a takeover is all or nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use inventory::address::Hexacle;
use inventory::gracethd::{Issue, Report};
use provisioning::ids::OntSerial;
use provisioning::line::Ipv4Kind;
use provisioning::service::{Adoption, Provisioning};
use regie_core::audit::Actor;
use regie_core::pdf::Block;
use regie_core::Db;
use serde::Serialize;
use sqlx::Connection;

use crate::document::Seller;
use crate::model::{AccountKind, NewAccount, NewOffer};
use crate::money::{Cents, VatRate};
use crate::sepa::{Bic, CreditorId, Iban};
use crate::storage::{self, KeptMandate, NewMandate};
use crate::Error;

/// The files of a takeover, in the order they are read.
pub const FILES: [&str; 5] = [
    "offres.csv",
    "comptes.csv",
    "lignes.csv",
    "mandats.csv",
    "soldes.csv",
];

const OFFER_COLUMNS: [&str; 6] = [
    "code",
    "nom",
    "prix_mensuel_ttc",
    "tva",
    "frais_mise_en_service",
    "deliberation",
];
const ACCOUNT_COLUMNS: [&str; 10] = [
    "ref_client",
    "type",
    "nom",
    "adresse",
    "code_postal",
    "commune",
    "email",
    "siren",
    "tva_intracom",
    "foyer",
];
const LINE_COLUMNS: [&str; 11] = [
    "ref_ligne",
    "ref_client",
    "hexacle",
    "local",
    "offre",
    "profil",
    "ipv4",
    "numero_serie_ont",
    "port_pon",
    "ont_id",
    "puissance_rx_dbm",
];
const MANDATE_COLUMNS: [&str; 8] = [
    "ref_client",
    "rum",
    "titulaire",
    "iban",
    "bic",
    "date_signature",
    "ics_creancier",
    "nom_creancier",
];
const BALANCE_COLUMNS: [&str; 4] = ["ref_client", "facture", "date_facture", "montant"];

/// An offer of the outgoing operator, continued by the régie.
#[derive(Debug, Clone)]
pub struct OfferRow {
    pub line: u64,
    pub offer: NewOffer,
}

/// A customer account.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub line: u64,
    pub former_ref: String,
    pub account: NewAccount,
}

/// A line in service.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub line: u64,
    pub former_ref: String,
    pub client: String,
    pub hexacle: Hexacle,
    /// The premises, when the hexaclé alone names several.
    pub premises: Option<String>,
    pub offer: String,
    pub profile: String,
    pub ipv4: Ipv4Kind,
    pub serial: OntSerial,
    pub pon_port: String,
    pub ont_id: u32,
    pub rx_cdbm: i64,
}

/// A SEPA mandate signed with the outgoing operator.
#[derive(Debug, Clone)]
pub struct MandateRow {
    pub line: u64,
    pub client: String,
    pub holder: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub signed_on: NaiveDate,
    pub kept: KeptMandate,
}

/// What an invoice of the outgoing operator still owes.
#[derive(Debug, Clone)]
pub struct BalanceRow {
    pub line: u64,
    pub client: String,
    pub invoice: String,
    pub invoice_date: NaiveDate,
    pub amount: Cents,
}

/// The five files as read.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub offers: Vec<OfferRow>,
    pub accounts: Vec<AccountRow>,
    pub lines: Vec<LineRow>,
    pub mandates: Vec<MandateRow>,
    pub balances: Vec<BalanceRow>,
    /// Offer codes and client references present in their files, even on
    /// rows refused for another field: a reference to them is not
    /// reported a second time as unknown.
    pub offer_codes: HashSet<String>,
    pub client_refs: HashSet<String>,
}

/// How a takeover runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The day the régie takes over: offers open and subscriptions start
    /// that day, balances are dated that day.
    pub on: NaiveDate,
    /// Check everything, keep nothing.
    pub dry_run: bool,
}

/// What a takeover did (or would do, on a dry run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub offers: usize,
    pub accounts: usize,
    pub lines: usize,
    pub subscriptions: usize,
    pub mandates: usize,
    pub balances: usize,
    pub balances_total: Cents,
}

/// A letter announcing the change of creditor to a mandate's holder.
#[derive(Debug, Clone)]
pub struct CreditorLetter {
    pub account: String,
    pub rum: String,
    pub blocks: Vec<Block>,
}

/// The outcome: the report, what was written, whether it was kept, and
/// the letters to send (only when kept).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub report: Report,
    pub counts: Counts,
    pub committed: bool,
    /// The line id given to each line of the operator, by its reference.
    pub lines: Vec<(String, String)>,
    pub letters: Vec<CreditorLetter>,
}

/// The régie as the new creditor, for the letters.
#[derive(Debug, Clone)]
pub struct NewCreditor {
    pub seller: Seller,
    pub id: CreditorId,
}

/// A CSV file's text: UTF-8 (with or without a byte-order mark), or
/// Windows-1252 as spreadsheets in France often save it.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// One record with its file, line and the columns by name.
struct Record<'a> {
    file: &'static str,
    line: u64,
    fields: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
    errors: Vec<Issue>,
}

impl Record<'_> {
    fn get(&self, name: &str) -> &str {
        self.columns
            .get(name)
            .and_then(|i| self.fields.get(*i))
            .map(str::trim)
            .unwrap_or("")
    }

    fn fail(&mut self, field: &str, reason: &str) {
        self.errors
            .push(Issue::error(self.file, self.line, field, reason));
    }

    /// A field that must be filled, at most `max` characters.
    fn text(&mut self, name: &str, max: usize) -> Option<String> {
        let v = self.get(name).to_owned();
        if v.is_empty() {
            self.fail(name, "valeur obligatoire");
            None
        } else if v.chars().count() > max {
            self.fail(name, &format!("{max} caractères au plus"));
            None
        } else {
            Some(v)
        }
    }

    /// A field that may be empty.
    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_owned()).filter(|v| !v.is_empty())
    }

    /// A required field parsed by `parse`, whose error is the reason.
    fn parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let v = self.get(name).to_owned();
        if v.is_empty() {
            self.fail(name, "valeur obligatoire");
            return None;
        }
        match parse(&v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(name, &e.to_string());
                None
            }
        }
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        self.parsed(name, |v| {
            crate::ledger::bank_date(v)
                .ok_or_else(|| format!("« {v} » n'est pas une date (AAAA-MM-JJ ou JJ/MM/AAAA)"))
        })
    }
}

/// The largest file of a takeover (100,000 lines take some 20 MiB).
const MAX_FILE_BYTES: u64 = 512 << 20;

/// Reads one file: each record handed to `row` with its columns, every
/// problem pushed to the report.
fn read_file<T>(
    dir: &Path,
    file: &'static str,
    required: &[&str],
    report: &mut Report,
    mut row: impl FnMut(&mut Record<'_>) -> Option<T>,
) -> Vec<T> {
    let path = dir.join(file);
    if let Ok(meta) = std::fs::metadata(&path) {
        if meta.len() > MAX_FILE_BYTES {
            report.push(Issue::error(
                file,
                0,
                "",
                &format!(
                    "fichier de plus de {} Mio : découpez la reprise",
                    MAX_FILE_BYTES >> 20
                ),
            ));
            return Vec::new();
        }
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.push(Issue::error(
                file,
                0,
                "",
                "fichier absent (un fichier sans ligne après l'en-tête convient s'il n'y a rien à reprendre)",
            ));
            return Vec::new();
        }
        Err(e) => {
            report.push(Issue::error(file, 0, "", &format!("illisible : {e}")));
            return Vec::new();
        }
    };
    let text = decode(&bytes);
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        report.push(Issue::error(
            file,
            1,
            "",
            &format!(
                "fichier vide : la première ligne nomme les colonnes ({})",
                required.join(";")
            ),
        ));
        return Vec::new();
    }
    if !first.contains(';') && (first.contains(',') || first.contains('\t')) {
        report.push(Issue::error(
            file,
            1,
            "",
            "les colonnes sont séparées par « ; » (point-virgule), pas par des virgules ou des tabulations",
        ));
        return Vec::new();
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(text.as_bytes());
    let columns: HashMap<String, usize> = match reader.headers() {
        Ok(h) => h
            .iter()
            .enumerate()
            .map(|(i, c)| (c.trim().to_lowercase(), i))
            .collect(),
        Err(e) => {
            report.push(Issue::error(
                file,
                1,
                "",
                &format!("en-tête illisible : {e}"),
            ));
            return Vec::new();
        }
    };
    let missing: Vec<&&str> = required
        .iter()
        .filter(|c| !columns.contains_key(**c))
        .collect();
    if !missing.is_empty() {
        for c in missing {
            report.push(Issue::error(file, 1, c, "colonne absente de l'en-tête"));
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, fields) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let fields = match fields {
            Ok(f) => f,
            Err(e) => {
                report.push(Issue::error(
                    file,
                    line,
                    "",
                    &format!("ligne illisible : {e}"),
                ));
                continue;
            }
        };
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut rec = Record {
            file,
            line: fields.position().map_or(line, |p| p.line()),
            fields: &fields,
            columns: &columns,
            errors: Vec::new(),
        };
        let value = row(&mut rec);
        let failed = !rec.errors.is_empty();
        for e in rec.errors {
            report.push(e);
        }
        if let (Some(v), false) = (value, failed) {
            out.push(v);
        }
    }
    out
}

fn ipv4_kind(v: &str) -> Result<Ipv4Kind, String> {
    match v.to_lowercase().as_str() {
        "publique" | "public" => Ok(Ipv4Kind::Public),
        "cgnat" | "partagee" | "partagée" => Ok(Ipv4Kind::Cgnat),
        _ => Err(format!("« {v} » : publique ou cgnat")),
    }
}

fn account_kind(v: &str) -> Result<AccountKind, String> {
    match v.to_lowercase().as_str() {
        "menage" | "ménage" | "particulier" => Ok(AccountKind::Household),
        "entreprise" | "professionnel" => Ok(AccountKind::Business),
        _ => Err(format!("« {v} » : menage ou entreprise")),
    }
}

fn dbm(v: &str) -> Result<i64, String> {
    let x: f64 = v
        .replace(',', ".")
        .parse()
        .map_err(|_| format!("« {v} » n'est pas une puissance en dBm"))?;
    if !x.is_finite() || !(-40.0..=10.0).contains(&x) {
        return Err(format!(
            "une puissance reçue de {v} dBm n'est pas plausible (de -40 à +10 dBm)"
        ));
    }
    Ok((x * 100.0).round() as i64)
}

/// Pass 1 and the checks between files of pass 2 that need no database:
/// every field parsed, every reference between files resolved, nothing
/// given twice.
pub fn read(dir: &Path, on: NaiveDate) -> (Delivery, Report) {
    let mut report = Report::default();
    let (mut offer_codes, mut client_refs) = (HashSet::new(), HashSet::new());
    let offers = read_file(dir, FILES[0], &OFFER_COLUMNS, &mut report, |r| {
        offer_codes.insert(r.get("code").to_owned());
        let code = r.text("code", 30);
        let name = r.text("nom", 120);
        let monthly_gross = r.parsed("prix_mensuel_ttc", Cents::parse);
        let rate = r.parsed("tva", VatRate::parse);
        let setup_fee = match r.optional("frais_mise_en_service") {
            None => Some(Cents::ZERO),
            Some(v) => match Cents::parse(&v) {
                Ok(c) => Some(c),
                Err(e) => {
                    r.fail("frais_mise_en_service", &e.to_string());
                    None
                }
            },
        };
        let deliberation = r.text("deliberation", 200);
        let offer = NewOffer {
            code: code?,
            name: name?,
            monthly_gross: monthly_gross?,
            rate: rate?,
            setup_fee: setup_fee?,
            deliberation: deliberation?,
            valid_from: on,
            valid_to: None,
        };
        if let Err(e) = offer.check() {
            r.fail("", &e.to_string());
        }
        Some(OfferRow {
            line: r.line,
            offer,
        })
    });
    let accounts = read_file(dir, FILES[1], &ACCOUNT_COLUMNS, &mut report, |r| {
        client_refs.insert(r.get("ref_client").to_owned());
        let former_ref = r.text("ref_client", 60);
        let kind = r.parsed("type", account_kind);
        let name = r.text("nom", 120);
        let address = r.text("adresse", 200);
        let postcode = r.text("code_postal", 10);
        let town = r.text("commune", 100);
        let account = NewAccount {
            kind: kind?,
            name: name?,
            address: address?,
            postcode: postcode?,
            town: town?,
            email: r.optional("email"),
            siren: r.optional("siren"),
            vat_number: r.optional("tva_intracom"),
            household: r.optional("foyer"),
        };
        if let Err(e) = account.check() {
            r.fail("", &e.to_string());
        }
        Some(AccountRow {
            line: r.line,
            former_ref: former_ref?,
            account,
        })
    });
    let lines = read_file(dir, FILES[2], &LINE_COLUMNS, &mut report, |r| {
        let former_ref = r.text("ref_ligne", 60);
        let client = r.text("ref_client", 60);
        let hexacle = r.parsed("hexacle", Hexacle::parse);
        let offer = r.text("offre", 30);
        let profile = r.text("profil", 20);
        let ipv4 = r.parsed("ipv4", ipv4_kind);
        let serial = r.parsed("numero_serie_ont", OntSerial::parse);
        let pon_port = r.text("port_pon", 60);
        let ont_id = r.parsed("ont_id", |v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= 253)
                .ok_or_else(|| format!("« {v} » : un identifiant d'ONT va de 0 à 253"))
        });
        let rx_cdbm = r.parsed("puissance_rx_dbm", dbm);
        Some(LineRow {
            line: r.line,
            former_ref: former_ref?,
            client: client?,
            hexacle: hexacle?,
            premises: r.optional("local"),
            offer: offer?,
            profile: profile?,
            ipv4: ipv4?,
            serial: serial?,
            pon_port: pon_port?,
            ont_id: ont_id?,
            rx_cdbm: rx_cdbm?,
        })
    });
    let mandates = read_file(dir, FILES[3], &MANDATE_COLUMNS, &mut report, |r| {
        let client = r.text("ref_client", 60);
        // The SEPA rulebook: a RUM is at most 35 characters of its set.
        let rum = r.parsed("rum", |v| {
            if v.chars().count() <= 35
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c))
            {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "« {v} » : 35 caractères au plus, lettres, chiffres et / - ? : ( ) . , ' +"
                ))
            }
        });
        let holder = r.text("titulaire", 70);
        let iban = r.parsed("iban", Iban::parse);
        let bic = match r.optional("bic") {
            None => Some(None),
            Some(v) => match Bic::parse(&v) {
                Ok(b) => Some(Some(b)),
                Err(e) => {
                    r.fail("bic", &e.to_string());
                    None
                }
            },
        };
        let signed_on = r.date("date_signature");
        if signed_on.is_some_and(|d| d > on) {
            r.fail(
                "date_signature",
                "un mandat repris est signé avant la date de reprise",
            );
        }
        let creditor_id = r.parsed("ics_creancier", CreditorId::parse);
        let creditor_name = r.text("nom_creancier", 70);
        Some(MandateRow {
            line: r.line,
            client: client?,
            holder: holder?,
            iban: iban?,
            bic: bic?,
            signed_on: signed_on?,
            kept: KeptMandate {
                rum: rum?,
                former_creditor_id: creditor_id?,
                former_creditor_name: creditor_name?,
                taken_over_on: on,
            },
        })
    });
    let balances = read_file(dir, FILES[4], &BALANCE_COLUMNS, &mut report, |r| {
        let client = r.text("ref_client", 60);
        let invoice = r.text("facture", 60);
        let invoice_date = r.date("date_facture");
        let amount = r.parsed("montant", Cents::parse);
        if amount.is_some_and(|a| a.0 <= 0) {
            r.fail(
                "montant",
                "un solde repris est un montant dû, positif (les avoirs se règlent avec l'opérateur sortant)",
            );
        }
        if invoice_date.is_some_and(|d| d > on) {
            r.fail(
                "date_facture",
                "la facture d'un solde repris précède la date de reprise",
            );
        }
        Some(BalanceRow {
            line: r.line,
            client: client?,
            invoice: invoice?,
            invoice_date: invoice_date?,
            amount: amount?,
        })
    });
    let delivery = Delivery {
        offers,
        accounts,
        lines,
        mandates,
        balances,
        offer_codes,
        client_refs,
    };
    cross_check(&delivery, &mut report);
    (delivery, report)
}

/// References between the files and values that must be unique.
fn cross_check(d: &Delivery, report: &mut Report) {
    fn once(
        report: &mut Report,
        seen: &mut HashMap<String, u64>,
        file: &str,
        line: u64,
        field: &str,
        key: String,
        what: &str,
    ) {
        if let Some(first) = seen.get(&key) {
            report.push(Issue::error(
                file,
                line,
                field,
                &format!("{what} « {key} » figure déjà ligne {first}"),
            ));
        } else {
            seen.insert(key, line);
        }
    }
    let mut seen = HashMap::new();
    for o in &d.offers {
        once(
            report,
            &mut seen,
            FILES[0],
            o.line,
            "code",
            o.offer.code.clone(),
            "l'offre",
        );
    }
    let offers = &d.offer_codes;
    let mut seen = HashMap::new();
    for a in &d.accounts {
        once(
            report,
            &mut seen,
            FILES[1],
            a.line,
            "ref_client",
            a.former_ref.clone(),
            "le client",
        );
    }
    let clients = &d.client_refs;
    let unknown = |report: &mut Report, file: &str, line: u64, client: &str| {
        if !clients.contains(client) {
            report.push(Issue::error(
                file,
                line,
                "ref_client",
                &format!("le client « {client} » n'est pas dans {}", FILES[1]),
            ));
        }
    };
    let (mut refs, mut serials, mut onts) = (HashMap::new(), HashMap::new(), HashMap::new());
    for l in &d.lines {
        unknown(report, FILES[2], l.line, &l.client);
        if !offers.contains(&l.offer) {
            report.push(Issue::error(
                FILES[2],
                l.line,
                "offre",
                &format!("l'offre « {} » n'est pas dans {}", l.offer, FILES[0]),
            ));
        }
        once(
            report,
            &mut refs,
            FILES[2],
            l.line,
            "ref_ligne",
            l.former_ref.clone(),
            "la ligne",
        );
        once(
            report,
            &mut serials,
            FILES[2],
            l.line,
            "numero_serie_ont",
            l.serial.to_string(),
            "l'ONT",
        );
        once(
            report,
            &mut onts,
            FILES[2],
            l.line,
            "ont_id",
            format!("{} / {}", l.pon_port, l.ont_id),
            "l'emplacement d'ONT",
        );
    }
    let (mut rums, mut owners) = (HashMap::new(), HashMap::new());
    for m in &d.mandates {
        unknown(report, FILES[3], m.line, &m.client);
        once(
            report,
            &mut rums,
            FILES[3],
            m.line,
            "rum",
            m.kept.rum.clone(),
            "la RUM",
        );
        once(
            report,
            &mut owners,
            FILES[3],
            m.line,
            "ref_client",
            m.client.clone(),
            "un mandat en cours du client",
        );
    }
    let mut invoices = HashMap::new();
    for b in &d.balances {
        unknown(report, FILES[4], b.line, &b.client);
        once(
            report,
            &mut invoices,
            FILES[4],
            b.line,
            "facture",
            b.invoice.clone(),
            "la facture",
        );
    }
}

/// The premises of each line, matched by hexaclé (and by the `local`
/// column where the address has several).
fn premises_of(
    plant: &inventory::plant::Plant,
    lines: &[LineRow],
    report: &mut Report,
) -> Vec<Option<String>> {
    let mut by_hexacle: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut address_of: HashMap<&str, &str> = HashMap::new();
    for a in plant.addresses.values() {
        if let Some(h) = &a.hexacle {
            address_of.insert(a.code.as_str(), h.as_str());
        }
    }
    for s in plant.sufs.values() {
        if let Some(h) = s.address.as_deref().and_then(|a| address_of.get(a)) {
            by_hexacle.entry(h).or_default().push(s.code.as_str());
        }
    }
    lines
        .iter()
        .map(|l| {
            let here = by_hexacle
                .get(l.hexacle.as_str())
                .cloned()
                .unwrap_or_default();
            let found = match (&l.premises, here.as_slice()) {
                (_, []) => Err((
                    "hexacle",
                    format!(
                        "aucun local de l'inventaire à l'hexaclé {}",
                        l.hexacle.as_str()
                    ),
                )),
                (Some(p), many) if many.contains(&p.as_str()) => Ok(p.clone()),
                (Some(p), _) => Err((
                    "local",
                    format!("le local {p} n'est pas à l'hexaclé {}", l.hexacle.as_str()),
                )),
                (None, [one]) => Ok((*one).to_owned()),
                (None, many) => Err((
                    "local",
                    format!(
                        "l'hexaclé {} désigne {} locaux : précisez lequel (colonne local)",
                        l.hexacle.as_str(),
                        many.len()
                    ),
                )),
            };
            match found {
                Ok(p) => Some(p),
                Err((field, reason)) => {
                    report.push(Issue::error(FILES[2], l.line, field, &reason));
                    None
                }
            }
        })
        .collect()
}

/// Rows written under one savepoint while all goes well.
const CHUNK: usize = 500;
/// Past this many errors, further rows are not checked one by one.
const MAX_ERRORS: usize = 200;

/// Writes `items` (each with its `line`) in the caller's transaction,
/// CHUNK rows under one savepoint. A chunk where a row is refused is
/// rolled back and written again one row per savepoint, so that each
/// refused row is reported against its file and line and the next rows
/// still get checked. (A savepoint per row throughout would hold one lock
/// per row until the commit: PostgreSQL runs out of its lock table after
/// a few thousand.) Answers each item's result, `None` when refused.
macro_rules! rows {
    ($tx:expr, $report:expr, $file:expr, $field:expr, $items:expr, |$c:ident, $it:ident| $body:expr) => {{
        let items = $items;
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(CHUNK) {
            let mut sp = $tx.begin().await.map_err(sql)?;
            let mut done = Vec::with_capacity(chunk.len());
            for $it in chunk {
                let $c: &mut sqlx::AnyConnection = &mut sp;
                match $body.await {
                    Ok(v) => done.push(Some(v)),
                    Err(_) => break,
                }
            }
            if done.len() == chunk.len() {
                sp.commit().await.map_err(sql)?;
                out.extend(done);
                continue;
            }
            sp.rollback().await.map_err(sql)?;
            for $it in chunk {
                if $report.error_count >= MAX_ERRORS as u64 {
                    out.push(None);
                    continue;
                }
                let mut sp = $tx.begin().await.map_err(sql)?;
                let result = {
                    let $c: &mut sqlx::AnyConnection = &mut sp;
                    $body.await
                };
                match result {
                    Ok(v) => {
                        sp.commit().await.map_err(sql)?;
                        out.push(Some(v));
                    }
                    Err(e) => {
                        sp.rollback().await.map_err(sql)?;
                        $report.push(Issue::error($file, $it.line, $field, &e));
                        out.push(None);
                    }
                }
            }
        }
        out
    }};
}

fn sql(e: sqlx::Error) -> Error {
    Error::Storage(e.into())
}

/// A line to take over, with its premises.
struct LineJob<'a> {
    line: u64,
    row: &'a LineRow,
    adoption: Adoption,
}

/// A subscription to open for a line taken over.
struct SubscriptionJob<'a> {
    line: u64,
    account: &'a str,
    line_id: String,
    offer: &'a str,
}

/// A mandate or a balance of an account opened.
struct AccountJob<'a, R> {
    line: u64,
    account: &'a str,
    row: &'a R,
}

/// Takes over the subscriber base in `dir`: reads, checks, writes in one
/// transaction, and keeps it only when nothing was refused and the run is
/// not a dry run.
#[tracing::instrument(skip_all, fields(actor = %actor.username, dir = %dir.display(), dry_run = opts.dry_run))]
pub async fn import(
    db: &Db,
    lines: &Provisioning,
    actor: &Actor,
    dir: &Path,
    opts: &Options,
    creditor: Option<&NewCreditor>,
) -> Result<Outcome, Error> {
    let (d, mut report) = read(dir, opts.on);
    if report.has_errors() {
        return Ok(Outcome {
            report,
            ..Outcome::default()
        });
    }
    let plant = lines
        .plant()
        .await
        .map_err(|e| Error::Upstream(format!("inventaire : {e}")))?;
    let premises = premises_of(&plant, &d.lines, &mut report);
    if !d.mandates.is_empty() && creditor.is_none() {
        report.push(Issue::error(
            FILES[3],
            0,
            "",
            "les mandats repris exigent le créancier de la régie : renseignez [billing.sepa] (ICS, IBAN, BIC) dans la configuration",
        ));
    }
    if report.has_errors() {
        return Ok(Outcome {
            report,
            ..Outcome::default()
        });
    }

    let mut counts = Counts::default();
    let mut tx = db.begin().await?;
    let on = opts.on;
    let offers = rows!(tx, report, FILES[0], "", &d.offers, |c, o| async move {
        match storage::takeover::offer_for(c, actor, &o.offer).await {
            Ok(offer) if offer.valid_from > on => Err(format!(
                "l'offre {} n'ouvre que le {}",
                offer.code, offer.valid_from
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    });
    counts.offers = offers.iter().flatten().count();

    let accounts = rows!(tx, report, FILES[1], "", &d.accounts, |c, a| async move {
        storage::insert_account(c, actor, &a.account, Some(&a.former_ref))
            .await
            .map_err(|e| e.to_string())
    });
    let account_codes: HashMap<&str, String> = d
        .accounts
        .iter()
        .zip(accounts)
        .filter_map(|(a, done)| done.map(|account| (a.former_ref.as_str(), account.code)))
        .collect();
    counts.accounts = account_codes.len();

    let jobs: Vec<LineJob<'_>> = d
        .lines
        .iter()
        .zip(&premises)
        .filter_map(|(l, premises)| {
            Some(LineJob {
                line: l.line,
                row: l,
                adoption: Adoption {
                    former_ref: l.former_ref.clone(),
                    premises: premises.clone()?,
                    serial: l.serial.clone(),
                    pon_port: l.pon_port.clone(),
                    ont_id: l.ont_id,
                    rx_cdbm: l.rx_cdbm,
                    profile: l.profile.clone(),
                    ipv4: l.ipv4,
                },
            })
        })
        .collect();
    let adopted = rows!(tx, report, FILES[2], "", &jobs, |c, j| async move {
        lines
            .adopt(c, actor, &j.adoption)
            .await
            .map_err(|e| e.to_string())
    });
    let mut given = Vec::new();
    let mut subscriptions = Vec::new();
    for (j, line) in jobs.iter().zip(adopted) {
        let Some(line) = line else { continue };
        counts.lines += 1;
        given.push((j.row.former_ref.clone(), line.id.clone()));
        if let Some(account) = account_codes.get(j.row.client.as_str()) {
            subscriptions.push(SubscriptionJob {
                line: j.line,
                account,
                line_id: line.id,
                offer: &j.row.offer,
            });
        }
    }
    let subscribed = rows!(
        tx,
        report,
        FILES[2],
        "offre",
        &subscriptions,
        |c, s| async move {
            storage::insert_subscription(c, actor, s.account, &s.line_id, s.offer, on, false)
                .await
                .map_err(|e| e.to_string())
        }
    );
    counts.subscriptions = subscribed.iter().flatten().count();

    let mandate_jobs: Vec<AccountJob<'_, MandateRow>> = d
        .mandates
        .iter()
        .filter_map(|m| {
            Some(AccountJob {
                line: m.line,
                account: account_codes.get(m.client.as_str())?,
                row: m,
            })
        })
        .collect();
    let mandates = rows!(
        tx,
        report,
        FILES[3],
        "rum",
        &mandate_jobs,
        |c, j| async move {
            let m = j.row;
            let new = NewMandate {
                account: j.account,
                holder: &m.holder,
                iban: &m.iban,
                bic: m.bic.as_ref(),
                signed_on: m.signed_on,
                kept: Some(&m.kept),
                online: None,
            };
            storage::insert_mandate(c, actor, &new)
                .await
                .map_err(|e| e.to_string())
        }
    );
    // The RUMs kept, whose holders get the letter once committed.
    let kept: HashSet<String> = mandates.into_iter().flatten().map(|m| m.rum).collect();
    counts.mandates = kept.len();

    let balance_jobs: Vec<AccountJob<'_, BalanceRow>> = d
        .balances
        .iter()
        .filter_map(|b| {
            Some(AccountJob {
                line: b.line,
                account: account_codes.get(b.client.as_str())?,
                row: b,
            })
        })
        .collect();
    let balances = rows!(tx, report, FILES[4], "", &balance_jobs, |c, j| async move {
        let b = j.row;
        let description = format!(
            "Facture {} du {} de l'opérateur sortant, restée impayée",
            b.invoice,
            b.invoice_date.format("%d/%m/%Y")
        );
        storage::takeover::insert_balance(c, actor, j.account, &description, b.amount, on)
            .await
            .map_err(|e| e.to_string())
    });
    for (j, done) in balance_jobs.iter().zip(balances) {
        if done.is_some() {
            counts.balances += 1;
            counts.balances_total = counts.balances_total.checked_add(j.row.amount)?;
        }
    }
    if report.error_count >= MAX_ERRORS as u64 {
        report.push(Issue::error(
            "",
            0,
            "",
            &format!("plus de {MAX_ERRORS} erreurs : les lignes suivantes n'ont pas été vérifiées une à une"),
        ));
    }

    if report.has_errors() || opts.dry_run {
        tx.rollback().await.map_err(|e| Error::Storage(e.into()))?;
        return Ok(Outcome {
            report,
            counts,
            committed: false,
            lines: given,
            letters: Vec::new(),
        });
    }
    tx.commit().await.map_err(|e| Error::Storage(e.into()))?;
    let letters = match creditor {
        Some(creditor) => creditor_letters(db, creditor)
            .await?
            .into_iter()
            .filter(|l| kept.contains(&l.rum))
            .collect(),
        None => Vec::new(),
    };
    Ok(Outcome {
        report,
        counts,
        committed: true,
        lines: given,
        letters,
    })
}

/// The letters announcing the change of creditor to the holder of every
/// mandate taken over and still in force: written by the takeover, and
/// again whenever asked (`regie takeover letters`), from what is stored.
#[tracing::instrument(skip_all)]
pub async fn creditor_letters(
    db: &Db,
    creditor: &NewCreditor,
) -> Result<Vec<CreditorLetter>, Error> {
    Ok(storage::taken_over_mandates(db)
        .await?
        .iter()
        .map(|t| CreditorLetter {
            account: t.payer.code.clone(),
            rum: t.mandate.rum.clone(),
            blocks: creditor_change_blocks(t, creditor),
        })
        .collect())
}

/// The letter telling a mandate's holder that the régie collects from
/// now on under the same mandate: the new creditor's name and ICS, the
/// RUM kept, the account debited, and the holder's rights.
pub fn creditor_change_blocks(t: &storage::TakenOver, creditor: &NewCreditor) -> Vec<Block> {
    let (payer, mandate, former) = (&t.payer, &t.mandate, &t.kept);
    let on = former.taken_over_on;
    let fr = |d: NaiveDate| d.format("%d/%m/%Y").to_string();
    vec![
        Block::Lines(vec![
            creditor.seller.name.clone(),
            creditor.seller.address.clone(),
        ]),
        Block::Space(8),
        Block::Lines(vec![
            payer.name.clone(),
            payer.address.clone(),
            format!("{} {}", payer.postcode, payer.town),
        ]),
        Block::Space(8),
        Block::Paragraph(format!("Le {}", fr(on))),
        Block::Title("Changement de créancier de votre prélèvement SEPA".into()),
        Block::Paragraph(format!(
            "À compter du {}, le réseau de fibre optique auquel vous êtes abonné est exploité en régie par {}. Le contrat que vous aviez avec {} se poursuit avec la régie, aux mêmes conditions.",
            fr(on),
            creditor.seller.name,
            former.former_creditor_name
        )),
        Block::Paragraph(format!(
            "Le mandat de prélèvement SEPA que vous avez signé le {} reste valable : vous n'avez rien à signer. Sa référence unique (RUM) ne change pas : {}. Seul le créancier change.",
            fr(mandate.signed_on),
            mandate.rum
        )),
        Block::Lines(vec![
            format!(
                "Ancien créancier : {} (identifiant créancier SEPA {})",
                former.former_creditor_name,
                former.former_creditor_id.as_str()
            ),
            format!(
                "Nouveau créancier : {} (identifiant créancier SEPA {})",
                creditor.seller.name,
                creditor.id.as_str()
            ),
            format!("Compte débité : {}", mandate.iban.masked()),
            format!("Votre numéro de compte client à la régie : {}", payer.code),
        ]),
        Block::Paragraph(
            "Chaque prélèvement vous sera annoncé sur votre facture au moins 14 jours à l'avance. Vous pouvez demander à votre banque le remboursement d'un prélèvement autorisé dans les 8 semaines suivant le débit, et révoquer ce mandat à tout moment en nous écrivant.".into(),
        ),
        Block::Paragraph(
            "Vous préférez régler autrement ? Le virement et le paiement au guichet de la mairie (espèces, carte, chèque) restent possibles.".into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }

    fn on() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default()
    }

    fn good(dir: &Path) {
        write(
            dir,
            "offres.csv",
            "code;nom;prix_mensuel_ttc;tva;frais_mise_en_service;deliberation\nCONC300;Fibre 300 Mb/s;29,99;20;0;Délibération 2026-41 du 3 novembre 2026\n",
        );
        write(
            dir,
            "comptes.csv",
            "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\nC001;menage;Famille Durand;3 rue des Lilas;18000;Bourges;;;;\n",
        );
        write(
            dir,
            "lignes.csv",
            "ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\nL001;C001;18033222AB;;CONC300;300M;cgnat;HWTC1A2B3C4D;PON-1;3;-19,5\n",
        );
        write(
            dir,
            "mandats.csv",
            "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\nC001;CONC-000123;Marie Durand;FR7630006000011234567890189;AGRIFRPP;2024-03-12;FR72ZZZ123456;Fibre Concession SAS\n",
        );
        write(
            dir,
            "soldes.csv",
            "ref_client;facture;date_facture;montant\nC001;FC-2026-0999;15/11/2026;29,99\n",
        );
    }

    #[test]
    fn a_good_delivery_reads_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        let (d, report) = read(dir.path(), on());
        assert!(!report.has_errors(), "{:?}", report.issues);
        assert_eq!(d.offers[0].offer.monthly_gross, Cents(2999));
        assert_eq!(d.lines[0].rx_cdbm, -1950);
        assert_eq!(d.lines[0].ipv4, Ipv4Kind::Cgnat);
        assert_eq!(d.mandates[0].kept.rum, "CONC-000123");
        assert_eq!(d.balances[0].amount, Cents(2999));
        assert_eq!(d.accounts[0].account.kind, AccountKind::Household);
    }

    #[test]
    fn windows_1252_files_are_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(
            "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\nC001;ménage;Famille Hénon;3 rue de l'Église;18000;Bourges;;;;\n",
        );
        std::fs::write(dir.path().join("comptes.csv"), &*latin1).unwrap_or_else(|e| panic!("{e}"));
        let (d, report) = read(dir.path(), on());
        assert!(!report.has_errors(), "{:?}", report.issues);
        assert_eq!(d.accounts[0].account.address, "3 rue de l'Église");
    }

    #[test]
    fn every_bad_field_is_reported_with_its_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        write(
            dir.path(),
            "lignes.csv",
            "ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\n\
             L001;C001;18033222AB;;CONC300;300M;cgnat;HWTC1A2B3C4D;PON-1;3;-19,5\n\
             L002;C999;pas-un-hexacle;;AUTRE;300M;ipv6;XX;PON-1;300;-80\n\
             L001;C001;18033222AB;;CONC300;300M;cgnat;HWTC1A2B3C4D;PON-1;3;-19,5\n",
        );
        write(
            dir.path(),
            "soldes.csv",
            "ref_client;facture;date_facture;montant\nC001;F1;31/02/2026;-5\n",
        );
        std::fs::remove_file(dir.path().join("mandats.csv")).unwrap_or_else(|e| panic!("{e}"));
        let (_, report) = read(dir.path(), on());
        let at = |file: &str, line: u64, field: &str| {
            report
                .errors()
                .any(|i| i.file == file && i.line == line && i.field == field)
        };
        for field in [
            "hexacle",
            "ipv4",
            "numero_serie_ont",
            "ont_id",
            "puissance_rx_dbm",
        ] {
            assert!(at("lignes.csv", 3, field), "{field}: {:?}", report.issues);
        }
        assert!(at("lignes.csv", 4, "ref_ligne"), "duplicate line");
        assert!(at("lignes.csv", 4, "numero_serie_ont"), "duplicate serial");
        assert!(at("lignes.csv", 4, "ont_id"), "duplicate ONT place");
        assert!(at("soldes.csv", 2, "date_facture"));
        assert!(at("soldes.csv", 2, "montant"));
        assert!(at("mandats.csv", 0, ""), "missing file");
    }

    #[test]
    fn references_between_files_are_checked() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        write(
            dir.path(),
            "mandats.csv",
            "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\n\
             C404;CONC-000123;Marie Durand;FR7630006000011234567890189;;2024-03-12;FR72ZZZ123456;Fibre Concession SAS\n\
             C001;CONC-000124;Marie Durand;FR7630006000011234567890188;;2024-03-12;FR72ZZZ123456;Fibre Concession SAS\n",
        );
        let (_, report) = read(dir.path(), on());
        let reasons: Vec<String> = report.errors().map(ToString::to_string).collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("mandats.csv:2 [ref_client]") && r.contains("C404")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("mandats.csv:3 [iban]")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_file_past_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        // A sparse file: 513 MiB announced, nothing on disk.
        let f =
            std::fs::File::create(dir.path().join("lignes.csv")).unwrap_or_else(|e| panic!("{e}"));
        f.set_len(MAX_FILE_BYTES + (1 << 20))
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, report) = read(dir.path(), on());
        assert!(
            report
                .errors()
                .any(|i| i.file == "lignes.csv" && i.reason.contains("plus de 512 Mio")),
            "{:?}",
            report.issues
        );
    }

    #[test]
    fn an_empty_file_or_another_separator_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        write(dir.path(), "lignes.csv", "");
        write(
            dir.path(),
            "offres.csv",
            "code,nom,prix_mensuel_ttc\nX,Y,1\n",
        );
        let (_, report) = read(dir.path(), on());
        let of = |file: &str| report.errors().filter(|i| i.file == file).count();
        assert_eq!(
            (of("lignes.csv"), of("offres.csv")),
            (1, 1),
            "{:?}",
            report.issues
        );
        assert!(report
            .errors()
            .any(|i| i.reason.starts_with("fichier vide")));
        assert!(report.errors().any(|i| i.reason.contains("point-virgule")));
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        good(dir.path());
        write(dir.path(), "soldes.csv", "ref_client;facture;montant\n");
        let (_, report) = read(dir.path(), on());
        assert!(report
            .errors()
            .any(|i| i.file == "soldes.csv" && i.line == 1 && i.field == "date_facture"));
    }

    #[test]
    fn the_letter_names_both_creditors_and_keeps_the_rum() {
        let payer = crate::model::Account {
            code: "CPT-ABC123".into(),
            kind: AccountKind::Household,
            name: "Famille Durand".into(),
            address: "3 rue des Lilas".into(),
            postcode: "18000".into(),
            town: "Bourges".into(),
            email: None,
            siren: None,
            vat_number: None,
            household: None,
        };
        let iban = Iban::parse("FR7630006000011234567890189").unwrap_or_else(|e| panic!("{e}"));
        let mandate = storage::Mandate {
            rum: "CONC-000123".into(),
            account: payer.code.clone(),
            holder: "Marie Durand".into(),
            iban,
            bic: None,
            signed_on: NaiveDate::from_ymd_opt(2024, 3, 12).unwrap_or_default(),
        };
        let former = KeptMandate {
            rum: "CONC-000123".into(),
            former_creditor_id: CreditorId::parse("FR72ZZZ123456")
                .unwrap_or_else(|e| panic!("{e}")),
            former_creditor_name: "Fibre Concession SAS".into(),
            taken_over_on: on(),
        };
        let creditor = NewCreditor {
            seller: Seller {
                name: "Régie publique de la fibre".into(),
                address: "Place de la mairie, 18000 Bourges".into(),
                siren: None,
                vat_number: None,
                payment_days: 30,
                bank: None,
            },
            id: CreditorId::parse("FR72ZZZ123456").unwrap_or_else(|e| panic!("{e}")),
        };
        let taken = storage::TakenOver {
            payer,
            mandate,
            kept: former,
        };
        let blocks = creditor_change_blocks(&taken, &creditor);
        let text = format!("{blocks:?}");
        for needle in [
            "CONC-000123",
            "12/03/2024",
            "01/01/2027",
            "Fibre Concession SAS",
            "Régie publique de la fibre",
            "FR76 **** ",
            "CPT-ABC123",
            "8 semaines",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        let pdf =
            crate::document::render("Changement de créancier".into(), &creditor.seller, blocks)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF"));
    }
}
