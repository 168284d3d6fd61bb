//! Session and API token secrets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A browser session (cookie), bound to a CSRF token.
    Session,
    /// An API bearer token.
    Api,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Api => "api",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "rgs_",
            TokenKind::Api => "rga_",
        }
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new secret: a prefix naming its kind (so a leaked token is recognisable
/// in a secret scanner) and 256 random bits.
pub fn generate(kind: TokenKind) -> String {
    format!("{}{}", kind.prefix(), random_b64(32))
}

/// A new password-reset secret (`rgr_` and 256 random bits).
pub fn generate_reset() -> String {
    format!("rgr_{}", random_b64(32))
}

/// Cheap shape check of a password-reset secret.
pub fn looks_like_reset(secret: &str) -> bool {
    secret.len() == 4 + 43
        && secret.strip_prefix("rgr_").is_some_and(|rest| {
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A new CSRF token for a session.
pub fn generate_csrf() -> String {
    random_b64(24)
}

/// Cheap shape check before any database lookup.
pub fn looks_like(secret: &str, kind: TokenKind) -> bool {
    secret.len() == 4 + 43
        && secret.strip_prefix(kind.prefix()).is_some_and(|rest| {
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What the database stores instead of the secret.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    // Slices of different lengths differ at once: the length of a token
    // is no secret (every token of a kind has the same).
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_their_shape() {
        for kind in [TokenKind::Session, TokenKind::Api] {
            let t = generate(kind);
            assert!(looks_like(&t, kind), "{t}");
        }
        assert!(!looks_like(&generate(TokenKind::Api), TokenKind::Session));
        assert!(!looks_like("rga_short", TokenKind::Api));
        assert!(!looks_like("", TokenKind::Api));
    }

    #[test]
    fn hash_is_stable_and_hex() {
        assert_eq!(hash("abc"), hash("abc"));
        assert_eq!(hash("abc").len(), 64);
        assert_ne!(hash("abc"), hash("abd"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
