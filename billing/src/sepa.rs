//! SEPA direct debit: account identifiers checked once (IBAN mod 97, BIC
//! shape, the creditor identifier's check digits), and the collection
//! file a bank takes, `pain.008.001.08` (or `.001.02` for banks that still
//! want it), one payment group per sequence (first, recurring).

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};

use crate::money::Cents;
use crate::Error;

fn mod97(digits: &str) -> Option<u32> {
    let mut r: u32 = 0;
    for c in digits.chars() {
        let v = if c.is_ascii_digit() {
            c.to_digit(10)?
        } else if c.is_ascii_uppercase() {
            u32::from(c as u8 - b'A') + 10
        } else {
            return None;
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    Some(r)
}

/// An IBAN, without spaces, upper case, its check digits verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let bad = |why: &str| Error::Invalid(format!("IBAN « {} » : {why}", s.trim()));
        if !(15..=34).contains(&t.len()) || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("15 à 34 lettres et chiffres attendus"));
        }
        // All ASCII (checked above): the byte offsets are characters.
        let (head, body) = t.split_at(4);
        let (country, check) = head.split_at(2);
        if !country.chars().all(|c| c.is_ascii_uppercase())
            || !check.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad(
                "il commence par le code du pays et deux chiffres de contrôle",
            ));
        }
        if country == "FR" && t.len() != 27 {
            return Err(bad("un IBAN français a 27 caractères"));
        }
        let rearranged = format!("{body}{head}");
        if mod97(&rearranged) != Some(1) {
            return Err(bad("la clé de contrôle est fausse"));
        }
        Ok(Iban(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// In groups of four, as banks print it (the signed mandate form).
    pub fn grouped(&self) -> String {
        self.0
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// For pages and letters: `FR76 **** **** **** **** **** 189`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        self.0
            .chars()
            .enumerate()
            .map(|(i, c)| if i < 4 || i >= n - 3 { c } else { '*' })
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl TryFrom<String> for Iban {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Iban::parse(&s)
    }
}

impl From<Iban> for String {
    fn from(i: Iban) -> String {
        i.0
    }
}

/// A BIC: 8 or 11 characters, bank (4 letters), country (2 letters),
/// location (2), branch (3, optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bic(String);

impl Bic {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_uppercase();
        // Counted in characters: « SOGEFÉP » is eight bytes but no BIC.
        let ok = matches!(t.chars().count(), 8 | 11)
            && t.chars().take(6).all(|c| c.is_ascii_uppercase())
            && t.chars().skip(6).all(|c| c.is_ascii_alphanumeric());
        if ok {
            Ok(Bic(t))
        } else {
            Err(Error::Invalid(format!(
                "BIC « {} » : 8 ou 11 caractères (ex. AGRIFRPP)",
                s.trim()
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Bic {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Bic::parse(&s)
    }
}

impl From<Bic> for String {
    fn from(b: Bic) -> String {
        b.0
    }
}

/// A SEPA creditor identifier (in France the ICS, e.g. `FR12ZZZ123456`):
/// its check digits cover the national identifier and the country, not
/// the business code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditorId(String);

impl CreditorId {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let bad = || {
            Error::Invalid(format!(
                "identifiant créancier SEPA « {} » invalide",
                s.trim()
            ))
        };
        if t.len() < 8 || t.len() > 35 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        // All ASCII (checked above): the byte offsets are characters.
        let (country, rest) = t.split_at(2);
        let (check_digits, rest) = rest.split_at(2);
        let national = rest.get(3..).unwrap_or_default();
        let check = format!("{national}{country}00");
        let digits = mod97(&check).ok_or_else(bad)?;
        let expected = 98 - digits;
        if check_digits.parse::<u32>().ok() != Some(expected) {
            return Err(bad());
        }
        Ok(CreditorId(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// First collection under a mandate, or a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sequence {
    First,
    Recurring,
}

impl Sequence {
    pub fn code(self) -> &'static str {
        match self {
            Sequence::First => "FRST",
            Sequence::Recurring => "RCUR",
        }
    }
}

/// The régie as creditor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creditor {
    pub name: String,
    pub iban: Iban,
    pub bic: Bic,
    pub id: CreditorId,
}

/// One debit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// The invoice number: the end-to-end reference returns quote.
    pub end_to_end: String,
    pub amount: Cents,
    pub rum: String,
    pub signed_on: NaiveDate,
    pub sequence: Sequence,
    /// The creditor a mandate taken over was signed with, quoted on its
    /// first collection by the régie (mandate amendment).
    pub amended_from: Option<FormerCreditor>,
    /// The debtor's account changed since the last collection (mandate
    /// amendment): the former IBAN at the same bank, or another bank.
    pub account_changed: Option<AccountChange>,
    pub debtor: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub remittance: String,
}

/// How the debtor's account changed under a mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// Another account at the same bank: the former IBAN is quoted.
    SameBank(Iban),
    /// Another bank (`SMNDA`, same mandate new debtor account).
    OtherBank,
}

impl AccountChange {
    /// The change from `before` to `after`: same bank when the country and
    /// the bank's code at the head of the BBAN (5 characters, the French
    /// « code banque ») are the same.
    pub fn between(before: &Iban, after: &Iban) -> Option<Self> {
        if before == after {
            return None;
        }
        // The country, then (past the two check digits) the bank's code.
        let head = |i: &Iban| {
            let c: Vec<char> = i.as_str().chars().collect();
            c.iter()
                .take(2)
                .chain(c.iter().skip(4).take(5))
                .collect::<String>()
        };
        Some(if head(before) == head(after) {
            AccountChange::SameBank(before.clone())
        } else {
            AccountChange::OtherBank
        })
    }
}

/// The creditor a mandate was signed with before a change of creditor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerCreditor {
    pub id: CreditorId,
    pub name: String,
}

/// The mandate's part of a transaction: its RUM, its signature date and,
/// on the first collection after a change, the amendment naming the
/// original creditor and the debtor's former account or bank (same
/// elements, in the schema's order, in versions .02 and .08).
fn mandate_info(c: &Collection) -> String {
    let mut x = format!(
        "<MndtRltdInf><MndtId>{}</MndtId><DtOfSgntr>{}</DtOfSgntr>",
        escape(sepa_text(&c.rum, 35)),
        c.signed_on
    );
    if c.amended_from.is_some() || c.account_changed.is_some() {
        x.push_str("<AmdmntInd>true</AmdmntInd><AmdmntInfDtls>");
        if let Some(f) = &c.amended_from {
            x.push_str(&format!(
                "<OrgnlCdtrSchmeId><Nm>{}</Nm>\
<Id><PrvtId><Othr><Id>{}</Id><SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id>\
</OrgnlCdtrSchmeId>",
                escape(sepa_text(&f.name, 70)),
                f.id.as_str()
            ));
        }
        match &c.account_changed {
            Some(AccountChange::SameBank(iban)) => x.push_str(&format!(
                "<OrgnlDbtrAcct><Id><IBAN>{}</IBAN></Id></OrgnlDbtrAcct>",
                iban.as_str()
            )),
            Some(AccountChange::OtherBank) => x.push_str(
                "<OrgnlDbtrAgt><FinInstnId><Othr><Id>SMNDA</Id></Othr></FinInstnId></OrgnlDbtrAgt>",
            ),
            None => {}
        }
        x.push_str("</AmdmntInfDtls>");
    }
    x.push_str("</MndtRltdInf>");
    x
}

/// Which schema version the bank takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pain008 {
    V08,
    V02,
}

/// Text within SEPA's character set and a length.
fn sepa_text(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'À' | 'Â' => 'A',
            'É' | 'È' | 'Ê' => 'E',
            'Ç' => 'C',
            c if c.is_ascii_alphanumeric() || " /-?:().,'+".contains(c) => c,
            _ => ' ',
        })
        .collect();
    cleaned
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn agent(version: Pain008, bic: Option<&Bic>) -> String {
    match (version, bic) {
        (Pain008::V08, Some(b)) => {
            format!("<FinInstnId><BICFI>{}</BICFI></FinInstnId>", b.as_str())
        }
        (Pain008::V02, Some(b)) => format!("<FinInstnId><BIC>{}</BIC></FinInstnId>", b.as_str()),
        (_, None) => "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>".to_owned(),
    }
}

/// The collection file. `collections` may mix sequences: one payment
/// group per sequence. Errors when there is nothing to collect or an
/// amount is not positive.
pub fn pain008(
    version: Pain008,
    message_id: &str,
    created_at: DateTime<Utc>,
    creditor: &Creditor,
    collection_date: NaiveDate,
    collections: &[Collection],
) -> Result<String, Error> {
    if collections.is_empty() {
        return Err(Error::Invalid("aucun prélèvement à émettre".into()));
    }
    if let Some(c) = collections.iter().find(|c| c.amount.0 <= 0) {
        return Err(Error::Invalid(format!(
            "prélèvement {} : montant {} non positif",
            c.end_to_end, c.amount
        )));
    }
    let total = Cents::sum(collections.iter().map(|c| c.amount))?;
    let ns = match version {
        Pain008::V08 => "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08",
        Pain008::V02 => "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02",
    };
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"{ns}\">\n<CstmrDrctDbtInitn>\n<GrpHdr><MsgId>{}</MsgId><CreDtTm>{}</CreDtTm><NbOfTxs>{}</NbOfTxs><CtrlSum>{}</CtrlSum><InitgPty><Nm>{}</Nm></InitgPty></GrpHdr>\n",
        escape(sepa_text(message_id, 35)),
        created_at.format("%Y-%m-%dT%H:%M:%S"),
        collections.len(),
        total.decimal(),
        escape(sepa_text(&creditor.name, 70)),
    );
    for seq in [Sequence::First, Sequence::Recurring] {
        let group: Vec<&Collection> = collections.iter().filter(|c| c.sequence == seq).collect();
        if group.is_empty() {
            continue;
        }
        let sum = Cents::sum(group.iter().map(|c| c.amount))?;
        let date = format!("<ReqdColltnDt>{collection_date}</ReqdColltnDt>");
        x.push_str(&format!(
            "<PmtInf><PmtInfId>{}-{}</PmtInfId><PmtMtd>DD</PmtMtd><NbOfTxs>{}</NbOfTxs><CtrlSum>{}</CtrlSum>\
<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl><LclInstrm><Cd>CORE</Cd></LclInstrm><SeqTp>{}</SeqTp></PmtTpInf>{date}\
<Cdtr><Nm>{}</Nm></Cdtr><CdtrAcct><Id><IBAN>{}</IBAN></Id></CdtrAcct><CdtrAgt>{}</CdtrAgt><ChrgBr>SLEV</ChrgBr>\
<CdtrSchmeId><Id><PrvtId><Othr><Id>{}</Id><SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></CdtrSchmeId>\n",
            escape(sepa_text(message_id, 30)),
            seq.code(),
            group.len(),
            sum.decimal(),
            seq.code(),
            escape(sepa_text(&creditor.name, 70)),
            creditor.iban.as_str(),
            agent(version, Some(&creditor.bic)),
            creditor.id.as_str(),
        ));
        for c in group {
            x.push_str(&format!(
                "<DrctDbtTxInf><PmtId><EndToEndId>{}</EndToEndId></PmtId><InstdAmt Ccy=\"EUR\">{}</InstdAmt>\
<DrctDbtTx>{}</DrctDbtTx>\
<DbtrAgt>{}</DbtrAgt><Dbtr><Nm>{}</Nm></Dbtr><DbtrAcct><Id><IBAN>{}</IBAN></Id></DbtrAcct>\
<RmtInf><Ustrd>{}</Ustrd></RmtInf></DrctDbtTxInf>\n",
                escape(sepa_text(&c.end_to_end, 35)),
                c.amount.decimal(),
                mandate_info(c),
                agent(version, c.bic.as_ref()),
                escape(sepa_text(&c.debtor, 70)),
                c.iban.as_str(),
                escape(sepa_text(&c.remittance, 140)),
            ));
        }
        x.push_str("</PmtInf>\n");
    }
    x.push_str("</CstmrDrctDbtInitn>\n</Document>\n");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bic_with_an_accented_letter_is_refused_not_a_panic() {
        // Eight bytes, seven characters: byte slicing cut « É » in two.
        assert!(Bic::parse("SOGEFÉP").is_err());
        assert!(Bic::parse("SOGEFRPPÉÉÉ").is_err());
        assert!(Iban::parse("FR76 3000 6000 0112 3456 7890 18É").is_err());
        assert!(CreditorId::parse("FRÉÉZZZ123456").is_err());
    }

    proptest::proptest! {
        #[test]
        fn sepa_identifiers_never_panic_and_read_what_they_print(s in "\\PC{0,40}") {
            if let Ok(b) = Bic::parse(&s) {
                proptest::prop_assert_eq!(Bic::parse(b.as_str()).ok(), Some(b));
            }
            if let Ok(i) = Iban::parse(&s) {
                proptest::prop_assert_eq!(Iban::parse(i.as_str()).ok(), Some(i));
            }
            if let Ok(c) = CreditorId::parse(&s) {
                proptest::prop_assert_eq!(CreditorId::parse(c.as_str()).ok(), Some(c));
            }
        }

        #[test]
        fn well_formed_bics_are_read_back(bank in "[A-Z]{6}", rest in "[A-Z0-9]{2}([A-Z0-9]{3})?") {
            let written = format!("{bank}{rest}");
            let b = Bic::parse(&written.to_lowercase());
            proptest::prop_assert_eq!(b.map(|b| b.as_str().to_owned()).ok(), Some(written));
        }
    }

    #[test]
    fn ibans_are_checked_and_masked() {
        let i = Iban::parse("fr76 3000 6000 0112 3456 7890 189").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(i.as_str(), "FR7630006000011234567890189");
        assert_eq!(i.masked(), "FR76 **** **** **** **** **** 189");
        assert!(
            Iban::parse("FR7630006000011234567890188").is_err(),
            "wrong key"
        );
        assert!(Iban::parse("FR76300060000112345678901").is_err(), "short");
        assert!(Iban::parse("DE89370400440532013000").is_ok());
        assert!(Iban::parse("FR76-3000").is_err());
    }

    #[test]
    fn bics_and_creditor_ids_are_checked() {
        assert!(Bic::parse("AGRIFRPP").is_ok());
        assert!(Bic::parse("agrifrpp882").is_ok());
        assert!(Bic::parse("AGRIFR").is_err());
        assert!(Bic::parse("1GRIFRPP").is_err());
        assert!(CreditorId::parse("FR72ZZZ123456").is_ok());
        assert!(CreditorId::parse("FR73ZZZ123456").is_err());
    }

    #[test]
    fn text_keeps_to_the_sepa_character_set() {
        assert_eq!(sepa_text("Régie & Cie — n°1", 70), "Regie   Cie   n 1");
        assert_eq!(sepa_text(&"x".repeat(200), 35).len(), 35);
    }

    fn sample(version: Pain008) -> String {
        let iban = |s: &str| Iban::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let creditor = Creditor {
            name: "Régie publique de la fibre".into(),
            iban: iban("FR7630006000011234567890189"),
            bic: Bic::parse("AGRIFRPP").unwrap_or_else(|e| panic!("{e}")),
            id: CreditorId::parse("FR72ZZZ123456").unwrap_or_else(|e| panic!("{e}")),
        };
        let c = |n: &str, seq, cents| Collection {
            end_to_end: n.into(),
            amount: Cents(cents),
            rum: format!("RGE-{n}"),
            signed_on: "2026-10-02".parse().unwrap_or_default(),
            sequence: seq,
            // The last one was signed with the concession's operator.
            amended_from: (n == "FA2026-000003").then(|| FormerCreditor {
                id: CreditorId::parse("FR72ZZZ123456").unwrap_or_else(|e| panic!("{e}")),
                name: "Fibre Concession SAS".into(),
            }),
            // The second debtor moved to another account of the same bank,
            // the third to another bank.
            account_changed: match n {
                "FA2026-000002" => Some(AccountChange::SameBank(iban("DE62370400440532013001"))),
                "FA2026-000003" => Some(AccountChange::OtherBank),
                _ => None,
            },
            debtor: "Famille Martin & fils".into(),
            iban: iban("DE89370400440532013000"),
            bic: None,
            remittance: format!("Facture {n}"),
        };
        pain008(
            version,
            "PRLV-2026-12-001",
            "2026-12-01T09:00:00Z".parse().unwrap_or_default(),
            &creditor,
            "2026-12-16".parse().unwrap_or_default(),
            &[
                c("FA2026-000001", Sequence::First, 2990),
                c("FA2026-000002", Sequence::Recurring, 1396),
                c("FA2026-000003", Sequence::Recurring, 3491),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_file_groups_by_sequence_and_sums_its_amounts() {
        let x = sample(Pain008::V08);
        assert!(x.contains("<NbOfTxs>3</NbOfTxs><CtrlSum>78.77</CtrlSum>"));
        assert!(
            x.contains("<SeqTp>FRST</SeqTp>")
                && x.contains("<NbOfTxs>2</NbOfTxs><CtrlSum>48.87</CtrlSum>")
        );
        assert!(x.contains("<Nm>Famille Martin   fils</Nm>"));
        assert_eq!(x.matches("<AmdmntInd>true</AmdmntInd>").count(), 2);
        assert!(x.contains("<OrgnlCdtrSchmeId><Nm>Fibre Concession SAS</Nm>"));
        assert!(x.contains(
            "<OrgnlDbtrAcct><Id><IBAN>DE62370400440532013001</IBAN></Id></OrgnlDbtrAcct>"
        ));
        // Both amendments in one element, in the schema's order.
        assert!(x.contains("</OrgnlCdtrSchmeId><OrgnlDbtrAgt><FinInstnId><Othr><Id>SMNDA</Id>"));
        assert!(sample(Pain008::V02).contains("<BIC>AGRIFRPP</BIC>"));
    }

    #[test]
    fn a_change_of_account_is_told_apart_by_the_bank() {
        let iban = |s: &str| Iban::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let before = iban("FR7630006000011234567890189");
        // Same bank code (30006), another account.
        let same = iban("FR9730006000019876543210959");
        assert_eq!(
            AccountChange::between(&before, &same),
            Some(AccountChange::SameBank(before.clone()))
        );
        let other = iban("FR1420041010050500013M02606");
        assert_eq!(
            AccountChange::between(&before, &other),
            Some(AccountChange::OtherBank)
        );
        assert_eq!(AccountChange::between(&before, &before), None);
    }

    #[test]
    fn nothing_to_collect_or_a_non_positive_amount_is_refused() {
        let creditor = Creditor {
            name: "Régie".into(),
            iban: Iban::parse("FR7630006000011234567890189").unwrap_or_else(|e| panic!("{e}")),
            bic: Bic::parse("AGRIFRPP").unwrap_or_else(|e| panic!("{e}")),
            id: CreditorId::parse("FR72ZZZ123456").unwrap_or_else(|e| panic!("{e}")),
        };
        assert!(pain008(
            Pain008::V08,
            "X",
            Utc::now(),
            &creditor,
            NaiveDate::MIN,
            &[]
        )
        .is_err());
    }
}
