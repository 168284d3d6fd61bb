//! Alarms and their impact through the API, on SQLite and PostgreSQL: a PON
//! port going down lists exactly the lines behind it.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use monitoring::alarms::{self, Severity, Subject};
use regie::platform::auth::Role;
use regie_tests::{connectable_premises, network_app};
use serde_json::json;

/// Lines ordered on the first `n` of `premises`, their paths reserved; those
/// `in_service` picks (by rank) get an ONT installed at −20.00 dBm and are
/// activated.
async fn lines_on_pm1(
    t: &regie_tests::TestApp,
    premises: &[String],
    n: usize,
    in_service: impl Fn(usize) -> bool,
) -> Vec<provisioning::line::Line> {
    let p = &t.state.provisioning;
    let actor = regie_core::audit::Actor::system("test");
    let mut lines = Vec::new();
    for (i, suf) in premises.iter().take(n).enumerate() {
        let line = p
            .order(
                &actor,
                &provisioning::service::Order {
                    premises: suf.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let line = p.reserve_path(&actor, &line.id, None).await.unwrap();
        if !in_service(i) {
            lines.push(line);
            continue;
        }
        p.install_ont(
            &actor,
            &line.id,
            &provisioning::service::Installation {
                serial: format!("HWTC{i:08X}"),
                rx_dbm: -20.0,
                notes: None,
            },
        )
        .await
        .unwrap();
        lines.push(p.activate(&actor, &line.id).await.unwrap());
    }
    lines
}

#[tokio::test]
async fn a_pon_port_going_down_lists_exactly_the_lines_behind_it() {
    let t = network_app(1000, 24).await;
    let u = t.user("tech", &[Role::Technician]).await;
    let token = t.token_for(&u).await;
    let p = &t.state.provisioning;
    let actor = regie_core::audit::Actor::system("test");
    let premises = connectable_premises(&t, "PM1").await;

    // Lines on several PON ports of PM1; the first port is the one to fail.
    // Every fifth has its path reserved only: not in service.
    let lines = lines_on_pm1(&t, &premises, 80, |i| i % 5 != 4).await;
    let port = lines[0].path.as_ref().unwrap().pon_port.clone();
    let on_port: Vec<_> = lines
        .iter()
        .filter(|l| l.path.as_ref().unwrap().pon_port == port)
        .collect();
    let elsewhere = lines
        .iter()
        .filter(|l| l.path.as_ref().unwrap().pon_port != port)
        .count();
    assert!(elsewhere > 0, "some lines are on other ports");
    // A household under the keep-connected protection on that port.
    let protected = on_port
        .iter()
        .find(|l| l.state == provisioning::lifecycle::State::Active)
        .unwrap();
    p.suspend(
        &actor,
        &protected.id,
        provisioning::lifecycle::SuspendReason::KeepConnected,
    )
    .await
    .unwrap();
    let mut expected: Vec<String> = on_port
        .iter()
        .filter(|l| l.state == provisioning::lifecycle::State::Active)
        .map(|l| l.id.clone())
        .collect();
    expected.sort();

    // The port goes down twice: one alarm, two occurrences.
    let subject = Subject::PonPortDown {
        pon_port: port.clone(),
    };
    alarms::raise(
        t.db(),
        &subject,
        Severity::Critical,
        "port PON coupé (linkDown)",
    )
    .await
    .unwrap();
    let again = alarms::raise(
        t.db(),
        &subject,
        Severity::Critical,
        "port PON coupé (sondage)",
    )
    .await
    .unwrap();
    assert_eq!(again.occurrences, 2);
    alarms::raise(
        t.db(),
        &Subject::DeviceUnreachable {
            device: "SW-AGREG".into(),
        },
        Severity::Major,
        "injoignable",
    )
    .await
    .unwrap();

    let a = t
        .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let list = a.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["severity"], "critical", "the most severe first");
    let impact = &list[0]["impact"];
    let mut listed: Vec<String> = impact["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line_id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        listed, expected,
        "exactly the lines in service behind the port"
    );
    assert_eq!(impact["protected_households"], 1);
    let down = inventory::service::downstream(
        t.db(),
        &t.state.plant,
        inventory::trace::From::PonPort(port.clone()),
    )
    .await
    .unwrap();
    assert_eq!(impact["premises"], json!(down.premises.len()));
    assert!(list[1]["impact"].is_null());

    // The page says the same, in French.
    let page_user = t.user("tech2", &[Role::Technician]).await;
    let session = t.session_for(&page_user).await;
    let a = t
        .page(Method::GET, "/technicien/alarmes", Some(&session), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.text
            .contains(&format!("{} ligne(s) en service coupée(s)", expected.len())),
        "{}",
        a.text
    );
    assert!(a.text.contains("1 à débit maintenu") && a.text.contains(&expected[0]));
    // The home page says so too, and the page of a line behind the port.
    let home = t
        .page(Method::GET, "/technicien", Some(&session), None)
        .await;
    assert!(
        home.text.contains("alarme(s) en cours")
            && home
                .text
                .contains(&format!("{} ligne(s) en service coupée(s)", expected.len()))
            && !home.text.contains("Aucune alarme"),
        "{}",
        home.text
    );
    let behind = t
        .page(
            Method::GET,
            &format!("/technicien/lignes/{}", expected[0]),
            Some(&session),
            None,
        )
        .await;
    assert!(behind.text.contains("Voir l'alarme"), "{}", behind.text);
    let away = t
        .page(
            Method::GET,
            &format!(
                "/technicien/lignes/{}",
                lines
                    .iter()
                    .find(|l| l.path.as_ref().unwrap().pon_port != port)
                    .unwrap()
                    .id
            ),
            Some(&session),
            None,
        )
        .await;
    assert!(!away.text.contains("Voir l'alarme"), "{}", away.text);
    // Why a line keeps its service is the accountant's and the agent's
    // business, not the technician's.
    assert!(
        !a.text.contains("FSL") && !a.text.contains("protégé"),
        "{}",
        a.text
    );

    // Acknowledged once, by whom; then cleared.
    let id = list[0]["id"].as_i64().unwrap();
    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/monitoring/alarms/{id}/ack"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["acked_by"], "tech");
    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/monitoring/alarms/{id}/ack"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/alarms/999999/ack",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(alarms::clear(t.db(), &subject).await.unwrap());
    let a = t
        .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
        .await;
    assert_eq!(a.json().as_array().unwrap().len(), 1);
    // Raised again later: a new alarm, not the cleared one.
    let fresh = alarms::raise(t.db(), &subject, Severity::Critical, "de nouveau")
        .await
        .unwrap();
    assert_ne!(fresh.id, id);
    assert_eq!(fresh.occurrences, 1);

    // The OLT itself unreachable: every line in service on every one of
    // its PON ports.
    let ports = inventory::service::pon_ports(t.db(), &t.state.plant)
        .await
        .unwrap();
    let olt = ports.iter().find(|p| p.code == port).unwrap().olt.clone();
    let olt_ports: Vec<String> = ports
        .iter()
        .filter(|p| p.olt == olt)
        .map(|p| p.code.clone())
        .collect();
    let mut on_olt: Vec<String> = lines
        .iter()
        .filter(|l| l.state == provisioning::lifecycle::State::Active)
        .filter(|l| olt_ports.contains(&l.path.as_ref().unwrap().pon_port))
        .map(|l| l.id.clone())
        .collect();
    on_olt.sort();
    assert!(
        on_olt.len() > expected.len(),
        "the OLT carries more than one port's lines"
    );
    alarms::raise(
        t.db(),
        &Subject::DeviceUnreachable {
            device: olt.clone(),
        },
        Severity::Critical,
        "injoignable",
    )
    .await
    .unwrap();
    let a = t
        .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
        .await;
    let list = a.json();
    let dark = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["subject"] == olt.as_str())
        .unwrap();
    let mut listed: Vec<String> = dark["impact"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line_id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, on_olt, "exactly the lines in service on the OLT");
    assert_eq!(
        dark["impact"]["pon_ports"].as_array().unwrap().len(),
        olt_ports.len()
    );
    assert_eq!(dark["impact"]["protected_households"], 1);

    let compta = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta).await;
    let a = t
        .api(
            Method::GET,
            "/api/v1/monitoring/alarms",
            Some(&compta),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn polls_raise_and_clear_alarms_on_the_inventory_pon_ports() {
    use monitoring::interfaces::{Interface, Status};
    use monitoring::poller::{Cycle, DevicePoll};
    let t = network_app(700, 24).await;
    let ports = inventory::service::pon_ports(t.db(), &t.state.plant)
        .await
        .unwrap();
    let pon = ports.iter().find(|p| p.olt == "OLT01").unwrap().clone();
    let iface = |oper| Interface {
        index: 5,
        name: format!("GPON 0/{}/{}", pon.slot, pon.port),
        descr: String::new(),
        alias: String::new(),
        if_type: 250,
        admin: Some(Status::Up),
        oper: Some(oper),
        speed_bps: None,
        in_octets: None,
        out_octets: None,
        in_errors: None,
        out_errors: None,
        pon: Some(monitoring::interfaces::PonPosition {
            slot: pon.slot,
            port: pon.port,
        }),
    };
    let cycle = |oper, dead: Result<Vec<Interface>, String>| Cycle {
        devices: vec![
            DevicePoll {
                device: "OLT01".into(),
                duration: Default::default(),
                result: Ok(vec![iface(oper)]),
                fault: None,
                uptime_ticks: Some(100),
                sensors: Vec::new(),
            },
            DevicePoll {
                device: "SW-AGREG".into(),
                duration: Default::default(),
                fault: dead.is_err().then_some(monitoring::Fault::Silent),
                result: dead,
                uptime_ticks: None,
                sensors: Vec::new(),
            },
        ],
        duration: Default::default(),
        overran: false,
    };
    monitoring::watch::apply(
        t.db(),
        &ports,
        &cycle(Status::Down, Err("pas de réponse".into())),
    )
    .await
    .unwrap();
    let open = alarms::open(t.db()).await.unwrap();
    let subjects: Vec<&str> = open.iter().map(|a| a.subject.as_str()).collect();
    assert!(
        subjects.contains(&pon.code.as_str()) && subjects.contains(&"SW-AGREG"),
        "{subjects:?}"
    );
    // The next poll sees both well again.
    monitoring::watch::apply(t.db(), &ports, &cycle(Status::Up, Ok(vec![])))
        .await
        .unwrap();
    assert!(alarms::open(t.db()).await.unwrap().is_empty());

    // The OLT refuses the poller's credentials: a warning on the device,
    // not an outage of every line behind it.
    let refused = DevicePoll {
        device: "OLT01".into(),
        duration: Default::default(),
        result: Err(
            "identifiants SNMP refusés : la clé d'authentification est erronée (SNMPv3)".into(),
        ),
        fault: Some(monitoring::Fault::Credentials),
        uptime_ticks: None,
        sensors: Vec::new(),
    };
    monitoring::watch::apply_poll(t.db(), &ports, &refused)
        .await
        .unwrap();
    let open = alarms::open(t.db()).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].kind, "snmp_refused");
    assert_eq!(open[0].severity, alarms::Severity::Warning);
    assert!(
        open[0].message.contains("identifiants SNMP refusés"),
        "{open:?}"
    );
    let u = t.user("tech-refus", &[Role::Technician]).await;
    let token = t.token_for(&u).await;
    let listed = t
        .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
        .await
        .json();
    assert!(listed[0]["impact"].is_null(), "{listed}");
    // Fixed: the next poll answers and the warning clears.
    monitoring::watch::apply(t.db(), &ports, &cycle(Status::Up, Ok(vec![])))
        .await
        .unwrap();
    assert!(alarms::open(t.db()).await.unwrap().is_empty());

    // The OLT deleted while its PON port and itself are in alarm: both
    // close, saying why; another device's alarm stays.
    monitoring::watch::apply(
        t.db(),
        &ports,
        &cycle(Status::Down, Err("pas de réponse".into())),
    )
    .await
    .unwrap();
    alarms::raise(
        t.db(),
        &alarms::Subject::DeviceUnreachable {
            device: "OLT01".into(),
        },
        alarms::Severity::Critical,
        "l'équipement ne répond pas",
    )
    .await
    .unwrap();
    assert_eq!(alarms::open(t.db()).await.unwrap().len(), 3);
    let closed = alarms::retire_device(t.db(), "OLT01", &ports)
        .await
        .unwrap();
    assert_eq!(closed, 2);
    let open = alarms::open(t.db()).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].subject, "SW-AGREG");
    let messages: Vec<String> = sqlx::query_scalar(
        "SELECT message FROM mon_alarms WHERE cleared_at IS NOT NULL AND message LIKE '%retiré'",
    )
    .fetch_all(t.db().pool())
    .await
    .unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
}

/// A v2c device at a port where nothing answers, given up on quickly.
fn silent_device(name: &str, address: String) -> regie::platform::config::SnmpDeviceConfig {
    regie::platform::config::SnmpDeviceConfig {
        name: name.into(),
        address,
        community: Some("public".into()),
        user: None,
        auth: None,
        auth_key: None,
        priv_key: None,
        context: None,
        timeout_ms: 100,
        retries: 0,
    }
}

#[tokio::test]
async fn the_server_polls_its_configured_devices_and_raises_what_it_sees() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let t = regie_tests::TestApp::with_config(|c| {
        c.snmp_interval_s = 1;
        c.snmp_device = vec![silent_device("mort", address)];
    })
    .await;
    // This instance leads the scheduled work, as a lone server does.
    assert!(t.state.scheduler.renew(t.db()).await);
    regie::monitoring::poll::spawn(&t.state).await.unwrap();
    let u = t.user("tech", &[Role::Technician]).await;
    let token = t.token_for(&u).await;
    let mut raised = false;
    for _ in 0..50 {
        let a = t
            .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
            .await;
        if a.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "device_unreachable" && x["subject"] == "mort")
        {
            raised = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(raised, "the unreachable device raised an alarm");
    let metrics = t.api(Method::GET, "/metrics", None, None).await.text;
    assert!(
        metrics.contains(r#"regie_snmp_device_up{device="mort"} 0"#),
        "{metrics}"
    );
    // The devices list says what is wrong, in French, and of what kind.
    let list = t
        .api(
            Method::GET,
            "/api/v1/monitoring/devices",
            Some(&token),
            None,
        )
        .await
        .json();
    let mort = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "mort")
        .unwrap()
        .clone();
    assert!(
        mort["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("pas de réponse")),
        "{mort}"
    );
    assert_eq!(mort["fault"], "silent");
    assert!(mort["last_ok_at"].is_null(), "{mort}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_trap_from_an_olt_raises_and_clears_its_pon_port_alarm() {
    if std::process::Command::new("snmptrap")
        .arg("-V")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "snmptrap is required"
        );
        return;
    }
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let t = regie_tests::network_app_with(700, 24, |c| {
        c.snmp_interval_s = 3600;
        c.trap_listen = Some("127.0.0.1:0".into());
        c.trap_communities = vec!["regie-traps".into()];
        c.snmp_device = vec![silent_device("OLT01", address)];
    })
    .await;
    assert!(t.state.scheduler.renew(t.db()).await);
    let listen = regie::monitoring::poll::spawn(&t.state)
        .await
        .unwrap()
        .expect("a trap listener");
    let ports = inventory::service::pon_ports(t.db(), &t.state.plant)
        .await
        .unwrap();
    let pon = ports.iter().find(|p| p.olt == "OLT01").unwrap().clone();
    let if_name = format!("GPON 0/{}/{}", pon.slot, pon.port);
    let trap = |oid: &'static str| {
        let (target, name) = (listen.to_string(), if_name.clone());
        std::thread::spawn(move || {
            let out = std::process::Command::new("snmptrap")
                .args([
                    "-M",
                    "/dev/null",
                    "-v",
                    "2c",
                    "-c",
                    "regie-traps",
                    &target,
                    "",
                    oid,
                ])
                .args([
                    "1.3.6.1.2.1.2.2.1.1.9",
                    "i",
                    "9",
                    "1.3.6.1.2.1.31.1.1.1.1.9",
                    "s",
                    &name,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
        .join()
        .unwrap();
    };
    let pon_alarm = || async {
        alarms::open(t.db())
            .await
            .unwrap()
            .into_iter()
            .any(|a| a.kind == "pon_port_down" && a.subject == pon.code)
    };
    trap("1.3.6.1.6.3.1.1.5.3");
    let mut seen = false;
    for _ in 0..50 {
        if pon_alarm().await {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "linkDown raised the alarm on {}", pon.code);
    trap("1.3.6.1.6.3.1.1.5.4");
    let mut cleared = false;
    for _ in 0..50 {
        if !pon_alarm().await {
            cleared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(cleared, "linkUp cleared it");
}

#[tokio::test]
async fn line_optics_raise_a_low_line_a_drift_and_a_box_not_its_homes() {
    let t = network_app(1000, 24).await;
    let premises = connectable_premises(&t, "PM1").await;
    // Lines in service, each installed at -20.00 dBm (GPON B+).
    let lines = lines_on_pm1(&t, &premises, 40, |_| true).await;
    let pbo = |l: &provisioning::line::Line| l.path.as_ref().unwrap().pbo.clone().unwrap();
    // Two lines behind one box, one behind another.
    let a = &lines[0];
    let b = lines[1..]
        .iter()
        .find(|l| pbo(l) == pbo(a))
        .expect("two lines in one box");
    let c = lines
        .iter()
        .find(|l| pbo(l) != pbo(a))
        .expect("a line in another box");
    let olt = a.path.as_ref().unwrap().olt.clone();
    assert_eq!(c.path.as_ref().unwrap().olt, olt, "one OLT");
    let ont = |l: &provisioning::line::Line, rx: i32| monitoring::profiles::OntOptics {
        index: l.ont.as_ref().unwrap().serial.clone(),
        serial: Some(l.ont.as_ref().unwrap().serial.clone()),
        name: None,
        port_if_index: None,
        ont_id: None,
        pon: None,
        online: Some(true),
        rx_ont_cdbm: Some(rx),
        tx_ont_cdbm: None,
        rx_olt_cdbm: Some(-2400),
        distance_m: None,
    };
    // A and B lost 3.50 and 3.20 dB (the box); C is at -27.50 dBm, under
    // B+'s -27 dBm, and lost 7.50 dB.
    t.state
        .poller
        .board
        .optics(&olt, &[ont(a, -2350), ont(b, -2320), ont(c, -2750)], &[]);
    regie::monitoring::poll::line_optics(&t.state, std::slice::from_ref(&olt))
        .await
        .unwrap();
    let open = alarms::open(t.db()).await.unwrap();
    let kinds: Vec<(&str, &str)> = open
        .iter()
        .map(|x| (x.kind.as_str(), x.subject.as_str()))
        .collect();
    let box_a = pbo(a);
    assert!(kinds.contains(&("pbo_drift", box_a.as_str())), "{kinds:?}");
    assert!(kinds.contains(&("line_rx_low", c.id.as_str())), "{kinds:?}");
    assert!(kinds.contains(&("line_drift", c.id.as_str())), "{kinds:?}");
    // A and B are the box's, not two home alarms.
    assert!(
        !kinds.contains(&("line_drift", a.id.as_str()))
            && !kinds.contains(&("line_drift", b.id.as_str())),
        "{kinds:?}"
    );
    let low = open.iter().find(|x| x.kind == "line_rx_low").unwrap();
    assert!(
        low.message.contains("−27,50 dBm")
            && low.message.contains("GPON B+")
            && low.message.contains("−27,00"),
        "{}",
        low.message
    );
    let boxed = open.iter().find(|x| x.kind == "pbo_drift").unwrap();
    assert!(
        boxed.message.contains(&a.id) && boxed.message.contains(&b.id),
        "{}",
        boxed.message
    );

    // The line's page says it too.
    let tech = t.user("tech-optique", &[Role::Technician]).await;
    let session = t.session_for(&tech).await;
    let page = t
        .page(
            Method::GET,
            &format!("/technicien/lignes/{}", c.id),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("reçu à l'ONT −27,50 dBm")
            && page.text.contains("perte de 7,50 dB")
            && page.text.contains("sous le seuil de la classe GPON B+")
            && page.text.contains("reçu à l'OLT −24,00 dBm"),
        "{}",
        page.text
    );

    // Mended: the levels are back near installation; every alarm clears.
    t.state
        .poller
        .board
        .optics(&olt, &[ont(a, -2010), ont(b, -2050), ont(c, -2100)], &[]);
    regie::monitoring::poll::line_optics(&t.state, std::slice::from_ref(&olt))
        .await
        .unwrap();
    assert!(alarms::open(t.db()).await.unwrap().is_empty());
}
