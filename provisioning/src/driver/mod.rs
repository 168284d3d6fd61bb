//! The vendor-neutral OLT driver interface.
//!
//! The database decides (which ONT id on which port, which VLANs); a driver
//! only carries the decision to an OLT and reads back what the OLT holds.
//! Each vendor's driver translates these calls into its own protocol: the
//! [`simulator`] keeps an OLT's state in memory with the limits of a real
//! one, [`huawei`] renders and pushes MA5800 CLI over SSH.

pub mod huawei;
pub mod simulator;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::ids::OntSerial;

/// Where an ONT sits on an OLT: frame/slot/port and the ONT id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OntLocation {
    pub frame: u32,
    pub slot: u32,
    pub port: u32,
    pub ont_id: u32,
}

impl fmt::Display for OntLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} ONT {}",
            self.frame, self.slot, self.port, self.ont_id
        )
    }
}

/// An ONT to declare on a PON port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OntSpec {
    pub location: OntLocation,
    pub serial: OntSerial,
    /// The OLT's line profile (T-CONTs and GEM ports).
    pub line_profile: u32,
    /// The OLT's service profile (the ONT's ports).
    pub service_profile: u32,
    /// Free text stored on the OLT: the line id, so an OLT operator can find
    /// the line.
    pub description: String,
}

/// The subscriber's service on an ONT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    pub location: OntLocation,
    /// Outer tag, per PON port.
    pub svlan: u16,
    /// Inner tag, per line.
    pub cvlan: u16,
    /// The GEM port carrying the service.
    pub gemport: u32,
    /// The VLAN the ONT tags the subscriber's traffic with (user side).
    pub user_vlan: u16,
    /// The OLT's traffic table (bandwidth profile) index.
    pub traffic_table: u32,
}

/// An ONT seen by the OLT but not declared (discovery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredOnt {
    pub frame: u32,
    pub slot: u32,
    pub port: u32,
    pub serial: OntSerial,
}

/// What an OLT holds for one declared ONT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfiguredOnt {
    pub location: OntLocation,
    pub serial: OntSerial,
    pub description: String,
    pub admin_up: bool,
    /// (S-VLAN, C-VLAN) of each service port.
    pub services: Vec<(u16, u16)>,
}

/// What an ONT reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OntStatus {
    pub online: bool,
    /// Received optical power at the ONT, in hundredths of a dBm.
    pub rx_cdbm: Option<i32>,
    /// Transmitted optical power, in hundredths of a dBm.
    pub tx_cdbm: Option<i32>,
    /// Fibre distance measured by ranging, in metres.
    pub distance_m: Option<u32>,
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The OLT could not be reached (connection refused, SSH failure).
    #[error("OLT {olt} injoignable : {reason}")]
    Unreachable { olt: String, reason: String },
    /// The OLT did not answer in time.
    #[error("l'OLT {olt} n'a pas répondu à temps")]
    Timeout { olt: String },
    /// The OLT refused the command; the reason is the OLT's.
    #[error("l'OLT {olt} a refusé la commande : {reason}")]
    Refused { olt: String, reason: String },
}

/// An OLT, whatever its vendor.
#[async_trait::async_trait]
pub trait OltDriver: Send + Sync + fmt::Debug {
    /// ONTs seen on the PON ports but not declared.
    async fn discover(&self) -> Result<Vec<DiscoveredOnt>, DriverError>;
    /// Declares an ONT with the id the database chose.
    async fn provision_ont(&self, ont: &OntSpec) -> Result<(), DriverError>;
    /// Creates the subscriber's service port.
    async fn create_service(&self, service: &ServiceSpec) -> Result<(), DriverError>;
    /// Enables or disables an ONT.
    async fn set_admin_state(&self, at: &OntLocation, up: bool) -> Result<(), DriverError>;
    /// Removes the service ports of an ONT.
    async fn remove_service(&self, at: &OntLocation) -> Result<(), DriverError>;
    /// Deletes an ONT.
    async fn delete_ont(&self, at: &OntLocation) -> Result<(), DriverError>;
    /// Reads an ONT's optical levels and distance.
    async fn ont_status(&self, at: &OntLocation) -> Result<OntStatus, DriverError>;
    /// What the OLT holds for one ONT id, if anything: checked before each
    /// write so that a retried step does not repeat it.
    async fn ont_config(&self, at: &OntLocation) -> Result<Option<ConfiguredOnt>, DriverError>;
    /// Every declared ONT (to find drift against the database).
    async fn list_config(&self) -> Result<Vec<ConfiguredOnt>, DriverError>;
}

/// The driver of each OLT, by OLT code. OLTs without a configured driver
/// get a simulator, created on first use and kept: that is what the demo
/// and the tests run against.
#[derive(Debug, Clone, Default)]
pub struct Drivers {
    inner: Arc<Mutex<HashMap<String, Arc<dyn OltDriver>>>>,
    simulators: Arc<Mutex<HashMap<String, Arc<simulator::Simulator>>>>,
    /// Where simulated OLTs keep their state; in memory when `None`.
    simulator_dir: Option<PathBuf>,
}

impl Drivers {
    /// Drivers whose simulated OLTs keep their state in `dir`, one JSON
    /// file per OLT, shared by the server and the command line.
    pub fn with_simulator_dir(dir: PathBuf) -> Self {
        Self {
            simulator_dir: Some(dir),
            ..Self::default()
        }
    }

    /// Whether an OLT is simulated (no driver configured for it).
    pub fn is_simulated(&self, olt: &str) -> bool {
        !self.lock().contains_key(olt)
    }

    /// Uses `driver` for the OLT `olt`.
    pub fn set(&self, olt: &str, driver: Arc<dyn OltDriver>) {
        self.lock().insert(olt.to_owned(), driver);
    }

    /// The driver of an OLT.
    pub fn get(&self, olt: &str) -> Arc<dyn OltDriver> {
        if let Some(d) = self.lock().get(olt) {
            return d.clone();
        }
        self.simulator(olt)
    }

    /// The simulator of an OLT (created if needed), to inspect it or to
    /// inject faults.
    pub fn simulator(&self, olt: &str) -> Arc<simulator::Simulator> {
        let mut sims = self
            .simulators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sims.entry(olt.to_owned())
            .or_insert_with(|| {
                let limits = simulator::Limits::default();
                Arc::new(match &self.simulator_dir {
                    // OLT codes come from the inventory: keep the file name
                    // to safe characters whatever they hold.
                    Some(dir) => {
                        let safe: String = olt
                            .chars()
                            .map(|c| {
                                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                                    c
                                } else {
                                    '_'
                                }
                            })
                            .collect();
                        let file = dir.join(format!("{safe}.json"));
                        simulator::Simulator::persistent(olt, limits, file)
                    }
                    None => simulator::Simulator::new(olt, limits),
                })
            })
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn OltDriver>>> {
        // A panic while holding this lock cannot leave the map half-written
        // (each operation is one insert or read), so the data stays usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
