//! The devices an admin adds for polling: what a form or an API call gives
//! is parsed once into a [`NewDevice`] (a name, an address, SNMP
//! credentials), and stored with its secrets sealed by the régie's key
//! (see [`crate::storage`]). Pages and the API only ever see a
//! [`DeviceSummary`], which holds no secret.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::poller::Device;
use crate::snmp::{Credentials, Target, V3Auth};
use crate::Error;

/// The longest device name accepted.
pub const NAME_MAX: usize = 64;

/// A device's name: letters, digits, `.`, `-` and `_`, as OLT codes are
/// written in the inventory (so that an OLT's alarms meet its PON ports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DeviceName(String);

impl DeviceName {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("le nom de l'équipement est vide".into()));
        }
        if text.chars().count() > NAME_MAX {
            return Err(Error::Invalid(format!(
                "le nom de l'équipement dépasse {NAME_MAX} caractères"
            )));
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(Error::Invalid(format!(
                "nom « {text} » : lettres sans accent, chiffres, « . », « - » et « _ » seulement"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An SNMP agent's address: an IP address, with the port 161 unless
/// another is given (`192.0.2.10`, `192.0.2.10:1161`, `[2001:db8::1]:161`).
pub fn parse_address(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    if let Ok(a) = text.parse::<SocketAddr>() {
        return if a.port() == 0 {
            Err(Error::Invalid(format!("adresse « {text} » : port 0")))
        } else {
            Ok(a)
        };
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 161))
        .map_err(|_| {
            Error::Invalid(format!(
                "adresse « {text} » : une adresse IP, suivie au besoin de « :port » (par ex. 192.0.2.10 ou 192.0.2.10:161)"
            ))
        })
}

/// What an admin fills in (form or JSON). Secrets never reach `Debug`.
#[derive(Clone, Default, Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    /// `v2c` or `v3`.
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub community: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// `sha1` or `sha256` (the default).
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub auth_key: Option<String>,
    #[serde(default)]
    pub priv_key: Option<String>,
    /// SNMPv3 context name (0 to 32 characters; empty: the default one).
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retries: Option<u32>,
}

impl std::fmt::Debug for DeviceForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceForm")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("version", &self.version)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Bounds of the per-device settings.
pub const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
pub const RETRIES_MAX: u32 = 10;

/// A device ready to store: every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub name: DeviceName,
    pub target: Target,
}

fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl NewDevice {
    pub fn parse(form: &DeviceForm) -> Result<Self, Error> {
        Self::parse_fields(form).map_err(|(_, e)| e)
    }

    /// As [`NewDevice::parse`], naming the field at fault (for a form).
    pub fn parse_fields(form: &DeviceForm) -> Result<Self, (&'static str, Error)> {
        let at = |field: &'static str| move |e: Error| (field, e);
        let bad = |field: &'static str, m: String| (field, Error::Invalid(m));
        let name = DeviceName::parse(&form.name).map_err(at("name"))?;
        let address = parse_address(&form.address).map_err(at("address"))?;
        let credentials = match form.version.trim() {
            "v2c" | "2c" | "" => {
                let community = filled(&form.community).ok_or_else(|| {
                    bad("community", "la communauté SNMPv2c est obligatoire".into())
                })?;
                if community.len() > 64 {
                    return Err(bad(
                        "community",
                        "la communauté dépasse 64 caractères".into(),
                    ));
                }
                Credentials::V2c {
                    community: community.to_owned(),
                }
            }
            "v3" | "3" => {
                let user = filled(&form.user)
                    .ok_or_else(|| bad("user", "l'utilisateur SNMPv3 est obligatoire".into()))?;
                if user.len() > 32 {
                    return Err(bad(
                        "user",
                        "l'utilisateur SNMPv3 dépasse 32 caractères".into(),
                    ));
                }
                let auth = V3Auth::parse(filled(&form.auth)).map_err(|m| bad("auth", m))?;
                let key = |v: &Option<String>, field: &'static str, what: &str| match v.as_deref() {
                    Some(k) if k.len() >= 8 && k.len() <= 256 => Ok(k.to_owned()),
                    _ => Err(bad(
                        field,
                        format!("la clé {what} doit compter de 8 à 256 caractères (RFC 3414)"),
                    )),
                };
                let context = filled(&form.context).unwrap_or_default();
                if context.chars().count() > 32 || context.chars().any(char::is_control) {
                    return Err(bad(
                        "context",
                        "le contexte SNMPv3 compte au plus 32 caractères, sans caractère de contrôle".into(),
                    ));
                }
                Credentials::V3 {
                    user: user.to_owned(),
                    auth,
                    auth_key: key(&form.auth_key, "auth_key", "d'authentification")?,
                    priv_key: key(&form.priv_key, "priv_key", "de chiffrement")?,
                    context: context.to_owned(),
                }
            }
            other => {
                return Err(bad(
                    "version",
                    format!("version SNMP « {other} » : v2c ou v3"),
                ))
            }
        };
        let timeout_ms = form.timeout_ms.unwrap_or(2000);
        if !TIMEOUT_MS.contains(&timeout_ms) {
            return Err(bad(
                "timeout_ms",
                format!(
                    "délai d'attente {timeout_ms} ms : entre {} et {} ms",
                    TIMEOUT_MS.start(),
                    TIMEOUT_MS.end()
                ),
            ));
        }
        let retries = form.retries.unwrap_or(2);
        if retries > RETRIES_MAX {
            return Err(bad(
                "retries",
                format!("{retries} nouvelles tentatives : {RETRIES_MAX} au plus"),
            ));
        }
        Ok(Self {
            name,
            target: Target {
                address,
                credentials,
                timeout: Duration::from_millis(timeout_ms),
                retries,
            },
        })
    }

    pub fn device(&self) -> Device {
        Device {
            name: self.name.as_str().to_owned(),
            target: self.target.clone(),
        }
    }
}

/// A stored device as pages and the API show it: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    pub name: String,
    pub address: String,
    /// `v2c` or `v3`.
    pub version: String,
    pub user: Option<String>,
    pub auth: Option<String>,
    pub timeout_ms: u64,
    pub retries: u32,
    pub added_by: String,
    pub added_at: String,
    /// The SNMPv3 context (none: the agent's default one).
    pub context: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2c() -> DeviceForm {
        DeviceForm {
            name: "OLT01".into(),
            address: "192.0.2.10".into(),
            version: "v2c".into(),
            community: Some("lecture".into()),
            ..DeviceForm::default()
        }
    }

    #[test]
    fn names_follow_inventory_codes() {
        assert_eq!(
            DeviceName::parse(" OLT-01.b_2 ").unwrap().as_str(),
            "OLT-01.b_2"
        );
        for bad in ["", "   ", "OLT 01", "équipement", "a/b", &"x".repeat(65)] {
            assert!(DeviceName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_take_port_161_by_default() {
        assert_eq!(
            parse_address("192.0.2.10").unwrap().to_string(),
            "192.0.2.10:161"
        );
        assert_eq!(parse_address("192.0.2.10:1161").unwrap().port(), 1161);
        assert_eq!(
            parse_address("2001:db8::1").unwrap().to_string(),
            "[2001:db8::1]:161"
        );
        assert_eq!(parse_address("[2001:db8::1]:162").unwrap().port(), 162);
        for bad in [
            "",
            "olt01.mairie.fr",
            "192.0.2.300",
            "192.0.2.10:0",
            "192.0.2.10:99999",
        ] {
            let e = parse_address(bad).unwrap_err().to_string();
            assert!(e.contains("adresse"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_v2c_form_parses_and_hides_its_community() {
        let d = NewDevice::parse(&v2c()).unwrap();
        assert_eq!(d.target.timeout, Duration::from_secs(2));
        assert_eq!(d.target.retries, 2);
        assert!(!format!("{d:?}").contains("lecture"));
        assert!(!format!("{:?}", v2c()).contains("lecture"));
    }

    #[test]
    fn a_v3_form_needs_a_user_and_long_enough_keys() {
        let mut f = DeviceForm {
            version: "v3".into(),
            user: Some("regie".into()),
            auth: Some("sha1".into()),
            auth_key: Some("authsecret".into()),
            priv_key: Some("privsecret".into()),
            ..v2c()
        };
        let d = NewDevice::parse(&f).unwrap();
        assert!(matches!(
            d.target.credentials,
            Credentials::V3 {
                auth: V3Auth::Sha1,
                ..
            }
        ));
        assert!(!format!("{d:?}").contains("secret"));
        f.priv_key = Some("court".into());
        assert!(NewDevice::parse(&f)
            .unwrap_err()
            .to_string()
            .contains("chiffrement"));
        f.priv_key = Some("privsecret".into());
        f.auth = Some("md5".into());
        assert!(NewDevice::parse(&f).is_err());
        f.auth = None;
        f.user = Some("  ".into());
        assert!(NewDevice::parse(&f)
            .unwrap_err()
            .to_string()
            .contains("utilisateur"));
    }

    #[test]
    fn bad_settings_are_refused_with_their_bounds() {
        let f = DeviceForm {
            community: None,
            ..v2c()
        };
        assert!(NewDevice::parse(&f)
            .unwrap_err()
            .to_string()
            .contains("communauté"));
        let f = DeviceForm {
            version: "v1".into(),
            ..v2c()
        };
        assert!(NewDevice::parse(&f)
            .unwrap_err()
            .to_string()
            .contains("v2c ou v3"));
        let f = DeviceForm {
            timeout_ms: Some(10),
            ..v2c()
        };
        assert!(NewDevice::parse(&f)
            .unwrap_err()
            .to_string()
            .contains("100"));
        let f = DeviceForm {
            retries: Some(11),
            ..v2c()
        };
        assert!(NewDevice::parse(&f).is_err());
    }
}
