//! The roles of Régie's users.

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a user does at the régie. A user has one or more roles.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Technician,
    Accountant,
    SocialAgent,
    Household,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Technician,
        Role::Accountant,
        Role::SocialAgent,
        Role::Household,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Technician => "technician",
            Role::Accountant => "accountant",
            Role::SocialAgent => "social_agent",
            Role::Household => "household",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown role {s:?}; roles are admin, technician, accountant, social_agent, household"
                ))
            })
    }

    /// The name of the role in the pages.
    pub fn label_fr(self) -> &'static str {
        match self {
            Role::Admin => "Administration",
            Role::Technician => "Technicien réseau",
            Role::Accountant => "Comptabilité",
            Role::SocialAgent => "Instruction sociale",
            Role::Household => "Foyer",
        }
    }

    /// The home page of the role.
    pub fn home(self) -> &'static str {
        match self {
            Role::Admin => "/admin",
            Role::Technician => "/technicien",
            Role::Accountant => "/comptabilite",
            Role::SocialAgent => "/instruction",
            Role::Household => "/mon-espace",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).ok(), Some(r));
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
    }

    #[test]
    fn unknown_role_rejected() {
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("").is_err());
        assert!(Role::parse("Admin").is_err());
    }
}
