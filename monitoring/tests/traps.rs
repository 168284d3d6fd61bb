//! The trap listener with net-snmp's `snmptrap` and `snmpinform`: v2c and
//! v3 (authPriv) traps and informs classified, unknown ones counted.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::process::Command;
use std::time::Duration;

use monitoring::snmp::V3Auth;
use monitoring::traps::{Event, Listener, ListenerConfig, TrapMetrics, TrapUser};

fn tools() -> bool {
    let present = Command::new("snmptrap").arg("-V").output().is_ok();
    if !present {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "net-snmp's tools are required (apt-get install snmp)"
        );
        eprintln!("skipped: snmptrap is not installed");
    }
    present
}

/// Runs one net-snmp tool. Each run gets a persistent directory of its
/// own: the tools rewrite `snmpapp.conf` (engine boots, keys) when they
/// exit, and a run reading the file while the previous one writes it
/// fails its SNMPv3 exchange. An inform is an exchange of two round trips
/// (engine discovery, then the inform), so the tool waits up to 5 s per
/// try and tries four times: on a loaded CI machine one exchange timed out
/// with a single retry of 2 s.
fn send(program: &str, args: &[&str]) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(program)
        .env("SNMP_PERSISTENT_DIR", state.path())
        .env("SNMPCONFPATH", state.path())
        .args(["-M", "/dev/null", "-r", "3", "-t", "5"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v2c_and_v3_traps_and_informs_are_classified() {
    if !tools() {
        return;
    }
    let registry = prometheus::Registry::new_custom(Some("regie".into()), None).unwrap();
    let listener = Listener::bind(
        &ListenerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            communities: vec!["regie-traps".into()],
            users: vec![TrapUser {
                user: "pieges".into(),
                auth: V3Auth::Sha256,
                auth_key: "auth-secret-2026".into(),
                priv_key: "priv-secret-2026".into(),
            }],
            engine_id: b"regie-trap-receiver".to_vec(),
            ont_down: monitoring::profiles::Profiles::shipped()
                .unwrap()
                .ont_down_traps(),
        },
        TrapMetrics::register(&registry).unwrap(),
    )
    .await
    .unwrap();
    let target = listener.local_addr().to_string();
    let next = || async {
        tokio::time::timeout(Duration::from_secs(40), listener.next())
            .await
            .expect("a trap arrives")
            .unwrap()
    };
    let v3 = [
        "-v",
        "3",
        "-u",
        "pieges",
        "-l",
        "authPriv",
        "-a",
        "SHA-256",
        "-A",
        "auth-secret-2026",
        "-x",
        "AES",
        "-X",
        "priv-secret-2026",
    ];

    // v2c linkDown with the interface, from a device.
    let t = target.clone();
    let sender = tokio::task::spawn_blocking(move || {
        send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                "regie-traps",
                &t,
                "",
                "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.7",
                "i",
                "7",
                "1.3.6.1.2.1.31.1.1.1.1.7",
                "s",
                "GPON 0/1/3",
            ],
        )
    });
    let trap = next().await;
    sender.await.unwrap();
    assert_eq!(
        trap.event,
        Event::LinkDown {
            if_index: Some(7),
            if_name: Some("GPON 0/1/3".into())
        }
    );

    // A wrong community is refused; the next good trap still arrives.
    let t = target.clone();
    let sender = tokio::task::spawn_blocking(move || {
        send(
            "snmptrap",
            &["-v", "2c", "-c", "intrus", &t, "", "1.3.6.1.6.3.1.1.5.1"],
        );
        send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                "regie-traps",
                &t,
                "",
                "1.3.6.1.6.3.1.1.5.1",
            ],
        );
    });
    assert_eq!(next().await.event, Event::ColdStart);
    sender.await.unwrap();

    // An enterprise trap nobody knows is counted, not dropped.
    let t = target.clone();
    let sender = tokio::task::spawn_blocking(move || {
        send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                "regie-traps",
                &t,
                "",
                "1.3.6.1.4.1.99999.0.1",
            ],
        )
    });
    assert_eq!(
        next().await.event,
        Event::Unknown {
            oid: "1.3.6.1.4.1.99999.0.1".into()
        }
    );
    sender.await.unwrap();

    // A Huawei OLT's ONT alarm, known by the trap prefix its profile
    // lists (HUAWEI-XPON-MIB's hwGponOntAlarm…); a trap beside that prefix
    // (…2.2000) is not one.
    for (oid, known) in [
        ("1.3.6.1.4.1.2011.6.128.1.1.2.200.1.9", true),
        ("1.3.6.1.4.1.2011.6.128.1.1.2.2000", false),
    ] {
        let t = target.clone();
        let sender = tokio::task::spawn_blocking(move || {
            send("snmptrap", &["-v", "2c", "-c", "regie-traps", &t, "", oid])
        });
        let expected = if known {
            Event::OntDown {
                profile: "Huawei SmartAX (GPON)".into(),
                oid: oid.into(),
            }
        } else {
            Event::Unknown { oid: oid.into() }
        };
        assert_eq!(next().await.event, expected);
        sender.await.unwrap();
    }

    // v3 authPriv trap (the sender is authoritative) and inform (the
    // receiver is).
    let t = target.clone();
    let sender = tokio::task::spawn_blocking(move || {
        let mut args = v3.to_vec();
        args.extend([
            "-e",
            "0x8000000001020304",
            &t,
            "",
            "1.3.6.1.6.3.1.1.5.4",
            "1.3.6.1.2.1.2.2.1.1.12",
            "i",
            "12",
        ]);
        send("snmptrap", &args);
    });
    let trap = next().await;
    sender.await.unwrap();
    assert_eq!(
        trap.event,
        Event::LinkUp {
            if_index: Some(12),
            if_name: None
        }
    );
    assert!(trap.version.contains('3'), "{}", trap.version);
    let t = target.clone();
    let sender = tokio::task::spawn_blocking(move || {
        let mut args = v3.to_vec();
        args.extend([t.as_str(), "", "1.3.6.1.6.3.1.1.5.2"]);
        send("snmpinform", &args);
    });
    assert_eq!(next().await.event, Event::WarmStart);
    sender.await.unwrap();

    let mut buf = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut buf,
    )
    .unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains(r#"regie_snmp_traps_total{kind="unknown"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"regie_snmp_traps_total{kind="ont_down"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"regie_snmp_traps_total{kind="link_down"} 1"#),
        "{text}"
    );
}
