//! A subscriber line as the rest of the product sees it.

use serde::Serialize;

use crate::lifecycle::{State, SuspendReason};

/// The optical path reserved for a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Path {
    pub outlet: String,
    /// The distribution box and the position (port) taken in it.
    pub pbo: Option<String>,
    pub pbo_position: Option<String>,
    /// The PM splitter output (position) taken.
    pub splitter_output: String,
    pub pm: Option<String>,
    pub pon_port: String,
    pub olt: String,
    pub frame: u32,
    pub slot: u32,
    pub port: u32,
    pub ont_id: u32,
}

/// The optical-budget verdict stored with the line at reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// The optical class judged against, e.g. `GPON B+`.
    pub class: String,
    /// Total loss of the path, in thousandths of a dB.
    pub total_mdb: i64,
    /// Budget left (negative: over budget), in thousandths of a dB.
    pub margin_mdb: i64,
    pub pass: bool,
    /// Why a path over budget was reserved anyway.
    pub override_reason: Option<String>,
}

/// The ONT installed at the premises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ont {
    pub serial: String,
    /// Optical power measured at installation, in hundredths of a dBm.
    pub rx_cdbm: i64,
    pub notes: Option<String>,
}

/// What the network gives the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub ipv4: String,
    pub ipv4_pool: String,
    /// Delegated IPv6 prefix (/56), the line's own until termination.
    pub ipv6_prefix: String,
    pub ipv6_prefix_pool: String,
    /// IPv6 prefix of the WAN link (/64).
    pub ipv6_wan: String,
    pub ipv6_wan_pool: String,
    pub svlan: u16,
    pub cvlan: u16,
    /// Agent-Circuit-Id the BNG sends for this line (RFC 4679): generated
    /// from OLT, slot, port and ONT id, stored, never parsed back.
    pub circuit_id: String,
}

/// Which kind of IPv4 address a line gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ipv4Kind {
    Public,
    Cgnat,
}

impl Ipv4Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Ipv4Kind::Public => "public",
            Ipv4Kind::Cgnat => "cgnat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Ipv4Kind::Public),
            "cgnat" => Some(Ipv4Kind::Cgnat),
            _ => None,
        }
    }
}

/// A subscriber line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub id: String,
    /// The premises (`t_suf.sf_code`).
    pub premises: String,
    pub address: Option<String>,
    pub state: State,
    pub ipv4_kind: Ipv4Kind,
    /// Bandwidth profile name (e.g. `1G`).
    pub profile: String,
    pub path: Option<Path>,
    pub budget: Option<Budget>,
    pub ont: Option<Ont>,
    pub service: Option<Service>,
    pub suspend_reason: Option<SuspendReason>,
    /// The last failure of a step that talks to the network (OLT, BNG),
    /// until a step succeeds.
    pub last_error: Option<String>,
    /// State of the last change of authorization sent to the BNG.
    pub nas_status: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

/// One entry of a line's history, also the feed other crates (billing)
/// read to learn of every state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Increasing over all lines: a reader remembers the last it saw.
    pub seq: i64,
    pub line_id: String,
    pub at: String,
    pub step: String,
    pub from_state: Option<State>,
    pub to_state: State,
    pub detail: Option<serde_json::Value>,
    pub actor: String,
}
