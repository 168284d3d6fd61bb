//! A PES V2 receipt flow (`PES_Aller` carrying a `PES_RecetteAller`): the
//! invoices of a period as titres de recette for the public accountant
//! (Hélios), written as the DGFiP's PES V2 schemas define it — the parts
//! followed are those of version 4.71 (July 2015) as published in
//! `libriciel/s2low`: `PES_Aller.xsd` (root in the `…/pes_v2/Rev0/aller`
//! namespace, children unqualified, every value in a `V` attribute),
//! `Class_Enveloppe.xsd`, `Class_EntetePES.xsd`, `NS_Recette/r0`
//! (`PES_RecetteAller`, `Class_BordereauRecetteAller`, `Class_TitreAller`,
//! `Class_LigneTitreAller`, `Class_TiersRecette`), `Class_Adresse.xsd` and
//! `Simple_Type.xsd`.
//!
//! - `Enveloppe` (version 1, file type `PESALR1`, the file's name) and
//!   `EnTetePES` (date, poste comptable, SIRET, the collectivité's code,
//!   budget).
//! - Per exercice (the year each document was issued), a bordereau of
//!   ordinary titres (triplet 01 01 01) holding one `Piece` per invoice
//!   with something to pay (a 0 € invoice is no titre: Hélios refuses a
//!   nil amount), and a bordereau of reductions (triplet 02 02 06) holding
//!   one per credit note, attached (`RattachPiece`) to the titre it
//!   reduces. Amounts are positive, as the schema's `Base_Montant` wants.
//! - One `LigneDePiece` per VAT rate: the local product code, the revenue
//!   account (`Nature`), `TxTva` and `MtTVA` when there is VAT, `Majo` and
//!   `TvaIntraCom` at 0, the net amount; the debtor as `Tiers` (a natural
//!   person `CatTiers` 01 / `NatJur` 01, a company 60 / 03 with its SIREN
//!   as `IdTiers`, `TypTiers` 01 principal debtor, the account code as
//!   `RefTiers`) with a postal address whose fields are cut to the
//!   schema's lengths.
//!
//! The tests validate the flows against that schema
//! (`tests/validators/pes_schema.py`, README "Exports").
//!
//! Not covered: the accountant's acknowledgement (`PES_ACK`), attachments
//! (`PES_PJ`), the electronic signature, direct-debit blocks, and a credit
//! note correcting an invoice of a closed exercice (reduced through a
//! mandat, in the expense flow): such a document is left out and named in
//! a comment at the top of the file. Hélios also wants a natural person's
//! civility and first name, which Régie does not keep yet.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::model::{AccountKind, DocumentKind, Invoice};
use crate::money::Cents;
use crate::xml::{el, write, Node};
use crate::Error;

/// The régie as the public accountant knows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PesConfig {
    /// The poste comptable (six digits).
    pub poste_comptable: String,
    /// The collectivité's SIRET (fourteen digits).
    pub siret: String,
    /// The budget's code (two characters, e.g. `01` for an annexed budget).
    #[serde(default = "default_budget")]
    pub code_budget: String,
    pub libelle_budget: String,
    /// The revenue account titres are charged to.
    #[serde(default = "default_nature")]
    pub nature: String,
    /// The collectivité's code in Hélios (`CodCol`: one to three letters or
    /// digits, given by the public accountant).
    #[serde(default)]
    pub code_collectivite: String,
    /// The local product code of the titres (`CodProdLoc`: one to four
    /// letters or digits, agreed with the public accountant).
    #[serde(default = "default_product")]
    pub code_produit: String,
}

fn default_product() -> String {
    "FTTH".into()
}

fn default_budget() -> String {
    "00".into()
}

fn default_nature() -> String {
    "706".into()
}

impl PesConfig {
    pub fn check(&self) -> Result<(), Error> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&self.poste_comptable, 6) {
            return Err(Error::Invalid(
                "poste_comptable : six chiffres attendus".into(),
            ));
        }
        if !digits(&self.siret, 14) {
            return Err(Error::Invalid("siret : quatorze chiffres attendus".into()));
        }
        if self.code_budget.is_empty() || self.code_budget.len() > 2 {
            return Err(Error::Invalid("code_budget : deux caractères".into()));
        }
        let alphanumeric = |s: &str, n: usize| {
            (1..=n).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric())
                && s.bytes().any(|b| b != b'0')
        };
        if !alphanumeric(&self.code_collectivite, 3) {
            return Err(Error::Invalid(
                "code_collectivite : le code de la collectivité dans Hélios, 1 à 3 lettres ou chiffres (pas seulement des zéros)".into(),
            ));
        }
        if !alphanumeric(&self.code_produit, 4) {
            return Err(Error::Invalid(
                "code_produit : le code produit local, 1 à 4 lettres ou chiffres".into(),
            ));
        }
        if self.libelle_budget.trim().is_empty()
            || self.nature.is_empty()
            || self.nature.len() > 12
            || !self.nature.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::Invalid(
                "libelle_budget obligatoire, nature en chiffres".into(),
            ));
        }
        Ok(())
    }
}

/// `<Name V="value"/>`, the PES way of carrying every value.
fn v(name: &'static str, value: impl Into<String>) -> Node {
    Node::El {
        name,
        attrs: vec![("V", value.into())],
        children: Vec::new(),
    }
}

/// Text cut to `max` characters (never inside a character), blanks
/// collapsed: the schema's `Base_TexteNN` lengths.
fn cut(s: &str, max: usize) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// `s` cut to `max` characters when the schema's text type takes it
/// (`V_BaseAlphanum` in `Simple_Type.xsd`): not empty, not only zeros, not
/// a lone blank or full stop, not `nc`; `None` otherwise.
fn text(s: &str, max: usize) -> Option<String> {
    let t = cut(s, max);
    let refused = t.is_empty() || t.chars().all(|c| c == '0') || t == "." || t == "nc";
    (!refused).then_some(t)
}

/// The number of a document in its series (`FA2026-000042` → 42): the
/// titre's `IdPce`.
fn piece_number(number: &str) -> Option<u64> {
    number
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse::<u64>().ok())
        .filter(|n| *n > 0 && *n < 100_000_000)
}

/// The year of a document's series (`FA2026-000042` → 2026).
fn series_year(number: &str) -> Option<i32> {
    let (series, _) = number.split_once('-')?;
    series
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

/// The debtor of a titre, or why the document cannot be a titre (in
/// French): the schema wants a name, a street line and a five-character
/// postcode.
fn tiers(d: &Invoice) -> Result<Node, String> {
    let b = &d.buyer;
    let name = text(&b.name, 38).ok_or("nom du débiteur vide ou illisible")?;
    let street = text(&b.address, 38).ok_or("adresse du débiteur manquante")?;
    let postcode = text(&b.postcode, 5)
        .filter(|p| p.chars().count() == 5)
        .ok_or("code postal du débiteur absent ou pas sur cinq caractères")?;
    let mut info = Vec::new();
    let company = b.kind == AccountKind::Business;
    if let (true, Some(siren)) = (company, &b.siren) {
        info.push(v("IdTiers", siren.replace(' ', "")));
        info.push(v("NatIdTiers", "02"));
    }
    if let Some(code) = text(&b.code, 30) {
        info.push(v("RefTiers", code));
    }
    let (cat, jur) = if company { ("60", "03") } else { ("01", "01") };
    info.push(v("CatTiers", cat));
    info.push(v("NatJur", jur));
    info.push(v("TypTiers", "01"));
    info.push(v("Nom", name));
    let mut address = vec![v("TypAdr", "1"), v("Adr2", street), v("CP", postcode)];
    if let Some(town) = text(&b.town, 38) {
        address.push(v("Ville", town));
    }
    address.push(v("CodRes", "0"));
    Ok(el(
        "Tiers",
        vec![el("InfoTiers", info), el("Adresse", address)],
    ))
}

/// A titre (or a reduction) of `d`; `Ok(None)` when it has nothing to
/// carry, `Err` why it cannot be carried (in French).
fn piece(d: &Invoice, config: &PesConfig) -> Result<Option<(Node, Cents, Cents)>, String> {
    let id = piece_number(&d.number).ok_or("numéro de pièce illisible")?;
    let debtor = tiers(d)?;
    let credit = d.kind == DocumentKind::CreditNote;
    let sign = |c: Cents| if credit { Cents(-c.0) } else { c };
    let mut lines = Vec::new();
    let (mut net, mut tax) = (Cents::ZERO, Cents::ZERO);
    for b in &d.breakdown {
        let (taxable, vat) = (sign(b.taxable), sign(b.tax));
        if taxable.0 <= 0 {
            continue;
        }
        let n = lines.len() + 1;
        let mut info = vec![
            v("IdLigne", n.to_string()),
            v("CodProdLoc", config.code_produit.clone()),
            v("Nature", config.nature.clone()),
        ];
        if vat.0 > 0 {
            info.push(v("TxTva", b.rate.percent().replace(',', ".")));
        }
        info.push(v("Majo", "0"));
        info.push(v("TvaIntraCom", "0"));
        info.push(v("MtHT", taxable.decimal()));
        if vat.0 > 0 {
            info.push(v("MtTVA", vat.decimal()));
        }
        let mut bloc = vec![el("InfoLignePiece", info)];
        if let Some(orig) = d.corrects.as_deref().and_then(piece_number) {
            bloc.push(el(
                "RattachPiece",
                vec![
                    v("NatPceOrig", "01"),
                    v("ExerRat", d.issued_on.year().to_string()),
                    v("IdPceOrig", orig.to_string()),
                    v("IdLigneOrig", n.to_string()),
                ],
            ));
        }
        lines.push(el(
            "LigneDePiece",
            vec![el("BlocLignePiece", bloc), debtor.clone()],
        ));
        net = Cents(net.0 + taxable.0);
        tax = Cents(tax.0 + vat.0.max(0));
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let object = match d.kind {
        DocumentKind::CreditNote => format!(
            "Avoir {} sur la facture {}",
            d.number,
            d.corrects.as_deref().unwrap_or("")
        ),
        _ => format!("Facture {} ({})", d.number, d.period),
    };
    let bloc = vec![
        v("IdPce", id.to_string()),
        v("TypPce", if credit { "02" } else { "01" }),
        v("NatPce", if credit { "06" } else { "01" }),
        v("ObjPce", cut(&object, 160)),
    ];
    let mut children = vec![el("BlocPiece", bloc)];
    children.extend(lines);
    Ok(Some((el("Piece", children), net, tax)))
}

fn bordereau(
    exercice: i32,
    id: u32,
    kind: &str,
    on: NaiveDate,
    pieces: Vec<(Node, Cents, Cents)>,
) -> Node {
    let net: i64 = pieces.iter().map(|p| p.1 .0).sum();
    let tax: i64 = pieces.iter().map(|p| p.2 .0).sum();
    let mut bloc = vec![
        v("Exer", exercice.to_string()),
        v("IdBord", id.to_string()),
        v("DteBordEm", on.to_string()),
        v("TypBord", kind),
        v("NbrPce", pieces.len().to_string()),
        v("MtBordHt", Cents(net).decimal()),
    ];
    if tax > 0 {
        bloc.push(v("MtBordTVA", Cents(tax).decimal()));
    }
    let mut children = vec![el("BlocBordereau", bloc)];
    children.extend(pieces.into_iter().map(|p| p.0));
    el("Bordereau", children)
}

/// A PES flow and the documents it could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub xml: String,
    /// Documents left out, each with why (in French).
    pub left_out: Vec<String>,
}

/// The flow of `documents`, its bordereaux dated `on`; `first_bordereau`
/// numbers each exercice's bordereaux (ordinary first, then reductions).
/// Refused (in French) when no document makes a titre: the schema wants
/// at least one bordereau.
pub fn pes_aller(
    documents: &[Invoice],
    config: &PesConfig,
    on: NaiveDate,
    first_bordereau: u32,
) -> Result<Flow, Error> {
    let mut left_out = Vec::new();
    let mut per_year: std::collections::BTreeMap<i32, (Vec<_>, Vec<_>)> = Default::default();
    for d in documents {
        if d.kind == DocumentKind::Balance {
            continue;
        }
        let year = d.issued_on.year();
        if d.kind == DocumentKind::CreditNote {
            let orig_year = d.corrects.as_deref().and_then(series_year);
            if orig_year != Some(year) {
                left_out.push(format!(
                    "{} : réduction d'un titre d'un exercice clos (mandat au flux de dépense)",
                    d.number
                ));
                continue;
            }
        }
        match piece(d, config) {
            Ok(Some(p)) => {
                let slot = per_year.entry(year).or_default();
                if d.kind == DocumentKind::CreditNote {
                    slot.1.push(p);
                } else {
                    slot.0.push(p);
                }
            }
            Ok(None) if d.gross.0 == 0 => {}
            Ok(None) => left_out.push(format!("{} : aucun montant positif à porter", d.number)),
            Err(why) => left_out.push(format!("{} : {why}", d.number)),
        }
    }
    if per_year.is_empty() {
        let mut message =
            "aucune facture ni aucun avoir à transmettre sur la période : le flux PES serait vide"
                .to_owned();
        if !left_out.is_empty() {
            message.push_str(&format!(" (écartés : {})", left_out.join(" ; ")));
        }
        return Err(Error::Invalid(message));
    }
    let mut recette = vec![el(
        "EnTeteRecette",
        vec![v("IdVer", "2"), v("InfoDematerialisee", "0")],
    )];
    for (year, (titres, reductions)) in per_year {
        let mut next = first_bordereau;
        if !titres.is_empty() {
            recette.push(bordereau(year, next, "01", on, titres));
            next += 1;
        }
        if !reductions.is_empty() {
            recette.push(bordereau(year, next, "02", on, reductions));
        }
    }
    let name = format!("PES_Aller-{}-{}", config.siret, on.format("%Y%m%d"));
    let mut header = vec![
        v("DteStr", on.to_string()),
        v("IdPost", config.poste_comptable.clone()),
        v("IdColl", config.siret.clone()),
        v("CodCol", config.code_collectivite.clone()),
    ];
    header.push(v("CodBud", config.code_budget.clone()));
    if let Some(label) = text(&config.libelle_budget, 38) {
        header.push(v("LibelleColBud", label));
    }
    let root = Node::El {
        name: "n:PES_Aller",
        attrs: vec![("xmlns:n", NAMESPACE.into())],
        children: vec![
            el(
                "Enveloppe",
                vec![el(
                    "Parametres",
                    vec![v("Version", "1"), v("TypFic", "PESALR1"), v("NomFic", name)],
                )],
            ),
            el("EnTetePES", header),
            el("PES_RecetteAller", recette),
        ],
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    for l in &left_out {
        // A comment may not hold "--".
        xml.push_str(&format!("<!-- Écarté : {} -->\n", l.replace("--", "- -")));
    }
    write(&root, &mut xml, 0);
    Ok(Flow { xml, left_out })
}

/// The namespace of `PES_Aller` (PES V2, revision 0).
pub const NAMESPACE: &str = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller";

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(number: &str, kind: DocumentKind, nets: &[i64]) -> Invoice {
        let mut d = crate::test_support::document(
            number,
            kind,
            nets,
            "Dupont & fils, boulangerie pâtisserie du marché couvert",
            "1 rue <Haute>",
        );
        if kind == DocumentKind::CreditNote {
            d.corrects = Some("FA2026-000001".into());
        }
        d
    }

    fn config() -> PesConfig {
        PesConfig {
            poste_comptable: "035000".into(),
            siret: "21350000000017".into(),
            code_budget: "01".into(),
            libelle_budget: "Régie de la fibre".into(),
            nature: "706".into(),
            code_collectivite: "123".into(),
            code_produit: "FTTH".into(),
        }
    }

    /// The elements in document order, each with its `V`.
    fn elements(xml: &str) -> Vec<(String, Option<String>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e)) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    let value = e
                        .try_get_attribute("V")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    out.push((name, value));
                }
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}"),
            }
        }
        out
    }

    fn names_under<'a>(
        all: &'a [(String, Option<String>)],
        parent: &str,
        next: &[&str],
    ) -> Vec<&'a str> {
        let start = all
            .iter()
            .position(|(n, _)| n == parent)
            .unwrap_or(all.len());
        all[start + 1..]
            .iter()
            .map(|(n, _)| n.as_str())
            .take_while(|n| !next.contains(n))
            .collect()
    }

    fn value<'a>(all: &'a [(String, Option<String>)], name: &str) -> Vec<&'a str> {
        all.iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    #[test]
    fn the_flow_follows_the_dgfip_schema() {
        // Two invoices of 24,92 € net (4,98 € VAT), a 0 € invoice, and a
        // credit note of 5,00 € net on the first.
        let docs = [
            doc("FA2026-000001", DocumentKind::Invoice, &[2492]),
            doc("FA2026-000002", DocumentKind::Invoice, &[2492]),
            doc("FA2026-000003", DocumentKind::Invoice, &[2492, -2492]),
            doc("AV2026-000001", DocumentKind::CreditNote, &[-500]),
        ];
        let flow = pes_aller(
            &docs,
            &config(),
            "2026-12-01".parse().unwrap_or_default(),
            7,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(flow.left_out.is_empty(), "{:?}", flow.left_out);
        let xml = &flow.xml;
        assert!(xml.contains(
            "<n:PES_Aller xmlns:n=\"http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller\">"
        ));
        let all = elements(xml);
        // PES_Aller: Enveloppe, EnTetePES, PES_RecetteAller, in that order.
        let top: Vec<&str> = all
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| ["Enveloppe", "EnTetePES", "PES_RecetteAller"].contains(n))
            .collect();
        assert_eq!(top, ["Enveloppe", "EnTetePES", "PES_RecetteAller"]);
        assert_eq!(
            names_under(&all, "Parametres", &["EnTetePES"]),
            ["Version", "TypFic", "NomFic"]
        );
        assert_eq!(value(&all, "TypFic"), ["PESALR1"]);
        assert_eq!(
            names_under(&all, "EnTetePES", &["PES_RecetteAller"]),
            [
                "DteStr",
                "IdPost",
                "IdColl",
                "CodCol",
                "CodBud",
                "LibelleColBud"
            ]
        );
        assert_eq!(value(&all, "CodCol"), ["123"]);
        assert_eq!(
            names_under(&all, "EnTeteRecette", &["Bordereau"]),
            ["IdVer", "InfoDematerialisee"]
        );
        // Two bordereaux of 2026: titres (01), then reductions (02).
        assert_eq!(value(&all, "TypBord"), ["01", "02"]);
        assert_eq!(value(&all, "Exer"), ["2026", "2026"]);
        assert_eq!(value(&all, "IdBord"), ["7", "8"]);
        assert_eq!(
            names_under(&all, "BlocBordereau", &["Piece"]),
            [
                "Exer",
                "IdBord",
                "DteBordEm",
                "TypBord",
                "NbrPce",
                "MtBordHt",
                "MtBordTVA"
            ]
        );
        // 2 × 24,92 and 2 × 4,98; the 0 € invoice is no titre.
        assert_eq!(value(&all, "NbrPce"), ["2", "1"]);
        assert_eq!(value(&all, "MtBordHt"), ["49.84", "5.00"]);
        assert_eq!(value(&all, "MtBordTVA"), ["9.96", "1.00"]);
        assert_eq!(value(&all, "IdPce"), ["1", "2", "1"]);
        assert_eq!(value(&all, "TypPce"), ["01", "01", "02"]);
        assert_eq!(value(&all, "NatPce"), ["01", "01", "06"]);
        assert!(!xml.contains("FA2026-000003"));
        assert_eq!(
            names_under(&all, "BlocPiece", &["LigneDePiece"]),
            ["IdPce", "TypPce", "NatPce", "ObjPce"]
        );
        assert_eq!(
            names_under(&all, "InfoLignePiece", &["Tiers", "RattachPiece"]),
            [
                "IdLigne",
                "CodProdLoc",
                "Nature",
                "TxTva",
                "Majo",
                "TvaIntraCom",
                "MtHT",
                "MtTVA"
            ]
        );
        assert_eq!(value(&all, "TxTva"), ["20.00", "20.00", "20.00"]);
        assert_eq!(value(&all, "Majo"), ["0", "0", "0"]);
        assert_eq!(value(&all, "CodProdLoc"), ["FTTH", "FTTH", "FTTH"]);
        // The reduction names the titre it reduces.
        assert_eq!(
            names_under(&all, "RattachPiece", &["Tiers"]),
            ["NatPceOrig", "ExerRat", "IdPceOrig", "IdLigneOrig"]
        );
        assert_eq!(value(&all, "IdPceOrig"), ["1"]);
        // The debtor: a natural person, the account as local reference,
        // name and address cut to 38 characters and escaped.
        assert_eq!(
            names_under(&all, "InfoTiers", &["Adresse"]),
            ["RefTiers", "CatTiers", "NatJur", "TypTiers", "Nom"]
        );
        assert_eq!(value(&all, "CatTiers")[0], "01");
        assert_eq!(value(&all, "TypTiers")[0], "01");
        assert_eq!(
            value(&all, "Nom")[0],
            "Dupont & fils, boulangerie pâtisserie"
        );
        assert!(value(&all, "Nom")[0].chars().count() <= 38);
        assert!(xml.contains("<Adr2 V=\"1 rue &lt;Haute&gt;\">"));
        assert_eq!(
            names_under(&all, "Adresse", &["LigneDePiece", "Piece", "Bordereau"]),
            ["TypAdr", "Adr2", "CP", "Ville", "CodRes"]
        );
    }

    #[test]
    fn a_company_is_category_60_with_its_siren_and_exercices_are_apart() {
        let mut company = doc("FA2027-000001", DocumentKind::Invoice, &[10_000]);
        company.issued_on = "2027-01-02".parse().unwrap_or_default();
        company.buyer.kind = AccountKind::Business;
        company.buyer.siren = Some("732829320".into());
        let mut old_credit = doc("AV2027-000001", DocumentKind::CreditNote, &[-500]);
        old_credit.issued_on = "2027-01-02".parse().unwrap_or_default();
        let docs = [
            doc("FA2026-000009", DocumentKind::Invoice, &[2492]),
            company,
            old_credit,
        ];
        let flow = pes_aller(
            &docs,
            &config(),
            "2027-01-05".parse().unwrap_or_default(),
            1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let all = elements(&flow.xml);
        // One bordereau per exercice, each numbered from the first.
        assert_eq!(value(&all, "Exer"), ["2026", "2027"]);
        assert_eq!(value(&all, "IdBord"), ["1", "1"]);
        assert_eq!(value(&all, "CatTiers"), ["01", "60"]);
        assert_eq!(value(&all, "NatJur"), ["01", "03"]);
        assert_eq!(value(&all, "IdTiers"), ["732829320"]);
        assert_eq!(value(&all, "NatIdTiers"), ["02"]);
        // A credit note on a closed exercice's invoice is left out, and said.
        assert_eq!(flow.left_out.len(), 1);
        assert!(flow.left_out[0].starts_with("AV2027-000001"));
        assert!(flow.xml.contains("<!-- Écarté : AV2027-000001"));
    }

    #[test]
    fn a_debtor_the_schema_cannot_carry_is_left_out_and_named() {
        let on = "2026-12-01".parse().unwrap_or_default();
        let good = doc("FA2026-000001", DocumentKind::Invoice, &[1000]);
        let mut no_street = doc("FA2026-000002", DocumentKind::Invoice, &[1000]);
        no_street.buyer.address = "   ".into();
        let mut zero_name = doc("FA2026-000003", DocumentKind::Invoice, &[1000]);
        zero_name.buyer.name = "000".into();
        let mut foreign = doc("FA2026-000004", DocumentKind::Invoice, &[1000]);
        foreign.buyer.postcode = "1000".into();
        let mut no_town = doc("FA2026-000005", DocumentKind::Invoice, &[1000]);
        no_town.buyer.town = " ".into();
        let docs = [good, no_street, zero_name, foreign, no_town];
        let flow = pes_aller(&docs, &config(), on, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            flow.left_out,
            [
                "FA2026-000002 : adresse du débiteur manquante",
                "FA2026-000003 : nom du débiteur vide ou illisible",
                "FA2026-000004 : code postal du débiteur absent ou pas sur cinq caractères",
            ]
        );
        let all = elements(&flow.xml);
        assert_eq!(value(&all, "IdPce"), ["1", "5"]);
        // The town is optional: left out when blank rather than empty.
        assert_eq!(value(&all, "Ville"), ["Rennes"]);
        assert_eq!(value(&all, "NbrPce"), ["2"]);
    }

    #[test]
    fn a_period_without_a_titre_is_refused_in_french() {
        let on = "2026-12-01".parse().unwrap_or_default();
        let Err(Error::Invalid(message)) = pes_aller(&[], &config(), on, 1) else {
            panic!("an empty flow was written");
        };
        assert!(message.contains("le flux PES serait vide"), "{message}");
        let mut nil = doc("FA2026-000001", DocumentKind::Invoice, &[1000]);
        nil.buyer.address = String::new();
        let Err(Error::Invalid(message)) = pes_aller(&[nil], &config(), on, 1) else {
            panic!("an empty flow was written");
        };
        assert!(
            message.contains("FA2026-000001 : adresse du débiteur manquante"),
            "{message}"
        );
    }

    #[test]
    fn the_accountant_identifiers_are_checked() {
        assert!(config().check().is_ok());
        for bad in [
            PesConfig {
                siret: "2135".into(),
                ..config()
            },
            PesConfig {
                poste_comptable: "35A000".into(),
                ..config()
            },
            PesConfig {
                code_collectivite: "000".into(),
                ..config()
            },
            PesConfig {
                code_collectivite: String::new(),
                ..config()
            },
            PesConfig {
                code_produit: "FTTH1".into(),
                ..config()
            },
            PesConfig {
                nature: "7O6".into(),
                ..config()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
