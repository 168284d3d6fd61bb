//! SQL of the social-tariff crate: the only module that touches its tables.

use std::collections::HashMap;

use regie_core::audit::{self, Actor, Change};
use regie_core::{db::is_unique_violation, time, Db};
use sqlx::Row;

use crate::household::{Household, HouseholdCode, NewHousehold, Scope};
use crate::{Error, Result};

fn household_from_row(r: &sqlx::any::AnyRow) -> Result<Household> {
    let code: String = r.try_get("code")?;
    Ok(Household {
        code: HouseholdCode::parse(&code)?,
        display_name: r.try_get("display_name")?,
        user_id: r.try_get("user_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Creates a household and its audit entry in one transaction.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn create_household(db: &Db, actor: &Actor, new: &NewHousehold) -> Result<Household> {
    let name = new.validated_name()?;
    // A random code can collide with an existing one; the unique constraint
    // detects it and a few retries make a failure practically impossible.
    for _ in 0..5 {
        let code = HouseholdCode::generate();
        let created_at = time::to_db(time::now());
        let mut tx = db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO households (code, display_name, user_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code.as_str())
        .bind(&name)
        .bind(new.user_id)
        .bind(&created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let household = Household {
            code,
            display_name: name.clone(),
            user_id: new.user_id,
            created_at,
        };
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "household.create",
                entity: "household",
                entity_id: household.code.as_str(),
                before: None,
                after: serde_json::to_value(&household).ok(),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(household = %household.code, "household created");
        return Ok(household);
    }
    Err(Error::Invalid("could not allocate a household code".into()))
}

/// Reads one household. Outside the caller's scope it answers `NotFound`,
/// exactly as for a code that does not exist, so existence does not leak.
pub async fn get_household(db: &Db, scope: Scope, code: &str) -> Result<Household> {
    let code = HouseholdCode::parse(code).map_err(|_| Error::NotFound(code.to_owned()))?;
    let owner = match scope {
        Scope::All => None,
        Scope::Own(user_id) => Some(user_id),
    };
    let row = sqlx::query(
        "SELECT code, display_name, user_id, created_at FROM households
         WHERE code = $1 AND ($2 IS NULL OR user_id = $2)",
    )
    .bind(code.as_str())
    .bind(owner)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => household_from_row(&r),
        None => Err(Error::NotFound(code.to_string())),
    }
}

/// Lists the households within the caller's scope.
pub async fn list_households(db: &Db, scope: Scope) -> Result<Vec<Household>> {
    let owner = match scope {
        Scope::All => None,
        Scope::Own(user_id) => Some(user_id),
    };
    let rows = sqlx::query(
        "SELECT code, display_name, user_id, created_at FROM households
         WHERE ($1 IS NULL OR user_id = $1) ORDER BY code",
    )
    .bind(owner)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(household_from_row).collect()
}

/// A published rule-set version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleSetRecord {
    pub version: i64,
    pub rules: crate::rules::RuleSet,
    /// The document as the admin wrote it.
    pub document: String,
    pub published_by: String,
    pub published_at: String,
}

const RULE_SET_COLUMNS: &str = "version, document, published_by, published_at";

fn rule_set_from_row(r: &sqlx::any::AnyRow) -> Result<RuleSetRecord> {
    let document: String = r.try_get("document")?;
    Ok(RuleSetRecord {
        version: r.try_get("version")?,
        // A stored document was checked when published; one that no longer
        // parses (a format change) says so rather than vanishing.
        rules: crate::rules::RuleSet::parse(&document)?,
        document,
        published_by: r.try_get("published_by")?,
        published_at: r.try_get("published_at")?,
    })
}

/// Publishes a new rule-set version (checked first), with an audit entry.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn publish_rule_set(db: &Db, actor: &Actor, document: &str) -> Result<RuleSetRecord> {
    let rules = crate::rules::RuleSet::parse(document)?;
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO st_rule_sets (document, deliberation_number, deliberation_date, effective_from, effective_to, published_by, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {RULE_SET_COLUMNS}"
    ))
    .bind(document)
    .bind(&rules.deliberation.numero)
    .bind(rules.deliberation.date.to_string())
    .bind(rules.validite.du.to_string())
    .bind(rules.validite.au.map(|d| d.to_string()))
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *tx)
    .await?;
    let record = rule_set_from_row(&row)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "rule_set.publish",
            entity: "rule_set",
            entity_id: &record.version.to_string(),
            before: None,
            after: Some(serde_json::json!({
                "deliberation": rules.deliberation.numero,
                "from": rules.validite.du,
                "to": rules.validite.au,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Every published version, the newest first.
pub async fn rule_sets(db: &Db) -> Result<Vec<RuleSetRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {RULE_SET_COLUMNS} FROM st_rule_sets ORDER BY version DESC"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(rule_set_from_row).collect()
}

/// One published version.
pub async fn rule_set(db: &Db, version: i64) -> Result<RuleSetRecord> {
    let row = sqlx::query(&format!(
        "SELECT {RULE_SET_COLUMNS} FROM st_rule_sets WHERE version = $1"
    ))
    .bind(version)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::Missing(format!("aucune version {version} des règles")))?;
    rule_set_from_row(&row)
}

/// The version in force on `day`: the newest one whose period holds it.
pub async fn rule_set_in_force(db: &Db, day: chrono::NaiveDate) -> Result<Option<RuleSetRecord>> {
    let day = day.to_string();
    let row = sqlx::query(&format!(
        "SELECT {RULE_SET_COLUMNS} FROM st_rule_sets
         WHERE effective_from <= $1 AND (effective_to IS NULL OR effective_to >= $1)
         ORDER BY version DESC LIMIT 1"
    ))
    .bind(&day)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(rule_set_from_row).transpose()
}

// ---------------------------------------------------------------------------
// Applications, decisions, appeals.

use crate::application::{
    Application, ApplicationCode, ApplicationInput, Channel, Identity, Status,
};
use crate::decision::{
    Appeal, AppealStatus, Decision, DecisionNumber, Entitlement, Outcome, Terms,
};
use crate::engine::{Evaluation, Facts};

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(format!("sérialisation : {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Invalid(format!("{what} illisible en base : {e}")))
}

fn day_from(s: Option<String>) -> Result<Option<chrono::NaiveDate>> {
    s.map(|s| {
        s.parse()
            .map_err(|_| Error::Invalid(format!("date illisible en base : {s}")))
    })
    .transpose()
}

const APPLICATION_COLUMNS: &str = "a.code, h.code AS household, a.channel, a.status, a.renewal, a.input_json, a.facts_json, a.notes_json, a.entered_by, a.consent_at, a.created_at, a.submitted_at";

fn application_from_row(r: &sqlx::any::AnyRow) -> Result<Application> {
    let code: String = r.try_get("code")?;
    let channel: String = r.try_get("channel")?;
    let status: String = r.try_get("status")?;
    let renewal: i64 = r.try_get("renewal")?;
    Ok(Application {
        code: ApplicationCode::parse(&code)?,
        household: r.try_get("household")?,
        channel: Channel::parse(&channel)?,
        status: Status::parse(&status)?,
        renewal: renewal != 0,
        input: from_json(&r.try_get::<String, _>("input_json")?, "demande")?,
        facts: from_json(&r.try_get::<String, _>("facts_json")?, "faits")?,
        notes: from_json(&r.try_get::<String, _>("notes_json")?, "notes")?,
        entered_by: r.try_get("entered_by")?,
        consent_at: r.try_get("consent_at")?,
        created_at: r.try_get("created_at")?,
        submitted_at: r.try_get("submitted_at")?,
    })
}

fn owner(scope: Scope) -> Option<i64> {
    match scope {
        Scope::All => None,
        Scope::Own(user_id) => Some(user_id),
    }
}

/// What creating or changing an application needs.
#[derive(Debug, Clone)]
pub struct Filing<'a> {
    pub household: &'a HouseholdCode,
    pub channel: Channel,
    pub input: &'a ApplicationInput,
    pub submit: bool,
    pub renewal: bool,
    /// Recorded for an application an agent enters for the household.
    pub consent: bool,
}

async fn household_id(
    conn: &mut sqlx::AnyConnection,
    scope: Scope,
    code: &HouseholdCode,
) -> Result<i64> {
    sqlx::query("SELECT id FROM households WHERE code = $1 AND ($2 IS NULL OR user_id = $2)")
        .bind(code.as_str())
        .bind(owner(scope))
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<i64, _>("id"))
        .transpose()?
        .ok_or_else(|| Error::NotFound(code.to_string()))
}

/// Creates an application (a draft, or submitted at once) with its audit
/// entry, in one transaction.
#[tracing::instrument(skip_all, fields(actor = %actor.username, household = %filing.household))]
pub async fn create_application(
    db: &Db,
    actor: &Actor,
    scope: Scope,
    filing: &Filing<'_>,
) -> Result<Application> {
    if filing.channel != Channel::Online && !filing.consent {
        return Err(Error::Invalid(
            "l'accord du foyer pour que l'agent saisisse sa demande doit être recueilli et coché"
                .into(),
        ));
    }
    let now = time::to_db(time::now());
    for _ in 0..5 {
        let code = ApplicationCode::generate();
        let mut tx = db.begin().await?;
        let hid = household_id(&mut tx, scope, filing.household).await?;
        let facts = filing.input.declared_facts();
        // A household that was granted the tariff before is renewing it.
        let renewal = filing.renewal
            || sqlx::query("SELECT 1 FROM st_decisions WHERE household_id = $1 AND outcome = 'granted' AND superseded = 0")
                .bind(hid)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        let inserted = sqlx::query(
            "INSERT INTO st_applications (code, household_id, channel, status, renewal, applicant, dwelling_key,
                 input_json, identity_json, facts_json, notes_json, entered_by, consent_at, created_at, submitted_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '[]', $11, $12, $13, $14, $13)",
        )
        .bind(code.as_str())
        .bind(hid)
        .bind(filing.channel.as_str())
        .bind(if filing.submit { Status::Submitted } else { Status::Draft }.as_str())
        .bind(i64::from(renewal))
        .bind(&filing.input.applicant)
        .bind(filing.input.dwelling_key())
        .bind(json(&crate::application::ApplicationInput { identity: None, ..filing.input.clone() })?)
        .bind(filing.input.identity.as_ref().map(json).transpose()?)
        .bind(json(&facts)?)
        .bind((filing.channel != Channel::Online).then(|| actor.username.clone()))
        .bind((filing.channel != Channel::Online).then(|| now.clone()))
        .bind(&now)
        .bind(filing.submit.then(|| now.clone()))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        audit::record(
            &mut tx,
            actor,
            Change {
                action: if filing.submit {
                    "application.submit"
                } else {
                    "application.draft"
                },
                entity: "application",
                entity_id: code.as_str(),
                before: None,
                after: Some(serde_json::json!({
                    "household": filing.household.as_str(),
                    "channel": filing.channel.as_str(),
                    "renewal": renewal,
                    "consent": filing.consent,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(application = %code, "application filed");
        return get_application(db, Scope::All, code.as_str()).await;
    }
    Err(Error::Invalid(
        "impossible d'attribuer un numéro de demande".into(),
    ))
}

/// Changes a draft, and submits it if asked. A sent application no longer
/// changes.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %code))]
pub async fn update_draft(
    db: &Db,
    actor: &Actor,
    scope: Scope,
    code: &ApplicationCode,
    input: &ApplicationInput,
    submit: bool,
) -> Result<Application> {
    let mut tx = db.begin().await?;
    let now = time::to_db(time::now());
    let changed = sqlx::query(
        "UPDATE st_applications SET input_json = $1, identity_json = $2, facts_json = $3, applicant = $4,
             dwelling_key = $5, status = $6, submitted_at = $7, updated_at = $8
         WHERE code = $9 AND status = 'draft'
           AND household_id IN (SELECT id FROM households WHERE ($10 IS NULL OR user_id = $10))",
    )
    .bind(json(&ApplicationInput { identity: None, ..input.clone() })?)
    .bind(input.identity.as_ref().map(json).transpose()?)
    .bind(json(&input.declared_facts())?)
    .bind(&input.applicant)
    .bind(input.dwelling_key())
    .bind(if submit { Status::Submitted } else { Status::Draft }.as_str())
    .bind(submit.then(|| now.clone()))
    .bind(&now)
    .bind(code.as_str())
    .bind(owner(scope))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        drop(tx);
        // Either unknown (or someone else's), or no longer a draft.
        let a = get_application(db, scope, code.as_str()).await?;
        return Err(Error::Invalid(format!(
            "la demande {} est {} : elle ne peut plus être modifiée",
            a.code,
            a.status.label()
        )));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: if submit {
                "application.submit"
            } else {
                "application.draft"
            },
            entity: "application",
            entity_id: code.as_str(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    get_application(db, scope, code.as_str()).await
}

/// One application; outside the caller's scope it does not exist.
pub async fn get_application(db: &Db, scope: Scope, code: &str) -> Result<Application> {
    let code = ApplicationCode::parse(code).map_err(|_| Error::NotFound(code.to_owned()))?;
    let row = sqlx::query(&format!(
        "SELECT {APPLICATION_COLUMNS} FROM st_applications a JOIN households h ON h.id = a.household_id
         WHERE a.code = $1 AND ($2 IS NULL OR h.user_id = $2)"
    ))
    .bind(code.as_str())
    .bind(owner(scope))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::NotFound(code.to_string()))?;
    application_from_row(&row)
}

/// The identity kept for a pending automatic verification, if any.
pub async fn application_identity(db: &Db, code: &ApplicationCode) -> Result<Option<Identity>> {
    let row = sqlx::query("SELECT identity_json FROM st_applications WHERE code = $1")
        .bind(code.as_str())
        .fetch_optional(db.pool())
        .await?;
    match row {
        None => Err(Error::NotFound(code.to_string())),
        Some(r) => r
            .try_get::<Option<String>, _>("identity_json")?
            .map(|s| from_json(&s, "identité"))
            .transpose(),
    }
}

/// Applications in the caller's scope, the newest first; drafts entered by
/// the household itself are not shown to staff.
pub async fn list_applications(
    db: &Db,
    scope: Scope,
    status: Option<Status>,
    household: Option<&HouseholdCode>,
) -> Result<Vec<Application>> {
    let rows = sqlx::query(&format!(
        "SELECT {APPLICATION_COLUMNS} FROM st_applications a JOIN households h ON h.id = a.household_id
         WHERE ($1 IS NULL OR h.user_id = $1) AND ($2 IS NULL OR a.status = $2) AND ($3 IS NULL OR h.code = $3)
           AND ($1 IS NOT NULL OR a.status <> 'draft' OR a.channel <> 'online')
         ORDER BY a.created_at DESC, a.id DESC"
    ))
    .bind(owner(scope))
    .bind(status.map(Status::as_str))
    .bind(household.map(HouseholdCode::as_str))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application_from_row).collect()
}

/// Another record that looks like the same request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Duplicate {
    /// An application code or a decision number.
    pub reference: String,
    pub household: String,
    /// Why it looks the same, in French.
    pub why: String,
}

/// Applications and entitlements in force for the same dwelling, or for a
/// person of the same name, other than `application` itself.
pub async fn duplicates(
    db: &Db,
    application: &Application,
    today: chrono::NaiveDate,
) -> Result<Vec<Duplicate>> {
    let key = application.input.dwelling_key();
    let name = crate::application::dwelling_key(&application.input.applicant, "");
    let rows = sqlx::query(
        "SELECT a.code, h.code AS household, a.dwelling_key, a.applicant FROM st_applications a
         JOIN households h ON h.id = a.household_id
         WHERE a.code <> $1 AND a.status IN ('submitted', 'decided') AND (a.dwelling_key = $2 OR a.applicant = $3 OR a.applicant = $4)
         ORDER BY a.id",
    )
    .bind(application.code.as_str())
    .bind(&key)
    .bind(&application.input.applicant)
    .bind(application.input.applicant.trim())
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let dk: String = r.try_get("dwelling_key")?;
        let applicant: String = r.try_get("applicant")?;
        out.push(Duplicate {
            reference: r.try_get("code")?,
            household: r.try_get("household")?,
            why: if dk == key {
                "demande pour le même logement".into()
            } else if crate::application::dwelling_key(&applicant, "") == name {
                "demande au même nom".into()
            } else {
                "demande semblable".into()
            },
        });
    }
    for d in in_force_for_dwelling(db, &key, today).await? {
        out.push(Duplicate {
            why: "droit en cours pour le même logement".into(),
            ..d
        });
    }
    Ok(out)
}

async fn in_force_for_dwelling(
    db: &Db,
    key: &str,
    today: chrono::NaiveDate,
) -> Result<Vec<Duplicate>> {
    let rows = sqlx::query(
        "SELECT d.id, d.decided_on, h.code AS household FROM st_decisions d JOIN households h ON h.id = d.household_id
         WHERE d.dwelling_key = $1 AND d.outcome = 'granted' AND d.superseded = 0 AND d.valid_from <= $2 AND d.valid_to >= $2",
    )
    .bind(key)
    .bind(today.to_string())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Duplicate {
                reference: number_of(r.try_get("id")?, &r.try_get::<String, _>("decided_on")?)?
                    .to_string(),
                household: r.try_get("household")?,
                why: String::new(),
            })
        })
        .collect()
}

fn number_of(id: i64, decided_on: &str) -> Result<DecisionNumber> {
    let year = decided_on
        .get(..4)
        .and_then(|y| y.parse().ok())
        .ok_or_else(|| Error::Invalid(format!("date de décision illisible : {decided_on}")))?;
    Ok(DecisionNumber { year, serial: id })
}

/// Replaces the facts of a submitted application (after a verification or
/// a document seen), with notes and an audit entry; `erase_identity`
/// drops the identity once the State's services have answered.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %code))]
pub async fn update_facts(
    db: &Db,
    actor: &Actor,
    code: &ApplicationCode,
    action: &'static str,
    edit: impl FnOnce(&mut Facts, &mut Vec<String>) -> Result<serde_json::Value>,
    erase_identity: bool,
) -> Result<Application> {
    let mut tx = db.begin().await?;
    let row =
        sqlx::query("SELECT status, facts_json, notes_json FROM st_applications WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::NotFound(code.to_string()))?;
    let status = Status::parse(&row.try_get::<String, _>("status")?)?;
    if status != Status::Submitted {
        return Err(Error::Invalid(format!(
            "la demande {code} est {} : ses justificatifs ne changent plus",
            status.label()
        )));
    }
    let mut facts: Facts = from_json(&row.try_get::<String, _>("facts_json")?, "faits")?;
    let mut notes: Vec<String> = from_json(&row.try_get::<String, _>("notes_json")?, "notes")?;
    let summary = edit(&mut facts, &mut notes)?;
    let erase = if erase_identity {
        ", identity_json = NULL"
    } else {
        ""
    };
    sqlx::query(&format!(
        "UPDATE st_applications SET facts_json = $1, notes_json = $2, updated_at = $3{erase} WHERE code = $4"
    ))
    .bind(json(&facts)?)
    .bind(json(&notes)?)
    .bind(time::to_db(time::now()))
    .bind(code.as_str())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action,
            entity: "application",
            entity_id: code.as_str(),
            before: None,
            after: Some(summary),
        },
    )
    .await?;
    tx.commit().await?;
    get_application(db, Scope::All, code.as_str()).await
}

/// The reference of an entitlement in force for the dwelling, held by
/// another household.
pub async fn other_entitlement_for_dwelling(
    db: &Db,
    application: &Application,
    day: chrono::NaiveDate,
) -> Result<Option<String>> {
    Ok(
        in_force_for_dwelling(db, &application.input.dwelling_key(), day)
            .await?
            .into_iter()
            .find(|d| d.household != application.household)
            .map(|d| d.reference),
    )
}

const DECISION_COLUMNS: &str = "d.id, d.outcome, d.level, d.level_label, d.monthly_price_cents, d.valid_from, d.valid_to, d.grace_until,
    d.rule_version, d.deliberation, d.evaluation_json, d.reason, d.validated_by, d.decided_on, d.appeal_until, d.supersedes,
    a.code AS application, h.code AS household,
    (SELECT s.decided_on FROM st_decisions s WHERE s.id = d.supersedes) AS supersedes_on";

fn decision_from_row(r: &sqlx::any::AnyRow) -> Result<Decision> {
    let decided_on: String = r.try_get("decided_on")?;
    let supersedes: Option<i64> = r.try_get("supersedes")?;
    let supersedes_on: Option<String> = r.try_get("supersedes_on")?;
    let price: Option<i64> = r.try_get("monthly_price_cents")?;
    Ok(Decision {
        number: number_of(r.try_get("id")?, &decided_on)?,
        application: r.try_get("application")?,
        household: r.try_get("household")?,
        outcome: Outcome::parse(&r.try_get::<String, _>("outcome")?)?,
        level: r.try_get("level")?,
        level_label: r.try_get("level_label")?,
        monthly_price_cents: price.map(|p| u32::try_from(p).unwrap_or(0)),
        valid_from: day_from(r.try_get("valid_from")?)?,
        valid_to: day_from(r.try_get("valid_to")?)?,
        grace_until: day_from(r.try_get("grace_until")?)?,
        rule_version: r.try_get("rule_version")?,
        deliberation: r.try_get("deliberation")?,
        evaluation: from_json::<Evaluation>(
            &r.try_get::<String, _>("evaluation_json")?,
            "évaluation",
        )?,
        reason: r.try_get("reason")?,
        validated_by: r.try_get("validated_by")?,
        decided_on: day_from(Some(decided_on))?.unwrap_or_default(),
        appeal_until: day_from(Some(r.try_get("appeal_until")?))?.unwrap_or_default(),
        supersedes: match (supersedes, supersedes_on) {
            (Some(id), Some(on)) => Some(number_of(id, &on)?),
            _ => None,
        },
    })
}

/// What storing a decision needs.
#[derive(Debug)]
pub struct NewDecision<'a> {
    pub application: &'a ApplicationCode,
    pub terms: &'a Terms,
    pub rule_version: i64,
    pub deliberation: &'a str,
    pub evaluation: &'a Evaluation,
    pub decided_on: chrono::NaiveDate,
    /// Set when an appeal replaces a decision: the appeal and the decision.
    pub on_appeal: Option<(i64, i64)>,
}

/// Stores a validated decision and closes the application (or the appeal)
/// in one transaction. A second decision on the same application (two
/// agents at once) is refused by the unique index and reported.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %new.application))]
pub async fn insert_decision(db: &Db, actor: &Actor, new: &NewDecision<'_>) -> Result<Decision> {
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT id, household_id, dwelling_key, status FROM st_applications WHERE code = $1",
    )
    .bind(new.application.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound(new.application.to_string()))?;
    let (app_id, hid, key): (i64, i64, String) = (
        row.try_get("id")?,
        row.try_get("household_id")?,
        row.try_get("dwelling_key")?,
    );
    let status = Status::parse(&row.try_get::<String, _>("status")?)?;
    let expected = if new.on_appeal.is_some() {
        Status::Decided
    } else {
        Status::Submitted
    };
    if status != expected {
        return Err(Error::Invalid(format!(
            "la demande {} est {} : elle ne peut pas recevoir cette décision",
            new.application,
            status.label()
        )));
    }
    let t = new.terms;
    let inserted = sqlx::query(
        "INSERT INTO st_decisions (application_id, household_id, dwelling_key, outcome, level, level_label, monthly_price_cents,
             valid_from, valid_to, grace_until, rule_version, deliberation, evaluation_json, reason, validated_by, decided_on,
             appeal_until, supersedes, superseded, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0, $19) RETURNING id",
    )
    .bind(app_id)
    .bind(hid)
    .bind(&key)
    .bind(t.outcome.as_str())
    .bind(&t.level)
    .bind(&t.level_label)
    .bind(t.monthly_price_cents.map(i64::from))
    .bind(t.valid_from.map(|d| d.to_string()))
    .bind(t.valid_to.map(|d| d.to_string()))
    .bind(t.grace_until.map(|d| d.to_string()))
    .bind(new.rule_version)
    .bind(new.deliberation)
    .bind(json(new.evaluation)?)
    .bind(&t.reason)
    .bind(&actor.username)
    .bind(new.decided_on.to_string())
    .bind(t.appeal_until.to_string())
    .bind(new.on_appeal.map(|(_, d)| d))
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.try_get("id")?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "la demande {} vient de recevoir une décision d'un autre agent",
                new.application
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let number = DecisionNumber {
        year: chrono::Datelike::year(&new.decided_on),
        serial: id,
    };
    sqlx::query("UPDATE st_applications SET status = 'decided', updated_at = $1 WHERE id = $2")
        .bind(time::to_db(time::now()))
        .bind(app_id)
        .execute(&mut *tx)
        .await?;
    if let Some((appeal, old)) = new.on_appeal {
        sqlx::query("UPDATE st_decisions SET superseded = 1 WHERE id = $1")
            .bind(old)
            .execute(&mut *tx)
            .await?;
        // The appeal closes with its new decision, or neither happens.
        let closed = sqlx::query(
            "UPDATE st_appeals SET new_decision_id = $1, status = 'overturned', reviewed_by = $2, review_reason = $3,
                 reviewed_at = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(id)
        .bind(&actor.username)
        .bind(&t.reason)
        .bind(time::to_db(time::now()))
        .bind(appeal)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            return Err(Error::Invalid(format!(
                "le recours n° {appeal} n'est plus en attente d'examen"
            )));
        }
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "appeal.review",
                entity: "appeal",
                entity_id: &appeal.to_string(),
                before: None,
                after: Some(serde_json::json!({ "status": "overturned", "reason": t.reason })),
            },
        )
        .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "decision.validate",
            entity: "decision",
            entity_id: &number.to_string(),
            before: None,
            after: Some(serde_json::json!({
                "application": new.application.as_str(),
                "outcome": t.outcome.as_str(),
                "level": t.level,
                "valid_from": t.valid_from,
                "valid_to": t.valid_to,
                "rule_version": new.rule_version,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(decision = %number, outcome = t.outcome.as_str(), "decision validated");
    decision(db, Scope::All, &number).await
}

/// One decision; outside the caller's scope it does not exist.
pub async fn decision(db: &Db, scope: Scope, number: &DecisionNumber) -> Result<Decision> {
    let row = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS} FROM st_decisions d JOIN st_applications a ON a.id = d.application_id
         JOIN households h ON h.id = d.household_id WHERE d.id = $1 AND ($2 IS NULL OR h.user_id = $2)"
    ))
    .bind(number.serial)
    .bind(owner(scope))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::NotFound(number.to_string()))?;
    let d = decision_from_row(&row)?;
    if d.number != *number {
        return Err(Error::NotFound(number.to_string()));
    }
    Ok(d)
}

/// The decisions of an application, the first first.
pub async fn decisions_of(
    db: &Db,
    scope: Scope,
    application: &ApplicationCode,
) -> Result<Vec<Decision>> {
    let rows = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS} FROM st_decisions d JOIN st_applications a ON a.id = d.application_id
         JOIN households h ON h.id = d.household_id WHERE a.code = $1 AND ($2 IS NULL OR h.user_id = $2) ORDER BY d.id"
    ))
    .bind(application.as_str())
    .bind(owner(scope))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(decision_from_row).collect()
}

/// The entitlement of a household on `day`: its granted decision in force
/// (not replaced), including the renewal grace when a renewal is pending.
pub async fn entitlement(
    db: &Db,
    household: &HouseholdCode,
    day: chrono::NaiveDate,
) -> Result<Option<Entitlement>> {
    let d = day.to_string();
    let rows = sqlx::query(
        "SELECT d.id, d.decided_on, d.level, d.level_label, d.monthly_price_cents, d.valid_from, d.valid_to, d.grace_until
         FROM st_decisions d JOIN households h ON h.id = d.household_id
         WHERE h.code = $1 AND d.outcome = 'granted' AND d.superseded = 0 AND d.valid_from <= $2 AND d.grace_until >= $2
         ORDER BY d.valid_from DESC, d.id DESC",
    )
    .bind(household.as_str())
    .bind(&d)
    .fetch_all(db.pool())
    .await?;
    let pending_renewal: bool = sqlx::query(
        "SELECT 1 FROM st_applications a JOIN households h ON h.id = a.household_id
         WHERE h.code = $1 AND a.renewal = 1 AND a.status = 'submitted'",
    )
    .bind(household.as_str())
    .fetch_optional(db.pool())
    .await?
    .is_some();
    for r in rows {
        let e = entitlement_from_row(&r, household.as_str())?;
        if e.applies_on(day, pending_renewal) {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

fn entitlement_from_row(r: &sqlx::any::AnyRow, household: &str) -> Result<Entitlement> {
    let missing = || Error::Invalid("droit accordé sans niveau ou sans dates".into());
    let price: Option<i64> = r.try_get("monthly_price_cents")?;
    Ok(Entitlement {
        household: household.to_owned(),
        level: r
            .try_get::<Option<String>, _>("level")?
            .ok_or_else(missing)?,
        level_label: r
            .try_get::<Option<String>, _>("level_label")?
            .ok_or_else(missing)?,
        monthly_price_cents: price
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(missing)?,
        valid_from: day_from(r.try_get("valid_from")?)?.ok_or_else(missing)?,
        valid_to: day_from(r.try_get("valid_to")?)?.ok_or_else(missing)?,
        grace_until: day_from(r.try_get("grace_until")?)?.ok_or_else(missing)?,
        decision_ref: number_of(r.try_get("id")?, &r.try_get::<String, _>("decided_on")?)?
            .to_string(),
    })
}

/// Every granted entitlement whose period starts or ends within
/// `[from, to]`, or that was replaced by a decision of that period: what
/// billing must re-read for a billing run.
pub async fn entitlements_changing(
    db: &Db,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<Entitlement>> {
    let rows = sqlx::query(
        "SELECT d.id, d.decided_on, d.level, d.level_label, d.monthly_price_cents, d.valid_from, d.valid_to, d.grace_until,
                h.code AS household
         FROM st_decisions d JOIN households h ON h.id = d.household_id
         WHERE d.outcome = 'granted' AND d.superseded = 0
           AND ((d.valid_from BETWEEN $1 AND $2) OR (d.valid_to BETWEEN $1 AND $2) OR (d.grace_until BETWEEN $1 AND $2)
                OR (d.decided_on BETWEEN $1 AND $2))
         ORDER BY d.id",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| entitlement_from_row(r, &r.try_get::<String, _>("household")?))
        .collect()
}

const APPEAL_COLUMNS: &str = "p.id, p.decision_id, d.decided_on, p.channel, p.grounds, p.lodged_by, p.lodged_at, p.status,
    p.reviewed_by, p.review_reason, p.reviewed_at, p.new_decision_id, n.decided_on AS new_decided_on";

fn appeal_from_row(r: &sqlx::any::AnyRow) -> Result<Appeal> {
    let new_id: Option<i64> = r.try_get("new_decision_id")?;
    let new_on: Option<String> = r.try_get("new_decided_on")?;
    Ok(Appeal {
        id: r.try_get("id")?,
        decision: number_of(
            r.try_get("decision_id")?,
            &r.try_get::<String, _>("decided_on")?,
        )?,
        channel: Channel::parse(&r.try_get::<String, _>("channel")?)?,
        grounds: r.try_get("grounds")?,
        lodged_by: r.try_get("lodged_by")?,
        lodged_at: r.try_get("lodged_at")?,
        status: AppealStatus::parse(&r.try_get::<String, _>("status")?)?,
        reviewed_by: r.try_get("reviewed_by")?,
        review_reason: r.try_get("review_reason")?,
        reviewed_at: r.try_get("reviewed_at")?,
        new_decision: match (new_id, new_on) {
            (Some(id), Some(on)) => Some(number_of(id, &on)?),
            _ => None,
        },
    })
}

/// Lodges an appeal against a decision within its appeal period.
#[tracing::instrument(skip_all, fields(actor = %actor.username, decision = %number))]
pub async fn lodge_appeal(
    db: &Db,
    actor: &Actor,
    scope: Scope,
    number: &DecisionNumber,
    channel: Channel,
    grounds: &str,
    today: chrono::NaiveDate,
) -> Result<Appeal> {
    let grounds = grounds.trim();
    if grounds.is_empty() {
        return Err(Error::Invalid(
            "expliquez en quelques mots pourquoi vous contestez la décision".into(),
        ));
    }
    if grounds.chars().count() > 4000 {
        return Err(Error::Invalid(
            "le recours ne peut dépasser 4 000 caractères".into(),
        ));
    }
    let d = decision(db, scope, number).await?;
    if today > d.appeal_until {
        return Err(Error::Invalid(format!(
            "le délai de recours contre la décision {} a pris fin le {}",
            d.number,
            crate::rules::french_date(d.appeal_until)
        )));
    }
    let mut tx = db.begin().await?;
    let superseded: i64 = sqlx::query("SELECT superseded FROM st_decisions WHERE id = $1")
        .bind(number.serial)
        .fetch_one(&mut *tx)
        .await?
        .try_get("superseded")?;
    if superseded != 0 {
        return Err(Error::Invalid(format!(
            "la décision {number} a déjà été remplacée à la suite d'un recours"
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO st_appeals (decision_id, channel, grounds, lodged_by, lodged_at, status)
         VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
    )
    .bind(number.serial)
    .bind(channel.as_str())
    .bind(grounds)
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.try_get("id")?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "un recours contre la décision {number} est déjà en cours d'examen"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "appeal.lodge",
            entity: "appeal",
            entity_id: &id.to_string(),
            before: None,
            after: Some(
                serde_json::json!({ "decision": number.to_string(), "channel": channel.as_str() }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    appeal(db, scope, id).await
}

/// One appeal; outside the caller's scope it does not exist.
pub async fn appeal(db: &Db, scope: Scope, id: i64) -> Result<Appeal> {
    let row = sqlx::query(&format!(
        "SELECT {APPEAL_COLUMNS} FROM st_appeals p JOIN st_decisions d ON d.id = p.decision_id
         JOIN households h ON h.id = d.household_id LEFT JOIN st_decisions n ON n.id = p.new_decision_id
         WHERE p.id = $1 AND ($2 IS NULL OR h.user_id = $2)"
    ))
    .bind(id)
    .bind(owner(scope))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::Missing(format!("aucun recours n° {id}")))?;
    appeal_from_row(&row)
}

/// Appeals, the pending first; or those against one decision.
pub async fn appeals(
    db: &Db,
    scope: Scope,
    decision: Option<&DecisionNumber>,
) -> Result<Vec<Appeal>> {
    let rows = sqlx::query(&format!(
        "SELECT {APPEAL_COLUMNS} FROM st_appeals p JOIN st_decisions d ON d.id = p.decision_id
         JOIN households h ON h.id = d.household_id LEFT JOIN st_decisions n ON n.id = p.new_decision_id
         WHERE ($1 IS NULL OR h.user_id = $1) AND ($2 IS NULL OR p.decision_id = $2)
         ORDER BY CASE WHEN p.status = 'pending' THEN 0 ELSE 1 END, p.id DESC"
    ))
    .bind(owner(scope))
    .bind(decision.map(|d| d.serial))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(appeal_from_row).collect()
}

/// Closes a pending appeal with its outcome; the caller stores the new
/// decision first when the appeal succeeds. The reviewer is never the
/// agent who validated the decision under appeal.
#[tracing::instrument(skip_all, fields(actor = %actor.username, appeal = id))]
pub async fn close_appeal(
    db: &Db,
    actor: &Actor,
    id: i64,
    status: AppealStatus,
    reason: &str,
) -> Result<Appeal> {
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE st_appeals SET status = $1, reviewed_by = $2, review_reason = $3, reviewed_at = $4
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(&actor.username)
    .bind(reason)
    .bind(time::to_db(time::now()))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::Invalid(format!(
            "le recours n° {id} n'est pas en attente d'examen"
        )));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "appeal.review",
            entity: "appeal",
            entity_id: &id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "status": status.as_str(), "reason": reason })),
        },
    )
    .await?;
    tx.commit().await?;
    appeal(db, Scope::All, id).await
}

/// The application a decision belongs to, for the appeal's new decision.
pub async fn reopen_for_appeal(db: &Db, number: &DecisionNumber) -> Result<ApplicationCode> {
    let row = sqlx::query(
        "SELECT a.code FROM st_decisions d JOIN st_applications a ON a.id = d.application_id WHERE d.id = $1",
    )
    .bind(number.serial)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::NotFound(number.to_string()))?;
    ApplicationCode::parse(&row.try_get::<String, _>("code")?)
}

/// Every entitlement in force on `day` (its grace not counted), for the
/// accountants' list.
pub async fn entitlements_in_force(db: &Db, day: chrono::NaiveDate) -> Result<Vec<Entitlement>> {
    let rows = sqlx::query(
        "SELECT d.id, d.decided_on, d.level, d.level_label, d.monthly_price_cents, d.valid_from, d.valid_to, d.grace_until,
                h.code AS household
         FROM st_decisions d JOIN households h ON h.id = d.household_id
         WHERE d.outcome = 'granted' AND d.superseded = 0 AND d.valid_from <= $1 AND d.valid_to >= $1
         ORDER BY h.code",
    )
    .bind(day.to_string())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| entitlement_from_row(r, &r.try_get::<String, _>("household")?))
        .collect()
}

// ---------------------------------------------------------------------------
// Renewal reminders.

use crate::renewal::{self, Kind, Reminder};

const REMINDER_COLUMNS: &str = "r.id, r.decision_id, d.decided_on, d.valid_to, r.kind, r.due_on, r.channel, r.address, r.status,
    r.detail, r.created_at, h.code AS household, a.input_json";

fn reminder_from_row(r: &sqlx::any::AnyRow) -> Result<Reminder> {
    let input: ApplicationInput = from_json(&r.try_get::<String, _>("input_json")?, "demande")?;
    Ok(Reminder {
        id: r.try_get("id")?,
        decision: number_of(
            r.try_get("decision_id")?,
            &r.try_get::<String, _>("decided_on")?,
        )?,
        household: r.try_get("household")?,
        applicant: input.applicant.clone(),
        address: vec![
            input.address.clone(),
            format!("{} {}", input.postcode, input.town)
                .trim()
                .to_owned(),
        ],
        kind: Kind::parse(&r.try_get::<String, _>("kind")?)?,
        due_on: day_from(Some(r.try_get("due_on")?))?.unwrap_or_default(),
        valid_to: day_from(r.try_get("valid_to")?)?.unwrap_or_default(),
        email: r.try_get("address")?,
        status: renewal::Status::parse(&r.try_get::<String, _>("status")?)?,
        detail: r.try_get("detail")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Plans the reminders due on `today` (each at most once per decision and
/// kind), for entitlements whose household has not applied again. E-mail
/// is chosen when the household asked for it and `email` is possible.
#[tracing::instrument(skip_all, fields(today = %today))]
pub async fn plan_reminders(
    db: &Db,
    today: chrono::NaiveDate,
    email: bool,
) -> Result<Vec<Reminder>> {
    let horizon = today
        .checked_add_days(chrono::Days::new(60))
        .unwrap_or(today);
    let rows = sqlx::query(
        "SELECT d.id, d.valid_to, a.input_json FROM st_decisions d JOIN st_applications a ON a.id = d.application_id
         WHERE d.outcome = 'granted' AND d.superseded = 0 AND d.valid_to >= $1 AND d.valid_to <= $2
           AND NOT EXISTS (SELECT 1 FROM st_applications n WHERE n.household_id = d.household_id AND n.id > d.application_id
                           AND n.status IN ('submitted', 'decided'))
         ORDER BY d.id",
    )
    .bind(today.to_string())
    .bind(horizon.to_string())
    .fetch_all(db.pool())
    .await?;
    let mut planned = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let Some(valid_to) = day_from(r.try_get("valid_to")?)? else {
            continue;
        };
        let Some((kind, due_on)) = renewal::due(valid_to, today) else {
            continue;
        };
        let input: ApplicationInput = from_json(&r.try_get::<String, _>("input_json")?, "demande")?;
        let address = match (&input.contact, email) {
            (Some(crate::application::Contact::Email { address }), true) => Some(address.clone()),
            _ => None,
        };
        let status = if address.is_some() {
            renewal::Status::ToSend
        } else {
            renewal::Status::ToPrint
        };
        let inserted = sqlx::query(
            "INSERT INTO st_reminders (decision_id, kind, due_on, channel, address, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (decision_id, kind) DO NOTHING RETURNING id",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(due_on.to_string())
        .bind(if address.is_some() { "email" } else { "letter" })
        .bind(&address)
        .bind(status.as_str())
        .bind(time::to_db(time::now()))
        .fetch_optional(db.pool())
        .await?;
        if let Some(row) = inserted {
            planned.push(reminder(db, row.try_get("id")?).await?);
        }
    }
    if !planned.is_empty() {
        tracing::info!(count = planned.len(), "renewal reminders planned");
    }
    Ok(planned)
}

/// One reminder.
pub async fn reminder(db: &Db, id: i64) -> Result<Reminder> {
    let row = sqlx::query(&format!(
        "SELECT {REMINDER_COLUMNS} FROM st_reminders r JOIN st_decisions d ON d.id = r.decision_id
         JOIN st_applications a ON a.id = d.application_id JOIN households h ON h.id = d.household_id WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::Missing(format!("aucun rappel n° {id}")))?;
    reminder_from_row(&row)
}

/// The outbox: reminders, those still to do first.
pub async fn outbox(db: &Db) -> Result<Vec<Reminder>> {
    let rows = sqlx::query(&format!(
        "SELECT {REMINDER_COLUMNS} FROM st_reminders r JOIN st_decisions d ON d.id = r.decision_id
         JOIN st_applications a ON a.id = d.application_id JOIN households h ON h.id = d.household_id
         ORDER BY CASE WHEN r.status IN ('to_print', 'to_send', 'failed') THEN 0 ELSE 1 END, r.due_on, r.id"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(reminder_from_row).collect()
}

/// Records what became of a reminder, with an audit entry.
pub async fn set_reminder_status(
    db: &Db,
    actor: &Actor,
    id: i64,
    status: renewal::Status,
    detail: Option<&str>,
) -> Result<Reminder> {
    let mut tx = db.begin().await?;
    let done = matches!(status, renewal::Status::Sent | renewal::Status::Printed);
    let changed =
        sqlx::query("UPDATE st_reminders SET status = $1, detail = $2, done_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(detail)
            .bind(done.then(|| time::to_db(time::now())))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(Error::Missing(format!("aucun rappel n° {id}")));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "reminder.status",
            entity: "reminder",
            entity_id: &id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "status": status.as_str(), "detail": detail })),
        },
    )
    .await?;
    tx.commit().await?;
    reminder(db, id).await
}

/// The household's last application, to pre-fill a renewal.
pub async fn last_application(
    db: &Db,
    scope: Scope,
    household: &HouseholdCode,
) -> Result<Option<Application>> {
    Ok(list_applications(db, scope, None, Some(household))
        .await?
        .into_iter()
        .find(|a| a.status != Status::Draft && a.status != Status::Withdrawn))
}

/// The last day of the household's entitlement still running on `day`.
pub async fn running_until(
    db: &Db,
    household: &str,
    day: chrono::NaiveDate,
) -> Result<Option<chrono::NaiveDate>> {
    let row = sqlx::query(
        "SELECT MAX(d.valid_to) AS until FROM st_decisions d JOIN households h ON h.id = d.household_id
         WHERE h.code = $1 AND d.outcome = 'granted' AND d.superseded = 0 AND d.valid_from <= $2 AND d.valid_to >= $2",
    )
    .bind(household)
    .bind(day.to_string())
    .fetch_one(db.pool())
    .await?;
    day_from(row.try_get("until")?)
}

/// Claims an e-mail reminder for sending: only one instance gets it.
pub async fn claim_reminder(db: &Db, id: i64) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE st_reminders SET status = 'sending' WHERE id = $1 AND status = 'to_send'",
    )
    .bind(id)
    .execute(db.pool())
    .await?
    .rows_affected()
        == 1)
}

// ---------------------------------------------------------------------------
// Equipment grants.

use crate::grants::{
    Attestation, Budget, Condition, Device, DeviceKind, DeviceStatus, Grant, GrantStatus, NewDevice,
};

const DEVICE_COLUMNS: &str =
    "id, partner, kind, model, serial, condition, value_cents, received_on, status";

/// Opens a transaction on the grants tables, writing first (see the
/// migration): the writers queue instead of failing.
async fn grants_tx(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE st_grants_lock SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<Device> {
    Ok(Device {
        id: r.try_get("id")?,
        partner: r.try_get("partner")?,
        kind: DeviceKind::parse(&r.try_get::<String, _>("kind")?)?,
        model: r.try_get("model")?,
        serial: r.try_get("serial")?,
        condition: Condition::parse(&r.try_get::<String, _>("condition")?)?,
        value_cents: r.try_get("value_cents")?,
        received_on: day_from(Some(r.try_get("received_on")?))?.unwrap_or_default(),
        status: DeviceStatus::parse(&r.try_get::<String, _>("status")?)?,
    })
}

/// Adds a device received from a partner, then serves the waiting list.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn add_device(
    db: &Db,
    actor: &Actor,
    new: &NewDevice,
    today: chrono::NaiveDate,
) -> Result<Device> {
    new.check(today)?;
    let mut tx = grants_tx(db).await?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO st_devices (partner, kind, model, serial, condition, value_cents, received_on, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_stock', $8) RETURNING {DEVICE_COLUMNS}"
    ))
    .bind(new.partner.trim())
    .bind(new.kind.as_str())
    .bind(new.model.trim())
    .bind(new.serial.trim())
    .bind(new.condition.as_str())
    .bind(new.value_cents)
    .bind(new.received_on.to_string())
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *tx)
    .await;
    let device = match inserted {
        Ok(r) => device_from_row(&r)?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "un équipement de numéro de série « {} » est déjà enregistré",
                new.serial.trim()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "device.receive",
            entity: "device",
            entity_id: &device.serial,
            before: None,
            after: Some(serde_json::json!({ "partner": device.partner, "kind": device.kind.as_str(), "value_cents": device.value_cents })),
        },
    )
    .await?;
    tx.commit().await?;
    serve_waiting_list(db, actor, chrono::Datelike::year(&today)).await?;
    Ok(device)
}

/// The devices, the newest first.
pub async fn devices(db: &Db) -> Result<Vec<Device>> {
    let rows = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM st_devices ORDER BY received_on DESC, id DESC"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(device_from_row).collect()
}

async fn device(db: &Db, id: i64) -> Result<Device> {
    let row = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM st_devices WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    device_from_row(&row)
}

/// Sets a year's envelope (a new délibération may raise or lower it; never
/// below what is already committed), then serves the waiting list.
#[tracing::instrument(skip_all, fields(actor = %actor.username, year))]
pub async fn set_budget(
    db: &Db,
    actor: &Actor,
    year: i32,
    deliberation: &str,
    amount_cents: i64,
) -> Result<Budget> {
    let deliberation = deliberation.trim();
    if deliberation.is_empty() || deliberation.chars().count() > 60 {
        return Err(Error::Invalid(
            "indiquez le numéro de la délibération qui vote l'enveloppe".into(),
        ));
    }
    if !(2000..=2100).contains(&year) {
        return Err(Error::Invalid(format!("année {year} invalide")));
    }
    if !(0..=10_000_000_000).contains(&amount_cents) {
        return Err(Error::Invalid(
            "le montant de l'enveloppe va de 0 à 100 millions d'euros".into(),
        ));
    }
    let mut tx = grants_tx(db).await?;
    let now = time::to_db(time::now());
    let changed = sqlx::query(
        "UPDATE st_budgets SET deliberation = $1, amount_cents = $2, updated_at = $3 WHERE year = $4 AND committed_cents <= $2",
    )
    .bind(deliberation)
    .bind(amount_cents)
    .bind(&now)
    .bind(year)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        let exists = sqlx::query("SELECT committed_cents FROM st_budgets WHERE year = $1")
            .bind(year)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = exists {
            let committed: i64 = r.try_get("committed_cents")?;
            return Err(Error::Invalid(format!(
                "l'enveloppe {year} ne peut descendre sous les {} déjà engagés",
                crate::rules::euros(u32::try_from(committed).unwrap_or(u32::MAX))
            )));
        }
        sqlx::query("INSERT INTO st_budgets (year, deliberation, amount_cents, committed_cents, updated_at) VALUES ($1, $2, $3, 0, $4)")
            .bind(year)
            .bind(deliberation)
            .bind(amount_cents)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "budget.set",
            entity: "budget",
            entity_id: &year.to_string(),
            before: None,
            after: Some(
                serde_json::json!({ "deliberation": deliberation, "amount_cents": amount_cents }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    serve_waiting_list(db, actor, year).await?;
    budget(db, year)
        .await?
        .ok_or_else(|| Error::Missing(format!("aucune enveloppe {year}")))
}

/// A year's envelope, if voted.
pub async fn budget(db: &Db, year: i32) -> Result<Option<Budget>> {
    let row = sqlx::query(
        "SELECT year, deliberation, amount_cents, committed_cents FROM st_budgets WHERE year = $1",
    )
    .bind(year)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        let year: i64 = r.try_get("year")?;
        Ok(Budget {
            year: i32::try_from(year).unwrap_or_default(),
            deliberation: r.try_get("deliberation")?,
            amount_cents: r.try_get("amount_cents")?,
            committed_cents: r.try_get("committed_cents")?,
        })
    })
    .transpose()
}

const GRANT_COLUMNS: &str = "g.id, h.code AS household, g.kind, g.year, g.requested_at, g.status, g.device_id, g.value_cents,
    g.allocated_at, g.handed_over_on, g.attestation, g.handed_by";

/// A grant from its row; its device, if any, is taken from `devices`,
/// read beforehand in one query for all the rows.
fn grant_from_row(r: &sqlx::any::AnyRow, devices: &HashMap<i64, Device>) -> Result<Grant> {
    let device_id: Option<i64> = r.try_get("device_id")?;
    let year: i64 = r.try_get("year")?;
    Ok(Grant {
        id: r.try_get("id")?,
        household: r.try_get("household")?,
        kind: DeviceKind::parse(&r.try_get::<String, _>("kind")?)?,
        year: i32::try_from(year).unwrap_or_default(),
        requested_at: r.try_get("requested_at")?,
        status: GrantStatus::parse(&r.try_get::<String, _>("status")?)?,
        device: match device_id {
            Some(id) => Some(
                devices
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::Missing(format!("aucun appareil n° {id}")))?,
            ),
            None => None,
        },
        value_cents: r.try_get("value_cents")?,
        allocated_at: r.try_get("allocated_at")?,
        handed_over_on: day_from(r.try_get("handed_over_on")?)?,
        attestation: r
            .try_get::<Option<String>, _>("attestation")?
            .map(|a| Attestation::parse(&a))
            .transpose()?,
        handed_by: r.try_get("handed_by")?,
        position: None,
    })
}

/// A household entitled to the social tariff asks for a device; the
/// request joins the waiting list, which is then served.
#[tracing::instrument(skip_all, fields(actor = %actor.username, household = %household))]
pub async fn request_grant(
    db: &Db,
    actor: &Actor,
    scope: Scope,
    household: &HouseholdCode,
    kind: DeviceKind,
    today: chrono::NaiveDate,
    period_years: u32,
) -> Result<Grant> {
    if entitlement(db, household, today).await?.is_none() {
        return Err(Error::Invalid(
            "l'aide à l'équipement est réservée aux foyers qui bénéficient du tarif social : faites d'abord la demande de tarif social".into(),
        ));
    }
    let year = chrono::Datelike::year(&today);
    let mut tx = grants_tx(db).await?;
    let hid = household_id(&mut tx, scope, household).await?;
    // One grant per household and period: the unique key holds it for a
    // year; a longer period is checked here, under the grants lock.
    let period = i64::from(period_years.max(1));
    let last: Option<i64> = sqlx::query(
        "SELECT MAX(year) AS y FROM st_grants WHERE household_id = $1 AND status <> 'cancelled' AND year > $2",
    )
    .bind(hid)
    .bind(i64::from(year) - period)
    .fetch_one(&mut *tx)
    .await?
    .try_get("y")?;
    if let Some(last) = last {
        return Err(Error::Invalid(if period == 1 {
            format!("le foyer {household} a déjà une aide à l'équipement pour {year} : une seule par foyer et par an")
        } else {
            format!(
                "le foyer {household} a déjà eu une aide à l'équipement en {last} : une seule par foyer tous les {period} ans, la prochaine à partir de {}",
                last + period
            )
        }));
    }
    let inserted = sqlx::query(
        "INSERT INTO st_grants (household_id, kind, year, requested_at, requested_by, status) VALUES ($1, $2, $3, $4, $5, 'waiting') RETURNING id",
    )
    .bind(hid)
    .bind(kind.as_str())
    .bind(i64::from(year))
    .bind(time::to_db(time::now()))
    .bind(&actor.username)
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.try_get("id")?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "le foyer {household} a déjà une aide à l'équipement pour {year} : une seule par foyer et par an"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "grant.request",
            entity: "grant",
            entity_id: &id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "household": household.as_str(), "kind": kind.as_str(), "year": year })),
        },
    )
    .await?;
    tx.commit().await?;
    serve_waiting_list(db, actor, year).await?;
    grant(db, scope, id).await
}

/// One grant, with its place on the waiting list.
pub async fn grant(db: &Db, scope: Scope, id: i64) -> Result<Grant> {
    let row = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} FROM st_grants g JOIN households h ON h.id = g.household_id
         WHERE g.id = $1 AND ($2 IS NULL OR h.user_id = $2)"
    ))
    .bind(id)
    .bind(owner(scope))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::Missing(format!("aucune aide à l'équipement n° {id}")))?;
    let mut devices = HashMap::new();
    if let Some(id) = row.try_get::<Option<i64>, _>("device_id")? {
        devices.insert(id, device(db, id).await?);
    }
    let mut g = grant_from_row(&row, &devices)?;
    if g.status == GrantStatus::Waiting {
        let ahead: i64 = sqlx::query("SELECT COUNT(*) AS n FROM st_grants WHERE year = $1 AND status = 'waiting' AND id < $2")
            .bind(i64::from(g.year))
            .bind(g.id)
            .fetch_one(db.pool())
            .await?
            .try_get("n")?;
        g.position = Some(usize::try_from(ahead).unwrap_or(0) + 1);
    }
    Ok(g)
}

/// Grants in the caller's scope, in the order of the requests.
pub async fn grants(db: &Db, scope: Scope) -> Result<Vec<Grant>> {
    let rows = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} FROM st_grants g JOIN households h ON h.id = g.household_id
         WHERE ($1 IS NULL OR h.user_id = $1) ORDER BY g.id"
    ))
    .bind(owner(scope))
    .fetch_all(db.pool())
    .await?;
    // The devices of these grants, in one query rather than one per grant.
    let devices: HashMap<i64, Device> = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM st_devices WHERE id IN (
             SELECT g.device_id FROM st_grants g JOIN households h ON h.id = g.household_id
             WHERE ($1 IS NULL OR h.user_id = $1))"
    ))
    .bind(owner(scope))
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| device_from_row(r).map(|d| (d.id, d)))
    .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    let mut waiting: HashMap<i32, usize> = HashMap::new();
    for r in &rows {
        let mut g = grant_from_row(r, &devices)?;
        if g.status == GrantStatus::Waiting && scope == Scope::All {
            let n = waiting.entry(g.year).or_default();
            *n += 1;
            g.position = Some(*n);
        }
        out.push(g);
    }
    if scope != Scope::All {
        for g in &mut out {
            if g.status == GrantStatus::Waiting {
                g.position = grant(db, Scope::All, g.id).await?.position;
            }
        }
    }
    Ok(out)
}

/// Serves the waiting list of `year` in the order of the requests: each
/// takes the oldest device of its kind in stock that the envelope can
/// still pay for. Every allocation is one transaction whose statements
/// check as they write (device still in stock, money still there).
#[tracing::instrument(skip_all, fields(year))]
pub async fn serve_waiting_list(db: &Db, actor: &Actor, year: i32) -> Result<Vec<i64>> {
    let mut served = Vec::new();
    let waiting = sqlx::query(
        "SELECT id, kind FROM st_grants WHERE year = $1 AND status = 'waiting' ORDER BY id",
    )
    .bind(i64::from(year))
    .fetch_all(db.pool())
    .await?;
    for w in waiting {
        let id: i64 = w.try_get("id")?;
        let kind: String = w.try_get("kind")?;
        let candidates = sqlx::query(
            "SELECT id, value_cents FROM st_devices WHERE status = 'in_stock' AND kind = $1 ORDER BY received_on, id",
        )
        .bind(&kind)
        .fetch_all(db.pool())
        .await?;
        for c in candidates {
            let device_id: i64 = c.try_get("id")?;
            let value: i64 = c.try_get("value_cents")?;
            let mut tx = grants_tx(db).await?;
            let paid = sqlx::query(
                "UPDATE st_budgets SET committed_cents = committed_cents + $1 WHERE year = $2 AND committed_cents + $1 <= amount_cents",
            )
            .bind(value)
            .bind(i64::from(year))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if paid == 0 {
                continue; // Too dear for what is left; a cheaper one may fit.
            }
            let taken = sqlx::query(
                "UPDATE st_devices SET status = 'reserved' WHERE id = $1 AND status = 'in_stock'",
            )
            .bind(device_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let given = sqlx::query(
                "UPDATE st_grants SET status = 'allocated', device_id = $1, value_cents = $2, allocated_at = $3 WHERE id = $4 AND status = 'waiting'",
            )
            .bind(device_id)
            .bind(value)
            .bind(time::to_db(time::now()))
            .bind(id)
            .execute(&mut *tx)
            .await;
            match given {
                Ok(r) if r.rows_affected() == 1 && taken == 1 => {}
                // Another agent took the device or served the request:
                // nothing of this attempt is kept.
                Ok(_) => continue,
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
            audit::record(
                &mut tx,
                actor,
                Change {
                    action: "grant.allocate",
                    entity: "grant",
                    entity_id: &id.to_string(),
                    before: None,
                    after: Some(serde_json::json!({ "device": device_id, "value_cents": value })),
                },
            )
            .await?;
            tx.commit().await?;
            served.push(id);
            break;
        }
    }
    if !served.is_empty() {
        tracing::info!(count = served.len(), "waiting list served");
    }
    Ok(served)
}

/// Records the handover of an allocated device.
#[tracing::instrument(skip_all, fields(actor = %actor.username, grant = id))]
pub async fn hand_over(
    db: &Db,
    actor: &Actor,
    id: i64,
    attestation: Attestation,
    on: chrono::NaiveDate,
) -> Result<Grant> {
    let mut tx = grants_tx(db).await?;
    let row = sqlx::query("SELECT status, device_id FROM st_grants WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::Missing(format!("aucune aide à l'équipement n° {id}")))?;
    let status = GrantStatus::parse(&row.try_get::<String, _>("status")?)?;
    let Some(device_id) = row
        .try_get::<Option<i64>, _>("device_id")?
        .filter(|_| status == GrantStatus::Allocated)
    else {
        return Err(Error::Invalid(format!(
            "l'aide n° {id} est {} : il n'y a pas d'équipement à remettre",
            status.label()
        )));
    };
    sqlx::query("UPDATE st_grants SET status = 'handed_over', handed_over_on = $1, attestation = $2, handed_by = $3 WHERE id = $4 AND status = 'allocated'")
        .bind(on.to_string())
        .bind(attestation.as_str())
        .bind(&actor.username)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE st_devices SET status = 'handed_over' WHERE id = $1")
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "grant.handover",
            entity: "grant",
            entity_id: &id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "on": on, "attestation": attestation.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    grant(db, Scope::All, id).await
}

/// Cancels a request not yet handed over: its device goes back to stock,
/// its money back to the envelope, and the waiting list is served.
#[tracing::instrument(skip_all, fields(actor = %actor.username, grant = id))]
pub async fn cancel_grant(db: &Db, actor: &Actor, scope: Scope, id: i64) -> Result<Grant> {
    let g = grant(db, scope, id).await?;
    if !matches!(g.status, GrantStatus::Waiting | GrantStatus::Allocated) {
        return Err(Error::Invalid(format!(
            "l'aide n° {id} est {} : elle ne peut plus être annulée",
            g.status.label()
        )));
    }
    let mut tx = grants_tx(db).await?;
    let changed = sqlx::query(
        "UPDATE st_grants SET status = 'cancelled', device_id = NULL WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(g.status.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::Invalid(format!(
            "l'aide n° {id} vient de changer ; rechargez la page"
        )));
    }
    if let (Some(d), Some(v)) = (&g.device, g.value_cents) {
        sqlx::query("UPDATE st_devices SET status = 'in_stock' WHERE id = $1")
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE st_budgets SET committed_cents = committed_cents - $1 WHERE year = $2")
            .bind(v)
            .bind(i64::from(g.year))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "grant.cancel",
            entity: "grant",
            entity_id: &id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    serve_waiting_list(db, actor, g.year).await?;
    grant(db, Scope::All, id).await
}

// ---------------------------------------------------------------------------
// Scans, retention, the household's data, public indicators.

use crate::privacy::{Deletion, MonthCounts, Policy, RetentionRun, Scan, ScanUpload};

const SCAN_COLUMNS: &str = "s.id, a.code AS application, s.seal_id, s.description, s.filename, s.content_type, s.size_bytes, s.uploaded_by, s.uploaded_at";

fn scan_from_row(r: &sqlx::any::AnyRow) -> Result<Scan> {
    Ok(Scan {
        id: r.try_get("id")?,
        application: r.try_get("application")?,
        seal_id: r.try_get("seal_id")?,
        description: r.try_get("description")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        uploaded_by: r.try_get("uploaded_by")?,
        uploaded_at: r.try_get("uploaded_at")?,
    })
}

/// Stores a scan already sealed under `seal_id` (see
/// [`crate::privacy::scan_context`]), for an application not yet past its
/// appeal period.
#[tracing::instrument(skip_all, fields(actor = %actor.username, application = %application))]
pub async fn add_scan(
    db: &Db,
    actor: &Actor,
    application: &ApplicationCode,
    upload: &ScanUpload,
    seal_id: &str,
    sealed_base64: &str,
) -> Result<Scan> {
    let mut tx = db.begin().await?;
    let app_id: i64 = sqlx::query("SELECT id FROM st_applications WHERE code = $1")
        .bind(application.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::Missing(format!("aucune demande {application}")))?
        .try_get("id")?;
    let id: i64 = sqlx::query(
        "INSERT INTO st_scans (application_id, seal_id, description, filename, content_type, size_bytes, sealed, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(app_id)
    .bind(seal_id)
    .bind(&upload.description)
    .bind(&upload.filename)
    .bind(upload.content_type)
    .bind(i64::try_from(upload.size_bytes).unwrap_or(i64::MAX))
    .bind(sealed_base64)
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "scan.upload",
            entity: "application",
            entity_id: application.as_str(),
            before: None,
            after: Some(serde_json::json!({ "scan": id, "content_type": upload.content_type, "size_bytes": upload.size_bytes })),
        },
    )
    .await?;
    tx.commit().await?;
    scans_of(db, Scope::All, application)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::Missing(format!("aucune copie n° {id}")))
}

/// The scans of an application (not their content).
pub async fn scans_of(db: &Db, scope: Scope, application: &ApplicationCode) -> Result<Vec<Scan>> {
    let rows = sqlx::query(&format!(
        "SELECT {SCAN_COLUMNS} FROM st_scans s JOIN st_applications a ON a.id = s.application_id
         JOIN households h ON h.id = a.household_id WHERE a.code = $1 AND ($2 IS NULL OR h.user_id = $2) ORDER BY s.id"
    ))
    .bind(application.as_str())
    .bind(owner(scope))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(scan_from_row).collect()
}

/// A scan with its sealed content (base64).
pub async fn scan_sealed(db: &Db, scope: Scope, id: i64) -> Result<(Scan, String)> {
    let row = sqlx::query(&format!(
        "SELECT {SCAN_COLUMNS}, s.sealed FROM st_scans s JOIN st_applications a ON a.id = s.application_id
         JOIN households h ON h.id = a.household_id WHERE s.id = $1 AND ($2 IS NULL OR h.user_id = $2)"
    ))
    .bind(id)
    .bind(owner(scope))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::Missing(format!("aucune copie n° {id} (elle a pu être supprimée à la fin du délai de recours)")))?;
    Ok((scan_from_row(&row)?, row.try_get("sealed")?))
}

async fn log_deletion(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    reference: &str,
    rule: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO st_deletions (deleted_at, kind, reference, rule) VALUES ($1, $2, $3, $4)",
    )
    .bind(time::to_db(time::now()))
    .bind(kind)
    .bind(reference)
    .bind(rule)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies the retention rules on `today`: scans once the appeal period of
/// every decision of their application is over (and no appeal pending);
/// applications `policy.application_years` after the end of the last
/// entitlement or appeal period; drafts untouched for `policy.draft_days`.
/// Each deletion is one transaction with its log line; running it twice
/// deletes nothing more.
#[tracing::instrument(skip_all, fields(today = %today))]
pub async fn retention(db: &Db, today: chrono::NaiveDate, policy: Policy) -> Result<RetentionRun> {
    let mut run = RetentionRun::default();
    let today_s = today.to_string();
    let scans = sqlx::query(
        "SELECT s.id, a.code FROM st_scans s JOIN st_applications a ON a.id = s.application_id
         WHERE EXISTS (SELECT 1 FROM st_decisions d WHERE d.application_id = a.id)
           AND NOT EXISTS (SELECT 1 FROM st_decisions d WHERE d.application_id = a.id AND d.appeal_until >= $1)
           AND NOT EXISTS (SELECT 1 FROM st_appeals p JOIN st_decisions d ON d.id = p.decision_id
                           WHERE d.application_id = a.id AND p.status = 'pending')",
    )
    .bind(&today_s)
    .fetch_all(db.pool())
    .await?;
    for r in scans {
        let id: i64 = r.try_get("id")?;
        let code: String = r.try_get("code")?;
        let mut tx = db.begin().await?;
        let gone = sqlx::query("DELETE FROM st_scans WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 1 {
            log_deletion(
                &mut tx,
                "copie",
                &format!("{code} copie n° {id}"),
                "fin du délai de recours",
            )
            .await?;
            run.scans += 1;
        }
        tx.commit().await?;
    }

    let cutoff = policy.application_cutoff(today).to_string();
    let old = sqlx::query(
        "SELECT a.id, a.code FROM st_applications a
         WHERE EXISTS (SELECT 1 FROM st_decisions d WHERE d.application_id = a.id)
           AND NOT EXISTS (SELECT 1 FROM st_decisions d WHERE d.application_id = a.id
                           AND (d.appeal_until >= $1 OR COALESCE(d.valid_to, d.decided_on) >= $1))
           AND NOT EXISTS (SELECT 1 FROM st_appeals p JOIN st_decisions d ON d.id = p.decision_id
                           WHERE d.application_id = a.id AND p.status = 'pending')",
    )
    .bind(&cutoff)
    .fetch_all(db.pool())
    .await?;
    let rule = format!(
        "{} ans après la fin du droit ou du délai de recours",
        policy.application_years
    );
    for r in old {
        if delete_application(
            db,
            r.try_get("id")?,
            &r.try_get::<String, _>("code")?,
            &rule,
        )
        .await?
        {
            run.applications += 1;
        }
    }

    let draft_cutoff = policy.draft_cutoff(today).to_string();
    let drafts = sqlx::query(
        "SELECT id, code FROM st_applications WHERE status = 'draft' AND updated_at < $1",
    )
    .bind(&draft_cutoff)
    .fetch_all(db.pool())
    .await?;
    let rule = format!("brouillon abandonné depuis {} jours", policy.draft_days);
    for r in drafts {
        if delete_application(
            db,
            r.try_get("id")?,
            &r.try_get::<String, _>("code")?,
            &rule,
        )
        .await?
        {
            run.drafts += 1;
        }
    }
    if run != RetentionRun::default() {
        tracing::info!(
            scans = run.scans,
            applications = run.applications,
            drafts = run.drafts,
            "retention applied"
        );
    }
    Ok(run)
}

/// Deletes an application and everything that hangs from it, in one
/// transaction with its log line.
async fn delete_application(db: &Db, id: i64, code: &str, rule: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let of_app = "SELECT id FROM st_decisions WHERE application_id = $1";
    sqlx::query(&format!(
        "DELETE FROM st_reminders WHERE decision_id IN ({of_app})"
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "DELETE FROM st_appeals WHERE decision_id IN ({of_app}) OR new_decision_id IN ({of_app})"
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE st_decisions SET supersedes = NULL WHERE application_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM st_decisions WHERE application_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM st_scans WHERE application_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM st_applications WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 1 {
        log_deletion(&mut tx, "demande", code, rule).await?;
    }
    tx.commit().await?;
    Ok(gone == 1)
}

/// The deletion log, the newest first.
pub async fn deletions(db: &Db, limit: i64) -> Result<Vec<Deletion>> {
    let rows = sqlx::query(
        "SELECT deleted_at, kind, reference, rule FROM st_deletions ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Deletion {
                deleted_at: r.try_get("deleted_at")?,
                kind: r.try_get("kind")?,
                reference: r.try_get("reference")?,
                rule: r.try_get("rule")?,
            })
        })
        .collect()
}

/// Everything the régie holds about the households of `scope` (a
/// household's own account) or about one household (an agent answering a
/// request made at the counter).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HouseholdExport {
    pub generated_at: String,
    pub households: Vec<Household>,
    pub applications: Vec<Application>,
    pub decisions: Vec<crate::decision::Decision>,
    pub appeals: Vec<crate::decision::Appeal>,
    pub reminders: Vec<Reminder>,
    pub grants: Vec<Grant>,
    pub scans: Vec<Scan>,
}

/// The household's data (see [`HouseholdExport`]); `only` narrows an
/// agent's export to one household.
pub async fn household_export(
    db: &Db,
    scope: Scope,
    only: Option<&HouseholdCode>,
) -> Result<HouseholdExport> {
    let households: Vec<Household> = list_households(db, scope)
        .await?
        .into_iter()
        .filter(|h| only.is_none_or(|c| &h.code == c))
        .collect();
    let mut out = HouseholdExport {
        generated_at: time::to_db(time::now()),
        households: households.clone(),
        applications: Vec::new(),
        decisions: Vec::new(),
        appeals: Vec::new(),
        reminders: Vec::new(),
        grants: Vec::new(),
        scans: Vec::new(),
    };
    let codes: Vec<String> = households.iter().map(|h| h.code.to_string()).collect();
    for h in &households {
        let apps = list_applications(db, scope, None, Some(&h.code)).await?;
        for a in &apps {
            for d in decisions_of(db, scope, &a.code).await? {
                out.appeals
                    .extend(appeals(db, scope, Some(&d.number)).await?);
                out.decisions.push(d);
            }
            out.scans.extend(scans_of(db, scope, &a.code).await?);
        }
        out.applications.extend(apps);
    }
    let numbers: Vec<String> = out.decisions.iter().map(|d| d.number.to_string()).collect();
    out.reminders = outbox(db)
        .await?
        .into_iter()
        .filter(|r| numbers.contains(&r.decision.to_string()))
        .collect();
    out.grants = grants(db, scope)
        .await?
        .into_iter()
        .filter(|g| codes.contains(&g.household))
        .collect();
    Ok(out)
}

/// Raw monthly counts for the given `YYYY-MM` months: applications
/// submitted, decisions granting and refusing (appeal outcomes included),
/// devices handed over.
pub async fn indicators(db: &Db, months: &[String]) -> Result<Vec<(String, MonthCounts)>> {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok(Vec::new());
    };
    let from = format!("{first}-01");
    let to = format!("{last}-99");
    let mut counts: std::collections::BTreeMap<String, MonthCounts> = months
        .iter()
        .map(|m| (m.clone(), MonthCounts::default()))
        .collect();
    let month_of = |s: &str| s.get(..7).unwrap_or_default().to_owned();
    for r in sqlx::query(
        "SELECT submitted_at FROM st_applications WHERE submitted_at >= $1 AND submitted_at <= $2",
    )
    .bind(&from)
    .bind(&to)
    .fetch_all(db.pool())
    .await?
    {
        if let Some(c) = counts.get_mut(&month_of(&r.try_get::<String, _>("submitted_at")?)) {
            c.applications += 1;
        }
    }
    for r in sqlx::query(
        "SELECT decided_on, outcome FROM st_decisions WHERE decided_on >= $1 AND decided_on <= $2",
    )
    .bind(&from)
    .bind(&to)
    .fetch_all(db.pool())
    .await?
    {
        if let Some(c) = counts.get_mut(&month_of(&r.try_get::<String, _>("decided_on")?)) {
            if r.try_get::<String, _>("outcome")? == "granted" {
                c.granted += 1;
            } else {
                c.refused += 1;
            }
        }
    }
    for r in sqlx::query("SELECT handed_over_on FROM st_grants WHERE status = 'handed_over' AND handed_over_on >= $1 AND handed_over_on <= $2")
        .bind(&from)
        .bind(&to)
        .fetch_all(db.pool())
        .await?
    {
        if let Some(c) = counts.get_mut(&month_of(&r.try_get::<String, _>("handed_over_on")?)) {
            c.grants += 1;
        }
    }
    Ok(counts.into_iter().collect())
}

/// A device handed over under an equipment grant, as billing needs it:
/// the household, what the device is, its value and the day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handover {
    pub household: String,
    pub description: String,
    pub value_cents: i64,
    pub handed_over_on: chrono::NaiveDate,
}

/// The devices handed over between two days (both included), by day.
pub async fn handovers_between(
    db: &Db,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<Handover>> {
    let rows = sqlx::query(
        "SELECT h.code AS household, d.kind, d.model, COALESCE(g.value_cents, d.value_cents) AS value_cents,
                g.handed_over_on
         FROM st_grants g JOIN households h ON h.id = g.household_id JOIN st_devices d ON d.id = g.device_id
         WHERE g.status = 'handed_over' AND g.handed_over_on >= $1 AND g.handed_over_on <= $2
         ORDER BY g.handed_over_on, g.id",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let kind = crate::grants::DeviceKind::parse(&r.try_get::<String, _>("kind")?)?;
            let on: String = r.try_get("handed_over_on")?;
            Ok(Handover {
                household: r.try_get("household")?,
                description: format!("{} {}", kind.label(), r.try_get::<String, _>("model")?),
                value_cents: r.try_get("value_cents")?,
                handed_over_on: on
                    .parse()
                    .map_err(|_| Error::Invalid(format!("date de remise illisible : {on}")))?,
            })
        })
        .collect()
}
