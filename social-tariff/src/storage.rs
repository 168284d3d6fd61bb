//! SQL of the social-tariff crate: the only module that touches its tables.

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
