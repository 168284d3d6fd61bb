//! Secrets at rest: a 256-bit key kept outside the database (a file of its
//! own, or the environment) seals the credentials the database stores
//! (SNMP communities and keys, and later uploaded scans) with AES-256-GCM.
//!
//! A sealed value is `1 ‖ nonce (12 bytes) ‖ ciphertext ‖ tag`; the leading
//! byte names the format so that a later one can be told apart. The
//! caller's *context* (e.g. the row's name) is authenticated with it, so a
//! sealed value copied into another row does not open there.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

use crate::CoreError;

const FORMAT: u8 = 1;
const NONCE_BYTES: usize = 12;

/// The key sealing the secrets the database holds. Its `Debug` shows
/// nothing of it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

fn invalid(what: &str) -> CoreError {
    CoreError::Secret(what.to_owned())
}

impl SecretKey {
    /// A key written as 64 hexadecimal digits or as the base64 of 32 bytes
    /// (what [`SecretKey::to_text`] writes).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            text.as_bytes()
                .chunks(2)
                .map(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| invalid("the key is not hexadecimal"))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    invalid("the key is neither 64 hexadecimal digits nor base64 of 32 bytes")
                })?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid("the key must be 32 bytes (256 bits) long"))?;
        Ok(Self(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    /// The key as base64, as [`SecretKey::parse`] reads it.
    pub fn to_text(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads the key file, or creates it (readable by its owner only) with
    /// a fresh key when it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Self, CoreError> {
        let io = |e: std::io::Error| CoreError::Secret(format!("key file {}: {e}", path.display()));
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .map_err(|e| CoreError::Secret(format!("key file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(io)?;
                std::io::Write::write_all(&mut file, format!("{}\n", key.to_text()).as_bytes())
                    .map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "secret key created");
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            // AES-GCM fails only past 64 GiB per message.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] sealed with the same key and context.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CoreError> {
        let refused =
            || invalid("a sealed secret does not open: another key, another row, or altered");
        match sealed.split_first() {
            Some((&FORMAT, rest)) if rest.len() > NONCE_BYTES => {
                let (nonce, body) = rest.split_at(NONCE_BYTES);
                self.cipher()
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: body,
                            aad: context.as_bytes(),
                        },
                    )
                    .map_err(|_| refused())
            }
            _ => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_nothing_else() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let k = SecretKey::parse(hex).unwrap();
        assert_eq!(SecretKey::parse(&k.to_text()).unwrap().0, k.0);
        assert!(SecretKey::parse("").is_err());
        assert!(SecretKey::parse("trop court").is_err());
        assert!(SecretKey::parse(&"zz".repeat(32)).is_err());
        // 31 bytes in base64.
        assert!(
            SecretKey::parse(&base64::engine::general_purpose::STANDARD.encode([7u8; 31])).is_err()
        );
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let k = SecretKey::generate();
        let sealed = k.seal(b"public", "OLT01");
        assert!(!sealed.windows(6).any(|w| w == b"public"));
        assert_eq!(k.open(&sealed, "OLT01").unwrap(), b"public");
        assert!(k.open(&sealed, "OLT02").is_err());
        assert!(SecretKey::generate().open(&sealed, "OLT01").is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(k.open(&altered, "OLT01").is_err());
        assert!(k.open(&[], "OLT01").is_err());
        assert!(k.open(&[1, 2, 3], "OLT01").is_err());
        // Two seals of one value differ (fresh nonce).
        assert_ne!(k.seal(b"public", "OLT01"), sealed);
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let a = SecretKey::load_or_create(&path).unwrap();
        let b = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "abîmé").unwrap();
        assert!(SecretKey::load_or_create(&path).is_err());
    }

    proptest! {
        #[test]
        fn seal_then_open_is_the_identity(msg in proptest::collection::vec(any::<u8>(), 0..512), ctx in ".{0,40}") {
            let k = SecretKey::generate();
            prop_assert_eq!(k.open(&k.seal(&msg, &ctx), &ctx).unwrap(), msg);
        }
    }
}
