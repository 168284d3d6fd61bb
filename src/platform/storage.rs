//! SQL of the platform: users, roles, tokens and login failures, and the
//! platform's migrations. With `auth::accounts` and `auth::reset` (a
//! password and its resets), the only modules of the binary that touch
//! these tables.

use chrono::{DateTime, Utc};
use regie_core::audit::{self, Actor, Change};
use regie_core::migrate::{Component, Migration};
use regie_core::{db::is_unique_violation, time, Db};
use serde::Serialize;
use sqlx::Row;

use crate::platform::auth::{Principal, Role, TokenKind, Username};
use crate::Error;

/// The platform's tables.
pub const COMPONENT: Component = Component {
    name: "platform",
    migrations: &[
        Migration::portable(
            1,
            "users_and_tokens",
            "CREATE TABLE users (
            id {{id}},
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            disabled SMALLINT NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE user_roles (
            user_id BIGINT NOT NULL REFERENCES users (id),
            role TEXT NOT NULL,
            PRIMARY KEY (user_id, role)
        );
        CREATE TABLE auth_tokens (
            id {{id}},
            token_hash TEXT NOT NULL UNIQUE,
            user_id BIGINT NOT NULL REFERENCES users (id),
            kind TEXT NOT NULL,
            csrf_token TEXT,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
        CREATE TABLE login_failures (
            id {{id}},
            username TEXT NOT NULL,
            address TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX login_failures_username ON login_failures (username, at);
        CREATE INDEX login_failures_address ON login_failures (address, at);",
        ),
        Migration::portable(
            2,
            "idempotency_keys",
            // One row per (user, Idempotency-Key): the request's fingerprint and,
            // once answered, the response to replay.
            "CREATE TABLE idempotency_keys (
            user_id BIGINT NOT NULL,
            idem_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status BIGINT,
            content_type TEXT,
            body TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, idem_key)
        );
        CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);",
        ),
        Migration::portable(
            3,
            "scheduled_jobs",
            // The scheduler of several instances on one database: the lease
            // naming the instance that runs the scheduled work, the last
            // start of each periodic job (claimed by one instance per
            // period), and the history of runs.
            "CREATE TABLE sched_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE sched_jobs (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            last_started_at TEXT NOT NULL
        );
        CREATE TABLE sched_runs (
            id {{id}},
            job TEXT NOT NULL,
            instance TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX sched_runs_job ON sched_runs (job, started_at);",
        ),
        Migration::portable(
            4,
            "billing_run_state",
            // A billing run started from the page, as every instance sees
            // it: the page that polls its progress may reach another
            // instance than the one running it. `updated_at` is renewed
            // while it runs; a run whose instance died goes stale and may be
            // started again.
            "CREATE TABLE billing_run_state (
            period TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            done BIGINT NOT NULL,
            total BIGINT NOT NULL,
            report_json TEXT,
            error TEXT,
            instance TEXT NOT NULL,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );",
        ),
        Migration::portable(
            5,
            "password_resets",
            // An account's e-mail address (for links to a new password) and
            // the one-time links themselves, stored hashed.
            "ALTER TABLE users ADD COLUMN email TEXT;
        CREATE TABLE password_resets (
            id {{id}},
            token_hash TEXT NOT NULL UNIQUE,
            user_id BIGINT NOT NULL REFERENCES users (id),
            channel TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX password_resets_user ON password_resets (user_id, created_at);",
        ),
        Migration::portable(
            6,
            "second_factor",
            // The TOTP secret (sealed with the régie's key, base64), the
            // last step taken (a code is used once), and the challenges of
            // logins whose password was right, waiting for their code.
            "ALTER TABLE users ADD COLUMN totp_secret TEXT;
        ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
        CREATE TABLE login_challenges (
            token_hash TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users (id),
            next TEXT,
            expires_at TEXT NOT NULL
        );",
        ),
    ],
};

/// A billing run's state as stored.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub period: String,
    pub status: String,
    pub done: i64,
    pub total: i64,
    pub report_json: Option<String>,
    pub error: Option<String>,
}

/// Marks a run of `period` as started by `instance`, unless one is
/// running and was heard of since `stale_before`. True when this call
/// started it.
pub async fn claim_billing_run(
    db: &Db,
    period: &str,
    instance: &str,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<bool, Error> {
    let now = time::to_db(now);
    let done = sqlx::query(
        "INSERT INTO billing_run_state (period, status, done, total, report_json, error, instance, started_at, updated_at)
         VALUES ($1, 'running', 0, 0, NULL, NULL, $2, $3, $3)
         ON CONFLICT (period) DO UPDATE SET status = 'running', done = 0, total = 0, report_json = NULL,
            error = NULL, instance = $2, started_at = $3, updated_at = $3
         WHERE billing_run_state.status <> 'running' OR billing_run_state.updated_at < $4",
    )
    .bind(period)
    .bind(instance)
    .bind(&now)
    .bind(time::to_db(stale_before))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How far a running run is (also its sign of life).
pub async fn billing_run_progress(
    db: &Db,
    period: &str,
    instance: &str,
    done: i64,
    total: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE billing_run_state SET done = $3, total = $4, updated_at = $5
         WHERE period = $1 AND instance = $2 AND status = 'running'",
    )
    .bind(period)
    .bind(instance)
    .bind(done)
    .bind(total)
    .bind(time::to_db(now))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A run's end: `done` with its report, or `failed` with its reason.
pub async fn finish_billing_run(
    db: &Db,
    instance: &str,
    end: &StoredRun,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE billing_run_state SET status = $3, report_json = $4, error = $5, updated_at = $6,
            done = $7, total = $8
         WHERE period = $1 AND instance = $2",
    )
    .bind(&end.period)
    .bind(instance)
    .bind(&end.status)
    .bind(&end.report_json)
    .bind(&end.error)
    .bind(time::to_db(now))
    .bind(end.done)
    .bind(end.total)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The last run of `period` started from the page, if any.
pub async fn billing_run(db: &Db, period: &str) -> Result<Option<StoredRun>, Error> {
    let row = sqlx::query(
        "SELECT period, status, done, total, report_json, error FROM billing_run_state WHERE period = $1",
    )
    .bind(period)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(StoredRun {
            period: r.try_get("period")?,
            status: r.try_get("status")?,
            done: r.try_get("done")?,
            total: r.try_get("total")?,
            report_json: r.try_get("report_json")?,
            error: r.try_get("error")?,
        })
    })
    .transpose()
}

/// What an `Idempotency-Key` already stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUse {
    /// The key is new: it is now reserved for this request.
    Reserved,
    /// The key was used for another request.
    OtherRequest,
    /// The first request with this key has not answered yet.
    InProgress,
    /// The first request's answer.
    Answered {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
}

/// Reserves an idempotency key for a request, or tells what it was used for.
/// Keys older than a day are forgotten first.
pub async fn reserve_key(
    db: &Db,
    user_id: i64,
    key: &str,
    fingerprint: &str,
) -> Result<KeyUse, Error> {
    let now = time::now();
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(time::to_db(now - chrono::Duration::hours(24)))
        .execute(db.pool())
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, idem_key) DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(fingerprint)
    .bind(time::to_db(now))
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(KeyUse::Reserved);
    }
    let row = sqlx::query(
        "SELECT fingerprint, status, content_type, body FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        // Forgotten between the two statements: treat as in progress, the
        // client retries.
        return Ok(KeyUse::InProgress);
    };
    let stored: String = row.try_get("fingerprint")?;
    if stored != fingerprint {
        return Ok(KeyUse::OtherRequest);
    }
    match row.try_get::<Option<i64>, _>("status")? {
        None => Ok(KeyUse::InProgress),
        Some(status) => Ok(KeyUse::Answered {
            status: u16::try_from(status).unwrap_or(500),
            content_type: row.try_get("content_type")?,
            body: row
                .try_get::<Option<String>, _>("body")?
                .unwrap_or_default(),
        }),
    }
}

/// Stores the answer to replay for a reserved key.
pub async fn answer_key(
    db: &Db,
    user_id: i64,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(i64::from(status))
    .bind(content_type)
    .bind(body)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Frees a reserved key whose request failed on the server's side, so that
/// a retry runs it again.
pub async fn forget_key(db: &Db, user_id: i64, key: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2")
        .bind(user_id)
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A user as shown to admins; never carries the password hash.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    /// UTC, RFC 3339.
    pub created_at: String,
}

/// What login needs to know of a user.
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub disabled: bool,
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

async fn roles_of(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<Vec<Role>, Error> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    let mut roles = rows
        .iter()
        .map(|r| Role::parse(&r.try_get::<String, _>("role")?))
        .collect::<Result<Vec<_>, Error>>()?;
    roles.sort();
    Ok(roles)
}

fn user_from_row(r: &sqlx::any::AnyRow, roles: Vec<Role>) -> Result<User, Error> {
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        roles,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

/// Number of users, to tell an empty database from one in use.
pub async fn user_count(db: &Db) -> Result<i64, Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get("n")?)
}

/// Creates a user with its roles and audit entry in one transaction.
#[tracing::instrument(skip(db, password_hash, actor), fields(actor = %actor.username))]
pub async fn create_user(
    db: &Db,
    actor: &Actor,
    username: &Username,
    display_name: &crate::platform::auth::DisplayName,
    password_hash: &str,
    roles: &[Role],
) -> Result<User, Error> {
    if roles.is_empty() {
        return Err(Error::Invalid(
            "un compte doit avoir au moins un rôle".into(),
        ));
    }
    let display_name = display_name.as_str().to_owned();
    let mut tx = db.begin().await?;
    let created_at = time::to_db(time::now());
    let row = sqlx::query(
        "INSERT INTO users (username, display_name, password_hash, disabled, created_at)
         VALUES ($1, $2, $3, 0, $4) RETURNING id",
    )
    .bind(username.as_str())
    .bind(&display_name)
    .bind(password_hash)
    .bind(&created_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Conflict(format!("un compte « {username} » existe déjà"))
        } else {
            e.into()
        }
    })?;
    let id: i64 = row.try_get("id")?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in &roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let user = User {
        id,
        username: username.to_string(),
        display_name,
        roles,
        disabled: false,
        created_at,
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.create",
            entity: "user",
            entity_id: &user.username,
            before: None,
            after: serde_json::to_value(&user).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Changes the roles and/or the disabled flag of a user. Disabling a user
/// revokes its tokens in the same transaction.
#[tracing::instrument(skip(db, actor), fields(actor = %actor.username))]
pub async fn update_user(
    db: &Db,
    actor: &Actor,
    username: &str,
    display_name: Option<&crate::platform::auth::DisplayName>,
    roles: Option<&[Role]>,
    disabled: Option<bool>,
) -> Result<User, Error> {
    let mut tx = db.begin().await?;
    let before = get_user_in(&mut tx, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {username} »")))?;
    if let Some(name) = display_name {
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name.as_str())
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(roles) = roles {
        if roles.is_empty() {
            return Err(Error::Invalid(
                "un compte doit avoir au moins un rôle".into(),
            ));
        }
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        for role in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(before.id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    if let Some(disabled) = disabled {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            revoke_tokens_of(&mut tx, before.id, None).await?;
        }
    }
    let after = get_user_in(&mut tx, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {username} »")))?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.update",
            entity: "user",
            entity_id: &after.username,
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&after).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Revokes every live session and token of a user, but `keep` (the one
/// making the request, when it goes on).
pub(crate) async fn revoke_tokens_of(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    keep: Option<i64>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE auth_tokens SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL",
    )
    .bind(time::to_db(time::now()))
    .bind(user_id)
    .bind(keep.unwrap_or(0))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn get_user_in(
    conn: &mut sqlx::AnyConnection,
    username: &str,
) -> Result<Option<User>, Error> {
    let row = sqlx::query(
        "SELECT id, username, display_name, disabled, created_at FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => {
            let roles = roles_of(conn, r.try_get("id")?).await?;
            Ok(Some(user_from_row(&r, roles)?))
        }
        None => Ok(None),
    }
}

/// One user by name.
pub async fn get_user(db: &Db, username: &str) -> Result<Option<User>, Error> {
    let mut conn = db.pool().acquire().await?;
    get_user_in(&mut conn, username).await
}

/// Every user, by name.
pub async fn list_users(db: &Db) -> Result<Vec<User>, Error> {
    let mut conn = db.pool().acquire().await?;
    let rows = sqlx::query(
        "SELECT id, username, display_name, disabled, created_at FROM users ORDER BY username",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for r in &rows {
        let roles = roles_of(&mut conn, r.try_get("id")?).await?;
        users.push(user_from_row(r, roles)?);
    }
    Ok(users)
}

/// The username of an account, by its id.
pub async fn username_of(db: &Db, user_id: i64) -> Result<Option<String>, Error> {
    let row = sqlx::query("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("username")?),
        None => None,
    })
}

/// The credentials of a user, for login.
pub async fn find_user_credentials(db: &Db, username: &str) -> Result<Option<Credentials>, Error> {
    let mut conn = db.pool().acquire().await?;
    let row = sqlx::query(
        "SELECT id, username, display_name, password_hash, disabled FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let id: i64 = r.try_get("id")?;
    Ok(Some(Credentials {
        id,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        roles: roles_of(&mut conn, id).await?,
    }))
}

/// Stores a new token (as its hash) and journals its issue.
pub async fn insert_token(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    token_hash: &str,
    kind: TokenKind,
    csrf_token: Option<&str>,
    expires_at: DateTime<Utc>,
) -> Result<i64, Error> {
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "INSERT INTO auth_tokens (token_hash, user_id, kind, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(kind.as_str())
    .bind(csrf_token)
    .bind(time::to_db(time::now()))
    .bind(time::to_db(expires_at))
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: if kind == TokenKind::Session {
                "session.open"
            } else {
                "token.issue"
            },
            entity: "token",
            entity_id: &id.to_string(),
            before: None,
            after: Some(
                serde_json::json!({ "kind": kind.as_str(), "expires_at": time::to_db(expires_at) }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The principal behind a live (unrevoked, unexpired) token of an enabled
/// user.
pub async fn find_principal(
    db: &Db,
    token_hash: &str,
    kind: TokenKind,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, Error> {
    let mut conn = db.pool().acquire().await?;
    let row = sqlx::query(
        "SELECT t.id AS token_id, t.csrf_token, u.id AS user_id, u.username, u.display_name
         FROM auth_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.kind = $2 AND t.revoked_at IS NULL
           AND t.expires_at > $3 AND u.disabled = 0",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(time::to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let user_id: i64 = r.try_get("user_id")?;
    Ok(Some(Principal {
        user_id,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        roles: roles_of(&mut conn, user_id).await?,
        token_id: r.try_get("token_id")?,
        kind,
        csrf_token: r
            .try_get::<Option<String>, _>("csrf_token")?
            .map(Into::into),
    }))
}

/// The user owning a token.
pub async fn token_owner(db: &Db, token_id: i64) -> Result<Option<i64>, Error> {
    let row = sqlx::query("SELECT user_id FROM auth_tokens WHERE id = $1")
        .bind(token_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get("user_id").map_err(Error::from))
        .transpose()
}

/// A token as listed to its owner; never the secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    /// `session` or `api`.
    pub kind: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// The tokens of a user, newest first.
pub async fn list_tokens(db: &Db, user_id: i64) -> Result<Vec<TokenInfo>, Error> {
    let rows = sqlx::query(
        "SELECT id, kind, created_at, expires_at, revoked_at FROM auth_tokens
         WHERE user_id = $1 ORDER BY id DESC LIMIT 200",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes a token (idempotent) and journals it.
pub async fn revoke_token(
    db: &Db,
    actor: &Actor,
    token_id: i64,
    change: Change<'_>,
) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE auth_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(time::to_db(time::now()))
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() > 0 {
        audit::record(&mut tx, actor, change).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Recent login failures for an account and for an address.
#[derive(Debug, Default)]
pub struct FailureCounts {
    /// Failures of the account within the last day.
    pub account: i64,
    pub account_latest: Option<DateTime<Utc>>,
    /// Failures from the address since the `since` given.
    pub address: i64,
    pub address_oldest: Option<DateTime<Utc>>,
}

pub async fn login_failures_since(
    db: &Db,
    username: &str,
    address: &str,
    since: DateTime<Utc>,
) -> Result<FailureCounts, Error> {
    let day_ago = time::to_db(time::now() - chrono::Duration::days(1));
    let since = time::to_db(since);
    let count = |sql: &'static str, value: String, since: String| async move {
        let r = sqlx::query(sql)
            .bind(value)
            .bind(since)
            .fetch_one(db.pool())
            .await?;
        let n: i64 = r.try_get("n")?;
        let at: Option<String> = r.try_get("at")?;
        Ok::<_, Error>((n, at.as_deref().and_then(time::from_db)))
    };
    let (account, account_latest) = count(
        "SELECT COUNT(*) AS n, MAX(at) AS at FROM login_failures WHERE username = $1 AND at >= $2",
        username.to_owned(),
        day_ago,
    )
    .await?;
    let (address, address_oldest) = count(
        "SELECT COUNT(*) AS n, MIN(at) AS at FROM login_failures WHERE address = $1 AND at >= $2",
        address.to_owned(),
        since,
    )
    .await?;
    Ok(FailureCounts {
        account,
        account_latest,
        address,
        address_oldest,
    })
}

pub async fn record_login_failure(
    db: &Db,
    username: &str,
    address: &str,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO login_failures (username, address, at) VALUES ($1, $2, $3)")
        .bind(username)
        .bind(address)
        .bind(time::to_db(at))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets the failures of an account, as an administrator unlocking it,
/// with an audit entry; answers how many were forgotten.
pub async fn unlock_account(db: &Db, actor: &Actor, username: &str) -> Result<u64, Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.unlock",
            entity: "user",
            entity_id: username,
            before: Some(serde_json::json!({ "failures": done })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// Forgets the failures of an account after a successful login, and old
/// failures of everyone (they no longer count towards any limit).
pub async fn clear_login_failures(db: &Db, username: &str) -> Result<(), Error> {
    let day_ago = time::to_db(time::now() - chrono::Duration::days(1));
    sqlx::query("DELETE FROM login_failures WHERE username = $1 OR at < $2")
        .bind(username)
        .bind(day_ago)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Takes the lease `name` for `holder` until `until`, or renews it: only
/// when it is free, expired at `now`, or already the holder's. Answers
/// whether `holder` holds it. One statement, so two instances asking at the
/// same moment cannot both get it.
pub async fn hold_lease(
    db: &Db,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO sched_leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE sched_leases.holder = excluded.holder OR sched_leases.expires_at < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(time::to_db(until))
    .bind(time::to_db(now))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the lease up, if `holder` has it, so another instance takes it
/// at once instead of waiting for it to expire.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM sched_leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Claims this period's run of a job: succeeds for one instance only, and
/// only if the job has not started since `not_before`.
pub async fn claim_job(
    db: &Db,
    job: &str,
    holder: &str,
    now: DateTime<Utc>,
    not_before: DateTime<Utc>,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO sched_jobs (name, holder, last_started_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, last_started_at = excluded.last_started_at
         WHERE sched_jobs.last_started_at <= $4",
    )
    .bind(job)
    .bind(holder)
    .bind(time::to_db(now))
    .bind(time::to_db(not_before))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One run of a scheduled job, as kept in the history.
#[derive(Debug, Clone, Serialize)]
pub struct JobRun {
    pub job: String,
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    pub detail: String,
}

/// Records a finished run, and forgets runs older than `keep_since`.
pub async fn record_job_run(db: &Db, run: &JobRun, keep_since: DateTime<Utc>) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO sched_runs (job, instance, started_at, finished_at, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&run.job)
    .bind(&run.instance)
    .bind(time::to_db(run.started_at))
    .bind(time::to_db(run.finished_at))
    .bind(&run.outcome)
    .bind(&run.detail)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sched_runs WHERE job = $1 AND started_at < $2")
        .bind(&run.job)
        .bind(time::to_db(keep_since))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The latest runs of the scheduled jobs, newest first.
pub async fn job_runs(db: &Db, limit: i64) -> Result<Vec<JobRun>, Error> {
    let rows = sqlx::query(
        "SELECT job, instance, started_at, finished_at, outcome, detail FROM sched_runs
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let at = |s: String| {
        time::from_db(&s)
            .ok_or_else(|| Error::Internal(format!("bad timestamp in sched_runs: {s}")))
    };
    rows.into_iter()
        .map(|r| {
            Ok(JobRun {
                job: r.try_get("job")?,
                instance: r.try_get("instance")?,
                started_at: at(r.try_get("started_at")?)?,
                finished_at: at(r.try_get("finished_at")?)?,
                outcome: r.try_get("outcome")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}
