//! Authentication and the identities behind requests.
//!
//! Web pages use a session cookie, the API a bearer token; both are rows of
//! `auth_tokens`, stored as SHA-256 hashes so that a copy of the database
//! does not hand out live credentials. Passwords are hashed with argon2id.
//! Failed logins are counted in the database, so the limit holds across
//! several instances behind a load balancer.

pub mod accounts;
pub mod password;
pub mod reset;
pub mod role;
pub mod token;
pub mod totp;

use chrono::{DateTime, Duration, Utc};
use regie_core::audit::{Actor, Change};
use regie_core::{time, Db};
use serde::{Deserialize, Serialize};

pub use password::Password;
pub use role::Role;
pub use token::TokenKind;

use crate::platform::storage;
use crate::Error;

/// A validated username: 2 to 64 characters of `a-z 0-9 . _ -`, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "c.martin")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_lowercase();
        let ok_len = (2..=64).contains(&s.chars().count());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !ok_len || !ok_chars {
            return Err(Error::Invalid(format!(
                "l'identifiant « {s} » doit compter 2 à 64 caractères parmi a-z, 0-9, « . », « _ » et « - »"
            )));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name a user is shown by: at most 100 characters, no control
/// character; empty means « the username ».
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest display name.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(s: &str, username: &Username) -> Result<Self, Error> {
        let s = s.trim();
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::Invalid(format!(
                "le nom affiché ne peut dépasser {} caractères",
                Self::MAX_CHARS
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "le nom affiché contient un caractère invisible".into(),
            ));
        }
        Ok(Self(if s.is_empty() {
            username.as_str().to_owned()
        } else {
            s.to_owned()
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// The session or API token that authenticated the request.
    pub token_id: i64,
    pub kind: TokenKind,
    /// The CSRF token bound to a web session (redacted from `Debug`).
    pub csrf_token: Option<secrecy::SecretString>,
}

impl Principal {
    /// The CSRF token of the session, for the forms of a page (empty for
    /// an API caller).
    pub fn csrf(&self) -> String {
        use secrecy::ExposeSecret;
        self.csrf_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned())
            .unwrap_or_default()
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Staff roles see every household; a household user only its own.
    pub fn household_scope(&self) -> social_tariff::Scope {
        if self.has_any(&[Role::Admin, Role::SocialAgent]) {
            social_tariff::Scope::All
        } else {
            social_tariff::Scope::Own(self.user_id)
        }
    }

    /// The actor recorded in the audit journal.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            username: self.username.clone(),
            request_id: crate::platform::telemetry::current_request_id(),
        }
    }
}

/// Login limits, from the configuration.
///
/// Per address: `max_per_address` failures within `window`, then wait for
/// the oldest to leave it. Per account (failures of the last day, cleared
/// by a successful login or an administrator's unlock): `max_per_account`
/// failures, then one attempt after a delay that doubles with each further
/// failure — `window`, twice `window`… — never more than an hour, so nobody
/// can lock an account (the administrator's included) for good.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub max_per_account: u32,
    pub max_per_address: u32,
    pub window: Duration,
}

/// The longest an account waits between two attempts.
pub const MAX_ACCOUNT_DELAY_S: i64 = 3600;

impl LoginPolicy {
    /// The delay after the `n`th failure of an account (`n` ≥ the limit).
    pub fn account_delay(&self, n: i64) -> Duration {
        let beyond = u32::try_from(n - i64::from(self.max_per_account))
            .unwrap_or(0)
            .min(16);
        let s = self
            .window
            .num_seconds()
            .max(1)
            .saturating_mul(1i64 << beyond)
            .min(MAX_ACCOUNT_DELAY_S);
        Duration::seconds(s)
    }

    /// Until when a new attempt is refused, given the failures counted so
    /// far.
    pub fn blocked_until(
        &self,
        c: &storage::FailureCounts,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let by_address = (c.address >= i64::from(self.max_per_address))
            .then_some(c.address_oldest)
            .flatten()
            .map(|oldest| oldest + self.window);
        let by_account = (c.account >= i64::from(self.max_per_account))
            .then_some(c.account_latest)
            .flatten()
            .map(|latest| latest + self.account_delay(c.account));
        [by_address, by_account]
            .into_iter()
            .flatten()
            .filter(|until| *until > now)
            .max()
    }

    /// Once this attempt is counted: whether concurrent attempts took the
    /// places left (then this one is refused unchecked).
    pub fn blocked_after_counting(
        &self,
        before: &storage::FailureCounts,
        after: &storage::FailureCounts,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let account_over = if before.account < i64::from(self.max_per_account) {
            after.account > i64::from(self.max_per_account)
        } else {
            // Past the limit, one attempt per delay: ours only.
            after.account > before.account + 1
        };
        let address_over = after.address > i64::from(self.max_per_address);
        (account_over || address_over).then(|| {
            let account =
                now + self.account_delay(after.account.max(i64::from(self.max_per_account)));
            let address = after.address_oldest.map_or(now, |o| o + self.window);
            if address_over && !account_over {
                address
            } else {
                account
            }
        })
    }
}

/// A freshly issued credential; the secret is shown once.
#[derive(Clone)]
pub struct Issued {
    pub id: i64,
    pub secret: String,
    pub csrf_token: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("id", &self.id)
            .field("secret", &"****")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Counts an attempt on `username` from `address` before anything is
/// checked; refuses it (429) when the limits are reached.
async fn count_attempt(
    db: &Db,
    username: &str,
    address: &str,
    policy: LoginPolicy,
) -> Result<(), Error> {
    let now = time::now();
    let refuse = |until: DateTime<Utc>| {
        let retry_after_s = (until - now).num_seconds().max(1) as u64;
        tracing::warn!(address, retry_after_s, "login refused: too many failures");
        Error::RateLimited { retry_after_s }
    };
    // Already blocked: refused without counting (an attacker cannot push
    // the block further by insisting).
    let before = storage::login_failures_since(db, username, address, now - policy.window).await?;
    if let Some(until) = policy.blocked_until(&before, now) {
        return Err(refuse(until));
    }
    // The attempt is counted before the password is checked: concurrent
    // attempts each see the others, so no more than the limit get checked,
    // and past the limit one attempt at a time once the delay is over.
    storage::record_login_failure(db, username, address, now).await?;
    let after = storage::login_failures_since(db, username, address, now - policy.window).await?;
    if let Some(until) = policy.blocked_after_counting(&before, &after, now) {
        return Err(refuse(until));
    }
    Ok(())
}

/// The key that opens second-factor secrets, asked for only when an
/// account has one.
pub type KeySource<'a> =
    &'a (dyn Fn() -> Result<regie_core::secret::SecretKey, Error> + Send + Sync);

/// Checks a username and password and, if they are right and the limits are
/// not exceeded, issues a session or API token. An account with a second
/// factor also needs its current code: without one the answer is
/// [`Error::CodeRequired`] (the pages then ask for it in a challenge).
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(db, password, code, key, policy), fields(username = %username_raw, kind = ?kind))]
pub async fn login(
    db: &Db,
    username_raw: &str,
    password: &str,
    code: Option<&str>,
    key: KeySource<'_>,
    address: &str,
    kind: TokenKind,
    ttl: Duration,
    policy: LoginPolicy,
) -> Result<(Principal, Issued), Error> {
    // Bounded, so that junk in the login form cannot bloat the failures table.
    let username: String = username_raw
        .trim()
        .to_lowercase()
        .chars()
        .take(128)
        .collect();
    count_attempt(db, &username, address, policy).await?;
    let user = storage::find_user_credentials(db, &username).await?;
    let verified = match &user {
        Some(u) if !u.disabled => password::verify_off_thread(password, &u.password_hash).await,
        _ => {
            // Spend the same time as a real check so that response times do
            // not tell which usernames exist.
            password::verify_off_thread(password, password::DUMMY_HASH).await;
            false
        }
    };
    let user = match (verified, user) {
        (true, Some(u)) => u,
        // The failure is already counted.
        _ => return Err(Error::Unauthenticated),
    };
    if totp::enrolled(db, user.id).await? {
        match code.filter(|c| !c.trim().is_empty()) {
            None => return Err(Error::CodeRequired { user_id: user.id }),
            Some(c) => {
                if !totp::check(db, &key()?, user.id, c).await? {
                    return Err(Error::Unauthenticated);
                }
            }
        }
    }
    finish_login(db, user, kind, ttl).await
}

/// A login past its password whose code is now given, through the
/// challenge the pages opened; answers the session and where to go.
pub async fn login_with_code(
    db: &Db,
    challenge: &str,
    code: &str,
    key: KeySource<'_>,
    address: &str,
    ttl: Duration,
    policy: LoginPolicy,
) -> Result<(Principal, Issued, Option<String>), Error> {
    let Some((user_id, next)) = totp::challenge(db, challenge).await? else {
        return Err(Error::Invalid(
            "délai dépassé : saisissez de nouveau votre identifiant et votre mot de passe".into(),
        ));
    };
    let user = match storage::username_of(db, user_id).await? {
        Some(name) => storage::find_user_credentials(db, &name).await?,
        None => None,
    }
    .filter(|u| !u.disabled)
    .ok_or(Error::Unauthenticated)?;
    count_attempt(db, &user.username, address, policy).await?;
    if !totp::check(db, &key()?, user.id, code).await? {
        return Err(Error::Unauthenticated);
    }
    totp::close_challenge(db, challenge).await?;
    let (principal, issued) = finish_login(db, user, TokenKind::Session, ttl).await?;
    Ok((principal, issued, next))
}

async fn finish_login(
    db: &Db,
    user: storage::Credentials,
    kind: TokenKind,
    ttl: Duration,
) -> Result<(Principal, Issued), Error> {
    storage::clear_login_failures(db, &user.username).await?;
    let issued = issue(db, user.id, &user.username, kind, ttl).await?;
    let principal = Principal {
        user_id: user.id,
        username: user.username,
        display_name: user.display_name,
        roles: user.roles,
        token_id: issued.id,
        kind,
        csrf_token: issued.csrf_token.clone().map(Into::into),
    };
    Ok((principal, issued))
}

/// Issues a token for a user and journals it.
pub async fn issue(
    db: &Db,
    user_id: i64,
    username: &str,
    kind: TokenKind,
    ttl: Duration,
) -> Result<Issued, Error> {
    let secret = token::generate(kind);
    let csrf_token = (kind == TokenKind::Session).then(token::generate_csrf);
    let expires_at = time::now() + ttl;
    let actor = Actor {
        user_id: Some(user_id),
        username: username.to_owned(),
        request_id: crate::platform::telemetry::current_request_id(),
    };
    let id = storage::insert_token(
        db,
        &actor,
        user_id,
        &token::hash(&secret),
        kind,
        csrf_token.as_deref(),
        expires_at,
    )
    .await?;
    Ok(Issued {
        id,
        secret,
        csrf_token,
        expires_at,
    })
}

/// Resolves a presented session cookie or bearer token.
pub async fn authenticate(
    db: &Db,
    secret: &str,
    kind: TokenKind,
) -> Result<Option<Principal>, Error> {
    if !token::looks_like(secret, kind) {
        return Ok(None);
    }
    storage::find_principal(db, &token::hash(secret), kind, time::now()).await
}

/// Revokes a token. A user may revoke its own tokens; an admin any token.
pub async fn revoke(db: &Db, by: &Principal, token_id: i64) -> Result<(), Error> {
    let owner = storage::token_owner(db, token_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no token {token_id}")))?;
    if owner != by.user_id && !by.has(Role::Admin) {
        // Someone else's token: answer as if it did not exist.
        return Err(Error::NotFound(format!("no token {token_id}")));
    }
    storage::revoke_token(
        db,
        &by.actor(),
        token_id,
        Change {
            action: "token.revoke",
            entity: "token",
            entity_id: &token_id.to_string(),
            before: None,
            after: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_bounded() {
        let user = Username::parse("karim").expect("valid");
        assert_eq!(
            DisplayName::parse("  ", &user).ok().map(|d| d.0),
            Some("karim".into())
        );
        assert_eq!(
            DisplayName::parse(" Karim Benali ", &user)
                .ok()
                .map(|d| d.0),
            Some("Karim Benali".into())
        );
        assert!(DisplayName::parse(&"é".repeat(100), &user).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101), &user).is_err());
        assert!(DisplayName::parse("a\u{7}b", &user).is_err());
    }

    proptest::proptest! {
        #[test]
        fn display_name_parsing_never_panics_and_takes_what_it_gives(s in "\\PC{0,120}") {
            let user = Username::parse("karim").expect("valid");
            if let Ok(d) = DisplayName::parse(&s, &user) {
                proptest::prop_assert_eq!(DisplayName::parse(d.as_str(), &user).ok(), Some(d.clone()));
                proptest::prop_assert!(d.as_str().chars().count() <= DisplayName::MAX_CHARS);
            }
        }

        #[test]
        fn username_parsing_never_panics_and_takes_what_it_gives(s in "\\PC{0,80}") {
            if let Ok(u) = Username::parse(&s) {
                proptest::prop_assert_eq!(Username::parse(u.as_str()).ok().map(|x| x.0), Some(u.0.clone()));
            }
        }
    }
}
