//! What people do with their accounts beyond logging in: change their own
//! password, and the administrator's care of others' accounts (name, roles,
//! disable and re-enable, unlock after failed logins). Every change is one
//! transaction with its audit entry.

use regie_core::audit::{self, Change};
use regie_core::Db;

use crate::platform::auth::{password, DisplayName, Password, Principal, Role, Username};
use crate::platform::storage::{self, User};
use crate::Error;

/// Changes one's own password: the current one must be given (a session
/// left open on a shared computer is not enough), the new one meets the
/// policy and is typed twice. Every other session and token of the user is
/// revoked.
pub async fn change_own_password(
    db: &Db,
    me: &Principal,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<(), Error> {
    let creds = storage::find_user_credentials(db, &me.username)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if !password::verify_off_thread(current, &creds.password_hash).await {
        return Err(Error::Invalid(
            "le mot de passe actuel n'est pas le bon".into(),
        ));
    }
    if new != confirm {
        return Err(Error::Invalid(
            "les deux saisies du nouveau mot de passe diffèrent".into(),
        ));
    }
    if new == current {
        return Err(Error::Invalid(
            "le nouveau mot de passe doit différer de l'actuel".into(),
        ));
    }
    let new = Password::parse(new)?;
    let hash = password::hash_off_thread(new).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(me.user_id)
        .execute(&mut *tx)
        .await?;
    storage::revoke_tokens_of(&mut tx, me.user_id, Some(me.token_id)).await?;
    audit::record(
        &mut tx,
        &me.actor(),
        Change {
            action: "user.password",
            entity: "user",
            entity_id: &me.username,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an administrator may change of an account.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    pub disabled: Option<bool>,
}

/// Changes another's account. An administrator cannot disable their own
/// account nor take their own administrator role (the régie would be left
/// without one).
pub async fn change_account(
    db: &Db,
    me: &Principal,
    username: &str,
    change: AccountChange,
) -> Result<User, Error> {
    let own = username == me.username;
    if own && change.disabled == Some(true) {
        return Err(Error::Invalid(
            "vous ne pouvez pas désactiver votre propre compte".into(),
        ));
    }
    if own
        && change
            .roles
            .as_ref()
            .is_some_and(|r| !r.contains(&Role::Admin))
    {
        return Err(Error::Invalid(
            "vous ne pouvez pas retirer votre propre rôle d'administrateur".into(),
        ));
    }
    let display_name = match &change.display_name {
        Some(d) => Some(DisplayName::parse(d, &Username::parse(username)?)?),
        None => None,
    };
    storage::update_user(
        db,
        &me.actor(),
        username,
        display_name.as_ref(),
        change.roles.as_deref(),
        change.disabled,
    )
    .await
}

/// Lifts the login delay of an account (its failed attempts are
/// forgotten), with an audit entry.
pub async fn unlock(db: &Db, me: &Principal, username: &str) -> Result<u64, Error> {
    if storage::get_user(db, username).await?.is_none() {
        return Err(Error::NotFound(format!("aucun compte « {username} »")));
    }
    storage::unlock_account(db, &me.actor(), username).await
}
