//! The append-only audit journal.
//!
//! Every change made through Régie writes one entry (who, when, what, which
//! record, a summary of before and after) in the same transaction as the
//! change itself, so a change never lands without its entry. No code path
//! updates or deletes entries, and database triggers refuse it on both
//! backends.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::migrate::{Component, Migration};
use crate::{time, Db, Result};

/// Who makes a change: a user, or the system itself (CLI, scheduler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub request_id: Option<String>,
}

impl Actor {
    /// The operator at the command line, or a background task.
    pub fn system(what: &str) -> Self {
        Self {
            user_id: None,
            username: format!("system:{what}"),
            request_id: None,
        }
    }
}

/// A change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Verb, e.g. `user.create`.
    pub action: &'a str,
    /// Kind of record, e.g. `user`.
    pub entity: &'a str,
    /// Stable human identifier of the record.
    pub entity_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One recorded entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// UTC, RFC 3339.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

/// Filters for reading the journal; all optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Username of the actor.
    pub actor: Option<String>,
    /// Kind of record, e.g. `user`.
    pub entity: Option<String>,
    /// Identifier of the record.
    pub entity_id: Option<String>,
    /// Action, e.g. `user.create`.
    pub action: Option<String>,
    /// Entries at or after this UTC time (RFC 3339).
    pub since: Option<String>,
    /// Entries strictly before this UTC time (RFC 3339).
    pub until: Option<String>,
    /// Entries with an id lower than this (for paging backwards).
    pub before_id: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The migrations of the shared kernel.
pub const COMPONENT: Component = Component {
    name: "core",
    migrations: &[Migration::per_backend(
        1,
        "audit_log",
        "CREATE TABLE audit_log (
            id {{id}},
            at TEXT NOT NULL,
            actor_user_id BIGINT,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            before_json TEXT,
            after_json TEXT,
            request_id TEXT
        );
        CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
        "CREATE TABLE audit_log (
            id {{id}},
            at TEXT NOT NULL,
            actor_user_id BIGINT,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            before_json TEXT,
            after_json TEXT,
            request_id TEXT
        );
        CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$;
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();",
    )],
};

/// Records a change inside the caller's transaction.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    change: Change<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, actor, action, entity, entity_id, before_json, after_json, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(time::to_db(time::now()))
    .bind(actor.user_id)
    .bind(&actor.username)
    .bind(change.action)
    .bind(change.entity)
    .bind(change.entity_id)
    .bind(change.before.map(|v| v.to_string()))
    .bind(change.after.map(|v| v.to_string()))
    .bind(actor.request_id.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads the journal, newest first.
pub async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
    // The filter is applied with "parameter IS NULL OR column = parameter" so
    // that one fixed statement serves every combination, on both backends.
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let rows = sqlx::query(
        "SELECT id, at, actor, action, entity, entity_id, before_json, after_json, request_id
         FROM audit_log
         WHERE ($1 IS NULL OR actor = $1)
           AND ($2 IS NULL OR entity = $2)
           AND ($3 IS NULL OR entity_id = $3)
           AND ($4 IS NULL OR action = $4)
           AND ($5 IS NULL OR at >= $5)
           AND ($6 IS NULL OR at < $6)
           AND ($7 IS NULL OR id < $7)
         ORDER BY id DESC
         LIMIT $8",
    )
    .bind(filter.actor.as_deref())
    .bind(filter.entity.as_deref())
    .bind(filter.entity_id.as_deref())
    .bind(filter.action.as_deref())
    .bind(filter.since.as_deref())
    .bind(filter.until.as_deref())
    .bind(filter.before_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    let json = |col: &str| -> Result<Option<Value>> {
        let text: Option<String> = r.try_get(col)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        entity: r.try_get("entity")?,
        entity_id: r.try_get("entity_id")?,
        before: json("before_json")?,
        after: json("after_json")?,
        request_id: r.try_get("request_id")?,
    })
}
