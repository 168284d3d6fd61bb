//! The poller against recordings of real devices served by snmpsim: it
//! must read the interfaces LibreNMS read from the same recordings
//! (`../shared/fixtures/snmprec/expected/NAME.json`), and the ONU levels.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

mod support;

use std::time::Duration;

use monitoring::interfaces::{self, type_name};
use monitoring::snmp::{Credentials, Snmp, Target};
use support::*;

#[tokio::test]
async fn interfaces_match_what_librenms_read_from_each_recording() {
    let Some(agent) = serve().await else { return };
    let mut differ = Vec::new();
    for (expected, name) in compared() {
        let name = name.as_str();
        let snmp = session(&agent, name, Duration::from_secs(5)).await;
        let profiles = monitoring::profiles::Profiles::shipped().unwrap();
        let profile = profiles.of_device(&snmp).await.unwrap();
        let polled = interfaces::poll(&snmp, profile).await.unwrap();
        // Columns read side by side give what walking each alone gives.
        let columns = [
            "1.3.6.1.2.1.2.2.1.2",
            "1.3.6.1.2.1.2.2.1.8",
            "1.3.6.1.2.1.2.2.1.10",
            "1.3.6.1.2.1.31.1.1.1.1",
            "1.3.6.1.2.1.31.1.1.1.6",
            "1.3.6.1.2.1.31.1.1.1.18",
        ];
        let side_by_side = snmp.walk_columns(&columns).await.unwrap();
        for (column, rows) in columns.iter().zip(&side_by_side) {
            assert_eq!(rows, &snmp.walk(column).await.unwrap(), "{name} {column}");
        }
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
        let ports = expected["ports"]["poller"]["ports"]
            .as_array()
            .or_else(|| expected["ports"]["discovery"]["ports"].as_array());
        let Some(ports) = ports.filter(|p| !p.is_empty()) else {
            // Only a recording from outside may have no port listed.
            assert!(!RECORDINGS.contains(&name), "{name}: LibreNMS saw ports");
            eprintln!("{name}: LibreNMS lists no port");
            continue;
        };
        let mut mismatches = Vec::new();
        for port in ports {
            let index = port["ifIndex"].as_u64().unwrap() as u32;
            let Some(i) = polled.iter().find(|i| i.index == index) else {
                mismatches.push(format!("ifIndex {index} not polled"));
                continue;
            };
            let mut check = |field: &str, ours: serde_json::Value| {
                let theirs = &port[field];
                if !theirs.is_null() && *theirs != ours {
                    mismatches.push(format!(
                        "ifIndex {index} {field}: ours {ours}, LibreNMS {theirs}"
                    ));
                }
            };
            check("ifName", i.name.clone().into());
            if i.if_type != 0 {
                check("ifType", type_name(i.if_type).into());
            }
            check("ifOperStatus", i.oper.map(|s| s.as_str()).into());
            check("ifSpeed", i.speed_bps.filter(|s| *s > 0).into());
            // LibreNMS stores an absent counter as 0; the poller keeps it
            // absent (nothing is exported for it).
            check("ifInOctets", i.in_octets.map_or(0, |c| c.value()).into());
            check("ifOutOctets", i.out_octets.map_or(0, |c| c.value()).into());
        }
        let pon: Vec<String> = polled
            .iter()
            .filter_map(|i| Some(format!("{} {}/{}", i.name, i.pon?.slot, i.pon?.port)))
            .collect();
        eprintln!("{name}: PON ports {pon:?}");
        if let Some(profile) = profile {
            let (onts, _) = profile.read(&snmp).await.unwrap();
            let placed = onts.iter().filter(|o| o.pon.is_some()).count();
            eprintln!(
                "{name}: profile « {} », {} ONT(s), {placed} on a PON port",
                profile.name,
                onts.len()
            );
        }
        eprintln!(
            "{name}: {} interfaces polled, {} compared with LibreNMS, {} differ",
            polled.len(),
            ports.len(),
            mismatches.len()
        );
        differ.extend(mismatches.into_iter().map(|m| format!("{name}: {m}")));
    }
    assert!(
        differ.is_empty(),
        "{} port field(s) differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[tokio::test]
async fn one_cycle_polls_every_device_and_a_dead_one_delays_nobody() {
    use monitoring::poller::{Device, Metrics, Poller};
    let Some(agent) = serve().await else { return };
    let registry = prometheus::Registry::new_custom(Some("regie".into()), None).unwrap();
    let poller = Poller::new(Metrics::register(&registry).unwrap());
    let target = |address: std::net::SocketAddr, community: &str| Target {
        address,
        credentials: Credentials::V2c {
            community: community.into(),
        },
        timeout: Duration::from_millis(700),
        retries: 1,
    };
    // A port where nothing answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut devices: Vec<Device> = RECORDINGS
        .iter()
        .map(|n| Device {
            name: (*n).into(),
            target: target(([127, 0, 0, 1], agent.port).into(), n),
        })
        .collect();
    devices.push(Device {
        name: "mort".into(),
        target: target(silent.local_addr().unwrap(), "public"),
    });

    let first = poller.cycle(&devices, Duration::from_secs(60)).await;
    let failed: Vec<&str> = first
        .devices
        .iter()
        .filter(|d| d.result.is_err())
        .map(|d| d.device.as_str())
        .collect();
    assert_eq!(failed, ["mort"], "only the dead device fails");
    // ENTITY-SENSOR: LibreNMS found no entity-sensor in any recording (the
    // Nokia one holds the table's columns without a single row); the poller
    // reads none either, and the broken table fails nothing.
    for name in RECORDINGS {
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixtures().join(format!("expected/{name}.json"))).unwrap(),
        )
        .unwrap();
        // A recording whose device LibreNMS found no sensor on has no
        // sensors section at all.
        let entity = expected["sensors"]["discovery"]["sensors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|s| s["poller_type"] == "entity-sensor" || s["sensor_type"] == "entity-sensor")
            .count();
        assert_eq!(entity, 0, "{name}");
    }
    assert!(first.devices.iter().all(|d| d.sensors.is_empty()));
    let slowest_live = first
        .devices
        .iter()
        .filter(|d| d.result.is_ok())
        .map(|d| d.duration)
        .max()
        .unwrap();
    assert!(!first.overran);
    let second = poller.cycle(&devices, Duration::from_secs(60)).await;
    eprintln!(
        "cycle {:?}, slowest live device {:?}",
        second.duration, slowest_live
    );
    // The devices were polled side by side: the cycle is shorter than the
    // devices' polls one after the other.
    let sum: Duration = second.devices.iter().map(|d| d.duration).sum();
    assert!(
        second.duration < sum,
        "cycle {:?}, sum of polls {sum:?}",
        second.duration
    );

    let mut buf = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut buf,
    )
    .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let samples = parse_exposition(&text);
    let find = |name: &str, want: &[(&str, &str)]| -> Option<f64> {
        samples
            .iter()
            .find(|(n, labels, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.2)
    };
    assert_eq!(
        find("regie_snmp_device_up", &[("device", "smartax")]),
        Some(1.0)
    );
    assert_eq!(
        find("regie_snmp_device_up", &[("device", "mort")]),
        Some(0.0)
    );
    assert_eq!(
        find("regie_snmp_errors_total", &[("device", "mort")]),
        Some(2.0)
    );
    assert_eq!(
        find(
            "regie_interface_oper_up",
            &[("device", "edgeosolt"), ("ifName", "pon1")]
        ),
        Some(1.0)
    );
    assert_eq!(
        find(
            "regie_interface_oper_up",
            &[("device", "edgeosolt"), ("ifName", "pon6")]
        ),
        Some(0.0)
    );
    assert_eq!(
        find(
            "regie_interface_octets_total",
            &[("device", "vrp_5720"), ("direction", "in")]
        ),
        Some(0.0),
        "a recording does not move: nothing counted, no spike"
    );
    assert!(find(
        "regie_snmp_poll_duration_seconds",
        &[("device", "ios_c3560")]
    )
    .is_some());
}

#[tokio::test]
async fn optics_match_what_librenms_read_from_the_olts() {
    let Some(agent) = serve().await else { return };

    // Ubiquiti UFiber: every ONU's received and transmitted power.
    let snmp = session(&agent, "edgeosolt", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for the UFiber");
    assert_eq!(profile.name, "Ubiquiti UFiber");
    let (onus, ports) = profile.read(&snmp).await.unwrap();
    assert!(ports.is_empty());
    let rx = sensors("edgeosolt", "dbm", "ONUs RX");
    let tx = sensors("edgeosolt", "dbm", "ONUs TX");
    assert_eq!(onus.len(), rx.len(), "every ONU LibreNMS saw");
    for (oid, dbm) in &rx {
        let index = oid.trim_start_matches(".1.3.6.1.4.1.41112.1.5.6.2.1.9.");
        let onu = onus
            .iter()
            .find(|o| o.index == index)
            .unwrap_or_else(|| panic!("ONU {index}"));
        assert_eq!(
            onu.rx_ont_cdbm.map(|c| f64::from(c) / 100.0),
            Some(*dbm),
            "ONU {:?} rx",
            onu.serial
        );
    }
    for (oid, dbm) in &tx {
        let index = oid.trim_start_matches(".1.3.6.1.4.1.41112.1.5.6.2.1.8.");
        let onu = onus.iter().find(|o| o.index == index).unwrap();
        assert_eq!(onu.tx_ont_cdbm.map(|c| f64::from(c) / 100.0), Some(*dbm));
    }
    assert!(onus
        .iter()
        .all(|o| o.serial.as_deref().is_some_and(|s| s.starts_with("UBNT"))));

    // Paced, as the optics cycle reads an OLT: the same rows, read by
    // small requests spaced by the pause (so the walk lasts at least the
    // pauses between its requests).
    let table = "1.3.6.1.4.1.41112.1.5.6.2.1";
    let pause = Duration::from_millis(20);
    let paced = session(&agent, "edgeosolt", Duration::from_secs(5))
        .await
        .paced(pause);
    let started = std::time::Instant::now();
    let rows = paced.walk(table).await.unwrap();
    let spent = started.elapsed();
    assert_eq!(rows, snmp.walk(table).await.unwrap());
    let requests = rows
        .len()
        .div_ceil(monitoring::snmp::PACED_REPETITIONS as usize);
    assert!(requests > 2, "{} rows", rows.len());
    assert!(
        spent >= pause * u32::try_from(requests - 1).unwrap(),
        "{requests} requests in {spent:?}"
    );
    let (paced_onus, _) = profile.read(&paced).await.unwrap();
    assert_eq!(paced_onus, onus);

    // Huawei SmartAX: each PON port's transceiver.
    let snmp = session(&agent, "smartax", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for the SmartAX");
    assert_eq!(profile.name, "Huawei SmartAX (GPON)");
    let (onts, ports) = profile.read(&snmp).await.unwrap();
    let expected = sensors("smartax", "dbm", "SFPs TX");
    assert_eq!(ports.len(), expected.len());
    for (oid, dbm) in &expected {
        let if_index: u32 = oid.rsplit('.').next().unwrap().parse().unwrap();
        let port = ports.iter().find(|p| p.if_index == if_index).unwrap();
        assert_eq!(f64::from(port.tx_cdbm) / 100.0, *dbm, "PON port {if_index}");
    }
    // The recording holds no per-ONT optics: the walks answer nothing,
    // not an error.
    assert!(onts.is_empty());

    // A Huawei switch shares the SmartAX's sysObjectID prefix but is no
    // OLT: no profile, no ONT walk.
    let snmp = session(&agent, "vrp_5720", Duration::from_secs(5)).await;
    assert!(profile_of(&snmp).await.is_none());
}

#[tokio::test]
async fn absent_objects_are_empty_answers_not_errors() {
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "ios_c3560", Duration::from_secs(5)).await;
    // A subtree the device does not have: endOfMibView or the next subtree
    // at once.
    assert!(snmp
        .walk("1.3.6.1.4.1.41112.1.5.6.2.1")
        .await
        .unwrap()
        .is_empty());
    // A scalar it does not have: noSuchObject, as a value.
    // (This recording has no sysUpTime either: the poller then does
    // without reboot detection.)
    let values = snmp
        .get(&[
            "1.3.6.1.2.1.1.2.0",
            "1.3.6.1.4.1.99999.1.0",
            "1.3.6.1.2.1.1.3.0",
        ])
        .await
        .unwrap();
    assert_eq!(values[0].as_text().as_deref(), Some("1.3.6.1.4.1.9.1.634"));
    assert_eq!(values[1], monitoring::snmp::Value::Missing);
    assert_eq!(values[2], monitoring::snmp::Value::Missing);
    // The walk of the last subtree of the MIB view ends cleanly.
    assert!(snmp.walk("1.3.6.1.6").await.unwrap().is_empty());
}

#[tokio::test]
async fn each_device_runs_on_its_own_schedule_and_a_dead_one_holds_up_nobody() {
    use monitoring::fleet::{Fleet, OnPoll};
    use monitoring::poller::{Device, Metrics, Poller};
    let Some(agent) = serve().await else { return };
    let registry = prometheus::Registry::new_custom(Some("regie".into()), None).unwrap();
    let mut poller = Poller::new(Metrics::register(&registry).unwrap());
    // Left alone, the dead device's poll would last its 60 s deadline.
    poller.device_deadline = Duration::from_secs(60);
    // Silent: a socket that never answers, asked with long timeouts and
    // retries (2 min of waiting if nothing cut them).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = Device {
        name: "mort".into(),
        target: Target {
            address: silent.local_addr().unwrap(),
            credentials: Credentials::V2c {
                community: "public".into(),
            },
            timeout: Duration::from_secs(30),
            retries: 3,
        },
    };
    let live = Device {
        name: "edgeosolt".into(),
        target: Target {
            address: ([127, 0, 0, 1], agent.port).into(),
            credentials: Credentials::V2c {
                community: "edgeosolt".into(),
            },
            timeout: Duration::from_secs(2),
            retries: 1,
        },
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_poll: OnPoll = std::sync::Arc::new(move |p| {
        let tx = tx.clone();
        Box::pin(async move {
            let _ = tx.send((p.device.clone(), p.result.is_ok()));
        })
    });
    // Room enough for the live device's poll on a loaded machine (it takes
    // a fraction of a second alone).
    let interval = Duration::from_secs(5);
    let mut fleet = Fleet::new(poller, interval, 8, on_poll);
    fleet.sync(&[dead.clone(), live.clone()]);
    assert_eq!(fleet.len(), 2);

    // Three polls of the live device, every one answered, while the dead
    // device's polls fail, each cut at the interval: the live one never
    // waits for the dead one. (The guard only catches a hang.)
    let mut live_polls = 0;
    let mut dead_polls = 0;
    // The old cycle, waiting for the dead device, would take 120 s.
    let guard = tokio::time::sleep(Duration::from_secs(40));
    tokio::pin!(guard);
    while live_polls < 3 || dead_polls < 2 {
        tokio::select! {
            Some((device, ok)) = rx.recv() => {
                if device == "edgeosolt" {
                    assert!(ok, "the live device answered");
                    live_polls += 1;
                } else {
                    assert!(!ok, "the dead device failed");
                    dead_polls += 1;
                }
            }
            _ = &mut guard => panic!("{live_polls} live and {dead_polls} dead polls in 40 s"),
        }
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    assert!(
        text.contains(r#"regie_snmp_device_up{device="mort"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"regie_snmp_device_up{device="edgeosolt"} 1"#),
        "{text}"
    );

    // The dead device removed: its task stops and its series go.
    fleet.sync(std::slice::from_ref(&live));
    assert_eq!(fleet.len(), 1);
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    assert!(!text.contains(r#"device="mort""#), "{text}");
}

#[tokio::test]
async fn each_profile_maps_its_pon_ports_as_librenms_lists_them() {
    let Some(agent) = serve().await else { return };
    // Per recording: the profile expected, what a PON port's name looks
    // like in LibreNMS's list (written here from the names, not from the
    // profiles), and one port's slot and port.
    /// Recording, profile, PON port name test, one port and its position.
    type Case = (
        &'static str,
        &'static str,
        fn(&str) -> bool,
        (&'static str, u32, u32),
    );
    let cases: [Case; 4] = [
        (
            "smartax",
            "Huawei SmartAX (GPON)",
            |n| n.starts_with("GPON "),
            ("GPON 0/0/3", 0, 3),
        ),
        (
            "edgeosolt",
            "Ubiquiti UFiber",
            |n| n.starts_with("pon"),
            ("pon6", 0, 6),
        ),
        (
            "bdcom",
            "BDCOM GPON",
            |n| n.starts_with("GPON") && !n.contains(':'),
            ("GPON0/12", 0, 12),
        ),
        (
            "ubiquoss-pon_9500",
            "Ubiquoss GPON",
            |n| n.starts_with("Tpon"),
            ("Tpon3/4", 3, 4),
        ),
    ];
    for (recording, profile_name, is_pon, (example, slot, port)) in cases {
        let snmp = session(&agent, recording, Duration::from_secs(5)).await;
        let profile = profile_of(&snmp)
            .await
            .unwrap_or_else(|| panic!("{recording}: no profile"));
        assert_eq!(profile.name, profile_name, "{recording}");
        let polled = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixtures().join(format!("expected/{recording}.json"))).unwrap(),
        )
        .unwrap();
        let mut librenms: Vec<String> = expected["ports"]["discovery"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["ifName"].as_str())
            .filter(|n| is_pon(n))
            .map(str::to_owned)
            .collect();
        let mut mapped: Vec<String> = polled
            .iter()
            .filter(|i| i.pon.is_some())
            .map(|i| i.name.clone())
            .collect();
        librenms.sort();
        mapped.sort();
        assert!(!librenms.is_empty(), "{recording}");
        assert_eq!(mapped, librenms, "{recording}: the PON ports");
        let one = polled.iter().find(|i| i.name == example).unwrap();
        assert_eq!(
            one.pon,
            Some(interfaces::PonPosition { slot, port }),
            "{recording} {example}"
        );
    }
}

#[tokio::test]
async fn onu_levels_match_what_librenms_read_on_every_olt() {
    let Some(agent) = serve().await else { return };
    let mut compared_levels = 0;
    let mut differ = Vec::new();
    for (expected, name) in compared() {
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
        // LibreNMS's per-ONU levels, in dBm: its groups name them (« ONUs
        // RX », « ONUs TX », « ONU »).
        let levels: Vec<(String, f64)> = expected["sensors"]["discovery"]["sensors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|s| {
                s["sensor_class"] == "dbm" && s["group"].as_str().is_some_and(|g| g.contains("ONU"))
            })
            .map(|s| {
                (
                    s["sensor_descr"].as_str().unwrap_or_default().to_owned(),
                    s["sensor_current"].as_f64().unwrap(),
                )
            })
            .collect();
        if levels.is_empty() {
            continue;
        }
        let snmp = session(&agent, &name, Duration::from_secs(5)).await;
        let Some(profile) = profile_of(&snmp).await else {
            differ.push(format!("{name}: no profile"));
            continue;
        };
        let (onts, _) = profile.read(&snmp).await.unwrap();
        for (descr, dbm) in &levels {
            let centi = (dbm * 100.0).round() as i32;
            // LibreNMS takes the first number of a text such as V-SOL's
            // « 0.03 mW (-14.61 dBm) » for dBm: that figure is the level
            // in milliwatts, to two decimals.
            let as_milliwatts = |c: i32| {
                let mw = 10f64.powf(f64::from(c) / 1000.0);
                ((mw * 100.0).round() as i32) == centi
            };
            let found = onts.iter().any(|o| {
                [o.rx_ont_cdbm, o.tx_ont_cdbm, o.rx_olt_cdbm]
                    .iter()
                    .flatten()
                    .any(|l| *l == centi || as_milliwatts(*l))
            });
            if !found {
                differ.push(format!("{name}: « {descr} » {dbm} dBm not read"));
            }
        }
        eprintln!(
            "{name}: {} ONT(s) read, {} level(s) of LibreNMS compared",
            onts.len(),
            levels.len()
        );
        compared_levels += levels.len();
    }
    assert!(compared_levels > 0, "the UFiber recording has levels");
    assert!(
        differ.is_empty(),
        "{} level(s) differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[tokio::test]
async fn the_nokia_isam_places_its_pon_ports_and_onts_by_their_ifindex() {
    use monitoring::interfaces::PonPosition;
    let Some(agent) = serve().await else { return };
    let snmp = session(&agent, "nokia-isam", Duration::from_secs(5)).await;
    let profile = profile_of(&snmp).await.expect("a profile for the ISAM");
    assert_eq!(profile.name, "Nokia ISAM (GPON)");
    let polled = interfaces::poll(&snmp, Some(&profile)).await.unwrap();
    // Its 16 PON ports all named « X-PON », told apart by their ifIndex:
    // 0x5A0_2000 (94380032) is slot 1, port 1; each next port 0x1_0000
    // further.
    let mut pon: Vec<(u32, PonPosition)> = polled
        .iter()
        .filter_map(|i| Some((i.index, i.pon?)))
        .collect();
    pon.sort_by_key(|(i, _)| *i);
    let expected: Vec<(u32, PonPosition)> = (0..16)
        .map(|k| {
            (
                94380032 + k * 65536,
                PonPosition {
                    slot: 1,
                    port: k + 1,
                },
            )
        })
        .collect();
    assert_eq!(pon, expected);
    assert!(polled
        .iter()
        .filter(|i| i.pon.is_some())
        .all(|i| i.name.trim() == "X-PON"));
    // Its ONTs are interfaces too (ifDescr « … ONT »): each one an ONT
    // row, placed, online as its interface is; no other interface is.
    let (onts, _) = profile.read(&snmp).await.unwrap();
    let ont_interfaces: Vec<&interfaces::Interface> = polled
        .iter()
        .filter(|i| i.descr.trim_end().ends_with(" ONT"))
        .collect();
    assert_eq!(ont_interfaces.len(), 30);
    assert_eq!(onts.len(), 30);
    for i in ont_interfaces {
        let ont = onts
            .iter()
            .find(|o| o.index == i.index.to_string())
            .unwrap_or_else(|| panic!("ONT {}", i.index));
        assert_eq!(ont.online, Some(i.oper == Some(interfaces::Status::Up)));
        assert!(ont.pon.is_some() && ont.ont_id.is_some());
    }
    // 0x5C3_1200: slot 1, PON port 4, ONT 10 (bits 9-15 hold 9).
    let one = onts.iter().find(|o| o.index == "96670208").unwrap();
    assert_eq!(one.pon, Some(PonPosition { slot: 1, port: 4 }));
    assert_eq!(one.ont_id, Some(10));
}
