//! The poll cycle: every device at once under a concurrency bound, each
//! with its own deadline, so one slow or dead device never delays the
//! others; the results become Prometheus metrics.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{Gauge, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use tokio::task::JoinSet;

use crate::counters::{rebooted, Outcome, Reading, Tracker};
use crate::interfaces::{self, Counter, Interface, Status};
use crate::snmp::{AsyncSnmp, Snmp, Target, Value};
use crate::Error;

const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";

/// A device to poll, by the name it has in the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub target: Target,
}

/// The outcome of one device's poll.
#[derive(Debug, Clone)]
pub struct DevicePoll {
    pub device: String,
    pub duration: Duration,
    pub result: Result<Vec<Interface>, String>,
    /// When the poll failed, what kind of failure it met.
    pub fault: Option<crate::Fault>,
    pub uptime_ticks: Option<u32>,
    /// ENTITY-SENSOR readings (none when the device has no such table).
    pub sensors: Vec<crate::sensors::Sensor>,
}

/// The outcome of one cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub devices: Vec<DevicePoll>,
    pub duration: Duration,
    /// The cycle took longer than its interval (the next one starts late,
    /// it is never stacked on this one).
    pub overran: bool,
}

/// Which counter of an interface, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    In,
    Out,
    ErrorsIn,
    ErrorsOut,
}

impl Dir {
    fn label(self) -> &'static str {
        match self {
            Dir::In | Dir::ErrorsIn => "in",
            Dir::Out | Dir::ErrorsOut => "out",
        }
    }
}

/// The metrics the poller keeps up to date.
#[derive(Debug, Clone)]
pub struct Metrics {
    device_up: IntGaugeVec,
    poll_seconds: GaugeVec,
    errors: IntCounterVec,
    timeouts: IntCounterVec,
    reboots: IntCounterVec,
    oper_up: IntGaugeVec,
    admin_up: IntGaugeVec,
    speed: IntGaugeVec,
    octets: IntCounterVec,
    errors_in_out: IntCounterVec,
    counter_resets: IntCounterVec,
    cycle_seconds: Gauge,
    cycle_overruns: prometheus::IntCounter,
    device_overruns: IntCounterVec,
    ont_rx: GaugeVec,
    ont_tx: GaugeVec,
    ont_online: IntGaugeVec,
    ont_olt_rx: GaugeVec,
    ont_distance: GaugeVec,
    pon_tx: GaugeVec,
    sensor: GaugeVec,
}

impl Metrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        // ifIndex tells apart interfaces sharing a name and an alias (16
        // PON ports of one name on a Nokia ISAM); ifName and ifAlias say
        // which they are.
        let iface = ["device", "ifIndex", "ifName", "ifAlias"];
        let iface_dir = ["device", "ifIndex", "ifName", "ifAlias", "direction"];
        let m = Self {
            device_up: IntGaugeVec::new(Opts::new("snmp_device_up", "1 when the device answered its last poll"), &["device"])?,
            poll_seconds: GaugeVec::new(Opts::new("snmp_poll_duration_seconds", "Duration of the device's last poll (all walks)"), &["device"])?,
            errors: IntCounterVec::new(Opts::new("snmp_errors_total", "Polls that failed, by device"), &["device"])?,
            timeouts: IntCounterVec::new(Opts::new("snmp_timeouts_total", "Polls that timed out, by device"), &["device"])?,
            reboots: IntCounterVec::new(Opts::new("snmp_device_reboots_total", "Reboots seen (sysUpTime going back)"), &["device"])?,
            oper_up: IntGaugeVec::new(Opts::new("interface_oper_up", "1 when the interface is operationally up"), &iface)?,
            admin_up: IntGaugeVec::new(Opts::new("interface_admin_up", "1 when the interface is administratively up"), &iface)?,
            speed: IntGaugeVec::new(Opts::new("interface_speed_bits_per_second", "Interface speed"), &iface)?,
            octets: IntCounterVec::new(
                Opts::new("interface_octets_total", "Octets through the interface, wraps and reboots accounted for"),
                &iface_dir,
            )?,
            errors_in_out: IntCounterVec::new(
                Opts::new("interface_errors_total", "Errored packets on the interface, wraps and reboots accounted for"),
                &iface_dir,
            )?,
            counter_resets: IntCounterVec::new(
                Opts::new("interface_counter_resets_total", "Device counters that restarted (reboot, card swap): a new baseline, nothing counted"),
                &["device"],
            )?,
            cycle_seconds: Gauge::new("snmp_cycle_duration_seconds", "Duration of the last poll cycle")?,
            cycle_overruns: prometheus::IntCounter::new("snmp_cycle_overruns_total", "Cycles that took longer than their interval")?,
            device_overruns: IntCounterVec::new(
                Opts::new("snmp_poll_overruns_total", "Polls of the device that ended later than its interval allowed"),
                &["device"],
            )?,
            ont_rx: GaugeVec::new(
                Opts::new("ont_rx_dbm", "Optical power received by the ONT (downstream), as its OLT reports it (dBm)"),
                &["device", "ont"],
            )?,
            ont_olt_rx: GaugeVec::new(
                Opts::new("ont_olt_rx_dbm", "Optical power the OLT receives from the ONT (upstream, dBm)"),
                &["device", "ont"],
            )?,
            ont_distance: GaugeVec::new(
                Opts::new("ont_distance_meters", "The ONT's distance from its OLT, as the OLT ranges it"),
                &["device", "ont"],
            )?,
            ont_tx: GaugeVec::new(
                Opts::new("ont_tx_dbm", "Optical power transmitted by the ONT (dBm)"),
                &["device", "ont"],
            )?,
            ont_online: IntGaugeVec::new(
                Opts::new("ont_online", "1 when the OLT sees the ONT online"),
                &["device", "ont"],
            )?,
            pon_tx: GaugeVec::new(
                Opts::new("pon_port_tx_dbm", "Optical power transmitted by the PON port's transceiver (dBm)"),
                &["device", "ifIndex"],
            )?,
            sensor: GaugeVec::new(
                Opts::new("entity_sensor_value", "ENTITY-SENSOR reading of a working sensor, in its unit"),
                &["device", "sensor", "unit"],
            )?,
        };
        registry.register(Box::new(m.device_up.clone()))?;
        registry.register(Box::new(m.poll_seconds.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.timeouts.clone()))?;
        registry.register(Box::new(m.reboots.clone()))?;
        registry.register(Box::new(m.oper_up.clone()))?;
        registry.register(Box::new(m.admin_up.clone()))?;
        registry.register(Box::new(m.speed.clone()))?;
        registry.register(Box::new(m.octets.clone()))?;
        registry.register(Box::new(m.errors_in_out.clone()))?;
        registry.register(Box::new(m.counter_resets.clone()))?;
        registry.register(Box::new(m.cycle_seconds.clone()))?;
        registry.register(Box::new(m.cycle_overruns.clone()))?;
        registry.register(Box::new(m.device_overruns.clone()))?;
        registry.register(Box::new(m.ont_rx.clone()))?;
        registry.register(Box::new(m.ont_tx.clone()))?;
        registry.register(Box::new(m.ont_online.clone()))?;
        registry.register(Box::new(m.ont_olt_rx.clone()))?;
        registry.register(Box::new(m.ont_distance.clone()))?;
        registry.register(Box::new(m.pon_tx.clone()))?;
        registry.register(Box::new(m.sensor.clone()))?;
        Ok(m)
    }

    /// Records one ONT's optics, labelled by device and the OLT's index of
    /// the ONT.
    pub fn record_ont(&self, device: &str, o: &crate::profiles::OntOptics) {
        let labels = [device, o.index.as_str()];
        for (gauge, level) in [
            (&self.ont_rx, o.rx_ont_cdbm),
            (&self.ont_tx, o.tx_ont_cdbm),
            (&self.ont_olt_rx, o.rx_olt_cdbm),
        ] {
            if let Some(cdbm) = level {
                gauge
                    .with_label_values(&labels)
                    .set(f64::from(cdbm) / 100.0);
            }
        }
        if let Some(metres) = o.distance_m {
            self.ont_distance
                .with_label_values(&labels)
                .set(f64::from(metres));
        }
        if let Some(on) = o.online {
            self.ont_online
                .with_label_values(&labels)
                .set(i64::from(on));
        }
    }

    /// The names of the metrics (without the registry's `regie_` prefix),
    /// to check the shipped rules and dashboard against.
    pub fn names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 21] = [
            &self.device_up,
            &self.poll_seconds,
            &self.errors,
            &self.timeouts,
            &self.reboots,
            &self.oper_up,
            &self.admin_up,
            &self.speed,
            &self.octets,
            &self.errors_in_out,
            &self.counter_resets,
            &self.cycle_seconds,
            &self.cycle_overruns,
            &self.device_overruns,
            &self.ont_rx,
            &self.ont_tx,
            &self.ont_online,
            &self.ont_olt_rx,
            &self.ont_distance,
            &self.pon_tx,
            &self.sensor,
        ];
        collectors
            .iter()
            .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
            .collect()
    }
}

/// The labels an interface's series were last exported under.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Labels {
    name: String,
    alias: String,
}

#[derive(Debug, Default)]
struct Memory {
    counters: Tracker<(String, u32, Dir)>,
    uptime: HashMap<String, u32>,
    /// Per device, the interfaces exported (by ifIndex), the sensors and
    /// the ONTs: what to remove when an interface is renamed or goes, or
    /// the device is deleted.
    interfaces: HashMap<String, HashMap<u32, Labels>>,
    sensors: HashMap<String, HashSet<(String, &'static str)>>,
    onts: HashMap<String, HashSet<String>>,
    pon_ports: HashMap<String, HashSet<u32>>,
}

impl Metrics {
    /// Removes an interface's series exported under `labels`.
    fn forget_interface(&self, device: &str, index: u32, labels: &Labels) {
        let index = index.to_string();
        let l = [
            device,
            index.as_str(),
            labels.name.as_str(),
            labels.alias.as_str(),
        ];
        let _ = self.oper_up.remove_label_values(&l);
        let _ = self.admin_up.remove_label_values(&l);
        let _ = self.speed.remove_label_values(&l);
        for dir in ["in", "out"] {
            let ld = [l[0], l[1], l[2], l[3], dir];
            let _ = self.octets.remove_label_values(&ld);
            let _ = self.errors_in_out.remove_label_values(&ld);
        }
    }

    /// Removes every series of a device no longer polled.
    fn forget_device(&self, device: &str, mem: &mut Memory) {
        for (index, labels) in mem.interfaces.remove(device).unwrap_or_default() {
            self.forget_interface(device, index, &labels);
        }
        for (name, unit) in mem.sensors.remove(device).unwrap_or_default() {
            let _ = self
                .sensor
                .remove_label_values(&[device, name.as_str(), unit]);
        }
        for ont in mem.onts.remove(device).unwrap_or_default() {
            let l = [device, ont.as_str()];
            for g in [
                &self.ont_rx,
                &self.ont_tx,
                &self.ont_olt_rx,
                &self.ont_distance,
            ] {
                let _ = g.remove_label_values(&l);
            }
            let _ = self.ont_online.remove_label_values(&l);
        }
        for port in mem.pon_ports.remove(device).unwrap_or_default() {
            let _ = self
                .pon_tx
                .remove_label_values(&[device, port.to_string().as_str()]);
        }
        let _ = self.device_up.remove_label_values(&[device]);
        let _ = self.poll_seconds.remove_label_values(&[device]);
        for c in [
            &self.errors,
            &self.timeouts,
            &self.reboots,
            &self.counter_resets,
            &self.device_overruns,
        ] {
            let _ = c.remove_label_values(&[device]);
        }
        mem.uptime.remove(device);
    }
}

/// Polls a set of devices.
#[derive(Debug, Clone)]
pub struct Poller {
    metrics: Metrics,
    memory: Arc<Mutex<Memory>>,
    /// Devices polled at the same time, at most.
    pub concurrency: usize,
    /// Longest a whole device poll may take.
    pub device_deadline: Duration,
    /// What each vendor's MIB holds about ONTs and PON ports.
    pub profiles: Arc<crate::profiles::Profiles>,
}

impl Poller {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            memory: Arc::default(),
            concurrency: 64,
            device_deadline: Duration::from_secs(60),
            profiles: Arc::new(crate::profiles::Profiles::shipped().unwrap_or_else(|e| {
                // The shipped profiles are parsed by a unit test: this is
                // a build that skipped it.
                tracing::error!(error = %e, "shipped vendor profiles unreadable");
                crate::profiles::Profiles::default()
            })),
        }
    }

    /// Polls every device once, at most `concurrency` at a time, and
    /// updates the metrics. `interval` is the cycle's period, to report an
    /// overrun.
    #[tracing::instrument(skip_all, fields(devices = devices.len()))]
    pub async fn cycle(&self, devices: &[Device], interval: Duration) -> Cycle {
        let start = Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut set = JoinSet::new();
        for d in devices {
            let d = d.clone();
            let gate = gate.clone();
            let deadline = self.device_deadline;
            let profiles = self.profiles.clone();
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                timed_poll(&profiles, &d, deadline).await
            });
        }
        let mut polls = Vec::with_capacity(devices.len());
        while let Some(done) = set.join_next().await {
            if let Ok(p) = done {
                self.record(&p);
                polls.push(p);
            }
        }
        let duration = start.elapsed();
        let overran = duration > interval;
        self.metrics.cycle_seconds.set(duration.as_secs_f64());
        if overran {
            self.metrics.cycle_overruns.inc();
            tracing::warn!(
                duration_ms = duration.as_millis() as u64,
                interval_ms = interval.as_millis() as u64,
                "poll cycle overran its interval"
            );
        }
        let names: HashSet<&str> = devices.iter().map(|d| d.name.as_str()).collect();
        if let Ok(mut mem) = self.memory.lock() {
            mem.counters.retain(|k| names.contains(k.0.as_str()));
            // A device deleted (or renamed) leaves no series behind.
            let gone: Vec<String> = mem
                .interfaces
                .keys()
                .chain(mem.uptime.keys())
                .chain(mem.sensors.keys())
                .chain(mem.onts.keys())
                .chain(mem.pon_ports.keys())
                .filter(|d| !names.contains(d.as_str()))
                .cloned()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for d in gone {
                self.metrics.forget_device(&d, &mut mem);
            }
        }
        Cycle {
            devices: polls,
            duration,
            overran,
        }
    }

    /// Polls one device, within `budget` (and the device deadline), and
    /// records its metrics.
    pub async fn poll_one(&self, device: &Device, budget: Duration) -> DevicePoll {
        let p = timed_poll(&self.profiles, device, budget.min(self.device_deadline)).await;
        self.record(&p);
        p
    }

    /// Counts a device's poll that ended later than its interval allowed.
    pub fn count_overrun(&self, device: &str) {
        self.metrics
            .device_overruns
            .with_label_values(&[device])
            .inc();
    }

    /// Removes the series of a device no longer polled.
    pub fn forget(&self, device: &str) {
        if let Ok(mut mem) = self.memory.lock() {
            mem.counters.retain(|k| k.0 != device);
            self.metrics.forget_device(device, &mut mem);
        }
    }

    pub(crate) fn record(&self, p: &DevicePoll) {
        let m = &self.metrics;
        let d = p.device.as_str();
        m.poll_seconds
            .with_label_values(&[d])
            .set(p.duration.as_secs_f64());
        let interfaces = match &p.result {
            Ok(i) => i,
            Err(e) => {
                m.device_up.with_label_values(&[d]).set(0);
                m.errors.with_label_values(&[d]).inc();
                if e.contains("timeout")
                    || e.contains("délai")
                    || e.contains("pas de réponse")
                    || e.to_lowercase().contains("timed out")
                {
                    m.timeouts.with_label_values(&[d]).inc();
                }
                tracing::warn!(device = d, error = %e, "device poll failed");
                return;
            }
        };
        m.device_up.with_label_values(&[d]).set(1);
        let Ok(mut mem) = self.memory.lock() else {
            return;
        };
        let reboot = match p.uptime_ticks {
            Some(t) => {
                let r = rebooted(mem.uptime.get(d).copied(), t);
                mem.uptime.insert(d.to_owned(), t);
                r
            }
            None => false,
        };
        if reboot {
            m.reboots.with_label_values(&[d]).inc();
        }
        for s in &p.sensors {
            mem.sensors
                .entry(d.to_owned())
                .or_default()
                .insert((s.name.clone(), s.unit));
            let gauge = m.sensor.with_label_values(&[d, s.name.as_str(), s.unit]);
            if s.ok {
                gauge.set(s.value);
            } else {
                // A failed sensor's last value would mislead: NaN shows it
                // as absent in graphs and alerts.
                gauge.set(f64::NAN);
            }
        }
        // An interface renamed, re-described or gone: its old series go
        // rather than stay frozen beside the new ones.
        let exported = mem.interfaces.entry(d.to_owned()).or_default();
        let now: HashMap<u32, Labels> = interfaces
            .iter()
            .map(|i| {
                (
                    i.index,
                    Labels {
                        name: i.name.clone(),
                        alias: i.alias.clone(),
                    },
                )
            })
            .collect();
        for (index, old) in exported.iter() {
            if now.get(index) != Some(old) {
                m.forget_interface(d, *index, old);
            }
        }
        *exported = now;
        for i in interfaces {
            let index = i.index.to_string();
            let labels = [d, index.as_str(), i.name.as_str(), i.alias.as_str()];
            if let Some(s) = i.oper {
                m.oper_up
                    .with_label_values(&labels)
                    .set(i64::from(s == Status::Up));
            }
            if let Some(s) = i.admin {
                m.admin_up
                    .with_label_values(&labels)
                    .set(i64::from(s == Status::Up));
            }
            if let Some(bps) = i.speed_bps {
                m.speed
                    .with_label_values(&labels)
                    .set(i64::try_from(bps).unwrap_or(i64::MAX));
            }
            // ifInErrors / ifOutErrors are 32-bit counters.
            let errors = |e: Option<u64>| e.and_then(|v| u32::try_from(v).ok()).map(Counter::C32);
            for (dir, c) in [
                (Dir::In, i.in_octets),
                (Dir::Out, i.out_octets),
                (Dir::ErrorsIn, errors(i.in_errors)),
                (Dir::ErrorsOut, errors(i.out_errors)),
            ] {
                let Some(c) = c else { continue };
                let reading = match c {
                    Counter::C32(v) => Reading::C32(v),
                    Counter::C64(v) => Reading::C64(v),
                };
                let family = match dir {
                    Dir::In | Dir::Out => &m.octets,
                    Dir::ErrorsIn | Dir::ErrorsOut => &m.errors_in_out,
                };
                let counter =
                    family.with_label_values(&[d, &index, &i.name, &i.alias, dir.label()]);
                match mem
                    .counters
                    .record(&(d.to_owned(), i.index, dir), reading, reboot)
                {
                    Outcome::Increased(n) | Outcome::Wrapped(n) => counter.inc_by(n),
                    Outcome::Reset => m.counter_resets.with_label_values(&[d]).inc(),
                    Outcome::Baseline => {}
                }
            }
        }
    }
}

impl Poller {
    /// Reads the ONT optics of the OLTs, one OLT after the other: these
    /// walks are heavy for an OLT and polling them too often is known to
    /// destabilise some, so they run on their own, slower cycle (15 min by
    /// default), never two at once on the same OLT, and with `pause` between
    /// two requests to one OLT. The series are labelled by device and the
    /// OLT's index of the ONT only: no serial nor line, which would tie a
    /// household to its metrics outside Régie's access rules.
    #[tracing::instrument(skip_all, fields(devices = devices.len()))]
    pub async fn optics_cycle(&self, devices: &[Device], pause: Duration) -> usize {
        let mut onts = 0;
        for d in devices {
            let polled = tokio::time::timeout(
                self.device_deadline,
                poll_optics(&self.profiles, &d.target, pause),
            )
            .await;
            let (ont_list, ports) = match polled {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    tracing::warn!(device = %d.name, error = %e, "optics poll failed");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(device = %d.name, "optics poll timed out");
                    continue;
                }
            };
            let m = &self.metrics;
            for p in &ports {
                m.pon_tx
                    .with_label_values(&[d.name.as_str(), &p.if_index.to_string()])
                    .set(f64::from(p.tx_cdbm) / 100.0);
            }
            if let Ok(mut mem) = self.memory.lock() {
                let seen = mem.onts.entry(d.name.clone()).or_default();
                for o in &ont_list {
                    seen.insert(o.index.clone());
                }
                let ports_seen = mem.pon_ports.entry(d.name.clone()).or_default();
                for p in &ports {
                    ports_seen.insert(p.if_index);
                }
            }
            for o in ont_list {
                m.record_ont(&d.name, &o);
                onts += 1;
            }
        }
        onts
    }
}

/// One device's poll, bounded by `deadline`.
async fn timed_poll(
    profiles: &crate::profiles::Profiles,
    d: &Device,
    deadline: Duration,
) -> DevicePoll {
    let t0 = Instant::now();
    let polled = tokio::time::timeout(deadline, poll_device(profiles, &d.target)).await;
    let (result, fault, uptime, sensors) = match polled {
        Ok(Ok((i, up, sensors))) => (Ok(i), None, up, sensors),
        Ok(Err(e)) => (Err(e.to_string()), Some(e.fault()), None, Vec::new()),
        Err(_) => (
            Err(format!(
                "pas de réponse complète en {:.1} s",
                deadline.as_secs_f64()
            )),
            Some(crate::Fault::Silent),
            None,
            Vec::new(),
        ),
    };
    DevicePoll {
        device: d.name.clone(),
        duration: t0.elapsed(),
        result,
        fault,
        uptime_ticks: uptime,
        sensors,
    }
}

/// The optics of one OLT, as the profile matching its sysObjectID and
/// sysDescr says; nothing for a device no profile matches.
async fn poll_optics(
    profiles: &crate::profiles::Profiles,
    target: &Target,
    pause: Duration,
) -> Result<
    (
        Vec<crate::profiles::OntOptics>,
        Vec<crate::profiles::PortOptics>,
    ),
    Error,
> {
    let snmp = AsyncSnmp::connect(target).await?.paced(pause);
    match profiles.of_device(&snmp).await? {
        Some(profile) => {
            tracing::debug!(address = %target.address, profile = %profile.name, "optics profile");
            profile.read(&snmp).await
        }
        None => Ok((Vec::new(), Vec::new())),
    }
}

/// One device: its uptime (reboot detection), interfaces and sensors.
async fn poll_device(
    profiles: &crate::profiles::Profiles,
    target: &Target,
) -> Result<(Vec<Interface>, Option<u32>, Vec<crate::sensors::Sensor>), Error> {
    let snmp = AsyncSnmp::connect(target).await?;
    let uptime = snmp
        .get(&[SYS_UPTIME])
        .await?
        .first()
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok());
    let profile = profiles.of_device(&snmp).await?;
    let ifaces = interfaces::poll(&snmp, profile).await?;
    // The interfaces answered: a sensor table that fails is logged, and
    // does not make the device unreachable.
    let sensors = match crate::sensors::poll(&snmp).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(address = %target.address, error = %e, "ENTITY-SENSOR table not read");
            Vec::new()
        }
    };
    Ok((ifaces, uptime, sensors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(index: u32, name: &str, alias: &str, up: bool, octets: u64) -> Interface {
        Interface {
            index,
            name: name.into(),
            descr: name.into(),
            alias: alias.into(),
            if_type: 250,
            admin: Some(Status::Up),
            oper: Some(if up { Status::Up } else { Status::Down }),
            speed_bps: Some(1_000_000_000),
            in_octets: Some(Counter::C64(octets)),
            out_octets: Some(Counter::C64(octets)),
            in_errors: Some(0),
            out_errors: Some(0),
        }
    }

    fn poll(device: &str, interfaces: Vec<Interface>) -> DevicePoll {
        DevicePoll {
            device: device.into(),
            duration: Duration::from_millis(5),
            result: Ok(interfaces),
            fault: None,
            uptime_ticks: Some(1000),
            sensors: Vec::new(),
        }
    }

    fn exposition(registry: &Registry) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("encodes")
    }

    #[tokio::test]
    async fn interfaces_sharing_a_name_are_distinct_series_and_stale_ones_go() {
        let registry = Registry::new();
        let poller = Poller::new(Metrics::register(&registry).expect("registers"));
        // Two PON ports of one name and alias (as on a Nokia ISAM), one up
        // and one down: two series, never one.
        poller.record(&poll(
            "ISAM01",
            vec![
                iface(1, "pon", "", true, 10),
                iface(2, "pon", "", false, 20),
            ],
        ));
        let text = exposition(&registry);
        assert!(
            text.contains(
                r#"interface_oper_up{device="ISAM01",ifAlias="",ifIndex="1",ifName="pon"} 1"#
            ) && text.contains(
                r#"interface_oper_up{device="ISAM01",ifAlias="",ifIndex="2",ifName="pon"} 0"#
            ),
            "{text}"
        );
        // Octets counted per interface: 5 more on port 1 only.
        poller.record(&poll(
            "ISAM01",
            vec![
                iface(1, "pon", "", true, 15),
                iface(2, "pon", "", false, 20),
            ],
        ));
        let text = exposition(&registry);
        assert!(
            text.contains(r#"interface_octets_total{device="ISAM01",direction="in",ifAlias="",ifIndex="1",ifName="pon"} 5"#)
                && text.contains(r#"interface_octets_total{device="ISAM01",direction="in",ifAlias="",ifIndex="2",ifName="pon"} 0"#),
            "{text}"
        );
        // A new alias replaces the old series instead of freezing it
        // beside the new one; a port gone takes its series with it.
        poller.record(&poll(
            "ISAM01",
            vec![iface(1, "pon", "Bourg nord", true, 15)],
        ));
        let text = exposition(&registry);
        assert!(
            text.contains(r#"ifAlias="Bourg nord",ifIndex="1""#),
            "{text}"
        );
        assert!(!text.contains(r#"ifAlias="",ifIndex="1""#), "{text}");
        assert!(!text.contains(r#"ifIndex="2""#), "{text}");
        // A device no longer polled leaves nothing behind.
        let cycle = poller.cycle(&[], Duration::from_secs(60)).await;
        assert!(cycle.devices.is_empty());
        let text = exposition(&registry);
        assert!(!text.contains("ISAM01"), "{text}");
    }

    #[test]
    fn ont_series_carry_no_serial_nor_line() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).expect("registers");
        m.record_ont(
            "OLT01",
            &crate::profiles::OntOptics {
                index: "4194304000.7".into(),
                serial: Some("HWTC0000A001".into()),
                name: Some("RGE-7K2M-9QXD".into()),
                port_if_index: Some(4_194_304_000),
                ont_id: Some(7),
                online: Some(true),
                rx_ont_cdbm: Some(-1943),
                tx_ont_cdbm: Some(212),
                rx_olt_cdbm: Some(-2310),
                distance_m: Some(1834),
            },
        );
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("encodes");
        assert!(
            text.contains(r#"ont_rx_dbm{device="OLT01",ont="4194304000.7"} -19.43"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ont_olt_rx_dbm{device="OLT01",ont="4194304000.7"} -23.1"#)
                && text.contains(r#"ont_distance_meters{device="OLT01",ont="4194304000.7"} 1834"#),
            "{text}"
        );
        assert!(!text.contains("HWTC") && !text.contains("RGE-"), "{text}");
    }
}
