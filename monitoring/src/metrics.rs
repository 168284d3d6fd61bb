//! The Prometheus metrics of the poller, and what it remembers of the
//! series it exported (to remove them when an interface is renamed or
//! goes, or a device is no longer polled).

use std::collections::{HashMap, HashSet};

use prometheus::{Gauge, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::counters::Tracker;
use crate::poller::Dir;

/// The metrics the poller keeps up to date.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub(crate) device_up: IntGaugeVec,
    pub(crate) poll_seconds: GaugeVec,
    pub(crate) errors: IntCounterVec,
    pub(crate) timeouts: IntCounterVec,
    pub(crate) reboots: IntCounterVec,
    pub(crate) oper_up: IntGaugeVec,
    pub(crate) admin_up: IntGaugeVec,
    pub(crate) speed: IntGaugeVec,
    pub(crate) pon_port: IntGaugeVec,
    pub(crate) octets: IntCounterVec,
    pub(crate) errors_in_out: IntCounterVec,
    pub(crate) counter_resets: IntCounterVec,
    pub(crate) cycle_seconds: Gauge,
    pub(crate) cycle_overruns: prometheus::IntCounter,
    pub(crate) device_overruns: IntCounterVec,
    pub(crate) ont_rx: GaugeVec,
    pub(crate) ont_tx: GaugeVec,
    pub(crate) ont_online: IntGaugeVec,
    pub(crate) ont_olt_rx: GaugeVec,
    pub(crate) ont_distance: GaugeVec,
    pub(crate) pon_tx: GaugeVec,
    pub(crate) sensor: GaugeVec,
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
            pon_port: IntGaugeVec::new(
                Opts::new("interface_pon_port", "1 for an interface that is a PON port, with its slot and port as the device's profile names them"),
                &["device", "ifIndex", "slot", "port"],
            )?,
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
        registry.register(Box::new(m.pon_port.clone()))?;
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
        let collectors: [&dyn Collector; 22] = [
            &self.device_up,
            &self.poll_seconds,
            &self.errors,
            &self.timeouts,
            &self.reboots,
            &self.oper_up,
            &self.admin_up,
            &self.speed,
            &self.pon_port,
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
pub(crate) struct Labels {
    pub(crate) name: String,
    pub(crate) alias: String,
    pub(crate) pon: Option<crate::interfaces::PonPosition>,
}

#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub(crate) counters: Tracker<(String, u32, Dir)>,
    pub(crate) uptime: HashMap<String, u32>,
    /// Per device, the interfaces exported (by ifIndex), the sensors and
    /// the ONTs: what to remove when an interface is renamed or goes, or
    /// the device is deleted.
    pub(crate) interfaces: HashMap<String, HashMap<u32, Labels>>,
    pub(crate) sensors: HashMap<String, HashSet<(String, &'static str)>>,
    pub(crate) onts: HashMap<String, HashSet<String>>,
    pub(crate) pon_ports: HashMap<String, HashSet<u32>>,
}

impl Metrics {
    /// Removes an interface's series exported under `labels`.
    pub(crate) fn forget_interface(&self, device: &str, index: u32, labels: &Labels) {
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
        if let Some(p) = labels.pon {
            let (slot, port) = (p.slot.to_string(), p.port.to_string());
            let _ = self.pon_port.remove_label_values(&[
                device,
                index.as_str(),
                slot.as_str(),
                port.as_str(),
            ]);
        }
        for dir in ["in", "out"] {
            let ld = [l[0], l[1], l[2], l[3], dir];
            let _ = self.octets.remove_label_values(&ld);
            let _ = self.errors_in_out.remove_label_values(&ld);
        }
    }

    /// Removes every series of a device no longer polled.
    pub(crate) fn forget_device(&self, device: &str, mem: &mut Memory) {
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
