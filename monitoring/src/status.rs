//! What the poller last saw of each device, for the devices page and API:
//! when it last answered, the last error in French and its kind, how long
//! the poll took, its interfaces as read, and for an OLT its ONTs and PON
//! transceivers. Kept in memory by the instance that polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::interfaces::Interface;
use crate::poller::DevicePoll;
use crate::profiles::{OntOptics, PortOptics};
use crate::Fault;

/// A device as last polled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceStatus {
    /// When the last poll ended (UTC, as the database stores times).
    pub last_poll_at: Option<String>,
    /// When the device last answered a whole poll.
    pub last_ok_at: Option<String>,
    /// The last poll's failure, in French (none when it answered).
    pub last_error: Option<String>,
    pub fault: Option<Fault>,
    pub poll_duration_ms: Option<u64>,
    /// The interfaces as the last answered poll read them.
    pub interfaces: Vec<Interface>,
    /// When the ONT optics were last read.
    pub optics_at: Option<String>,
    pub onts: Vec<OntOptics>,
    pub pon_transceivers: Vec<PortOptics>,
}

/// The statuses of the devices this instance polls.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<Mutex<HashMap<String, DeviceStatus>>>);

fn now() -> String {
    regie_core::time::to_db(regie_core::time::now())
}

impl Board {
    /// Notes a poll's outcome.
    pub fn polled(&self, p: &DevicePoll) {
        let Ok(mut all) = self.0.lock() else { return };
        let s = all.entry(p.device.clone()).or_default();
        let at = now();
        s.last_poll_at = Some(at.clone());
        s.poll_duration_ms = Some(u64::try_from(p.duration.as_millis()).unwrap_or(u64::MAX));
        match &p.result {
            Ok(interfaces) => {
                s.last_ok_at = Some(at);
                s.last_error = None;
                s.fault = None;
                s.interfaces = interfaces.clone();
            }
            Err(e) => {
                s.last_error = Some(e.clone());
                s.fault = p.fault;
            }
        }
    }

    /// Notes what an optics read found.
    pub fn optics(&self, device: &str, onts: &[OntOptics], ports: &[PortOptics]) {
        let Ok(mut all) = self.0.lock() else { return };
        let s = all.entry(device.to_owned()).or_default();
        s.optics_at = Some(now());
        s.onts = onts.to_vec();
        s.pon_transceivers = ports.to_vec();
    }

    /// Forgets a device no longer polled.
    pub fn forget(&self, device: &str) {
        if let Ok(mut all) = self.0.lock() {
            all.remove(device);
        }
    }

    /// The device's status, if this instance polled it.
    pub fn get(&self, device: &str) -> Option<DeviceStatus> {
        self.0.lock().ok()?.get(device).cloned()
    }
}
