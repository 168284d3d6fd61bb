//! Refurbished-equipment grants: devices received from partner
//! associations, a yearly budget voted by délibération, requests from
//! households entitled to the social tariff, allocation in the order of the
//! requests, a waiting list served as soon as a device or budget comes
//! back, and the handover recorded.
//!
//! A household gets one grant per budget year. A device goes to one grant
//! only: unique keys guard both, whatever two agents do at once.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Error;

/// What kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Laptop,
    Desktop,
    Tablet,
    Phone,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Laptop,
        DeviceKind::Desktop,
        DeviceKind::Tablet,
        DeviceKind::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Laptop => "laptop",
            DeviceKind::Desktop => "desktop",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "type d'équipement « {} » inconnu (laptop, desktop, tablet ou phone)",
                    s.trim()
                ))
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            DeviceKind::Laptop => "ordinateur portable",
            DeviceKind::Desktop => "ordinateur fixe",
            DeviceKind::Tablet => "tablette",
            DeviceKind::Phone => "téléphone",
        }
    }
}

/// The state of a refurbished device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Like new.
    A,
    /// Light signs of use.
    B,
    /// Visible wear, fully working.
    C,
}

impl Condition {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "a" | "A" => Ok(Condition::A),
            "b" | "B" => Ok(Condition::B),
            "c" | "C" => Ok(Condition::C),
            other => Err(Error::Invalid(format!(
                "état « {other} » inconnu (A, B ou C)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::A => "a",
            Condition::B => "b",
            Condition::C => "c",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Condition::A => "comme neuf",
            Condition::B => "légères traces d'usage",
            Condition::C => "usé, en état de marche",
        }
    }
}

/// A device as received, checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct NewDevice {
    pub partner: String,
    pub kind: DeviceKind,
    pub model: String,
    pub serial: String,
    pub condition: Condition,
    /// Its value, in cents: what the grant is worth against the budget.
    pub value_cents: i64,
    pub received_on: NaiveDate,
}

impl NewDevice {
    pub fn check(&self, today: NaiveDate) -> Result<(), Error> {
        let text = |v: &str, what: &str, max: usize| {
            let v = v.trim();
            if v.is_empty() || v.chars().count() > max {
                Err(Error::Invalid(format!(
                    "{what} est obligatoire ({max} caractères au plus)"
                )))
            } else {
                Ok(())
            }
        };
        text(&self.partner, "l'association partenaire", 120)?;
        text(&self.model, "le modèle", 120)?;
        text(&self.serial, "le numéro de série", 60)?;
        if !(1..=500_000).contains(&self.value_cents) {
            return Err(Error::Invalid(
                "la valeur d'un équipement va de 0,01 € à 5 000 €".into(),
            ));
        }
        if self.received_on > today {
            return Err(Error::Invalid(
                "la date de réception est dans le futur".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    InStock,
    Reserved,
    HandedOver,
}

impl DeviceStatus {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "in_stock" => Ok(DeviceStatus::InStock),
            "reserved" => Ok(DeviceStatus::Reserved),
            "handed_over" => Ok(DeviceStatus::HandedOver),
            other => Err(Error::Invalid(format!(
                "état d'équipement inconnu : {other}"
            ))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeviceStatus::InStock => "en stock",
            DeviceStatus::Reserved => "réservé",
            DeviceStatus::HandedOver => "remis",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub id: i64,
    pub partner: String,
    pub kind: DeviceKind,
    pub model: String,
    pub serial: String,
    pub condition: Condition,
    pub value_cents: i64,
    pub received_on: NaiveDate,
    pub status: DeviceStatus,
}

/// A year's envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub year: i32,
    pub deliberation: String,
    pub amount_cents: i64,
    /// Devices allocated or handed over this year.
    pub committed_cents: i64,
}

impl Budget {
    pub fn remaining_cents(&self) -> i64 {
        self.amount_cents - self.committed_cents
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// On the waiting list.
    Waiting,
    /// A device is set aside for the household.
    Allocated,
    HandedOver,
    Cancelled,
}

impl GrantStatus {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "waiting" => Ok(GrantStatus::Waiting),
            "allocated" => Ok(GrantStatus::Allocated),
            "handed_over" => Ok(GrantStatus::HandedOver),
            "cancelled" => Ok(GrantStatus::Cancelled),
            other => Err(Error::Invalid(format!("état d'aide inconnu : {other}"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Waiting => "waiting",
            GrantStatus::Allocated => "allocated",
            GrantStatus::HandedOver => "handed_over",
            GrantStatus::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GrantStatus::Waiting => "en liste d'attente",
            GrantStatus::Allocated => "équipement réservé, à remettre",
            GrantStatus::HandedOver => "équipement remis",
            GrantStatus::Cancelled => "annulée",
        }
    }
}

/// How the handover was attested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attestation {
    /// The household signed the handover receipt.
    Signature,
    /// The agent attests the handover (the household could not sign).
    Agent,
}

impl Attestation {
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::Signature => "signature",
            Attestation::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "signature" => Ok(Attestation::Signature),
            "agent" => Ok(Attestation::Agent),
            other => Err(Error::Invalid(format!(
                "attestation « {other} » inconnue (signature ou agent)"
            ))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Attestation::Signature => "signée par le foyer",
            Attestation::Agent => "attestée par l'agent",
        }
    }
}

/// An amount in euros as people write it (`150`, `149,90`, `149.9`,
/// `1 200`), in cents. At most two decimals; never negative.
pub fn parse_euros(s: &str) -> Result<i64, Error> {
    match regie_core::fr::parse_euros(s) {
        Some(cents) if cents >= 0 => Ok(cents),
        _ => Err(Error::Invalid(format!(
            "« {} » n'est pas un montant en euros (par exemple 149,90)",
            s.trim()
        ))),
    }
}

/// Cents written in French (`1 234,50 €`).
pub use regie_core::fr::euros;

/// A household's request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: i64,
    pub household: String,
    pub kind: DeviceKind,
    pub year: i32,
    pub requested_at: String,
    pub status: GrantStatus,
    pub device: Option<Device>,
    pub value_cents: Option<i64>,
    pub allocated_at: Option<String>,
    pub handed_over_on: Option<NaiveDate>,
    pub attestation: Option<Attestation>,
    pub handed_by: Option<String>,
    /// Place on the waiting list (1 = next served), when waiting.
    pub position: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> NewDevice {
        NewDevice {
            partner: "Emmaüs Connect".into(),
            kind: DeviceKind::Laptop,
            model: "ThinkPad T480".into(),
            serial: "PF1ABC23".into(),
            condition: Condition::B,
            value_cents: 15_000,
            received_on: "2026-11-20".parse().unwrap_or_default(),
        }
    }

    #[test]
    fn a_device_needs_its_partner_model_serial_value_and_a_past_date() {
        let today: NaiveDate = "2026-12-01".parse().unwrap_or_default();
        assert!(device().check(today).is_ok());
        for bad in [
            NewDevice {
                partner: " ".into(),
                ..device()
            },
            NewDevice {
                serial: String::new(),
                ..device()
            },
            NewDevice {
                value_cents: 0,
                ..device()
            },
            NewDevice {
                value_cents: 600_000,
                ..device()
            },
            NewDevice {
                received_on: "2026-12-02".parse().unwrap_or_default(),
                ..device()
            },
        ] {
            assert!(bad.check(today).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn euros_parse_as_people_write_them() {
        for (text, cents) in [
            ("150", 15_000),
            ("149,90", 14_990),
            ("149.9", 14_990),
            ("1 200 €", 120_000),
            ("0,05", 5),
        ] {
            assert_eq!(parse_euros(text).ok(), Some(cents), "{text}");
        }
        for bad in [
            "",
            "-3",
            "12,345",
            "douze",
            "1,2,3",
            ",50",
            "99999999999999",
        ] {
            assert!(parse_euros(bad).is_err(), "{bad}");
        }
        assert_eq!(euros(123_450), "1\u{202f}234,50 €");
        assert_eq!(euros(5), "0,05 €");
    }

    proptest::proptest! {
        #[test]
        fn euros_written_read_back(cents in 0i64..100_000_000_000) {
            proptest::prop_assert_eq!(parse_euros(&euros(cents)).ok(), Some(cents));
        }
    }

    #[test]
    fn kinds_and_conditions_parse() {
        assert_eq!(DeviceKind::parse("phone").ok(), Some(DeviceKind::Phone));
        assert!(DeviceKind::parse("fax").is_err());
        assert_eq!(Condition::parse("B").ok(), Some(Condition::B));
        assert!(Condition::parse("D").is_err());
    }
}
