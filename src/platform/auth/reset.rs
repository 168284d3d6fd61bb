//! Password resets. A one-time link (256 random bits, stored hashed) lets
//! a person choose a new password: sent by e-mail to an account that has
//! an address (valid one hour), or handed over — printed or read out — by
//! a social agent to a household at the counter, or by an administrator
//! who forces a reset (valid three days). Redeeming it sets the new
//! password, closes every session and token and forgets failed logins.
//! Issuing a link kills the account's earlier ones. Every step is audited;
//! the request by e-mail answers the same whether the account exists or
//! not.

use chrono::{DateTime, Duration, Utc};
use regie_core::audit::{self, Actor, Change};
use regie_core::{time, Db};
use sqlx::Row;

use crate::platform::auth::{password, token, Password, Principal, Role};
use crate::platform::storage::{self, User};
use crate::Error;

/// Where a reset link leads (with `?jeton=`).
pub const REDEEM_PATH: &str = "/connexion/nouveau-mot-de-passe";

/// How a link reached its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Sent to the account's e-mail address, at its holder's request.
    Email,
    /// Handed over at the counter by a social agent (a household).
    Counter,
    /// An administrator forced a reset: the old password no longer works.
    Admin,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Counter => "counter",
            Channel::Admin => "admin",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Channel::Email => Duration::hours(1),
            Channel::Counter | Channel::Admin => Duration::days(3),
        }
    }
}

/// Most links sent by e-mail to one account per hour (no mail bombing).
const MAX_EMAILS_PER_HOUR: i64 = 3;

/// A link handed over: its path (with the secret) and its end.
#[derive(Clone)]
pub struct Handed {
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Handed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handed")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An account's e-mail address, when it has one.
pub async fn email_of(db: &Db, user_id: i64) -> Result<Option<String>, Error> {
    let row = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.and_then(|r| r.try_get::<Option<String>, _>("email").ok().flatten()))
}

/// Sets (or, empty, removes) an account's e-mail address, audited.
pub async fn set_email(db: &Db, actor: &Actor, username: &str, email: &str) -> Result<(), Error> {
    let email = email.trim();
    let email = if email.is_empty() {
        None
    } else {
        if email.chars().count() > 254 || email.parse::<lettre::Address>().is_err() {
            return Err(Error::Invalid(format!(
                "« {email} » n'est pas une adresse électronique (nom@domaine.fr)"
            )));
        }
        Some(email.to_lowercase())
    };
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE users SET email = $1 WHERE username = $2")
        .bind(email.as_deref())
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(Error::NotFound(format!("aucun compte « {username} »")));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.email",
            entity: "user",
            entity_id: username,
            before: None,
            after: Some(serde_json::json!({ "email": email })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn issue(db: &Db, actor: &Actor, user: &User, channel: Channel) -> Result<Handed, Error> {
    let secret = token::generate_reset();
    let now = time::now();
    let expires_at = now + channel.lifetime();
    let mut tx = db.begin().await?;
    // Earlier links of the account die with this one.
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(time::to_db(now))
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, channel, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token::hash(&secret))
    .bind(user.id)
    .bind(channel.as_str())
    .bind(&actor.username)
    .bind(time::to_db(now))
    .bind(time::to_db(expires_at))
    .execute(&mut *tx)
    .await?;
    if channel == Channel::Admin {
        // A forced reset: the old password and every access stop now.
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind("!reset")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        storage::revoke_tokens_of(&mut tx, user.id, None).await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.password_reset_issued",
            entity: "user",
            entity_id: &user.username,
            before: None,
            after: Some(serde_json::json!({
                "channel": channel.as_str(),
                "expires_at": time::to_db(expires_at),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Handed {
        path: format!("{REDEEM_PATH}?jeton={secret}"),
        expires_at,
    })
}

/// The account a person named in the « forgotten password » form (its
/// username or its e-mail address), when it can receive a link by e-mail.
async fn by_name_or_email(db: &Db, who: &str) -> Result<Option<(User, String)>, Error> {
    let who = who.trim().to_lowercase();
    if who.is_empty() || who.chars().count() > 254 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT username, email FROM users WHERE username = $1 OR email = $1")
        .bind(&who)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let username: String = row.try_get("username")?;
    let Some(email) = row.try_get::<Option<String>, _>("email")? else {
        return Ok(None);
    };
    Ok(storage::get_user(db, &username)
        .await?
        .filter(|u| !u.disabled)
        .map(|u| (u, email)))
}

/// The message a link by e-mail travels in.
fn message(user: &User, url: &str, expires_at: DateTime<Utc>) -> (String, String) {
    let until = expires_at
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%H:%M le %d/%m/%Y");
    (
        "Choisir un nouveau mot de passe".into(),
        format!(
            "Bonjour {},\n\nQuelqu'un (vous, sans doute) a demandé à choisir un nouveau mot de passe pour le compte « {} ».\n\nOuvrez ce lien avant {until} :\n{url}\n\nIl ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n",
            user.display_name, user.username
        ),
    )
}

/// Sends a link to the account named (username or e-mail address) when it
/// has an address; answers the same in every case, so that the form tells
/// nobody which accounts exist. `base_url` prefixes the link.
pub async fn request_by_email(
    db: &Db,
    mailer: &crate::platform::mail::Mailer,
    base_url: &str,
    who: &str,
) -> Result<(), Error> {
    let Some((user, email)) = by_name_or_email(db, who).await? else {
        return Ok(());
    };
    let hour_ago = time::to_db(time::now() - Duration::hours(1));
    let recent: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM password_resets WHERE user_id = $1 AND channel = 'email' AND created_at >= $2",
    )
    .bind(user.id)
    .bind(hour_ago)
    .fetch_one(db.pool())
    .await?
    .try_get("n")?;
    if recent >= MAX_EMAILS_PER_HOUR {
        tracing::warn!(
            user_id = user.id,
            "password reset by e-mail: too many requests this hour"
        );
        return Ok(());
    }
    let actor = Actor {
        user_id: Some(user.id),
        username: user.username.clone(),
        request_id: crate::platform::telemetry::current_request_id(),
    };
    let handed = issue(db, &actor, &user, Channel::Email).await?;
    let (subject, body) = message(
        &user,
        &format!("{base_url}{}", handed.path),
        handed.expires_at,
    );
    if let Err(e) = mailer.send(&email, &subject, &body).await {
        tracing::warn!(user_id = user.id, error = %e, "password reset e-mail not sent");
    }
    Ok(())
}

/// A link handed over in person: by a social agent to a household (the
/// agent may do it for household accounts only), or by an administrator
/// for anyone, which also stops the old password and every access.
pub async fn hand_over(db: &Db, me: &Principal, username: &str) -> Result<Handed, Error> {
    let user = storage::get_user(db, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {username} »")))?;
    let channel = if me.has(Role::Admin) {
        Channel::Admin
    } else if me.has(Role::SocialAgent) && user.roles.iter().all(|r| *r == Role::Household) {
        Channel::Counter
    } else {
        return Err(Error::Forbidden);
    };
    if user.disabled {
        return Err(Error::Invalid(
            "ce compte est désactivé : réactivez-le d'abord".into(),
        ));
    }
    issue(db, &me.actor(), &user, channel).await
}

/// The account a live link belongs to; `None` when it is unknown, used or
/// past its end.
async fn live(db: &Db, secret: &str) -> Result<Option<(i64, i64)>, Error> {
    if !token::looks_like_reset(secret) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT id, user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token::hash(secret))
    .bind(time::to_db(time::now()))
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("id")?, r.try_get("user_id")?)),
        None => None,
    })
}

/// Whether a link can still be used.
pub async fn is_live(db: &Db, secret: &str) -> Result<bool, Error> {
    Ok(live(db, secret).await?.is_some())
}

/// The words for a link that no longer works.
pub const DEAD_LINK: &str =
    "ce lien ne sert plus (déjà utilisé, remplacé par un autre ou expiré) : demandez-en un nouveau";

/// Sets the new password through a live link; answers the username.
pub async fn redeem(db: &Db, secret: &str, new: &str, confirm: &str) -> Result<String, Error> {
    let Some((reset_id, user_id)) = live(db, secret).await? else {
        return Err(Error::Invalid(DEAD_LINK.into()));
    };
    if new != confirm {
        return Err(Error::Invalid(
            "les deux saisies du nouveau mot de passe diffèrent".into(),
        ));
    }
    let new = Password::parse(new)?;
    let hash = password::hash_off_thread(new).await?;
    let now = time::now();
    let mut tx = db.begin().await?;
    // Used once: the update only takes a link still unused.
    let taken =
        sqlx::query("UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(time::to_db(now))
            .bind(reset_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if taken == 0 {
        return Err(Error::Invalid(DEAD_LINK.into()));
    }
    let username: String = sqlx::query("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("username")?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    storage::revoke_tokens_of(&mut tx, user_id, None).await?;
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(&username)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &Actor {
            user_id: Some(user_id),
            username: username.clone(),
            request_id: crate::platform::telemetry::current_request_id(),
        },
        Change {
            action: "user.password_reset",
            entity: "user",
            entity_id: &username,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(username)
}
