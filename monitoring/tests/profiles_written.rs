//! Each vendor profile against a recording written for Régie from the
//! vendor's MIB (where no device's recording is at hand; each profile's
//! header says which), and the shipped PON-port alert fired by promtool
//! from what the poller exports for every profile.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

mod support;

use std::time::Duration;

use monitoring::interfaces;
use monitoring::snmp::{Credentials, Target};
use support::*;

#[tokio::test]
async fn the_cdata_profile_reads_a_recording_written_from_its_mib() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "cdata-gpon", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for C-Data");
    assert_eq!(profile.name, "C-Data");
    let interfaces = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    let pon = |name: &str| interfaces.iter().find(|i| i.name == name).unwrap().pon;
    assert_eq!(pon("pon0/0/1"), Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(pon("pon0/0/2"), Some(PonPosition { slot: 0, port: 2 }));
    assert_eq!(pon("ge0/0/1"), None);
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 3);
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // The recording's texts, in dBm: -19.55 and 2.31 are -1955 and 231
    // hundredths; 1234 m.
    let first = ont("1.0.1.1");
    assert_eq!(first.serial.as_deref(), Some("CDTC00A1B2C3"));
    assert_eq!(first.online, Some(true));
    assert_eq!(first.rx_ont_cdbm, Some(-1955));
    assert_eq!(first.tx_ont_cdbm, Some(231));
    assert_eq!(first.distance_m, Some(1234));
    assert_eq!(first.pon, Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(first.ont_id, Some(1));
    assert_eq!(ont("1.0.1.2").rx_ont_cdbm, Some(-2740));
    // Offline, its levels "N/A": no reading rather than a number.
    let offline = ont("1.0.2.1");
    assert_eq!(offline.online, Some(false));
    assert_eq!(offline.rx_ont_cdbm, None);
    assert_eq!(offline.pon, Some(PonPosition { slot: 0, port: 2 }));
}

#[tokio::test]
async fn the_fiberhome_profile_reads_a_recording_written_from_its_mib() {
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "fiberhome-gpon", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for FiberHome");
    assert_eq!(profile.name, "FiberHome GPON");
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 2);
    // -2145 and 236 hundredths of a dBm: -21.45 and 2.36 dBm.
    let first = onts.iter().find(|o| o.index == "16843009").unwrap();
    assert_eq!(first.serial.as_deref(), Some("FHTT0A1B2C3D"));
    assert_eq!(first.rx_ont_cdbm, Some(-2145));
    assert_eq!(first.tx_ont_cdbm, Some(236));
    assert_eq!(first.online, None, "its state is not read");
    let second = onts.iter().find(|o| o.index == "16843010").unwrap();
    assert_eq!(second.rx_ont_cdbm, Some(-2562));
}

#[tokio::test]
async fn the_pon_port_alert_fires_for_every_profiles_ports_as_polled() {
    use monitoring::poller::{Device, Metrics, Poller};
    let Some(agent) = serve().await else { return };
    // Each profile's recording with a PON port down: the series the
    // poller exports from it, held for 10 minutes, must raise
    // RegiePonPortDown for exactly the PON ports down and not shut, and
    // for no other interface.
    let recordings = [
        "edgeosolt",
        "smartax",
        "bdcom",
        "ubiquoss-pon_9500",
        "cdata-gpon",
        "zte-gpon",
        "vsol-epon",
        "uisp-fiber",
        "nokia-isam",
        "nokia-isam-onts",
        "calix-axos",
    ];
    let registry = prometheus::Registry::new_custom(Some("regie".into()), None).unwrap();
    let poller = Poller::new(Metrics::register(&registry).unwrap());
    let devices: Vec<Device> = recordings
        .iter()
        .map(|n| Device {
            name: (*n).into(),
            target: Target {
                address: ([127, 0, 0, 1], agent.port).into(),
                credentials: Credentials::V2c {
                    community: (*n).into(),
                },
                timeout: Duration::from_secs(5),
                retries: 1,
            },
        })
        .collect();
    let cycle = poller.cycle(&devices, Duration::from_secs(60)).await;
    assert!(cycle.devices.iter().all(|d| d.result.is_ok()));
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    let samples = parse_exposition(&text);
    fn of<'a>(samples: &'a [Sample], name: &'a str) -> impl Iterator<Item = &'a Sample> {
        samples.iter().filter(move |(n, _, _)| n == name)
    }
    let series = |name: &'static str| of(&samples, name);
    let labels = |l: &[(String, String)]| {
        l.iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut input = String::new();
    for name in [
        "regie_interface_oper_up",
        "regie_interface_admin_up",
        "regie_interface_pon_port",
    ] {
        for (_, l, v) in series(name) {
            input.push_str(&format!(
                "      - series: '{name}{{{}}}'\n        values: '{}x10'\n",
                labels(l),
                *v as i64
            ));
        }
    }
    // Expected: every PON port (pon_port 1) whose oper is 0 and whose
    // admin is not 0, per device — counted here from the series.
    let value_of = |name: &'static str, device: &str, if_index: &str| {
        series(name)
            .find(|(_, l, _)| {
                l.iter().any(|(k, v)| k == "device" && v == device)
                    && l.iter().any(|(k, v)| k == "ifIndex" && v == if_index)
            })
            .map(|(_, _, v)| *v)
    };
    let mut expected = Vec::new();
    let mut per_device = std::collections::BTreeMap::<String, usize>::new();
    for (_, l, v) in series("regie_interface_oper_up") {
        let get = |k: &str| {
            l.iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{k} in {l:?}"))
        };
        let (device, if_index) = (get("device"), get("ifIndex"));
        if *v == 0.0
            && value_of("regie_interface_pon_port", device, if_index) == Some(1.0)
            && value_of("regie_interface_admin_up", device, if_index) != Some(0.0)
        {
            *per_device.entry(device.to_owned()).or_default() += 1;
            // An empty label is no label to Prometheus.
            let mut exp: Vec<String> = l
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("              {k}: '{}'", v.replace('\'', "''")))
                .collect();
            exp.push("              severity: critical".into());
            // The slot and port come from the PON port's series.
            let place = |k: &str| {
                of(&samples, "regie_interface_pon_port")
                    .find(|(_, pl, _)| {
                        pl.iter().any(|(a, b)| a == "device" && b == device)
                            && pl.iter().any(|(a, b)| a == "ifIndex" && b == if_index)
                    })
                    .and_then(|(_, pl, _)| pl.iter().find(|(a, _)| a == k))
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            let (slot, port) = (place("slot"), place("port"));
            exp.push(format!("              slot: '{slot}'"));
            exp.push(format!("              port: '{port}'"));
            let if_name = get("ifName").replace('\'', "''");
            expected.push(format!(
                "          - exp_labels:\n{}\n            exp_annotations:\n              summary: 'Port PON {if_name} (carte {slot}, port {port}) de {device} coupé'\n              description: 'Le port est administrativement actif mais opérationnellement coupé : les lignes derrière lui sont hors service.'\n",
                exp.join("\n")
            ));
        }
    }
    // Every recording here has at least one PON port down (written so, or
    // recorded so).
    for n in recordings {
        assert!(
            per_device.contains_key(n),
            "{n}: no PON port down: {per_device:?}"
        );
    }
    let test = format!(
        "rule_files:\n  - regie-alerts.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n      - eval_time: 5m\n        alertname: RegiePonPortDown\n        exp_alerts:\n{}",
        expected.concat()
    );
    let Some(out) = promtool_test(&test) else {
        return;
    };
    assert!(
        out.status.success(),
        "promtool:\n{}{}\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("RegiePonPortDown fired as expected: {per_device:?}");
}

#[tokio::test]
async fn the_zte_profile_reads_both_firmwares_tables() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    // Up to V2.1: the 3902.1012 tables, the port's number packing slot 1
    // port 1 as 0x1001_0100 (268501248).
    let snmp = session(&agent, "zte-gpon", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for ZTE");
    assert_eq!(profile.name, "ZTE GPON");
    let interfaces = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    let pon = |name: &str| interfaces.iter().find(|i| i.name == name).unwrap().pon;
    assert_eq!(pon("gpon_1/1/1"), Some(PonPosition { slot: 1, port: 1 }));
    assert_eq!(pon("gpon_1/1/2"), Some(PonPosition { slot: 1, port: 2 }));
    assert_eq!(pon("gei_1/4/1"), None);
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 3, "{onts:#?}");
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // Raw × 0.002 − 30: 4250 is −21.50 dBm, 16250 is 2.50, 1500 is −27.00,
    // 15990 is 1.98; the serial's four bytes written in hexadecimal.
    let first = ont("268501248.1");
    assert_eq!(first.serial.as_deref(), Some("ZTEGC0A1B2C3"));
    assert_eq!(first.name.as_deref(), Some("client-1"));
    assert_eq!(first.online, Some(true));
    assert_eq!(first.rx_ont_cdbm, Some(-2150));
    assert_eq!(first.tx_ont_cdbm, Some(250));
    assert_eq!(first.distance_m, Some(1235));
    assert_eq!(first.pon, Some(PonPosition { slot: 1, port: 1 }));
    assert_eq!(first.ont_id, Some(1));
    let second = ont("268501248.2");
    assert_eq!(
        (second.rx_ont_cdbm, second.tx_ont_cdbm),
        (Some(-2700), Some(198))
    );
    // Offline (phase 7), its levels 65535: no reading.
    let offline = ont("268501504.1");
    assert_eq!(offline.online, Some(false));
    assert_eq!((offline.rx_ont_cdbm, offline.distance_m), (None, None));
    assert_eq!(offline.pon, Some(PonPosition { slot: 1, port: 2 }));

    // From V2.2: the first table answers nothing, the second is read;
    // 285278465 is 0x1101_0101, slot 1 port 1; 4000 is −22.00 dBm.
    let snmp = session(&agent, "zte-gpon-v22", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.unwrap();
    assert_eq!(profile.name, "ZTE GPON");
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 1, "{onts:#?}");
    assert_eq!(onts[0].index, "285278465.3");
    assert_eq!(onts[0].serial.as_deref(), Some("ZTEGD0E1F203"));
    assert_eq!(onts[0].online, Some(true));
    assert_eq!(onts[0].rx_ont_cdbm, Some(-2200));
    assert_eq!(onts[0].distance_m, Some(987));
    assert_eq!(onts[0].pon, Some(PonPosition { slot: 1, port: 1 }));
    assert_eq!(onts[0].ont_id, Some(3));
}

#[tokio::test]
async fn the_vsol_profile_reads_the_dbm_out_of_its_texts() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "vsol-epon", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for V-SOL");
    assert_eq!(profile.name, "V-SOL EPON");
    let interfaces = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    let pon = |name: &str| interfaces.iter().find(|i| i.name == name).unwrap().pon;
    assert_eq!(pon("EPON0/1"), Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(pon("EPON0/2"), Some(PonPosition { slot: 0, port: 2 }));
    // ONU 1 of port 1, an interface of its own, is no PON port.
    assert_eq!(pon("EPON0/1:1"), None);
    assert_eq!(pon("GE0/1"), None);
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 3);
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // « 0.03 mW (-14.61 dBm) »: −14.61 dBm, not 0.03.
    let first = ont("1.1");
    assert_eq!(first.rx_ont_cdbm, Some(-1461));
    assert_eq!(first.tx_ont_cdbm, Some(377));
    assert_eq!(first.serial.as_deref(), Some("e0:67:b3:00:11:22"));
    assert_eq!(first.name.as_deref(), Some("famille-a"));
    assert_eq!(first.online, Some(true));
    assert_eq!(first.pon, Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(first.ont_id, Some(1));
    assert_eq!(ont("1.2").rx_ont_cdbm, Some(-2102));
    let offline = ont("2.1");
    assert_eq!(offline.online, Some(false));
    assert_eq!(offline.rx_ont_cdbm, None, "« N/A » is no reading");
    assert_eq!(offline.pon, Some(PonPosition { slot: 0, port: 2 }));
}

#[tokio::test]
async fn the_uisp_fiber_is_known_by_its_description_and_its_switch_ports_are_no_pon() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "uisp-fiber", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp)
        .await
        .expect("a profile for the UISP Fiber");
    assert_eq!(profile.name, "Ubiquiti UFiber");
    let interfaces = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    let find = |name: &str| interfaces.iter().find(|i| i.name == name).unwrap();
    // Its port table: pon1…, sfp1, numbered from 1000.
    assert_eq!(find("pon1").index, 1000);
    assert_eq!(find("pon1").pon, Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(find("pon2").pon, Some(PonPosition { slot: 0, port: 2 }));
    assert_eq!(find("pon2").oper, Some(interfaces::Status::Down));
    assert_eq!(find("sfp1").pon, None);
    // The internal switch's 0/3, always up: no PON port.
    assert_eq!(find("0/3").pon, None);
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 2);
    let online = onts.iter().find(|o| o.online == Some(true)).unwrap();
    assert_eq!(online.serial.as_deref(), Some("UBNT83e923ae"));
    assert_eq!(online.rx_ont_cdbm, Some(-1142));
    assert_eq!(online.tx_ont_cdbm, Some(594));
    // ubntOnuPort 1: pon1.
    assert_eq!(online.pon, Some(PonPosition { slot: 0, port: 1 }));
    // Offline, its port 0: not known.
    let offline = onts.iter().find(|o| o.online == Some(false)).unwrap();
    assert_eq!(offline.pon, None);
    // Broadcom's prefix alone (an EdgeSwitch) is not the OLT.
    let profiles = monitoring::profiles::Profiles::shipped().unwrap();
    assert!(profiles
        .find("1.3.6.1.4.1.4413", "EdgeSwitch 24-Port Lite")
        .is_none());
}

#[tokio::test]
async fn the_nokia_profile_reads_its_onts_levels() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "nokia-isam-onts", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for the ISAM");
    assert_eq!(profile.name, "Nokia ISAM (GPON)");
    let (onts, _) = profile.read(&snmp).await.unwrap();
    // The PON ports' rows of ifOperStatus are no ONTs.
    assert_eq!(onts.len(), 3, "{onts:#?}");
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // 0.002 dBm: −10750 is −21.50 dBm, 1250 is 2.50, −13500 is −27.00,
    // 990 is 1.98.
    let first = ont("96468992");
    assert_eq!(first.serial.as_deref(), Some("ALCLF0A1B2C3"));
    assert_eq!(first.online, Some(true));
    assert_eq!(
        (first.rx_ont_cdbm, first.tx_ont_cdbm),
        (Some(-2150), Some(250))
    );
    assert_eq!(first.pon, Some(PonPosition { slot: 1, port: 1 }));
    assert_eq!(first.ont_id, Some(1));
    let second = ont("96469504");
    assert_eq!(
        (second.rx_ont_cdbm, second.tx_ont_cdbm),
        (Some(-2700), Some(198))
    );
    assert_eq!(second.ont_id, Some(2));
    // Down, its levels 32768: no reading.
    let third = ont("96534528");
    assert_eq!(third.online, Some(false));
    assert_eq!(third.rx_ont_cdbm, None);
    assert_eq!(third.pon, Some(PonPosition { slot: 1, port: 2 }));
}

#[tokio::test]
async fn the_calix_profile_converts_its_milliwatts() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "calix-axos", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for AXOS");
    assert_eq!(profile.name, "Calix AXOS");
    let interfaces = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    let pon = |name: &str| interfaces.iter().find(|i| i.name == name).unwrap().pon;
    assert_eq!(pon("1/1/xp2"), Some(PonPosition { slot: 1, port: 2 }));
    assert_eq!(pon("1/2/gp1"), Some(PonPosition { slot: 2, port: 1 }));
    assert_eq!(pon("1/1/x1"), None);
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 3);
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // value / 10000 = mW: 100 is 0.01 mW, −20 dBm; 31623 is 3.1623 mW,
    // 5.00 dBm; 501 is 0.0501 mW, −13.00 dBm; 10000 is 1 mW, 0 dBm.
    let first = ont("2000001");
    assert_eq!(first.name.as_deref(), Some("316"));
    assert_eq!(first.online, Some(true));
    assert_eq!(
        (first.rx_ont_cdbm, first.tx_ont_cdbm, first.rx_olt_cdbm),
        (Some(-2000), Some(500), Some(-1300))
    );
    // Degraded is still online.
    let second = ont("2000002");
    assert_eq!((second.online, second.rx_ont_cdbm), (Some(true), Some(0)));
    // Invalid, its levels 0 mW: no reading.
    let third = ont("2000003");
    assert_eq!((third.online, third.rx_ont_cdbm), (Some(false), None));
}

#[tokio::test]
async fn the_bdcom_profile_places_its_onus_by_their_interfaces() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "bdcom-onus", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for BDCOM");
    assert_eq!(profile.name, "BDCOM GPON");
    let (onts, _) = profile.read(&snmp).await.unwrap();
    assert_eq!(onts.len(), 3, "{onts:#?}");
    let ont = |index: &str| onts.iter().find(|o| o.index == index).unwrap();
    // ifIndex 1179 is GPON0/1:1: slot 0, port 1, ONU 1; 0.1 dBm: −215 is
    // −21.50 dBm, 23 is 2.30.
    let first = ont("1179");
    assert_eq!(first.serial.as_deref(), Some("BDCM00A1B2C3"));
    assert_eq!(first.online, Some(true));
    assert_eq!(
        (first.rx_ont_cdbm, first.tx_ont_cdbm),
        (Some(-2150), Some(230))
    );
    assert_eq!(first.pon, Some(PonPosition { slot: 0, port: 1 }));
    assert_eq!(first.ont_id, Some(1));
    assert_eq!(ont("1180").ont_id, Some(2));
    // Lost (4): offline, no level.
    let lost = ont("1181");
    assert_eq!((lost.online, lost.rx_ont_cdbm), (Some(false), None));
    assert_eq!(lost.pon, Some(PonPosition { slot: 0, port: 2 }));
}
