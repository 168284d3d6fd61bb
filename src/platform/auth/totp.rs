//! The second factor: time-based one-time codes (TOTP, RFC 6238: HMAC-SHA1,
//! six digits, 30-second steps, one step of tolerance either side), the
//! code an authenticator application shows. The secret is sealed with the
//! régie's key before it is stored; a code is taken once (the last step
//! used is kept, and a step is accepted only past it, in one statement).
//! A login whose password is right waits for the code in a challenge: a
//! random secret in a cookie, stored hashed, valid five minutes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use regie_core::audit::{self, Actor, Change};
use regie_core::secret::SecretKey;
use regie_core::{time, Db};
use sqlx::Row;
use totp_rs::{Algorithm, TOTP};

use crate::platform::auth::token;
use crate::Error;

/// The cookie holding a login challenge (path `/connexion`).
pub const CHALLENGE_COOKIE: &str = "regie_defi";
/// How long a challenge waits for its code.
pub const CHALLENGE_MINUTES: i64 = 5;

/// A TOTP secret (20 random bytes); its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(****)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The secret as the applications take it typed by hand (base32).
    pub fn to_base32(&self) -> String {
        totp_rs::Secret::Raw(self.0.clone())
            .to_encoded()
            .to_string()
    }

    /// Reads a base32 secret back (from the enrolment form).
    pub fn parse_base32(s: &str) -> Result<Self, Error> {
        let bytes = totp_rs::Secret::Encoded(s.trim().to_owned())
            .to_bytes()
            .map_err(|_| Error::Invalid("clé de double authentification illisible".into()))?;
        if bytes.len() < 16 {
            return Err(Error::Invalid(
                "clé de double authentification trop courte".into(),
            ));
        }
        Ok(Self(bytes))
    }

    fn totp(&self, account: &str) -> Result<TOTP, Error> {
        TOTP::new(
            Algorithm::SHA1,
            6,
            1,
            30,
            self.0.clone(),
            Some("Régie".into()),
            account.to_owned(),
        )
        .map_err(|e| Error::Internal(format!("totp: {e:?}")))
    }

    /// The `otpauth://` address an application reads from the QR code.
    pub fn url(&self, account: &str) -> Result<String, Error> {
        Ok(self.totp(account)?.get_url())
    }

    /// The step (30-second period since the epoch) a six-digit code
    /// matches at `unix_s`, within one step either side.
    pub fn matching_step(&self, code: &str, unix_s: u64) -> Option<u64> {
        let code = code.trim().replace(' ', "");
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp("x").ok()?;
        let now = unix_s / 30;
        [now.saturating_sub(1), now, now + 1]
            .into_iter()
            .find(|step| totp.generate(step * 30) == code)
    }

    /// The code of `unix_s` (tests, and the demo's own check).
    pub fn code_at(&self, unix_s: u64) -> String {
        self.totp("x")
            .map(|t| t.generate(unix_s))
            .unwrap_or_default()
    }
}

/// A QR code of `text`, as inline SVG (no image file, no script).
pub fn qr_svg(text: &str) -> Result<String, Error> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| Error::Internal(format!("qr: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in a page: the XML declaration has no place there.
    Ok(svg
        .find("<svg")
        .and_then(|at| svg.get(at..))
        .unwrap_or(&svg)
        .to_owned())
}

fn now_unix() -> u64 {
    u64::try_from(time::now().timestamp()).unwrap_or(0)
}

fn context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// Whether an account has a second factor.
pub async fn enrolled(db: &Db, user_id: i64) -> Result<bool, Error> {
    let row = sqlx::query("SELECT totp_secret FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<Option<String>, _>("totp_secret").ok().flatten())
        .is_some())
}

async fn secret_of(db: &Db, key: &SecretKey, user_id: i64) -> Result<Option<TotpSecret>, Error> {
    let row = sqlx::query("SELECT totp_secret FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    let Some(sealed) =
        row.and_then(|r| r.try_get::<Option<String>, _>("totp_secret").ok().flatten())
    else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(sealed)
        .map_err(|e| Error::Internal(format!("totp secret: {e}")))?;
    let plain = key
        .open(&bytes, &context(user_id))
        .map_err(|e| Error::Internal(format!("totp secret: {e}")))?;
    Ok(Some(TotpSecret(plain)))
}

/// Checks a code of the account's second factor, once: the step it matches
/// must be past the last one used (taken in one statement, so two requests
/// with the same code cannot both pass).
pub async fn check(db: &Db, key: &SecretKey, user_id: i64, code: &str) -> Result<bool, Error> {
    let Some(secret) = secret_of(db, key, user_id).await? else {
        return Ok(false);
    };
    let Some(step) = secret.matching_step(code, now_unix()) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let taken = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(user_id)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// Turns the second factor on with a secret the person's application
/// shows a right code for; audited.
pub async fn enable(
    db: &Db,
    key: &SecretKey,
    actor: &Actor,
    user_id: i64,
    secret: &TotpSecret,
    code: &str,
) -> Result<(), Error> {
    let Some(step) = secret.matching_step(code, now_unix()) else {
        return Err(Error::Invalid(
            "ce code ne correspond pas : vérifiez l'heure du téléphone et saisissez le code affiché".into(),
        ));
    };
    let sealed = STANDARD.encode(key.seal(&secret.0, &context(user_id)));
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3")
        .bind(sealed)
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.totp_enable",
            entity: "user",
            entity_id: &actor.username,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Turns the second factor off (the person gives a current code, or an
/// administrator does it for them); audited.
pub async fn disable(db: &Db, actor: &Actor, user_id: i64, username: &str) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_last_step = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "user.totp_disable",
            entity: "user",
            entity_id: username,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Opens a challenge for a user whose password was right; answers the
/// secret to put in the cookie.
pub async fn open_challenge(db: &Db, user_id: i64, next: Option<&str>) -> Result<String, Error> {
    let secret = token::generate_reset();
    let now = time::now();
    sqlx::query("DELETE FROM login_challenges WHERE expires_at < $1 OR user_id = $2")
        .bind(time::to_db(now))
        .bind(user_id)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO login_challenges (token_hash, user_id, next, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token::hash(&secret))
    .bind(user_id)
    .bind(next)
    .bind(time::to_db(now + chrono::Duration::minutes(CHALLENGE_MINUTES)))
    .execute(db.pool())
    .await?;
    Ok(secret)
}

/// The user and the page to go to of a live challenge.
pub async fn challenge(db: &Db, secret: &str) -> Result<Option<(i64, Option<String>)>, Error> {
    if !token::looks_like_reset(secret) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT user_id, next FROM login_challenges WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token::hash(secret))
    .bind(time::to_db(time::now()))
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("user_id")?, r.try_get("next")?)),
        None => None,
    })
}

/// Closes a challenge (its code was right).
pub async fn close_challenge(db: &Db, secret: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
        .bind(token::hash(secret))
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238, appendix B: the ASCII key "12345678901234567890", SHA-1,
        // eight digits there; six here are the last six of theirs.
        let s = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
        assert_eq!(s.code_at(1_234_567_890), "005924");
        assert_eq!(s.matching_step("005924", 1_234_567_890), Some(41_152_263));
        // One step either side, not two.
        assert_eq!(
            s.matching_step("005924", 1_234_567_890 + 30),
            Some(41_152_263)
        );
        assert_eq!(s.matching_step("005924", 1_234_567_890 + 60), None);
        assert_eq!(s.matching_step("00592", 1_234_567_890), None);
        assert_eq!(s.matching_step("abcdef", 1_234_567_890), None);
    }

    #[test]
    fn base32_round_trips_and_debug_hides() {
        let s = TotpSecret::generate();
        assert_eq!(
            TotpSecret::parse_base32(&s.to_base32()).ok(),
            Some(s.clone())
        );
        assert!(!format!("{s:?}").contains(&s.to_base32()));
        assert!(TotpSecret::parse_base32("pas du base32 !").is_err());
        let url = s.url("karim").unwrap_or_default();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(qr_svg(&url).unwrap_or_default().starts_with("<svg"));
    }
}
