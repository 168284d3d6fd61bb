//! The poll cycle: every device at once under a concurrency bound, each
//! with its own deadline, so one slow or dead device never delays the
//! others; the results become Prometheus metrics.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::counters::{rebooted, Outcome, Reading};
use crate::interfaces::{self, Counter, Interface, Status};
pub use crate::metrics::Metrics;
use crate::metrics::{Labels, Memory};
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
pub(crate) enum Dir {
    In,
    Out,
    ErrorsIn,
    ErrorsOut,
}

impl Dir {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Dir::In | Dir::ErrorsIn => "in",
            Dir::Out | Dir::ErrorsOut => "out",
        }
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
    /// What was last seen of each device, for the pages.
    pub board: crate::status::Board,
}

impl Poller {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            memory: Arc::default(),
            concurrency: 64,
            device_deadline: Duration::from_secs(60),
            board: crate::status::Board::default(),
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
                self.board.forget(&d);
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
        self.board.forget(device);
    }

    pub(crate) fn record(&self, p: &DevicePoll) {
        self.board.polled(p);
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
                        pon: i.pon,
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
            if let Some(p) = i.pon {
                let (slot, port) = (p.slot.to_string(), p.port.to_string());
                m.pon_port
                    .with_label_values(&[d, index.as_str(), slot.as_str(), port.as_str()])
                    .set(1);
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
    /// Reads the ONT optics of the OLTs: these walks are heavy for an OLT
    /// and polling them too often is known to destabilise some, so they
    /// run on their own, slower cycle (15 min by default), never two at once
    /// on the same OLT, with `pause` between two requests to one OLT, and
    /// each OLT's read within `budget` (the cycle's interval: a 1,000-ONT
    /// OLT read gently takes minutes, more than a device poll's deadline).
    /// OLTs are read side by side, at most `concurrency` at once. The
    /// series are labelled by device and the OLT's index of the ONT only:
    /// no serial nor line, which would tie a household to its metrics
    /// outside Régie's access rules.
    #[tracing::instrument(skip_all, fields(devices = devices.len()))]
    pub async fn optics_cycle(
        &self,
        devices: &[Device],
        pause: Duration,
        budget: Duration,
    ) -> usize {
        let gate = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut set = JoinSet::new();
        for d in devices {
            let (d, gate, profiles) = (d.clone(), gate.clone(), self.profiles.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let polled =
                    tokio::time::timeout(budget, poll_optics(&profiles, &d.target, pause)).await;
                (d, polled)
            });
        }
        let mut onts = 0;
        while let Some(done) = set.join_next().await {
            let Ok((d, polled)) = done else { continue };
            let (ont_list, ports) = match polled {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    tracing::warn!(device = %d.name, error = %e, "optics poll failed");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(device = %d.name, budget_s = budget.as_secs(), "optics poll did not end within its budget");
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
            self.board.optics(&d.name, &ont_list, &ports);
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
    use prometheus::Registry;

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
            pon: None,
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
                pon: None,
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
