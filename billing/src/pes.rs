//! A PES V2 receipt flow (`PES_Aller` carrying a `PES_RecetteAller`): the
//! invoices of a period as titres de recette for the public accountant,
//! for régies whose accountant takes them through Hélios.
//!
//! What is covered, from the DGFiP's public description of the PES V2
//! protocol (there is no registry copy of the XSD to validate against, so
//! this is a faithful structure, not a certified one): the header of the
//! flow (`EnTetePES`: date, poste comptable, SIRET of the collectivité,
//! budget), one `Bordereau` of ordinary titres (`TypBord` 01) holding one
//! `Piece` per invoice, one `LigneDePiece` per VAT rate (net amount, rate,
//! VAT, the revenue account as `Nature`) with the debtor as `Tiers`
//! (name and postal address); and one bordereau of reductions (`TypBord`
//! 02) for the credit notes, each naming the titre it reduces. Not
//! covered: the accountant's acknowledgement (`PES_ACK`), attachments
//! (`PES_PJ`), the electronic signature of the bordereau, and the
//! collection data (`PES_DepenseAller` and direct-debit blocks).

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
        if self.libelle_budget.trim().is_empty() || !self.nature.bytes().all(|b| b.is_ascii_digit())
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

fn amount(c: Cents) -> String {
    c.decimal()
}

fn piece(id: usize, d: &Invoice, nature: &str) -> Node {
    let credit = d.kind == DocumentKind::CreditNote;
    let sign = |c: Cents| if credit { Cents(-c.0) } else { c };
    let mut info = vec![
        v("IdPce", id.to_string()),
        v("TypPce", if credit { "02" } else { "01" }),
        v("NatPce", "01"),
        v(
            "Obj",
            match d.kind {
                DocumentKind::Invoice => format!("Facture {} ({})", d.number, d.period),
                DocumentKind::CreditNote => format!("Avoir {}", d.number),
                DocumentKind::Balance => format!("Solde repris {}", d.number),
            },
        ),
        v("NumDette", d.number.clone()),
    ];
    if let Some(c) = &d.corrects {
        info.push(v("PceOrig", c.clone()));
    }
    let (cat, jur) = match d.buyer.kind {
        AccountKind::Household => ("01", "01"),
        AccountKind::Business => ("50", "03"),
    };
    let mut tiers = vec![
        v("CatTiers", cat),
        v("NatJur", jur),
        v("Nom", d.buyer.name.clone()),
    ];
    if let Some(s) = &d.buyer.siren {
        tiers.insert(0, v("IdTiers", s.clone()));
    }
    let lines: Vec<Node> = d
        .breakdown
        .iter()
        .enumerate()
        .map(|(i, b)| {
            el(
                "LigneDePiece",
                vec![
                    el(
                        "BlocLignePiece",
                        vec![el(
                            "InfoLignePiece",
                            vec![
                                v("IdLigne", (i + 1).to_string()),
                                v("Nature", nature),
                                v("MtHT", amount(sign(b.taxable))),
                                v("TauxTVA", b.rate.percent().replace(',', ".")),
                                v("MtTVA", amount(sign(b.tax))),
                            ],
                        )],
                    ),
                    el(
                        "Tiers",
                        vec![
                            el("InfoTiers", tiers.clone()),
                            el(
                                "Adresse",
                                vec![
                                    v("TypAdr", "1"),
                                    v("Adr2", d.buyer.address.clone()),
                                    v("CP", d.buyer.postcode.clone()),
                                    v("Ville", d.buyer.town.clone()),
                                    v("CodRes", "0"),
                                ],
                            ),
                        ],
                    ),
                ],
            )
        })
        .collect();
    let mut children = vec![el("BlocPiece", vec![el("InfoPce", info)])];
    children.extend(lines);
    el("Piece", children)
}

fn bordereau(id: u32, kind: &str, on: NaiveDate, docs: &[&Invoice], nature: &str) -> Node {
    let net: i64 = docs
        .iter()
        .map(|d| {
            if d.kind == DocumentKind::CreditNote {
                -d.net.0
            } else {
                d.net.0
            }
        })
        .sum();
    let mut children = vec![el(
        "BlocBordereau",
        vec![
            v("Exer", on.year().to_string()),
            v("IdBord", id.to_string()),
            v("DteBordEm", on.to_string()),
            v("TypBord", kind),
            v("NbrPce", docs.len().to_string()),
            v("MtBordHT", amount(Cents(net))),
        ],
    )];
    children.extend(
        docs.iter()
            .enumerate()
            .map(|(i, d)| piece(i + 1, d, nature)),
    );
    el("Bordereau", children)
}

/// The flow of `documents` issued on `on` (the bordereau's date);
/// `first_bordereau` numbers the bordereaux of the year.
pub fn pes_aller(
    documents: &[Invoice],
    config: &PesConfig,
    on: NaiveDate,
    first_bordereau: u32,
) -> String {
    let invoices: Vec<&Invoice> = documents
        .iter()
        .filter(|d| d.kind == DocumentKind::Invoice)
        .collect();
    let credits: Vec<&Invoice> = documents
        .iter()
        .filter(|d| d.kind == DocumentKind::CreditNote)
        .collect();
    let mut recette = vec![el(
        "EnTeteRecette",
        vec![v("IdVer", "2"), v("InfoDematerialisee", "0")],
    )];
    let mut next = first_bordereau;
    if !invoices.is_empty() {
        recette.push(bordereau(next, "01", on, &invoices, &config.nature));
        next += 1;
    }
    if !credits.is_empty() {
        recette.push(bordereau(next, "02", on, &credits, &config.nature));
    }
    let root = el(
        "PES_Aller",
        vec![
            el(
                "EnTetePES",
                vec![
                    v("DteStr", on.to_string()),
                    v("IdPost", config.poste_comptable.clone()),
                    v("IdColl", config.siret.clone()),
                    v("CodCol", "000"),
                    v("CodBud", config.code_budget.clone()),
                    v("LibelleColBud", config.libelle_budget.clone()),
                ],
            ),
            el("PES_RecetteAller", recette),
        ],
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write(&root, &mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(number: &str, kind: DocumentKind, net: i64) -> Invoice {
        crate::test_support::document(number, kind, &[net], "Dupont & fils", "1 rue <Haute>")
    }

    fn config() -> PesConfig {
        PesConfig {
            poste_comptable: "035000".into(),
            siret: "21350000000017".into(),
            code_budget: "01".into(),
            libelle_budget: "Régie de la fibre".into(),
            nature: "706".into(),
        }
    }

    #[test]
    fn a_flow_has_a_bordereau_of_titres_and_one_of_reductions() {
        let docs = [
            doc("FA2026-000001", DocumentKind::Invoice, 2492),
            doc("FA2026-000002", DocumentKind::Invoice, 2492),
            doc("AV2026-000001", DocumentKind::CreditNote, -500),
        ];
        let xml = pes_aller(
            &docs,
            &config(),
            "2026-12-01".parse().unwrap_or_default(),
            7,
        );
        // Well-formed, names escaped.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut elements = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(_)) => elements += 1,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}"),
            }
        }
        assert!(elements > 20);
        assert!(xml.contains("<Nom V=\"Dupont &amp; fils\">"));
        assert!(xml.contains("<Adr2 V=\"1 rue &lt;Haute&gt;\">"));
        assert_eq!(xml.matches("<Bordereau>").count(), 2);
        assert!(xml.contains("<IdBord V=\"7\">") && xml.contains("<IdBord V=\"8\">"));
        assert!(xml.contains("<TypBord V=\"01\"></TypBord>\n"));
        assert!(xml.contains("<MtBordHT V=\"49.84\">"));
        assert!(
            xml.contains("<MtBordHT V=\"5.00\">"),
            "reductions are positive"
        );
        assert!(xml.contains("<PceOrig V=\"FA2026-000001\">"));
        assert!(xml.contains("<IdPost V=\"035000\">"));
        assert!(xml.contains("<TauxTVA V=\"20.00\">"));
    }

    #[test]
    fn the_accountant_identifiers_are_checked() {
        assert!(config().check().is_ok());
        assert!(PesConfig {
            siret: "2135".into(),
            ..config()
        }
        .check()
        .is_err());
        assert!(PesConfig {
            poste_comptable: "35A000".into(),
            ..config()
        }
        .check()
        .is_err());
    }
}
