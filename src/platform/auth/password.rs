//! Password hashing with argon2id.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::Error;

/// A password that meets the policy. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

/// The shortest password accepted (NIST SP 800-63B asks at least 8; a
/// phrase of a few words is easier to remember than a short cipher).
pub const MIN_CHARS: usize = 12;

impl Password {
    /// At least [`MIN_CHARS`] characters and at most 1,024 (bounding the
    /// hashing work), and not one of the 100,000 most common passwords
    /// (shipped with the binary). No other composition rule (NIST SP
    /// 800-63B § 5.1.1.2).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let n = s.chars().count();
        if n < MIN_CHARS {
            return Err(Error::Invalid(format!(
                "le mot de passe doit compter au moins {MIN_CHARS} caractères (une phrase de quelques mots convient)"
            )));
        }
        if n > 1024 {
            return Err(Error::Invalid(
                "le mot de passe ne peut dépasser 1024 caractères".into(),
            ));
        }
        if is_common(s) {
            return Err(Error::Invalid(
                "ce mot de passe fait partie des plus courants, que les attaquants essaient en premier : choisissez-en un autre".into(),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// A random password for demo accounts: 16 characters without
    /// look-alikes, so it can be copied from a terminal by hand.
    pub fn random() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::thread_rng();
        Self(
            (0..16)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hashes with argon2id and a random salt (PHC string format).
    pub fn hash(&self) -> Result<String, Error> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    }
}

/// Whether a password is among the most common ones, as typed or in lower
/// case.
pub fn is_common(s: &str) -> bool {
    passwords::analyzer::is_common_password(s)
        || passwords::analyzer::is_common_password(s.to_lowercase())
}

/// [`Password::hash`] on a thread of the blocking pool (argon2 takes tens
/// of milliseconds of CPU).
pub async fn hash_off_thread(password: Password) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|e| Error::Internal(format!("password hashing: {e}")))?
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(****)")
    }
}

/// A valid argon2id hash of a random string, used to spend the same time on
/// unknown usernames as on known ones.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1UWvKVGzE0Mq6bvwkgYbnP1B6vGyO9Mx8lYFj3Ewv2k";

/// [`verify`] on a thread of the blocking pool: argon2 takes tens of
/// milliseconds of CPU, which on an async worker would stall every other
/// request (400 parallel logins took `/healthz` from 1 to 926 ms).
pub async fn verify_off_thread(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// Checks a password against a stored hash. A malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let p = Password::parse("correct horse battery").expect("valid");
        let h = p.hash().expect("hashes");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterie", &h));
    }

    #[test]
    fn policy() {
        assert!(Password::parse("court").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        // Eleven characters: one short of the rule.
        assert!(Password::parse("onze-caract").is_err());
        assert!(Password::parse("douze-caract").is_ok());
        // Twelve characters and more, yet among the most common passwords
        // (entries of the shipped list), as typed and in capitals.
        for common in ["123456789012", "Telechargement", "ASDFASDFASDF"] {
            let e = Password::parse(common).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|m| m.contains("plus courants")),
                "{common}: {e:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let p = Password::parse("tres-secret-123").expect("valid");
        assert!(!format!("{p:?}").contains("secret"));
    }

    #[test]
    fn dummy_hash_is_well_formed() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify("anything", DUMMY_HASH));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn random_passwords_meet_policy() {
        let a = Password::random();
        assert!(Password::parse(a.expose()).is_ok());
        assert_ne!(a.expose(), Password::random().expose());
    }
}
