//! Households: the people the social tariff serves.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Stable human code of a household, `FOY-` followed by six characters from
/// an alphabet without look-alikes (no 0/O, 1/I/L), so it can be read out at
/// the counter or over the phone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct HouseholdCode(String);

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

impl HouseholdCode {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_uppercase();
        let rest = s.strip_prefix("FOY-").ok_or_else(|| {
            Error::Invalid(format!("« {s} » n'est pas un code de foyer (FOY-XXXXXX)"))
        })?;
        if rest.len() != 6 || !rest.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Error::Invalid(format!(
                "« {s} » n'est pas un code de foyer (FOY-XXXXXX)"
            )));
        }
        Ok(Self(s))
    }

    /// A fresh random code. Uniqueness is guaranteed by the table's unique
    /// constraint; the caller retries on a collision.
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let rest: String = (0..6)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("FOY-{rest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HouseholdCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<HouseholdCode> for String {
    fn from(c: HouseholdCode) -> String {
        c.0
    }
}

impl std::fmt::Display for HouseholdCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A household as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Household {
    #[schema(value_type = String, example = "FOY-7KQ2MX")]
    pub code: HouseholdCode,
    /// How the household is addressed (e.g. "Famille Martin").
    pub display_name: String,
    /// The user account of the household itself, when it has one.
    pub user_id: Option<i64>,
    /// UTC, RFC 3339.
    pub created_at: String,
}

/// What is needed to create a household.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewHousehold {
    pub display_name: String,
    /// Links the household to the user account of its members, if any.
    pub user_id: Option<i64>,
}

impl NewHousehold {
    /// Checks the input; returns the trimmed display name.
    pub(crate) fn validated_name(&self) -> Result<String, Error> {
        let name = self.display_name.trim();
        if name.is_empty() {
            return Err(Error::Invalid("le nom du foyer est obligatoire".into()));
        }
        if name.chars().count() > 120 {
            return Err(Error::Invalid(
                "le nom du foyer ne peut dépasser 120 caractères".into(),
            ));
        }
        Ok(name.to_owned())
    }
}

/// Which households a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Staff: every household.
    All,
    /// A household user: only the households linked to this user id.
    Own(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse() {
        for _ in 0..100 {
            let c = HouseholdCode::generate();
            assert_eq!(HouseholdCode::parse(c.as_str()).ok(), Some(c));
        }
    }

    #[test]
    fn parse_normalises_case_and_space() {
        assert_eq!(
            HouseholdCode::parse(" foy-7kq2mx ").map(|c| c.0).ok(),
            Some("FOY-7KQ2MX".to_owned())
        );
    }

    #[test]
    fn parse_rejects_bad_codes() {
        for bad in [
            "",
            "FOY-",
            "FOY-12345",
            "FOY-7KQ2M0",
            "FOY-7KQ2MXX",
            "ABC-7KQ2MX",
            "FOY-7KQ 2M",
        ] {
            assert!(HouseholdCode::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn name_is_required_and_bounded() {
        let n = |s: &str| {
            NewHousehold {
                display_name: s.into(),
                user_id: None,
            }
            .validated_name()
        };
        assert!(n("  ").is_err());
        assert!(n(&"x".repeat(121)).is_err());
        assert_eq!(
            n(" Famille Martin ").ok().as_deref(),
            Some("Famille Martin")
        );
    }
}
