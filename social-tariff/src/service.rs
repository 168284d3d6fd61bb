//! The steps of an application as the binary calls them: verification by
//! a State service or by a document seen, the engine's evaluation, the
//! agent's decision, appeals. Each step checks before it writes; the SQL
//! is in `storage`.

use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_core::Db;
use serde::{Deserialize, Serialize};

use crate::application::{Application, ApplicationCode};
use crate::decision::{self, Appeal, AppealStatus, Decision, DecisionNumber, Ruling};
use crate::engine::{self, BenefitCheck, Evaluation, Fact, Source};
use crate::household::Scope;
use crate::rules::{Benefit, Criterion};
use crate::storage::{self, NewDecision, RuleSetRecord};
use crate::verify::{Check, Value, Verifier};
use crate::{Error, Result};

/// The rule set that applies to an application: the one in force on the
/// day it was sent.
pub async fn rules_for(db: &Db, application: &Application) -> Result<RuleSetRecord> {
    let on = application.filed_on().ok_or_else(|| {
        Error::Invalid(format!(
            "la demande {} n'a pas encore été envoyée",
            application.code
        ))
    })?;
    storage::rule_set_in_force(db, on).await?.ok_or_else(|| {
        Error::Invalid(format!(
            "aucune règle du tarif social n'était en vigueur le {} : publiez les règles adoptées par le conseil",
            crate::rules::french_date(on)
        ))
    })
}

/// The engine's evaluation of an application as it stands.
pub async fn evaluate(
    db: &Db,
    application: &Application,
    today: NaiveDate,
) -> Result<(RuleSetRecord, Evaluation)> {
    let rules = rules_for(db, application).await?;
    let mut facts = application.facts.clone();
    facts.dwelling_entitlement =
        storage::other_entitlement_for_dwelling(db, application, today).await?;
    let on = application.filed_on().unwrap_or(today);
    let evaluation = engine::evaluate(&rules.rules, &facts, on)?;
    Ok((rules, evaluation))
}

/// What one verification asked, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub check: String,
    /// The answer in French, or why there was none.
    pub result: String,
    pub answered: bool,
}

/// Asks the verification service what the household declared (only that:
/// the household consented to these checks) and records each answer with
/// its reference. The identity is erased afterwards. A failure leaves the
/// fact declared, for the agent to check a document, and says why.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %code))]
pub async fn verify(
    db: &Db,
    verifier: &dyn Verifier,
    actor: &Actor,
    code: &ApplicationCode,
) -> Result<(Application, Vec<Verified>)> {
    let application = storage::get_application(db, Scope::All, code.as_str()).await?;
    let Some(identity) = storage::application_identity(db, code).await? else {
        return Err(Error::Invalid(
            "le foyer n'a pas demandé la vérification automatique (ou elle a déjà eu lieu) : vérifiez ses justificatifs".into(),
        ));
    };
    let rules = rules_for(db, &application).await?;
    let mut checks: Vec<Check> = Vec::new();
    for c in &rules.rules.criteres {
        match c {
            Criterion::Prestation { prestations, .. } => checks.extend(
                application
                    .input
                    .benefits
                    .iter()
                    .filter(|b| prestations.contains(b))
                    .map(|&b| Check::Benefit(b)),
            ),
            Criterion::QuotientFamilial { .. } if application.input.quotient_familial.is_some() => {
                checks.push(Check::QuotientFamilial)
            }
            Criterion::EtudiantBoursier { .. } if application.input.student_grant => {
                checks.push(Check::StudentGrant)
            }
            _ => {}
        }
    }
    let mut answers = Vec::new();
    for check in checks {
        let result = if verifier.supports(check) {
            verifier.check(&identity, check).await
        } else {
            Err(crate::verify::VerifyError::Unsupported {
                service: verifier.name().to_owned(),
                what: check.label(),
            })
        };
        answers.push((check, result));
    }
    let mut report = Vec::new();
    let application = storage::update_facts(
        db,
        actor,
        code,
        "application.verify",
        |facts, notes| {
            for (check, result) in &answers {
                match result {
                    Ok(answer) => {
                        let source = Source::Service {
                            service: answer.service.clone(),
                            answer_id: answer.answer_id.clone(),
                            at: answer.at,
                        };
                        let said = apply(facts, *check, &answer.value, source);
                        report.push(Verified { check: check.label().into(), result: said, answered: true });
                    }
                    Err(e) => {
                        let said = format!("{} : {e} ; vérifiez un justificatif", check.label());
                        notes.push(said.clone());
                        report.push(Verified { check: check.label().into(), result: said, answered: false });
                    }
                }
            }
            if answers.is_empty() {
                notes.push("Aucune vérification automatique possible pour ce qui a été déclaré ; vérifiez les justificatifs.".into());
            }
            Ok(serde_json::json!({
                "checks": report.iter().map(|r| serde_json::json!({"check": r.check, "answered": r.answered})).collect::<Vec<_>>(),
            }))
        },
        true,
    )
    .await?;
    Ok((application, report))
}

fn apply(facts: &mut engine::Facts, check: Check, value: &Value, source: Source) -> String {
    match (check, value) {
        (Check::Benefit(b), Value::Receives(yes)) => {
            set_benefit(facts, b, *yes, source);
            format!(
                "{} : {}",
                b.code(),
                if *yes { "perçu" } else { "non perçu" }
            )
        }
        (Check::StudentGrant, Value::Receives(yes)) => {
            facts.student_grant = Some(Fact {
                value: *yes,
                source,
            });
            format!("bourse d'études : {}", if *yes { "oui" } else { "non" })
        }
        (Check::QuotientFamilial, Value::Quotient(q)) => {
            facts.quotient_familial = Some(Fact { value: *q, source });
            format!("quotient familial : {q} €")
        }
        (check, _) => format!("{} : réponse d'un autre type, ignorée", check.label()),
    }
}

fn set_benefit(facts: &mut engine::Facts, benefit: Benefit, received: bool, source: Source) {
    facts.benefits.retain(|b| b.benefit != benefit);
    facts.benefits.push(BenefitCheck {
        benefit,
        received,
        source,
    });
}

/// What a document an agent saw establishes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "subject", rename_all = "snake_case")]
pub enum Proof {
    /// Receives (or not) a benefit.
    Benefit {
        #[schema(value_type = String, example = "RSA")]
        benefit: String,
        received: bool,
    },
    QuotientFamilial {
        value: u32,
    },
    StudentGrant {
        holder: bool,
    },
}

/// A document an agent saw: its type, date and issuer. The document
/// itself is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct DocumentSeen {
    #[serde(flatten)]
    pub proof: Proof,
    /// e.g. "attestation de paiement CAF".
    pub document: String,
    pub dated: NaiveDate,
    /// e.g. "CAF d'Ille-et-Vilaine".
    pub issuer: String,
}

/// Records a document seen by an agent as the source of a fact.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %code))]
pub async fn record_document(
    db: &Db,
    actor: &Actor,
    code: &ApplicationCode,
    seen: &DocumentSeen,
    today: NaiveDate,
) -> Result<Application> {
    let document = seen.document.trim();
    let issuer = seen.issuer.trim();
    if document.is_empty() || document.chars().count() > 200 {
        return Err(Error::Invalid(
            "indiquez le type du document vu (200 caractères au plus)".into(),
        ));
    }
    if issuer.is_empty() || issuer.chars().count() > 200 {
        return Err(Error::Invalid(
            "indiquez qui a délivré le document (200 caractères au plus)".into(),
        ));
    }
    if seen.dated > today {
        return Err(Error::Invalid(
            "la date du document est dans le futur".into(),
        ));
    }
    let benefit = match &seen.proof {
        Proof::Benefit { benefit, .. } => Some(Benefit::parse(benefit)?),
        _ => None,
    };
    let source = Source::Document {
        document: document.to_owned(),
        dated: seen.dated,
        issuer: issuer.to_owned(),
    };
    storage::update_facts(
        db,
        actor,
        code,
        "application.document",
        |facts, _| {
            let subject = match (&seen.proof, benefit) {
                (Proof::Benefit { received, .. }, Some(b)) => {
                    set_benefit(facts, b, *received, source.clone());
                    b.code().to_owned()
                }
                (Proof::QuotientFamilial { value }, _) => {
                    facts.quotient_familial = Some(Fact { value: *value, source: source.clone() });
                    "quotient_familial".into()
                }
                (Proof::StudentGrant { holder }, _) => {
                    facts.student_grant = Some(Fact { value: *holder, source: source.clone() });
                    "etudiant_boursier".into()
                }
                (Proof::Benefit { .. }, None) => String::new(),
            };
            Ok(serde_json::json!({ "subject": subject, "document": document, "dated": seen.dated, "issuer": issuer }))
        },
        false,
    )
    .await
}

/// Records whether the dwelling can be connected, as the agent checked it.
pub async fn record_area(
    db: &Db,
    actor: &Actor,
    code: &ApplicationCode,
    connectable: bool,
) -> Result<Application> {
    storage::update_facts(
        db,
        actor,
        code,
        "application.area",
        |facts, _| {
            facts.in_area = Some(connectable);
            Ok(serde_json::json!({ "in_area": connectable }))
        },
        false,
    )
    .await
}

/// An agent validates (or refuses) what the engine proposes.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %code))]
pub async fn decide(
    db: &Db,
    actor: &Actor,
    code: &ApplicationCode,
    ruling: &Ruling,
    today: NaiveDate,
) -> Result<Decision> {
    let application = storage::get_application(db, Scope::All, code.as_str()).await?;
    if application.status != crate::application::Status::Submitted {
        return Err(Error::Invalid(format!(
            "la demande {} est {} : elle ne peut pas recevoir de décision",
            application.code,
            application.status.label()
        )));
    }
    let (rules, evaluation) = evaluate(db, &application, today).await?;
    // A renewal decided while the right still runs continues it without a
    // gap or an overlap.
    let starts_on = match storage::running_until(db, &application.household, today).await? {
        Some(until) if application.renewal => until.succ_opt().unwrap_or(today),
        _ => today,
    };
    let terms = decision::terms(&rules.rules, &evaluation, ruling, today, starts_on)?;
    storage::insert_decision(
        db,
        actor,
        &NewDecision {
            application: code,
            terms: &terms,
            rule_version: rules.version,
            deliberation: &rules.rules.deliberation.numero,
            evaluation: &evaluation,
            decided_on: today,
            on_appeal: None,
        },
    )
    .await
}

/// What the reviewing agent decides on an appeal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// `true`: the decision is replaced by a new one.
    pub overturn: bool,
    /// The level the new decision grants; none refuses.
    #[serde(default)]
    pub level: Option<String>,
    pub reason: String,
}

/// Reviews an appeal. The reviewer must not be the agent who validated the
/// decision under appeal.
#[tracing::instrument(skip_all, fields(actor = %actor.username, appeal = id))]
pub async fn review_appeal(
    db: &Db,
    actor: &Actor,
    id: i64,
    review: &Review,
    today: NaiveDate,
) -> Result<(Appeal, Option<Decision>)> {
    let appeal = storage::appeal(db, Scope::All, id).await?;
    if appeal.status != AppealStatus::Pending {
        return Err(Error::Invalid(format!(
            "le recours n° {id} a déjà été examiné ({})",
            appeal.status.label()
        )));
    }
    let original = storage::decision(db, Scope::All, &appeal.decision).await?;
    if original.validated_by == actor.username {
        return Err(Error::Invalid(format!(
            "vous avez validé la décision {} : son recours doit être examiné par un autre agent",
            original.number
        )));
    }
    let reason = review.reason.trim();
    if reason.is_empty() {
        return Err(Error::Invalid(
            "indiquez le motif de la réponse au recours".into(),
        ));
    }
    if !review.overturn {
        let closed = storage::close_appeal(db, actor, id, AppealStatus::Upheld, reason).await?;
        return Ok((closed, None));
    }
    let rules = storage::rule_set(db, original.rule_version).await?;
    let level = review
        .level
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let terms = decision::appeal_terms(&rules.rules, level, reason, today)?;
    if terms.outcome == original.outcome && terms.level == original.level {
        return Err(Error::Invalid(
            "la nouvelle décision serait identique : maintenez la décision plutôt que de la modifier".into(),
        ));
    }
    let code = storage::reopen_for_appeal(db, &appeal.decision).await?;
    let new = storage::insert_decision(
        db,
        actor,
        &NewDecision {
            application: &code,
            terms: &terms,
            rule_version: original.rule_version,
            deliberation: &original.deliberation,
            evaluation: &original.evaluation,
            decided_on: today,
            on_appeal: Some((id, appeal.decision.serial)),
        },
    )
    .await?;
    Ok((storage::appeal(db, Scope::All, id).await?, Some(new)))
}

/// The decision number, parsed, for callers holding text.
pub fn decision_number(s: &str) -> Result<DecisionNumber> {
    DecisionNumber::parse(s).map_err(|_| Error::NotFound(s.trim().to_owned()))
}
