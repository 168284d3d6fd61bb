//! Decisions, appeals and entitlements.
//!
//! The engine proposes; an agent decides. A decision keeps the rule-set
//! version, the engine's whole evaluation (per criterion: verdict, source,
//! reason), the level granted, the validity and who validated it. It is
//! never changed: an appeal that succeeds gives a new decision that
//! supersedes the first. An appeal is reviewed by another agent than the
//! one who validated the decision under appeal.
//!
//! The [`letter`] is the decision told to the household in plain French,
//! with the mention the law requires for an algorithmic decision and how to
//! appeal; the same text is shown on the household's page and printed.

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::engine::{Evaluation, Proposal, Verdict};
use crate::rules::{euros, french_date, RuleSet};
use crate::Error;

/// A decision's public reference: `DEC-` year `-` six digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecisionNumber {
    pub year: i32,
    pub serial: i64,
}

impl DecisionNumber {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Invalid(format!(
                "« {} » n'est pas un numéro de décision (DEC-AAAA-NNNNNN)",
                s.trim()
            ))
        };
        let s = s.trim().to_ascii_uppercase();
        let rest = s.strip_prefix("DEC-").ok_or_else(bad)?;
        let (year, serial) = rest.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || serial.len() != 6 {
            return Err(bad());
        }
        Ok(Self {
            year: year.parse().map_err(|_| bad())?,
            serial: serial.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for DecisionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DEC-{:04}-{:06}", self.year, self.serial)
    }
}

impl Serialize for DecisionNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Granted,
    Refused,
}

impl Outcome {
    /// The outcome as the household reads it: « accordée », « refusée ».
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Granted => "accordée",
            Outcome::Refused => "refusée",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "granted" | "accorder" => Ok(Outcome::Granted),
            "refused" | "refuser" => Ok(Outcome::Refused),
            other => Err(Error::Invalid(format!(
                "décision « {other} » inconnue (accorder ou refuser)"
            ))),
        }
    }
}

/// What an agent decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ruling {
    pub outcome: Outcome,
    /// The agent's reason; required when refusing what the engine would
    /// grant or when the engine could not conclude.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A validated decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub number: DecisionNumber,
    pub application: String,
    pub household: String,
    pub outcome: Outcome,
    pub level: Option<String>,
    pub level_label: Option<String>,
    pub monthly_price_cents: Option<u32>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// The last day billing still applies the tariff while a renewal is
    /// being examined.
    pub grace_until: Option<NaiveDate>,
    pub rule_version: i64,
    pub deliberation: String,
    pub evaluation: Evaluation,
    pub reason: Option<String>,
    pub validated_by: String,
    pub decided_on: NaiveDate,
    pub appeal_until: NaiveDate,
    /// The decision this one replaces after an appeal.
    pub supersedes: Option<DecisionNumber>,
}

/// Checks an agent's ruling against the engine's proposal and fills the
/// decision's terms. Granting needs the engine to have found a level; a
/// refusal the engine did not propose needs a reason.
pub fn terms(
    rules: &RuleSet,
    evaluation: &Evaluation,
    ruling: &Ruling,
    decided_on: NaiveDate,
    starts_on: NaiveDate,
) -> Result<Terms, Error> {
    let reason = ruling
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
        return Err(Error::Invalid(
            "le motif ne peut dépasser 2 000 caractères".into(),
        ));
    }
    let appeal_until = decided_on
        .checked_add_days(Days::new(rules.droit.delai_recours_jours.into()))
        .unwrap_or(NaiveDate::MAX);
    match (ruling.outcome, &evaluation.proposal) {
        (Outcome::Granted, Proposal::Grant { level }) => {
            let l = rules
                .level(level)
                .ok_or_else(|| Error::Invalid(format!("niveau « {level} » absent des règles")))?;
            let (from, to) = crate::engine::validity(rules, starts_on.max(decided_on));
            Ok(Terms {
                outcome: Outcome::Granted,
                level: Some(l.code.clone()),
                level_label: Some(l.libelle.clone()),
                monthly_price_cents: Some(l.prix_mensuel_centimes),
                valid_from: Some(from),
                valid_to: Some(to),
                grace_until: to.checked_add_days(Days::new(rules.droit.grace_jours.into())),
                reason,
                appeal_until,
            })
        }
        (Outcome::Granted, Proposal::Incomplete) => Err(Error::Invalid(
            "des critères restent à vérifier : enregistrez les justificatifs vus ou interrogez l'API Particulier avant d'accorder".into(),
        )),
        (Outcome::Granted, Proposal::Refuse) => Err(Error::Invalid(
            "les règles en vigueur ne permettent pas d'accorder ce droit ; seul un recours examiné par un autre agent peut revenir sur un refus".into(),
        )),
        (Outcome::Refused, p) => {
            if !matches!(p, Proposal::Refuse) && reason.is_none() {
                return Err(Error::Invalid(
                    "indiquez le motif du refus : les règles ne le proposent pas d'elles-mêmes".into(),
                ));
            }
            Ok(Terms {
                outcome: Outcome::Refused,
                level: None,
                level_label: None,
                monthly_price_cents: None,
                valid_from: None,
                valid_to: None,
                grace_until: None,
                reason,
                appeal_until,
            })
        }
    }
}

/// The terms of a decision replacing another after an appeal: the
/// reviewing agent grants a level of the rules (or refuses), with a reason.
pub fn appeal_terms(
    rules: &RuleSet,
    level: Option<&str>,
    reason: &str,
    decided_on: NaiveDate,
) -> Result<Terms, Error> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::Invalid(
            "indiquez le motif de la décision sur recours".into(),
        ));
    }
    let appeal_until = decided_on
        .checked_add_days(Days::new(rules.droit.delai_recours_jours.into()))
        .unwrap_or(NaiveDate::MAX);
    match level {
        None => Ok(Terms {
            outcome: Outcome::Refused,
            level: None,
            level_label: None,
            monthly_price_cents: None,
            valid_from: None,
            valid_to: None,
            grace_until: None,
            reason: Some(reason.to_owned()),
            appeal_until,
        }),
        Some(code) => {
            let l = rules.level(code).ok_or_else(|| {
                Error::Invalid(format!(
                    "le niveau « {code} » n'existe pas dans les règles appliquées"
                ))
            })?;
            let (from, to) = crate::engine::validity(rules, decided_on);
            Ok(Terms {
                outcome: Outcome::Granted,
                level: Some(l.code.clone()),
                level_label: Some(l.libelle.clone()),
                monthly_price_cents: Some(l.prix_mensuel_centimes),
                valid_from: Some(from),
                valid_to: Some(to),
                grace_until: to.checked_add_days(Days::new(rules.droit.grace_jours.into())),
                reason: Some(reason.to_owned()),
                appeal_until,
            })
        }
    }
}

/// The terms of a decision, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub outcome: Outcome,
    pub level: Option<String>,
    pub level_label: Option<String>,
    pub monthly_price_cents: Option<u32>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub grace_until: Option<NaiveDate>,
    pub reason: Option<String>,
    pub appeal_until: NaiveDate,
}

/// What billing and the accountants see of a household's right: the level,
/// the dates and the decision, never the criterion behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Entitlement {
    pub household: String,
    pub level: String,
    pub level_label: String,
    pub monthly_price_cents: u32,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    /// Billing keeps the tariff up to this day while a renewal is examined.
    pub grace_until: NaiveDate,
    pub decision_ref: String,
}

impl Entitlement {
    /// Whether the tariff applies on `day`, counting the renewal grace.
    pub fn applies_on(&self, day: NaiveDate, renewal_pending: bool) -> bool {
        self.valid_from <= day
            && (day <= self.valid_to || renewal_pending && day <= self.grace_until)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealStatus {
    Pending,
    /// The decision stands.
    Upheld,
    /// The decision is replaced by a new one.
    Overturned,
}

impl AppealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealStatus::Pending => "pending",
            AppealStatus::Upheld => "upheld",
            AppealStatus::Overturned => "overturned",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "pending" => Ok(AppealStatus::Pending),
            "upheld" => Ok(AppealStatus::Upheld),
            "overturned" => Ok(AppealStatus::Overturned),
            other => Err(Error::Invalid(format!("état de recours inconnu : {other}"))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AppealStatus::Pending => "en cours d'examen",
            AppealStatus::Upheld => "décision maintenue",
            AppealStatus::Overturned => "décision modifiée",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appeal {
    pub id: i64,
    pub decision: DecisionNumber,
    pub channel: crate::application::Channel,
    pub grounds: String,
    pub lodged_by: String,
    pub lodged_at: String,
    pub status: AppealStatus,
    pub reviewed_by: Option<String>,
    pub review_reason: Option<String>,
    pub reviewed_at: Option<String>,
    pub new_decision: Option<DecisionNumber>,
}

/// A document in plain French: a title and sections of paragraphs. The
/// same value is rendered as HTML on the household's page and as PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Letter {
    pub title: String,
    pub recipient: Vec<String>,
    pub reference: Vec<String>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
}

/// Who signs the letters: the régie's name and address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Issuer {
    pub name: String,
    pub address: String,
}

/// The decision letter.
pub fn letter(
    issuer: &Issuer,
    decision: &Decision,
    applicant: &str,
    address: &[String],
    rules_url: &str,
) -> Letter {
    let mut sections = Vec::new();
    let outcome = match decision.outcome {
        Outcome::Granted => format!(
            "Votre demande de tarif social est acceptée. Vous bénéficiez du niveau {} ({}){} du {} au {} inclus.",
            decision.level.as_deref().unwrap_or(""),
            decision.level_label.as_deref().unwrap_or(""),
            match decision.monthly_price_cents {
                Some(0) => " : l'accès à internet est gratuit".to_owned(),
                Some(c) => format!(" : l'accès à internet vous coûte {} par mois", euros(c)),
                None => String::new(),
            },
            decision.valid_from.map(french_date).unwrap_or_default(),
            decision.valid_to.map(french_date).unwrap_or_default(),
        ),
        Outcome::Refused => "Votre demande de tarif social n'est pas acceptée.".to_owned(),
    };
    let mut first = vec![outcome];
    if let Some(prev) = decision.supersedes {
        first.push(format!(
            "Cette décision fait suite à votre recours et remplace la décision {prev}."
        ));
    }
    sections.push(Section {
        heading: "Notre décision".into(),
        paragraphs: first,
    });
    let mut reasons = vec![format!(
        "Nous avons appliqué les règles adoptées par la délibération n° {} (version {} des règles), à la date de votre demande ({}).",
        decision.deliberation,
        decision.rule_version,
        french_date(decision.evaluation.applied_on)
    )];
    for o in decision
        .evaluation
        .criteria
        .iter()
        .chain(&decision.evaluation.conditions)
    {
        let mark = match o.verdict {
            Verdict::Met => "Rempli",
            Verdict::NotMet => "Non rempli",
            Verdict::ToVerify => "Non établi",
        };
        reasons.push(format!("{mark} — {}", o.reason));
    }
    if let Some(r) = &decision.reason {
        reasons.push(format!("Observation de l'agent : {r}"));
    }
    sections.push(Section {
        heading: "Les raisons de cette décision".into(),
        paragraphs: reasons,
    });
    sections.push(Section {
        heading: "Une décision prise avec l'aide d'un traitement algorithmique".into(),
        paragraphs: vec![
            "Cette décision a été préparée par un traitement algorithmique qui applique les règles votées par le conseil, puis vérifiée et validée par un agent du service social.".into(),
            format!(
                "Vous pouvez demander à la régie les règles de ce traitement et la façon dont elles vous ont été appliquées (article L311-3-1 du code des relations entre le public et l'administration). Les règles sont publiées sur {rules_url} et consultables au guichet de la mairie."
            ),
        ],
    });
    sections.push(Section {
        heading: "Comment contester cette décision".into(),
        paragraphs: vec![
            format!(
                "Si vous n'êtes pas d'accord, vous pouvez former un recours jusqu'au {} inclus : sur votre espace en ligne, au guichet de la mairie ou par courrier, en rappelant la référence {}. Votre recours sera examiné par un autre agent que celui qui a validé cette décision.",
                french_date(decision.appeal_until),
                decision.number
            ),
            "Vous pouvez aussi saisir le tribunal administratif dans un délai de deux mois à compter de la réception de cette lettre.".into(),
        ],
    });
    if decision.outcome == Outcome::Granted {
        sections.push(Section {
            heading: "Et ensuite".into(),
            paragraphs: vec![format!(
                "Votre facture portera la mention « Tarif social » à partir du {}. Nous vous rappellerons de renouveler votre demande 60 jours puis 15 jours avant la fin de votre droit.",
                decision.valid_from.map(french_date).unwrap_or_default()
            )],
        });
    }
    let mut recipient = vec![applicant.to_owned()];
    recipient.extend(address.iter().cloned());
    Letter {
        title: "Décision relative au tarif social".into(),
        recipient,
        reference: vec![
            issuer.name.clone(),
            issuer.address.clone(),
            format!("Référence : {}", decision.number),
            format!("Demande : {}", decision.application),
            format!("Le {}", french_date(decision.decided_on)),
        ],
        sections,
    }
}

impl Letter {
    /// The letter as a PDF document.
    pub fn to_pdf(&self, author: &str) -> Result<Vec<u8>, Error> {
        use regie_core::pdf::{render, Block, Pdf};
        let mut blocks = vec![Block::Lines(self.reference.clone()), Block::Space(18)];
        blocks.push(Block::Lines(self.recipient.clone()));
        blocks.push(Block::Space(24));
        blocks.push(Block::Title(self.title.clone()));
        for s in &self.sections {
            blocks.push(Block::Heading(s.heading.clone()));
            blocks.extend(s.paragraphs.iter().cloned().map(Block::Paragraph));
        }
        render(&Pdf {
            title: self.title.clone(),
            author: author.to_owned(),
            blocks,
        })
        .map_err(Error::Storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{evaluate, BenefitCheck, Facts, Source};
    use crate::rules::{Benefit, RuleSet, EXAMPLE};

    fn rules() -> RuleSet {
        RuleSet::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"))
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn rsa(verified: bool) -> Facts {
        Facts {
            benefits: vec![BenefitCheck {
                benefit: Benefit::Rsa,
                received: true,
                source: if verified {
                    Source::Document {
                        document: "attestation CAF".into(),
                        dated: day("2026-10-01"),
                        issuer: "CAF".into(),
                    }
                } else {
                    Source::Declared
                },
            }],
            household_size: Some(2),
            in_area: Some(true),
            ..Facts::default()
        }
    }

    #[test]
    fn numbers_round_trip() {
        let n = DecisionNumber {
            year: 2026,
            serial: 42,
        };
        assert_eq!(n.to_string(), "DEC-2026-000042");
        assert_eq!(DecisionNumber::parse(" dec-2026-000042 ").ok(), Some(n));
        for bad in [
            "DEC-2026-42",
            "DEC-26-000042",
            "2026-000042",
            "DEC-2026-00004X",
        ] {
            assert!(DecisionNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn granting_follows_the_engine() {
        let r = rules();
        let on = day("2026-11-02");
        let yes = evaluate(&r, &rsa(true), on).unwrap_or_else(|e| panic!("{e}"));
        let grant = Ruling {
            outcome: Outcome::Granted,
            reason: None,
        };
        let t = terms(&r, &yes, &grant, on, on).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.valid_from, Some(on));
        assert_eq!(t.valid_to, Some(day("2027-11-01")));
        assert_eq!(t.appeal_until, day("2027-01-01"));
        let unsure = evaluate(&r, &rsa(false), on).unwrap_or_else(|e| panic!("{e}"));
        let e = terms(&r, &unsure, &grant, on, on)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("à vérifier"), "{e}");
        // A refusal against the engine needs a reason.
        let refuse = Ruling {
            outcome: Outcome::Refused,
            reason: Some("  ".into()),
        };
        assert!(terms(&r, &yes, &refuse, on, on).is_err());
        let refuse = Ruling {
            outcome: Outcome::Refused,
            reason: Some("fausse déclaration".into()),
        };
        assert_eq!(
            terms(&r, &yes, &refuse, on, on).map(|t| t.outcome).ok(),
            Some(Outcome::Refused)
        );
    }

    fn granted() -> Decision {
        let r = rules();
        let on = day("2026-11-02");
        let evaluation = evaluate(&r, &rsa(true), on).unwrap_or_else(|e| panic!("{e}"));
        let t = terms(
            &r,
            &evaluation,
            &Ruling {
                outcome: Outcome::Granted,
                reason: None,
            },
            on,
            on,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Decision {
            number: DecisionNumber {
                year: 2026,
                serial: 7,
            },
            application: "DEM-7KQ2MX".into(),
            household: "FOY-7KQ2MX".into(),
            outcome: t.outcome,
            level: t.level,
            level_label: t.level_label,
            monthly_price_cents: t.monthly_price_cents,
            valid_from: t.valid_from,
            valid_to: t.valid_to,
            grace_until: t.grace_until,
            rule_version: 1,
            deliberation: "2026-045".into(),
            evaluation,
            reason: None,
            validated_by: "agent".into(),
            decided_on: on,
            appeal_until: t.appeal_until,
            supersedes: None,
        }
    }

    fn letter_of(d: &Decision) -> Letter {
        letter(
            &Issuer {
                name: "Régie de la fibre de Rennes".into(),
                address: "Place de la Mairie, 35000 Rennes".into(),
            },
            d,
            "Awa Diallo",
            &["12 rue de l'Église".into(), "35000 Rennes".into()],
            "https://regie.example/tarif-social/regles",
        )
    }

    #[test]
    fn the_letter_says_the_outcome_the_reasons_the_algorithm_and_the_appeal() {
        let l = letter_of(&granted());
        let text: String = std::iter::once(l.title.clone())
            .chain(l.reference.iter().cloned())
            .chain(l.recipient.iter().cloned())
            .chain(l.sections.iter().flat_map(|s| {
                std::iter::once(format!("## {}", s.heading)).chain(s.paragraphs.iter().cloned())
            }))
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_letter_prints_as_a_pdf_with_its_french_text() {
        let pdf = letter_of(&granted())
            .to_pdf("Régie")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF-"));
        // Rendered check with poppler's pdftotext where installed (CI has it).
        let Ok(dir) = tempfile::tempdir() else { return };
        let path = dir.path().join("lettre.pdf");
        std::fs::write(&path, &pdf).unwrap_or_else(|e| panic!("{e}"));
        if let Some(keep) = std::env::var_os("REGIE_KEEP_LETTER") {
            let _ = std::fs::copy(&path, keep);
        }
        let out = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output();
        let Ok(out) = out else {
            assert!(
                std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
                "pdftotext (poppler-utils) is required"
            );
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for expected in [
            "Décision relative au tarif social",
            "Votre demande de tarif social est acceptée",
            "traitement algorithmique",
            "Comment contester cette décision",
            "DEC-2026-000007",
            "Awa Diallo",
        ] {
            assert!(
                text.contains(expected),
                "{expected} missing from the rendered PDF: {text}"
            );
        }
    }

    #[test]
    fn an_entitlement_applies_in_its_period_and_its_grace_only_while_renewing() {
        let e = Entitlement {
            household: "FOY-7KQ2MX".into(),
            level: "N1".into(),
            level_label: "Gratuité".into(),
            monthly_price_cents: 0,
            valid_from: day("2026-01-01"),
            valid_to: day("2026-12-31"),
            grace_until: day("2027-01-30"),
            decision_ref: "DEC-2026-000001".into(),
        };
        assert!(!e.applies_on(day("2025-12-31"), false));
        assert!(e.applies_on(day("2026-12-31"), false));
        assert!(!e.applies_on(day("2027-01-15"), false));
        assert!(e.applies_on(day("2027-01-15"), true));
        assert!(!e.applies_on(day("2027-01-31"), true));
    }
}
