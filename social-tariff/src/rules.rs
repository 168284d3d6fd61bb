//! Eligibility rules as data: a rule set is a TOML document citing the
//! délibération it comes from, its period of effect, the tariff levels and
//! the criteria that grant them. It is parsed once into a [`RuleSet`] whose
//! every reference is checked; [`RuleSet::describe`] says it in plain
//! French for the public page (a legal duty for algorithmic individual
//! decisions).
//!
//! ```toml
//! [deliberation]
//! numero = "2026-045"
//! date = "2026-03-12"
//! intitule = "Tarif social de l'accès à internet"
//!
//! [validite]
//! du = "2026-04-01"
//! au = "2027-03-31"            # facultatif
//!
//! [droit]
//! duree_mois = 12               # durée d'un droit accordé
//! delai_recours_jours = 60      # délai pour contester une décision
//! grace_jours = 30              # délai de grâce au renouvellement
//!
//! [[niveau]]
//! code = "N1"
//! libelle = "Gratuité"
//! prix_mensuel_centimes = 0
//!
//! [[critere]]
//! type = "prestation"
//! prestations = ["RSA", "AAH", "ASS", "ASPA", "C2S"]
//! niveau = "N1"
//!
//! [[critere]]
//! type = "quotient_familial"
//! tranches = [{ max = 500, niveau = "N1" }, { max = 800, niveau = "N2" }]
//!
//! [[critere]]
//! type = "etudiant_boursier"
//! niveau = "N2"
//!
//! [conditions]
//! zone_desservie = true         # le logement est raccordable au réseau
//! un_droit_par_logement = true
//! taille_foyer_max = 12         # facultatif
//! ```

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Error;

/// A social benefit a criterion can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Benefit {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "AAH")]
    Aah,
    #[serde(rename = "ASS")]
    Ass,
    #[serde(rename = "ASPA")]
    Aspa,
    #[serde(rename = "C2S")]
    C2s,
}

impl Benefit {
    pub const ALL: [Benefit; 5] = [
        Benefit::Rsa,
        Benefit::Aah,
        Benefit::Ass,
        Benefit::Aspa,
        Benefit::C2s,
    ];

    /// The benefit with its article, as a sentence writes it: « le RSA »,
    /// « l'AAH », « la C2S ».
    pub fn with_article(self) -> String {
        match self {
            Benefit::Aah | Benefit::Ass | Benefit::Aspa => format!("l'{}", self.code()),
            Benefit::C2s => format!("la {}", self.code()),
            _ => format!("le {}", self.code()),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Benefit::Rsa => "RSA",
            Benefit::Aah => "AAH",
            Benefit::Ass => "ASS",
            Benefit::Aspa => "ASPA",
            Benefit::C2s => "C2S",
        }
    }

    /// Its name in full with its article, as a household reads it ("le
    /// revenu…", "l'allocation…").
    pub fn label(self) -> &'static str {
        match self {
            Benefit::Rsa => "le revenu de solidarité active (RSA)",
            Benefit::Aah => "l'allocation aux adultes handicapés (AAH)",
            Benefit::Ass => "l'allocation de solidarité spécifique (ASS)",
            Benefit::Aspa => "l'allocation de solidarité aux personnes âgées (ASPA)",
            Benefit::C2s => "la complémentaire santé solidaire (C2S)",
        }
    }

    pub fn parse(code: &str) -> Result<Self, Error> {
        Benefit::ALL
            .into_iter()
            .find(|b| b.code().eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "prestation « {code} » inconnue (RSA, AAH, ASS, ASPA ou C2S)"
                ))
            })
    }
}

impl fmt::Display for Benefit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A tariff level a criterion grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub code: String,
    pub libelle: String,
    /// The monthly price of the access at this level, VAT included, in
    /// cents (0: free). Billing applies it.
    pub prix_mensuel_centimes: u32,
}

/// One bracket of the quotient familial: up to `max` € included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    pub max: u32,
    pub niveau: String,
}

/// A criterion: what makes a household eligible, and the level it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Criterion {
    /// Receives one of these benefits.
    Prestation {
        prestations: Vec<Benefit>,
        niveau: String,
    },
    /// Quotient familial (CAF/MSA) at or under a bracket's ceiling.
    QuotientFamilial { tranches: Vec<Bracket> },
    /// A student holding a grant on social criteria.
    EtudiantBoursier { niveau: String },
}

impl Criterion {
    /// A stable key of the criterion in a decision's record.
    pub fn key(&self) -> &'static str {
        match self {
            Criterion::Prestation { .. } => "prestation",
            Criterion::QuotientFamilial { .. } => "quotient_familial",
            Criterion::EtudiantBoursier { .. } => "etudiant_boursier",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deliberation {
    pub numero: String,
    pub date: NaiveDate,
    #[serde(default)]
    pub intitule: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub du: NaiveDate,
    #[serde(default)]
    pub au: Option<NaiveDate>,
}

impl Period {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.du <= day && self.au.is_none_or(|au| day <= au)
    }
}

fn default_months() -> u32 {
    12
}
fn default_appeal_days() -> u32 {
    60
}
fn default_grace_days() -> u32 {
    30
}

/// What a granted entitlement lasts, and the delays around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    #[serde(default = "default_months")]
    pub duree_mois: u32,
    #[serde(default = "default_appeal_days")]
    pub delai_recours_jours: u32,
    #[serde(default = "default_grace_days")]
    pub grace_jours: u32,
}

impl Default for Entitlement {
    fn default() -> Self {
        Self {
            duree_mois: default_months(),
            delai_recours_jours: default_appeal_days(),
            grace_jours: default_grace_days(),
        }
    }
}

/// Conditions every household must meet, whatever its criterion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The dwelling can be connected to the network.
    #[serde(default)]
    pub zone_desservie: bool,
    /// No other entitlement in force for the same dwelling.
    #[serde(default)]
    pub un_droit_par_logement: bool,
    #[serde(default)]
    pub taille_foyer_max: Option<u32>,
}

/// A rule set, every reference checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub deliberation: Deliberation,
    pub validite: Period,
    #[serde(default)]
    pub droit: Entitlement,
    /// The levels, the most favourable first: a household meeting two
    /// criteria gets the better of their levels.
    #[serde(rename = "niveau")]
    pub niveaux: Vec<Level>,
    #[serde(rename = "critere")]
    pub criteres: Vec<Criterion>,
    #[serde(default)]
    pub conditions: Conditions,
}

/// The longest rule-set document accepted.
pub const DOCUMENT_MAX_BYTES: usize = 64 * 1024;

impl RuleSet {
    /// Reads a rule-set document and checks that it holds together.
    pub fn parse(document: &str) -> Result<Self, Error> {
        if document.len() > DOCUMENT_MAX_BYTES {
            return Err(Error::Invalid(format!(
                "le règlement dépasse {} Kio",
                DOCUMENT_MAX_BYTES / 1024
            )));
        }
        let rules: RuleSet = toml::from_str(document).map_err(|e| unreadable(document, &e))?;
        rules.check()?;
        Ok(rules)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.deliberation.numero.trim().is_empty() {
            return bad("le numéro de la délibération est vide".into());
        }
        if let Some(au) = self.validite.au {
            if au < self.validite.du {
                return bad(format!(
                    "la période de validité finit ({au}) avant de commencer ({})",
                    self.validite.du
                ));
            }
        }
        if self.deliberation.date > self.validite.du {
            return bad(format!(
                "les règles prennent effet ({}) avant la délibération qui les adopte ({})",
                self.validite.du, self.deliberation.date
            ));
        }
        if !(1..=60).contains(&self.droit.duree_mois) {
            return bad("la durée d'un droit doit être de 1 à 60 mois".into());
        }
        if self.niveaux.is_empty() {
            return bad("aucun niveau de tarif".into());
        }
        if self.criteres.is_empty() {
            return bad("aucun critère d'éligibilité".into());
        }
        let mut codes = std::collections::HashSet::new();
        for l in &self.niveaux {
            if l.code.trim().is_empty() || l.libelle.trim().is_empty() {
                return bad("un niveau sans code ou sans libellé".into());
            }
            if !codes.insert(l.code.as_str()) {
                return bad(format!("le niveau « {} » est défini deux fois", l.code));
            }
        }
        let known = |code: &str| -> Result<(), Error> {
            if codes.contains(code) {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "un critère accorde le niveau « {code} », qui n'est pas défini"
                )))
            }
        };
        let mut kinds = std::collections::HashSet::new();
        for c in &self.criteres {
            if !kinds.insert(c.key()) {
                return bad(format!("le critère « {} » figure deux fois", c.key()));
            }
            match c {
                Criterion::Prestation {
                    prestations,
                    niveau,
                } => {
                    if prestations.is_empty() {
                        return bad("le critère des prestations n'en nomme aucune".into());
                    }
                    known(niveau)?;
                }
                Criterion::QuotientFamilial { tranches } => {
                    if tranches.is_empty() {
                        return bad("le critère du quotient familial n'a aucune tranche".into());
                    }
                    for pair in tranches.windows(2) {
                        if pair[1].max <= pair[0].max {
                            return bad(format!(
                                "les tranches du quotient familial doivent croître ({} puis {})",
                                pair[0].max, pair[1].max
                            ));
                        }
                    }
                    for t in tranches {
                        known(&t.niveau)?;
                    }
                }
                Criterion::EtudiantBoursier { niveau } => known(niveau)?,
            }
        }
        if self.conditions.taille_foyer_max == Some(0) {
            return bad("la taille maximale du foyer est 0".into());
        }
        Ok(())
    }

    pub fn level(&self, code: &str) -> Option<&Level> {
        self.niveaux.iter().find(|l| l.code == code)
    }

    /// The rank of a level: 0 is the most favourable.
    pub fn rank(&self, code: &str) -> usize {
        self.niveaux
            .iter()
            .position(|l| l.code == code)
            .unwrap_or(usize::MAX)
    }

    /// The rules in plain French, paragraph by paragraph, for the public
    /// page and the admin's preview.
    pub fn describe(&self) -> Vec<String> {
        let d = &self.deliberation;
        let mut out = vec![format!(
            "Ces règles ont été adoptées par la délibération n° {} du {}{}.",
            d.numero,
            french_date(d.date),
            d.intitule
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        )];
        out.push(match self.validite.au {
            Some(au) => format!(
                "Elles s'appliquent aux demandes déposées du {} au {}.",
                french_date(self.validite.du),
                french_date(au)
            ),
            None => format!(
                "Elles s'appliquent aux demandes déposées à partir du {}.",
                french_date(self.validite.du)
            ),
        });
        let level = |code: &str| {
            self.level(code)
                .map(|l| format!("le niveau {} ({})", l.code, l.libelle))
                .unwrap_or_default()
        };
        out.push(
            "Un foyer a droit au tarif social s'il remplit l'un des critères suivants :".into(),
        );
        for c in &self.criteres {
            out.push(match c {
                Criterion::Prestation {
                    prestations,
                    niveau,
                } => format!(
                    "— percevoir l'une de ces prestations : {} ; ce critère donne {}.",
                    prestations
                        .iter()
                        .map(|b| b.label())
                        .collect::<Vec<_>>()
                        .join(", "),
                    level(niveau)
                ),
                Criterion::QuotientFamilial { tranches } => {
                    let mut previous: Option<u32> = None;
                    let parts: Vec<String> = tranches
                        .iter()
                        .map(|t| {
                            let s = match previous {
                                None => format!("jusqu'à {} € inclus : {}", t.max, level(&t.niveau)),
                                Some(p) => format!(
                                    "de {} € à {} € inclus : {}",
                                    p + 1,
                                    t.max,
                                    level(&t.niveau)
                                ),
                            };
                            previous = Some(t.max);
                            s
                        })
                        .collect();
                    format!(
                        "— avoir un quotient familial (CAF ou MSA) : {} ; au-delà, ce critère ne donne pas droit au tarif social.",
                        parts.join(" ; ")
                    )
                }
                Criterion::EtudiantBoursier { niveau } => format!(
                    "— être étudiant boursier sur critères sociaux ; ce critère donne {}.",
                    level(niveau)
                ),
            });
        }
        out.push(
            "Un foyer qui remplit plusieurs critères reçoit le niveau le plus favorable.".into(),
        );
        let c = &self.conditions;
        if c.zone_desservie {
            out.push("Le logement doit pouvoir être raccordé au réseau de la régie.".into());
        }
        if c.un_droit_par_logement {
            out.push("Un seul droit est accordé par logement à la fois.".into());
        }
        if let Some(n) = c.taille_foyer_max {
            out.push(format!("Le foyer compte au plus {n} personnes."));
        }
        out.push("Les niveaux de tarif :".into());
        for l in &self.niveaux {
            out.push(format!(
                "— niveau {} : {} ({}).",
                l.code,
                l.libelle,
                if l.prix_mensuel_centimes == 0 {
                    "accès gratuit".to_owned()
                } else {
                    format!("{} par mois", euros(l.prix_mensuel_centimes))
                }
            ));
        }
        out.push(format!(
            "Un droit accordé vaut {} mois ; il se renouvelle sur demande, avec un délai de grâce de {} jours. \
             Une décision peut être contestée dans les {} jours qui suivent sa notification.",
            self.droit.duree_mois, self.droit.grace_jours, self.droit.delai_recours_jours
        ));
        out.push(
            "Les décisions sont préparées par un traitement algorithmique appliquant ces règles, puis validées par un agent. \
             Chaque foyer peut demander les règles appliquées et la façon dont elles l'ont été à sa situation."
                .into(),
        );
        out
    }
}

/// "12 mars 2026", "1er avril 2026".
pub use regie_core::fr::date as french_date;

/// "10,50 €".
pub fn euros(cents: u32) -> String {
    regie_core::fr::euros(i64::from(cents))
}

/// A rule set that works, for the demo and the tests.
pub const EXAMPLE: &str = r#"[deliberation]
numero = "2026-045"
date = "2026-03-12"
intitule = "Tarif social de l'accès à internet"

[validite]
du = "2026-04-01"

[droit]
duree_mois = 12
delai_recours_jours = 60
grace_jours = 30

[[niveau]]
code = "N1"
libelle = "Gratuité"
prix_mensuel_centimes = 0

[[niveau]]
code = "N2"
libelle = "Tarif réduit"
prix_mensuel_centimes = 1000

[[critere]]
type = "prestation"
prestations = ["RSA", "AAH", "ASS", "ASPA", "C2S"]
niveau = "N1"

[[critere]]
type = "quotient_familial"
tranches = [{ max = 500, niveau = "N1" }, { max = 800, niveau = "N2" }]

[[critere]]
type = "etudiant_boursier"
niveau = "N2"

[conditions]
zone_desservie = true
un_droit_par_logement = true
"#;

/// A rule set the TOML reader refused, said in French: where (line and
/// column) and, for the usual slips, what; the reader's English words are
/// not shown.
fn unreadable(document: &str, e: &toml::de::Error) -> Error {
    let at = e.span().map(|span| {
        let before = document.get(..span.start).unwrap_or(document);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(" à la ligne {line}, colonne {column}")
    });
    let message = e.message();
    let what = if message.contains("missing field") {
        let field = message.split('`').nth(1).unwrap_or("?");
        format!("le champ « {field} » manque")
    } else if message.contains("unknown field") {
        let field = message.split('`').nth(1).unwrap_or("?");
        format!("le champ « {field} » est inconnu")
    } else if message.contains("duplicate key") {
        "une clé figure deux fois".to_owned()
    } else if message.contains("invalid type") {
        "une valeur n'a pas le type attendu (nombre, texte, date, liste)".to_owned()
    } else {
        "la syntaxe TOML n'est pas respectée (crochet, guillemet ou signe « = » manquant ?)"
            .to_owned()
    };
    Error::Invalid(format!(
        "règlement illisible{} : {what}",
        at.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_set_that_is_no_toml_is_said_in_french_with_its_place() {
        let e = RuleSet::parse("deliberation = \"2026-045\"\nniveaux = [1, 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("règlement illisible à la ligne"), "{e}");
        assert!(!e.contains("expected") && !e.contains("invalid"), "{e}");
    }
    use proptest::prelude::*;

    #[test]
    fn the_example_parses_and_reads_in_french() {
        let r = RuleSet::parse(EXAMPLE).unwrap();
        assert_eq!(r.deliberation.numero, "2026-045");
        assert_eq!(r.rank("N1"), 0);
        let text = r.describe().join("\n");
        assert!(
            text.contains("délibération n° 2026-045 du 12 mars 2026"),
            "{text}"
        );
        assert!(text.contains("à partir du 1er avril 2026"), "{text}");
        assert!(
            text.contains("jusqu'à 500 € inclus : le niveau N1 (Gratuité)"),
            "{text}"
        );
        assert!(
            text.contains("de 501 € à 800 € inclus : le niveau N2"),
            "{text}"
        );
        assert!(text.contains("10,00 € par mois"), "{text}");
        assert!(text.contains("traitement algorithmique"), "{text}");
    }

    fn edited(from: &str, to: &str) -> Result<RuleSet, Error> {
        assert!(EXAMPLE.contains(from), "{from}");
        RuleSet::parse(&EXAMPLE.replacen(from, to, 1))
    }

    #[test]
    fn documents_that_do_not_hold_together_are_refused_with_a_reason() {
        for (from, to, says) in [
            (
                r#"niveau = "N1"
"#,
                r#"niveau = "N9"
"#,
                "N9",
            ),
            ("max = 800", "max = 400", "croître"),
            (
                r#"du = "2026-04-01""#,
                r#"du = "2026-04-01"
au = "2026-01-01""#,
                "finit",
            ),
            (
                r#"du = "2026-04-01""#,
                r#"du = "2026-01-01""#,
                "avant la délibération",
            ),
            (r#"numero = "2026-045""#, r#"numero = " ""#, "numéro"),
            ("duree_mois = 12", "duree_mois = 0", "durée"),
            (r#""RSA", "AAH""#, r#""RSA", "APL""#, "illisible"),
            (r#"code = "N2""#, r#"code = "N1""#, "deux fois"),
            (
                "zone_desservie = true",
                "zone_desservie = true\ncouleur = \"bleu\"",
                "illisible",
            ),
            (
                r#"type = "etudiant_boursier""#,
                r#"type = "prestation"
prestations = ["RSA"]"#,
                "deux fois",
            ),
        ] {
            let e = edited(from, to).expect_err(to).to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
        assert!(RuleSet::parse("").is_err());
        assert!(RuleSet::parse(&"#".repeat(DOCUMENT_MAX_BYTES + 1)).is_err());
    }

    #[test]
    fn a_period_contains_its_bounds() {
        let p = Period {
            du: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            au: NaiveDate::from_ymd_opt(2027, 3, 31),
        };
        assert!(p.contains(p.du) && p.contains(p.au.unwrap()));
        assert!(!p.contains(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()));
        assert!(!p.contains(NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()));
    }

    #[test]
    fn benefits_parse_by_code() {
        assert_eq!(Benefit::parse(" rsa ").unwrap(), Benefit::Rsa);
        assert!(Benefit::parse("APL").is_err());
    }

    proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(s in "\\PC{0,400}") {
            let _ = RuleSet::parse(&s);
        }
    }
}
