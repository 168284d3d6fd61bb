//! A simulated OLT: keeps the ONTs and service ports declared on it and
//! refuses what a real OLT refuses (an ONT id outside the port's range, a
//! serial already declared, a full port, an unknown profile, a VLAN pair
//! already used). Tests and the demo run against it; it can be told to fail
//! or to hang, to exercise error handling.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{
    ConfiguredOnt, DiscoveredOnt, DriverError, OltDriver, OntLocation, OntSpec, OntStatus,
    ServiceSpec,
};
use crate::ids::OntSerial;

/// What the simulated OLT accepts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Highest ONT id on a port (127 on a GPON board of 128 ONTs).
    pub max_ont_id: u32,
    /// Most ONTs on one port.
    pub max_onts_per_port: u32,
    /// Highest slot and port numbers.
    pub max_slot: u32,
    pub max_port: u32,
    pub line_profiles: BTreeSet<u32>,
    pub service_profiles: BTreeSet<u32>,
    pub traffic_tables: BTreeSet<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_ont_id: 127,
            max_onts_per_port: 128,
            max_slot: 21,
            max_port: 15,
            line_profiles: [10].into(),
            service_profiles: [10].into(),
            traffic_tables: [10, 11, 12, 13].into(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Ont {
    serial: OntSerial,
    description: String,
    admin_up: bool,
    services: Vec<(u16, u16)>,
}

type Key = (u32, u32, u32, u32);

fn key(at: &OntLocation) -> Key {
    (at.frame, at.slot, at.port, at.ont_id)
}

#[derive(Debug, Default)]
struct SimState {
    onts: BTreeMap<Key, Ont>,
    /// ONTs plugged in but not declared: (frame, slot, port, serial).
    unprovisioned: Vec<(u32, u32, u32, OntSerial)>,
}

/// The state as kept on disk (JSON keys must be strings, hence the list).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Saved {
    onts: Vec<(Key, Ont)>,
    unprovisioned: Vec<(u32, u32, u32, OntSerial)>,
}

/// One simulated OLT.
#[derive(Debug)]
pub struct Simulator {
    name: String,
    limits: Limits,
    state: Arc<Mutex<SimState>>,
    /// Where the state is kept between runs, if anywhere.
    file: Option<PathBuf>,
    /// Changed since last written to `file`.
    dirty: Arc<AtomicBool>,
    fail_next: AtomicU32,
    hang_next: AtomicU32,
    /// Milliseconds each call waits before answering (a slow OLT).
    slowness_ms: AtomicU32,
    calls: AtomicU32,
}

impl Simulator {
    pub fn new(name: &str, limits: Limits) -> Self {
        Self {
            name: name.to_owned(),
            limits,
            state: Arc::default(),
            file: None,
            dirty: Arc::default(),
            fail_next: AtomicU32::new(0),
            hang_next: AtomicU32::new(0),
            slowness_ms: AtomicU32::new(0),
            calls: AtomicU32::new(0),
        }
    }

    /// A simulator whose state lives in `file` (JSON), so that the server,
    /// the command line and the next start all see the same OLT. An
    /// unreadable file starts an empty OLT, with a warning.
    pub fn persistent(name: &str, limits: Limits, file: PathBuf) -> Self {
        let mut sim = Self::new(name, limits);
        match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(saved) => {
                    let mut st = sim.lock();
                    st.onts = saved.onts.into_iter().collect();
                    st.unprovisioned = saved.unprovisioned;
                }
                Err(e) => {
                    tracing::warn!(olt = name, file = %file.display(), error = %e, "simulated OLT state unreadable; starting empty")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(olt = name, file = %file.display(), error = %e, "simulated OLT state unreadable; starting empty")
            }
        }
        // Writing the whole state on every change would serialise every
        // call behind the file; a writer thread saves it at most five times
        // a second, and the last change on drop.
        let (state, dirty, path, name_owned) = (
            Arc::downgrade(&sim.state),
            sim.dirty.clone(),
            file.clone(),
            name.to_owned(),
        );
        std::thread::spawn(move || saver(state, dirty, path, name_owned));
        sim.file = Some(file);
        sim
    }

    /// Marks the state changed, for the writer thread.
    fn changed(&self) -> Result<(), DriverError> {
        if self.file.is_some() {
            self.dirty.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The next `n` calls fail as if the OLT were unreachable.
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` calls never answer (the caller's timeout ends them).
    pub fn hang_next(&self, n: u32) {
        self.hang_next.store(n, Ordering::SeqCst);
    }

    /// Every call from now on waits `ms` milliseconds before answering.
    pub fn slow_down(&self, ms: u32) {
        self.slowness_ms.store(ms, Ordering::SeqCst);
    }

    /// Calls received so far, failed ones included.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Plugs an undeclared ONT into a port, for discovery.
    pub fn plug(&self, frame: u32, slot: u32, port: u32, serial: OntSerial) {
        let mut st = self.lock();
        st.unprovisioned.push((frame, slot, port, serial));
        drop(st);
        let _ = self.changed();
    }

    /// Declared ONTs, for tests.
    pub fn ont_count(&self) -> usize {
        self.lock().onts.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        // Every mutation below checks first and then writes in one step, so
        // a panic elsewhere cannot leave the state half-changed.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    async fn enter(&self) -> Result<(), DriverError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if Self::take(&self.hang_next) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let slow = self.slowness_ms.load(Ordering::SeqCst);
        if slow > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(slow))).await;
        }
        if Self::take(&self.fail_next) {
            return Err(DriverError::Unreachable {
                olt: self.name.clone(),
                reason: "panne simulée".into(),
            });
        }
        Ok(())
    }

    fn refused(&self, reason: impl Into<String>) -> DriverError {
        DriverError::Refused {
            olt: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn check_port(&self, at: &OntLocation) -> Result<(), DriverError> {
        if at.frame != 0 || at.slot > self.limits.max_slot || at.port > self.limits.max_port {
            return Err(self.refused(format!(
                "port {}/{}/{} inexistant",
                at.frame, at.slot, at.port
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl OltDriver for Simulator {
    async fn discover(&self) -> Result<Vec<DiscoveredOnt>, DriverError> {
        self.enter().await?;
        Ok(self
            .lock()
            .unprovisioned
            .iter()
            .map(|(frame, slot, port, serial)| DiscoveredOnt {
                frame: *frame,
                slot: *slot,
                port: *port,
                serial: serial.clone(),
            })
            .collect())
    }

    async fn provision_ont(&self, ont: &OntSpec) -> Result<(), DriverError> {
        self.enter().await?;
        let at = &ont.location;
        self.check_port(at)?;
        if at.ont_id > self.limits.max_ont_id {
            return Err(self.refused(format!(
                "ONT id {} hors plage (0 à {})",
                at.ont_id, self.limits.max_ont_id
            )));
        }
        if !self.limits.line_profiles.contains(&ont.line_profile) {
            return Err(self.refused(format!("profil de ligne {} inconnu", ont.line_profile)));
        }
        if !self.limits.service_profiles.contains(&ont.service_profile) {
            return Err(self.refused(format!("profil de service {} inconnu", ont.service_profile)));
        }
        let mut st = self.lock();
        if st.onts.contains_key(&key(at)) {
            return Err(self.refused(format!(
                "ONT id {} déjà utilisé sur {}/{}/{}",
                at.ont_id, at.frame, at.slot, at.port
            )));
        }
        if st.onts.values().any(|o| o.serial == ont.serial) {
            return Err(self.refused(format!("numéro de série {} déjà déclaré", ont.serial)));
        }
        let on_port = st
            .onts
            .keys()
            .filter(|k| (k.0, k.1, k.2) == (at.frame, at.slot, at.port))
            .count();
        if on_port as u32 >= self.limits.max_onts_per_port {
            return Err(self.refused(format!("port {}/{}/{} plein", at.frame, at.slot, at.port)));
        }
        st.unprovisioned.retain(|(_, _, _, s)| *s != ont.serial);
        st.onts.insert(
            key(at),
            Ont {
                serial: ont.serial.clone(),
                description: ont.description.clone(),
                admin_up: true,
                services: Vec::new(),
            },
        );
        drop(st);
        self.changed()
    }

    async fn create_service(&self, service: &ServiceSpec) -> Result<(), DriverError> {
        self.enter().await?;
        if !self.limits.traffic_tables.contains(&service.traffic_table) {
            return Err(self.refused(format!(
                "table de trafic {} inconnue",
                service.traffic_table
            )));
        }
        let pair = (service.svlan, service.cvlan);
        let mut st = self.lock();
        if st.onts.values().any(|o| o.services.contains(&pair)) {
            return Err(self.refused(format!("VLAN {}/{} déjà utilisé", pair.0, pair.1)));
        }
        let ont = st
            .onts
            .get_mut(&key(&service.location))
            .ok_or_else(|| self.refused(format!("ONT {} inexistant", service.location)))?;
        ont.services.push(pair);
        drop(st);
        self.changed()
    }

    async fn set_admin_state(&self, at: &OntLocation, up: bool) -> Result<(), DriverError> {
        self.enter().await?;
        let mut st = self.lock();
        let ont = st
            .onts
            .get_mut(&key(at))
            .ok_or_else(|| self.refused(format!("ONT {at} inexistant")))?;
        ont.admin_up = up;
        drop(st);
        self.changed()
    }

    async fn remove_service(&self, at: &OntLocation) -> Result<(), DriverError> {
        self.enter().await?;
        let mut st = self.lock();
        if let Some(ont) = st.onts.get_mut(&key(at)) {
            ont.services.clear();
        }
        drop(st);
        self.changed()
    }

    async fn delete_ont(&self, at: &OntLocation) -> Result<(), DriverError> {
        self.enter().await?;
        let mut st = self.lock();
        st.onts.remove(&key(at));
        drop(st);
        self.changed()
    }

    async fn ont_status(&self, at: &OntLocation) -> Result<OntStatus, DriverError> {
        self.enter().await?;
        let st = self.lock();
        let ont = st
            .onts
            .get(&key(at))
            .ok_or_else(|| self.refused(format!("ONT {at} inexistant")))?;
        // A plausible reading that differs from one ONT to the next.
        let spread = (at.ont_id % 7) as i32 * 45;
        Ok(OntStatus {
            online: ont.admin_up,
            rx_cdbm: ont.admin_up.then_some(-1850 - spread),
            tx_cdbm: ont.admin_up.then_some(230),
            distance_m: ont.admin_up.then_some(1200 + at.ont_id * 37),
        })
    }

    async fn ont_config(&self, at: &OntLocation) -> Result<Option<ConfiguredOnt>, DriverError> {
        self.enter().await?;
        Ok(self
            .lock()
            .onts
            .get(&key(at))
            .map(|o| configured(key(at), o)))
    }

    async fn list_config(&self) -> Result<Vec<ConfiguredOnt>, DriverError> {
        self.enter().await?;
        Ok(self
            .lock()
            .onts
            .iter()
            .map(|(k, o)| configured(*k, o))
            .collect())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            if self.dirty.swap(false, Ordering::SeqCst) {
                write_state(&self.lock(), file, &self.name);
            }
        }
    }
}

/// Saves a persistent simulator's state while it lives.
fn saver(state: Weak<Mutex<SimState>>, dirty: Arc<AtomicBool>, file: PathBuf, name: String) {
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let Some(state) = state.upgrade() else { return };
        if dirty.swap(false, Ordering::SeqCst) {
            let st = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            write_state(&st, &file, &name);
        }
    }
}

/// Writes the state to its file: a temporary file renamed over it, so a
/// crash never leaves half a file.
fn write_state(st: &SimState, file: &std::path::Path, name: &str) {
    let saved = Saved {
        onts: st.onts.iter().map(|(k, o)| (*k, o.clone())).collect(),
        unprovisioned: st.unprovisioned.clone(),
    };
    let write = || -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&saved)?)?;
        std::fs::rename(&tmp, file)
    };
    if let Err(e) = write() {
        tracing::warn!(olt = name, file = %file.display(), error = %e, "simulated OLT state not saved");
    }
}

fn configured(k: Key, o: &Ont) -> ConfiguredOnt {
    ConfiguredOnt {
        location: OntLocation {
            frame: k.0,
            slot: k.1,
            port: k.2,
            ont_id: k.3,
        },
        serial: o.serial.clone(),
        description: o.description.clone(),
        admin_up: o.admin_up,
        services: o.services.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(slot: u32, port: u32, id: u32) -> OntLocation {
        OntLocation {
            frame: 0,
            slot,
            port,
            ont_id: id,
        }
    }

    fn spec(id: u32, serial: &str) -> OntSpec {
        OntSpec {
            location: at(1, 0, id),
            serial: OntSerial::parse(serial).unwrap(),
            line_profile: 10,
            service_profile: 10,
            description: "RGE-TEST-0001".into(),
        }
    }

    fn refusal(e: DriverError) -> String {
        match e {
            DriverError::Refused { reason, .. } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn enforces_the_limits_of_a_real_olt() {
        let sim = Simulator::new(
            "OLT-T",
            Limits {
                max_onts_per_port: 2,
                ..Limits::default()
            },
        );
        sim.provision_ont(&spec(0, "HWTC00000001")).await.unwrap();
        let e = sim
            .provision_ont(&spec(128, "HWTC00000002"))
            .await
            .unwrap_err();
        assert!(refusal(e).contains("hors plage"));
        let e = sim
            .provision_ont(&spec(0, "HWTC00000002"))
            .await
            .unwrap_err();
        assert!(refusal(e).contains("déjà utilisé"));
        let e = sim
            .provision_ont(&spec(1, "HWTC00000001"))
            .await
            .unwrap_err();
        assert!(refusal(e).contains("déjà déclaré"));
        let mut bad = spec(1, "HWTC00000002");
        bad.line_profile = 99;
        assert!(refusal(sim.provision_ont(&bad).await.unwrap_err()).contains("profil de ligne 99"));
        sim.provision_ont(&spec(1, "HWTC00000002")).await.unwrap();
        let e = sim
            .provision_ont(&spec(2, "HWTC00000003"))
            .await
            .unwrap_err();
        assert!(refusal(e).contains("plein"));
        let mut other_port = spec(2, "HWTC00000003");
        other_port.location.slot = 99;
        assert!(refusal(sim.provision_ont(&other_port).await.unwrap_err()).contains("inexistant"));

        let svc = ServiceSpec {
            location: at(1, 0, 0),
            svlan: 100,
            cvlan: 2,
            gemport: 1,
            user_vlan: 100,
            traffic_table: 10,
        };
        sim.create_service(&svc).await.unwrap();
        let e = sim
            .create_service(&ServiceSpec {
                location: at(1, 0, 1),
                ..svc.clone()
            })
            .await
            .unwrap_err();
        assert!(refusal(e).contains("VLAN 100/2"));
        let e = sim
            .create_service(&ServiceSpec {
                traffic_table: 77,
                ..svc
            })
            .await
            .unwrap_err();
        assert!(refusal(e).contains("table de trafic 77"));
        assert_eq!(sim.list_config().await.unwrap().len(), 2);
        sim.delete_ont(&at(1, 0, 0)).await.unwrap();
        assert_eq!(sim.ont_config(&at(1, 0, 0)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn can_be_told_to_fail_or_hang() {
        let sim = Simulator::new("OLT-F", Limits::default());
        sim.fail_next(1);
        assert!(matches!(
            sim.list_config().await,
            Err(DriverError::Unreachable { .. })
        ));
        assert!(sim.list_config().await.is_ok());
        sim.hang_next(1);
        let r = tokio::time::timeout(Duration::from_millis(50), sim.list_config()).await;
        assert!(r.is_err(), "a hung call never answers");
        assert!(sim.list_config().await.is_ok());
        assert_eq!(sim.calls(), 4);
    }

    #[tokio::test]
    async fn a_persistent_simulator_comes_back_with_its_onts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("OLT-P.json");
        let sim = Simulator::persistent("OLT-P", Limits::default(), file.clone());
        sim.provision_ont(&spec(3, "HWTC00000003")).await.unwrap();
        drop(sim);
        let again = Simulator::persistent("OLT-P", Limits::default(), file.clone());
        assert_eq!(again.ont_count(), 1);
        assert!(
            again.provision_ont(&spec(3, "HWTC00000004")).await.is_err(),
            "id 3 is still taken"
        );
        std::fs::write(&file, "pas du JSON").unwrap();
        assert_eq!(
            Simulator::persistent("OLT-P", Limits::default(), file).ont_count(),
            0
        );
    }

    #[tokio::test]
    async fn discovery_lists_plugged_onts_until_declared() {
        let sim = Simulator::new("OLT-D", Limits::default());
        sim.plug(0, 1, 0, OntSerial::parse("HWTC00000009").unwrap());
        assert_eq!(sim.discover().await.unwrap().len(), 1);
        sim.provision_ont(&spec(5, "HWTC00000009")).await.unwrap();
        assert!(sim.discover().await.unwrap().is_empty());
        let status = sim.ont_status(&at(1, 0, 5)).await.unwrap();
        assert!(status.online && status.rx_cdbm.is_some());
    }
}
