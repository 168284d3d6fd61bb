//! The eligibility engine: a rule set applied to the facts known about one
//! household. It records, per criterion and per condition, the verdict,
//! the level it would give, the source of the fact (a verification
//! service's answer, a document an agent saw, or the household's word) and
//! the reason in French; then it proposes a decision. A proposal is never
//! final: an agent validates it (see the decisions).
//!
//! A fact the household only declared never grants anything: it makes the
//! criterion "to verify".

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::{euros, french_date, Benefit, Criterion, RuleSet};
use crate::Error;

/// Where a fact comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A verification service answered (e.g. the API Particulier).
    Service {
        service: String,
        answer_id: String,
        at: DateTime<Utc>,
    },
    /// An agent saw a document; the document itself is not kept.
    Document {
        document: String,
        dated: NaiveDate,
        issuer: String,
    },
    /// The household said so; nobody verified it yet.
    Declared,
}

impl Source {
    pub fn verified(&self) -> bool {
        !matches!(self, Source::Declared)
    }

    /// "selon l'API Particulier (réponse … du …)", for a reason.
    pub fn describe(&self) -> String {
        match self {
            Source::Service {
                service,
                answer_id,
                at,
            } => format!(
                "selon {service} (réponse {answer_id} du {})",
                french_date(at.date_naive())
            ),
            Source::Document {
                document,
                dated,
                issuer,
            } => format!(
                // « le document … émis » agrees whatever the document is
                // called (« attestation », « avis », « relevé »).
                "d'après le document vu par l'agent ({document}), émis par {issuer} le {}",
                french_date(*dated)
            ),
            Source::Declared => "d'après la déclaration du foyer, non vérifiée".into(),
        }
    }
}

/// A fact and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<T> {
    pub value: T,
    pub source: Source,
}

/// Whether the household receives one benefit, as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitCheck {
    pub benefit: Benefit,
    pub received: bool,
    pub source: Source,
}

/// What is known about a household when its application is evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    pub benefits: Vec<BenefitCheck>,
    /// In euros, as the CAF or MSA computes it.
    pub quotient_familial: Option<Fact<u32>>,
    pub student_grant: Option<Fact<bool>>,
    pub household_size: Option<u32>,
    /// The dwelling can be connected (asked of the inventory).
    pub in_area: Option<bool>,
    /// The reference of another entitlement in force for the dwelling.
    pub dwelling_entitlement: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    NotMet,
    /// Not known, or only declared: an agent must verify.
    ToVerify,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "rempli",
            Verdict::NotMet => "non rempli",
            Verdict::ToVerify => "à vérifier",
        }
    }
}

/// One criterion or condition, as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `prestation`, `quotient_familial`, `etudiant_boursier`,
    /// `zone_desservie`, `un_droit_par_logement`, `taille_foyer`.
    pub key: String,
    pub verdict: Verdict,
    /// The level this criterion gives, when met.
    pub level: Option<String>,
    pub source: Option<Source>,
    pub reason: String,
}

impl Outcome {
    /// The criterion or condition in words, as the agent and the letter
    /// name it (« Quotient familial », « Logement dans la zone
    /// desservie »); a key this engine does not write is shown as it is.
    pub fn label(&self) -> &str {
        criterion_label(&self.key)
    }
}

/// The words for a criterion's key.
pub fn criterion_label(key: &str) -> &str {
    match key {
        "prestation" => "Prestation sociale perçue",
        "quotient_familial" => "Quotient familial",
        "etudiant_boursier" => "Étudiant boursier sur critères sociaux",
        "zone_desservie" => "Logement dans la zone desservie",
        "un_droit_par_logement" => "Un seul tarif social par logement",
        "taille_foyer" => "Nombre de personnes du foyer",
        other => other,
    }
}

/// What the engine proposes to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "proposal", rename_all = "snake_case")]
pub enum Proposal {
    Grant {
        level: String,
    },
    Refuse,
    /// A fact is missing or only declared.
    Incomplete,
}

/// The whole evaluation, kept with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub deliberation: String,
    pub applied_on: NaiveDate,
    pub criteria: Vec<Outcome>,
    pub conditions: Vec<Outcome>,
    pub proposal: Proposal,
}

fn outcome(
    key: &str,
    verdict: Verdict,
    level: Option<&str>,
    source: Option<&Source>,
    reason: String,
) -> Outcome {
    Outcome {
        key: key.to_owned(),
        verdict,
        level: level.map(str::to_owned),
        source: source.cloned(),
        reason,
    }
}

/// Applies `rules` to `facts` for an application dated `applied_on`.
/// Rules that do not apply to that date are refused.
pub fn evaluate(
    rules: &RuleSet,
    facts: &Facts,
    applied_on: NaiveDate,
) -> Result<Evaluation, Error> {
    if !rules.validite.contains(applied_on) {
        return Err(Error::Invalid(format!(
            "les règles de la délibération n° {} ne s'appliquent pas aux demandes du {}",
            rules.deliberation.numero,
            french_date(applied_on)
        )));
    }
    let level_name = |code: &str| {
        rules
            .level(code)
            .map(|l| format!("niveau {} ({})", l.code, l.libelle))
            .unwrap_or_else(|| code.to_owned())
    };
    let mut criteria = Vec::new();
    for c in &rules.criteres {
        criteria.push(match c {
            Criterion::Prestation {
                prestations,
                niveau,
            } => {
                let relevant: Vec<&BenefitCheck> = facts
                    .benefits
                    .iter()
                    .filter(|b| prestations.contains(&b.benefit))
                    .collect();
                if let Some(b) = relevant.iter().find(|b| b.received && b.source.verified()) {
                    outcome(
                        c.key(),
                        Verdict::Met,
                        Some(niveau),
                        Some(&b.source),
                        format!(
                            "Le foyer perçoit {}, {} : ce critère donne le {}.",
                            b.benefit.label(),
                            b.source.describe(),
                            level_name(niveau)
                        ),
                    )
                } else if let Some(b) = relevant.iter().find(|b| b.received) {
                    outcome(
                        c.key(),
                        Verdict::ToVerify,
                        Some(niveau),
                        Some(&b.source),
                        format!(
                            "Le foyer déclare percevoir {} : à vérifier.",
                            b.benefit.label()
                        ),
                    )
                } else if relevant.is_empty() {
                    outcome(
                        c.key(),
                        Verdict::ToVerify,
                        None,
                        None,
                        "Aucune des prestations ouvrant droit n'a été vérifiée.".into(),
                    )
                } else {
                    let checked: Vec<&str> = relevant.iter().map(|b| b.benefit.code()).collect();
                    let how = if relevant.iter().all(|b| b.source.verified()) {
                        "vérifiées"
                    } else {
                        "ouvrant droit, d'après ce qui a été déclaré ou vérifié"
                    };
                    outcome(
                        c.key(),
                        Verdict::NotMet,
                        None,
                        relevant.first().map(|b| &b.source),
                        format!(
                            "Le foyer ne perçoit aucune des prestations {how} ({}).",
                            checked.join(", ")
                        ),
                    )
                }
            }
            Criterion::QuotientFamilial { tranches } => {
                match &facts.quotient_familial {
                    None => outcome(
                        c.key(),
                        Verdict::ToVerify,
                        None,
                        None,
                        "Le quotient familial n'est pas connu.".into(),
                    ),
                    Some(qf) => match tranches.iter().find(|t| qf.value <= t.max) {
                        Some(t) if qf.source.verified() => outcome(
                            c.key(),
                            Verdict::Met,
                            Some(&t.niveau),
                            Some(&qf.source),
                            format!(
                        "Quotient familial de {} €, {} : au plus {} €, ce critère donne le {}.",
                        qf.value, qf.source.describe(), t.max, level_name(&t.niveau)
                    ),
                        ),
                        Some(t) => outcome(
                            c.key(),
                            Verdict::ToVerify,
                            Some(&t.niveau),
                            Some(&qf.source),
                            format!("Quotient familial déclaré de {} € : à vérifier.", qf.value),
                        ),
                        None => {
                            let ceiling = tranches.last().map_or(0, |t| t.max);
                            outcome(
                                c.key(),
                                Verdict::NotMet,
                                None,
                                Some(&qf.source),
                                format!(
                                    "Quotient familial de {} €, {} : au-dessus du plafond de {} €.",
                                    qf.value,
                                    qf.source.describe(),
                                    ceiling
                                ),
                            )
                        }
                    },
                }
            }
            Criterion::EtudiantBoursier { niveau } => match &facts.student_grant {
                None => outcome(
                    c.key(),
                    Verdict::ToVerify,
                    None,
                    None,
                    "La bourse d'études n'est pas vérifiée.".into(),
                ),
                Some(f) if f.value && f.source.verified() => outcome(
                    c.key(),
                    Verdict::Met,
                    Some(niveau),
                    Some(&f.source),
                    format!(
                        "Étudiant boursier sur critères sociaux, {} : ce critère donne le {}.",
                        f.source.describe(),
                        level_name(niveau)
                    ),
                ),
                Some(f) if f.value => outcome(
                    c.key(),
                    Verdict::ToVerify,
                    Some(niveau),
                    Some(&f.source),
                    "Bourse d'études déclarée : à vérifier.".into(),
                ),
                Some(f) => outcome(
                    c.key(),
                    Verdict::NotMet,
                    None,
                    Some(&f.source),
                    format!(
                        "Pas de bourse sur critères sociaux, {}.",
                        f.source.describe()
                    ),
                ),
            },
        });
    }

    let mut conditions = Vec::new();
    let c = &rules.conditions;
    if c.zone_desservie {
        conditions.push(match facts.in_area {
            Some(true) => outcome(
                "zone_desservie",
                Verdict::Met,
                None,
                None,
                "Le logement peut être raccordé au réseau de la régie.".into(),
            ),
            Some(false) => outcome(
                "zone_desservie",
                Verdict::NotMet,
                None,
                None,
                "Le logement ne peut pas être raccordé au réseau de la régie.".into(),
            ),
            None => outcome(
                "zone_desservie",
                Verdict::ToVerify,
                None,
                None,
                "Le raccordement du logement n'a pas été vérifié.".into(),
            ),
        });
    }
    if c.un_droit_par_logement {
        conditions.push(match &facts.dwelling_entitlement {
            Some(other) => outcome(
                "un_droit_par_logement",
                Verdict::NotMet,
                None,
                None,
                format!("Un autre droit est en cours pour ce logement (décision {other})."),
            ),
            None => outcome(
                "un_droit_par_logement",
                Verdict::Met,
                None,
                None,
                "Aucun autre droit en cours pour ce logement.".into(),
            ),
        });
    }
    if let Some(max) = c.taille_foyer_max {
        conditions.push(match facts.household_size {
            Some(n) if n <= max => outcome(
                "taille_foyer",
                Verdict::Met,
                None,
                None,
                format!("Le foyer compte {n} personne(s), au plus {max}."),
            ),
            Some(n) => outcome(
                "taille_foyer",
                Verdict::NotMet,
                None,
                None,
                format!("Le foyer compte {n} personnes, plus que {max}."),
            ),
            None => outcome(
                "taille_foyer",
                Verdict::ToVerify,
                None,
                None,
                "La taille du foyer n'est pas connue.".into(),
            ),
        });
    }

    let best = criteria
        .iter()
        .filter(|o| o.verdict == Verdict::Met)
        .filter_map(|o| o.level.as_deref())
        .min_by_key(|l| rules.rank(l));
    let any = |list: &[Outcome], v: Verdict| list.iter().any(|o| o.verdict == v);
    let proposal = if any(&conditions, Verdict::NotMet) {
        Proposal::Refuse
    } else if let Some(level) = best {
        if any(&conditions, Verdict::ToVerify) {
            Proposal::Incomplete
        } else {
            Proposal::Grant {
                level: level.to_owned(),
            }
        }
    } else if any(&criteria, Verdict::ToVerify) || any(&conditions, Verdict::ToVerify) {
        Proposal::Incomplete
    } else {
        Proposal::Refuse
    };
    Ok(Evaluation {
        deliberation: rules.deliberation.numero.clone(),
        applied_on,
        criteria,
        conditions,
        proposal,
    })
}

/// The first and last day of an entitlement granted on `from`.
pub fn validity(rules: &RuleSet, from: NaiveDate) -> (NaiveDate, NaiveDate) {
    let end = from
        .checked_add_months(Months::new(rules.droit.duree_mois))
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MAX);
    (from, end)
}

/// The proposal in a sentence, as the agent and the household read it.
pub fn summary(rules: &RuleSet, evaluation: &Evaluation) -> String {
    match &evaluation.proposal {
        Proposal::Grant { level } => {
            let l = rules.level(level);
            format!(
                "Droit au tarif social, niveau {} ({}){}.",
                level,
                l.map(|l| l.libelle.as_str()).unwrap_or(""),
                l.map(|l| if l.prix_mensuel_centimes == 0 {
                    " : accès gratuit".to_owned()
                } else {
                    format!(" : {} par mois", euros(l.prix_mensuel_centimes))
                })
                .unwrap_or_default()
            )
        }
        Proposal::Refuse => "Pas de droit au tarif social selon les règles en vigueur.".into(),
        Proposal::Incomplete => "Des informations restent à vérifier avant de décider.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_engine_writes_has_words() {
        for key in [
            "prestation",
            "quotient_familial",
            "etudiant_boursier",
            "zone_desservie",
            "un_droit_par_logement",
            "taille_foyer",
        ] {
            let label = criterion_label(key);
            assert!(label != key && !label.contains('_'), "{key}");
        }
    }
    use crate::rules::EXAMPLE;

    fn rules() -> RuleSet {
        RuleSet::parse(EXAMPLE).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn api(id: &str) -> Source {
        Source::Service {
            service: "l'API Particulier".into(),
            answer_id: id.into(),
            at: "2026-05-02T09:00:00Z".parse().unwrap(),
        }
    }

    fn base() -> Facts {
        Facts {
            in_area: Some(true),
            ..Facts::default()
        }
    }

    fn qf(value: u32, source: Source) -> Facts {
        Facts {
            quotient_familial: Some(Fact { value, source }),
            ..base()
        }
    }

    const ON: &str = "2026-05-02";

    #[test]
    fn a_verified_benefit_grants_its_level_with_the_source_recorded() {
        let facts = Facts {
            benefits: vec![BenefitCheck {
                benefit: Benefit::Rsa,
                received: true,
                source: api("rsa-1"),
            }],
            ..base()
        };
        let e = evaluate(&rules(), &facts, day(ON)).unwrap();
        assert_eq!(e.proposal, Proposal::Grant { level: "N1".into() });
        let c = &e.criteria[0];
        assert_eq!((c.key.as_str(), c.verdict), ("prestation", Verdict::Met));
        assert_eq!(c.source, Some(api("rsa-1")));
        assert!(
            c.reason.contains("revenu de solidarité active") && c.reason.contains("rsa-1"),
            "{}",
            c.reason
        );
        assert!(summary(&rules(), &e).contains("accès gratuit"));
    }

    #[test]
    fn a_declared_benefit_is_to_verify_never_granted() {
        let facts = Facts {
            benefits: vec![BenefitCheck {
                benefit: Benefit::Aah,
                received: true,
                source: Source::Declared,
            }],
            ..base()
        };
        let e = evaluate(&rules(), &facts, day(ON)).unwrap();
        assert_eq!(e.criteria[0].verdict, Verdict::ToVerify);
        assert_eq!(e.proposal, Proposal::Incomplete);
    }

    #[test]
    fn quotient_familial_brackets_include_their_ceiling() {
        let doc = Source::Document {
            document: "attestation de quotient familial CAF".into(),
            dated: day("2026-04-20"),
            issuer: "CAF de l'Aude".into(),
        };
        for (value, expected) in [
            (0, Some("N1")),
            (500, Some("N1")),
            (501, Some("N2")),
            (800, Some("N2")),
            (801, None),
        ] {
            let e = evaluate(&rules(), &qf(value, doc.clone()), day(ON)).unwrap();
            let c = e
                .criteria
                .iter()
                .find(|c| c.key == "quotient_familial")
                .unwrap();
            assert_eq!(c.level.as_deref(), expected, "QF {value}");
            match expected {
                Some(l) => {
                    assert_eq!(c.verdict, Verdict::Met);
                    assert_eq!(
                        e.proposal,
                        Proposal::Grant { level: l.into() },
                        "QF {value}"
                    );
                    assert!(c.reason.contains("CAF de l'Aude"), "{}", c.reason);
                }
                None => {
                    assert_eq!(c.verdict, Verdict::NotMet);
                    assert!(c.reason.contains("plafond de 800 €"), "{}", c.reason);
                    // The other criteria are unknown: not a refusal yet.
                    assert_eq!(e.proposal, Proposal::Incomplete);
                }
            }
        }
    }

    #[test]
    fn two_criteria_met_give_the_more_favourable_level_and_both_are_recorded() {
        let facts = Facts {
            student_grant: Some(Fact {
                value: true,
                source: api("bourse-7"),
            }),
            ..qf(450, api("qf-3"))
        };
        let e = evaluate(&rules(), &facts, day(ON)).unwrap();
        let met: Vec<(&str, Option<&str>)> = e
            .criteria
            .iter()
            .filter(|c| c.verdict == Verdict::Met)
            .map(|c| (c.key.as_str(), c.level.as_deref()))
            .collect();
        assert_eq!(
            met,
            [
                ("quotient_familial", Some("N1")),
                ("etudiant_boursier", Some("N2"))
            ]
        );
        assert_eq!(e.proposal, Proposal::Grant { level: "N1".into() });
    }

    #[test]
    fn nothing_met_and_everything_checked_is_a_refusal() {
        let facts = Facts {
            benefits: Benefit::ALL
                .iter()
                .map(|&b| BenefitCheck {
                    benefit: b,
                    received: false,
                    source: api("x"),
                })
                .collect(),
            student_grant: Some(Fact {
                value: false,
                source: api("y"),
            }),
            ..qf(1200, api("z"))
        };
        let e = evaluate(&rules(), &facts, day(ON)).unwrap();
        assert!(e.criteria.iter().all(|c| c.verdict == Verdict::NotMet));
        assert_eq!(e.proposal, Proposal::Refuse);
    }

    #[test]
    fn conditions_refuse_or_hold_back() {
        let grantable = qf(300, api("qf"));
        let outside = Facts {
            in_area: Some(false),
            ..grantable.clone()
        };
        assert_eq!(
            evaluate(&rules(), &outside, day(ON)).unwrap().proposal,
            Proposal::Refuse
        );
        let unknown = Facts {
            in_area: None,
            ..grantable.clone()
        };
        assert_eq!(
            evaluate(&rules(), &unknown, day(ON)).unwrap().proposal,
            Proposal::Incomplete
        );
        let taken = Facts {
            dwelling_entitlement: Some("DEC-2026-0001".into()),
            ..grantable.clone()
        };
        let e = evaluate(&rules(), &taken, day(ON)).unwrap();
        assert_eq!(e.proposal, Proposal::Refuse);
        assert!(e
            .conditions
            .iter()
            .any(|c| c.reason.contains("DEC-2026-0001")));
        let mut sized = rules();
        sized.conditions.taille_foyer_max = Some(4);
        let big = Facts {
            household_size: Some(5),
            ..grantable.clone()
        };
        assert_eq!(
            evaluate(&sized, &big, day(ON)).unwrap().proposal,
            Proposal::Refuse
        );
        let ok = Facts {
            household_size: Some(4),
            ..grantable
        };
        assert_eq!(
            evaluate(&sized, &ok, day(ON)).unwrap().proposal,
            Proposal::Grant { level: "N1".into() }
        );
    }

    #[test]
    fn rules_apply_only_within_their_period() {
        let mut r = rules();
        r.validite.au = Some(day("2027-03-31"));
        let facts = qf(300, api("qf"));
        assert!(evaluate(&r, &facts, day("2026-04-01")).is_ok());
        assert!(evaluate(&r, &facts, day("2027-03-31")).is_ok());
        let e = evaluate(&r, &facts, day("2027-04-01"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ne s'appliquent pas") && e.contains("1er avril 2027"),
            "{e}"
        );
        assert!(evaluate(&r, &facts, day("2026-03-31")).is_err());
    }

    #[test]
    fn an_entitlement_lasts_its_months_to_the_day_before() {
        let r = rules();
        assert_eq!(
            validity(&r, day("2026-05-02")),
            (day("2026-05-02"), day("2027-05-01"))
        );
        // From the last day of a month.
        assert_eq!(validity(&r, day("2026-01-31")).1, day("2027-01-30"));
    }
}
