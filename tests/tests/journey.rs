//! The whole journey of one household, across every crate, on SQLite and
//! PostgreSQL: it applies online for the social tariff and an agent grants
//! it (the decision letter exists); a technician finds its home by the
//! address's hexaclé and connects it (path
//! within budget, ONT installed, line active on the simulated OLT); the
//! PON port going down raises an alarm that names its line; the month's
//! billing run issues its invoice with the "Tarif social" line in a valid
//! CII; the direct debit is collected, returned by the bank (AM04); dunning
//! starts; the household's FSL request throttles the line, never suspends
//! it; the FSL decision settles the account; and the audit journal holds
//! each change with who made it.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use billing::compute::LineKind;
use billing::money::Cents;
use billing::sepa::Iban;
use regie::platform::auth::Role;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_cii, assert_valid_pain008, cii_ready, sepa_ready};
use regie_tests::{
    active_line, connectable_premises, freeradius, grant_application, network_app_with,
    publish_example_rules, snmpsim,
};
use serde_json::{json, Value};

fn return_report(invoice: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>BANK-J-1</MsgId><CreDtTm>2027-01-20T09:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>PRLV-J</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>{invoice}</OrgnlEndToEndId><TxSts>RJCT</TxSts>
<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_from_its_application_to_the_fsl_decision() {
    let t = network_app_with(300, 24, |c| {
        c.snmp_interval_s = 1;
        c.regie_siren = Some("213500000".into());
        c.regie_vat_number = Some("FR45213500000".into());
    })
    .await;
    let mut tokens = Vec::new();
    let mut users = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("nadia", Role::SocialAgent),
        ("karim", Role::Technician),
        ("sophie", Role::Accountant),
        ("martin", Role::Household),
    ] {
        let u = t.user(name, &[role]).await;
        tokens.push(t.token_for(&u).await);
        users.push(u);
    }
    let [admin, agent, tech, compta, household] = <[String; 5]>::try_from(tokens).unwrap();
    let post = |token: &str, uri: &str, body: Value| {
        let (t, token, uri) = (&t, token.to_owned(), uri.to_owned());
        async move { t.api(Method::POST, &uri, Some(&token), Some(body)).await }
    };
    let get = |token: &str, uri: &str| {
        let (t, token, uri) = (&t, token.to_owned(), uri.to_owned());
        async move { t.api(Method::GET, &uri, Some(&token), None).await }
    };

    // The household lives at a premises of the network, not yet connected.
    let home = {
        let plant = t.state.plant.get(t.db()).await.unwrap();
        let suf = &connectable_premises(&t, "PM1").await[0];
        let a = plant
            .addresses
            .get(plant.sufs.get(suf).unwrap().address.as_deref().unwrap())
            .unwrap()
            .clone();
        (
            format!("{} {}", a.number.as_deref().unwrap_or(""), a.street),
            a.postcode.to_string(),
            a.commune.to_string(),
            a.hexacle.unwrap().as_str().to_owned(),
        )
    };
    let (street, postcode, town, hexacle) = home.clone();

    // 1. The household applies online; the agent checks and grants.
    publish_example_rules(&t, &admin).await;
    let filed = post(
        &household,
        "/api/v1/social-tariff/applications",
        json!({"nom": "Famille Martin", "adresse": street, "code_postal": postcode,
            "commune": town, "taille_foyer": "3", "prestations": ["AAH"],
            "contact": "courrier", "submit": true, "consent": true}),
    )
    .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    assert_eq!(filed.json()["channel"], "online", "{}", filed.text);
    let application = filed.json()["code"].as_str().unwrap().to_owned();
    let (household_code, decision) = grant_application(&t, &agent, &application).await;
    let letter = get(
        &household,
        &format!("/api/v1/social-tariff/decisions/{decision}/letter.pdf"),
    )
    .await;
    assert_eq!(letter.status, StatusCode::OK);
    assert!(letter.text.starts_with("%PDF"));

    // 2. The technician looks the household's address up by its hexaclé,
    // finds its premises connectable, and connects it: the path within
    // budget, the ONT installed, the line active on the (simulated) OLT,
    // with addresses.
    let at = get(
        &tech,
        &format!("/api/v1/inventory/eligibility?address={hexacle}"),
    )
    .await;
    assert_eq!(at.status, StatusCode::OK, "{}", at.text);
    let found = at.json()["premises"][0].clone();
    assert_eq!(found["eligibility"]["status"], "connectable", "{found}");
    let premises = found["suf"].as_str().unwrap().to_owned();
    let line = active_line(&t, &tech, &premises, "HWTC0A0B0C01").await;
    let l = get(&tech, &format!("/api/v1/provisioning/lines/{line}")).await;
    let l = l.json();
    assert_eq!(l["state"], "active", "{l}");
    assert!(l["budget"]["within"].as_bool().unwrap_or(true), "{l}");
    assert!(l["service"]["ipv4"].is_string(), "{l}");
    let pon_port = l["path"]["pon_port"].as_str().unwrap().to_owned();
    let circuit_id = l["service"]["circuit_id"].as_str().unwrap().to_owned();
    // FreeRADIUS, reading the database, grants the line its addresses.
    let radius = freeradius::peers().map(|daemon| freeradius::start_radius(&t, &daemon));
    if let Some(radius) = &radius {
        let answer = freeradius::ask(radius, &circuit_id);
        assert!(answer.contains("Received Access-Accept"), "{answer}");
        for (attribute, value) in [
            ("Framed-IP-Address", &l["service"]["ipv4"]),
            ("Delegated-IPv6-Prefix", &l["service"]["ipv6_prefix"]),
        ] {
            let expected = format!("{attribute} = {}", value.as_str().unwrap());
            assert!(answer.contains(&expected), "{expected}: {answer}");
        }
    }

    // 3. Monitoring polls the OLT (an SNMP agent answering for it): its PON
    // port is down, and the alarm names the household's line.
    let session = t.session_for(&users[2]).await;
    if let Some(responder) = snmpsim::responder() {
        let olt = l["path"]["olt"].as_str().unwrap().to_owned();
        let if_name = format!(
            "GPON 0/{}/{}",
            l["path"]["slot"].as_u64().unwrap(),
            l["path"]["port"].as_u64().unwrap()
        );
        let agent = snmpsim::serve(
            &responder,
            &[("olt", snmpsim::olt_recording(&olt, &if_name, false))],
        );
        let r = post(
            &admin,
            "/api/v1/monitoring/devices",
            json!({"name": olt, "address": format!("127.0.0.1:{}", agent.port),
                "version": "v2c", "community": "olt", "timeout_ms": 1000, "retries": 1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // This instance leads the scheduled work, as a lone server does.
        assert!(t.state.scheduler.renew(t.db()).await);
        regie::monitoring::poll::spawn(&t.state).await.unwrap();
        let mut seen = String::new();
        for _ in 0..100 {
            let alarms = get(&tech, "/api/v1/monitoring/alarms").await;
            if alarms.json().as_array().unwrap().iter().any(|a| {
                a["kind"] == "pon_port_down" && a["subject"].as_str() == Some(pon_port.as_str())
            }) {
                seen = alarms.text;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(!seen.is_empty(), "the poll raised the PON port alarm");
        // The device's page and API say what the poll read: the PON port,
        // down, with the inventory's port behind it.
        let detail = get(&tech, &format!("/api/v1/monitoring/devices/{olt}")).await;
        assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
        let d = detail.json();
        assert!(
            d["last_ok_at"].is_string() && d["last_error"].is_null(),
            "{d}"
        );
        assert_eq!(d["pon_ports"][0]["if_name"], if_name.as_str());
        assert_eq!(d["pon_ports"][0]["oper_up"], false);
        assert_eq!(d["pon_ports"][0]["pon_port"], pon_port.as_str());
        let page = t
            .page(
                Method::GET,
                &format!("/technicien/equipements/{olt}"),
                Some(&session),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.text.contains(&if_name)
                && page.text.contains(&pon_port)
                && page.text.contains("coupé"),
            "{}",
            page.text
        );
        let unknown = get(&tech, "/api/v1/monitoring/devices/PERSONNE").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    } else {
        monitoring::alarms::raise(
            t.db(),
            &monitoring::alarms::Subject::PonPortDown {
                pon_port: pon_port.clone(),
            },
            monitoring::alarms::Severity::Critical,
            "interface coupée",
        )
        .await
        .unwrap();
    }
    let alarms = t
        .page(Method::GET, "/technicien/alarmes", Some(&session), None)
        .await;
    assert_eq!(alarms.status, StatusCode::OK);
    assert!(
        alarms.text.contains(&pon_port) && alarms.text.contains(&line),
        "{}",
        alarms.text
    );

    // 4. The month's run: one invoice, with the social tariff, valid CII.
    let r = post(
        &compta,
        "/api/v1/billing/offers",
        json!({"code": "F300", "name": "Fibre 300",
        "monthly_price_cents": 2990, "vat_rate": "20", "setup_fee_cents": 4900,
        "deliberation": "2026-012", "valid_from": "2025-01-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = post(
        &compta,
        "/api/v1/billing/accounts",
        json!({"kind": "household", "name": "Famille Martin", "address": home.0,
            "postcode": home.1, "town": home.2, "household": household_code}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let account = r.json()["code"].as_str().unwrap().to_owned();
    // The line entered service today: its subscription starts today, and
    // the month is invoiced the day after it ends (the test stands there).
    let today = regie::social::today();
    let month = billing::compute::Month::parse(&today.format("%Y-%m").to_string()).unwrap();
    let issued_on = month.last + chrono::Days::new(1);
    let r = post(
        &compta,
        "/api/v1/billing/subscriptions",
        json!({"account": account, "line_id": line, "offer": "F300",
            "started_on": today.to_string()}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sys = Actor::system("test");
    let run = billing::run::issue(t.db(), &sys, month, regie_tests::issue_on(month, issued_on))
        .await
        .unwrap();
    assert_eq!(run.issued, 1);
    let invoice = billing::storage::invoices(t.db(), Some(&account))
        .await
        .unwrap()
        .remove(0);
    assert!(
        invoice
            .lines
            .iter()
            .any(|l| l.kind == LineKind::SocialTariff && l.description.starts_with("Tarif social")),
        "{invoice:?}"
    );
    // The activation fee, once, on the first invoice: 49,00 € is 40,83 net.
    let fees: Vec<_> = invoice
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::SetupFee)
        .collect();
    assert_eq!(fees.len(), 1, "{invoice:?}");
    assert_eq!(fees[0].net, billing::money::Cents(4083));
    let cii = get(
        &compta,
        &format!("/api/v1/billing/invoices/{}/cii", invoice.number),
    )
    .await;
    assert_eq!(cii.status, StatusCode::OK, "{}", cii.text);
    if cii_ready() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("invoice.xml");
        std::fs::write(&file, &cii.text).unwrap();
        assert_valid_cii(&[file]);
    }

    // The direct debit: in the batch after the notice, then returned AM04.
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    billing::storage::add_mandate(
        t.db(),
        &sys,
        &account,
        "Famille Martin",
        &iban,
        None,
        month.first,
    )
    .await
    .unwrap();
    // Debited on the day the invoice announced: 14 days after issue.
    let collect_on = issued_on + chrono::Days::new(14);
    let batch =
        billing::storage::prepare_collections(t.db(), &sys, collect_on, 14, true, "PRLV-J", |_| {
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].end_to_end, invoice.number);
    assert_eq!(batch[0].amount, invoice.gross);
    // The bank file holds the invoice and is valid against the schema.
    let creditor = billing::sepa::Creditor {
        name: "Régie publique de la fibre".into(),
        iban: iban.clone(),
        bic: billing::sepa::Bic::parse("AGRIFRPP").unwrap(),
        id: billing::sepa::CreditorId::parse("FR72ZZZ123456").unwrap(),
    };
    let xml = billing::sepa::pain008(
        billing::sepa::Pain008::V08,
        "PRLV-J",
        chrono::Utc::now(),
        &creditor,
        collect_on,
        &batch,
    )
    .unwrap();
    assert!(xml.contains(&format!("<EndToEndId>{}</EndToEndId>", invoice.number)));
    if sepa_ready() {
        assert_valid_pain008(&xml, billing::sepa::Pain008::V08);
    }
    let returned_on = collect_on + chrono::Days::new(6);
    let r = t
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/billing/imports/returns?on={returned_on}"))
                .header(header::AUTHORIZATION, format!("Bearer {compta}"))
                .header(header::CONTENT_TYPE, "application/xml")
                .body(Body::from(return_report(&invoice.number)))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["booked"], 1);

    // Dunning starts after the due date; the FSL request is recorded; past
    // the last step the line is throttled, not suspended.
    let due = issued_on + chrono::Days::new(30);
    let dunning = |on: chrono::NaiveDate| {
        let post = &post;
        let compta = compta.clone();
        async move {
            let r = post(
                &compta,
                "/api/v1/billing/dunning",
                json!({"date": on.to_string()}),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json()
        }
    };
    let r = dunning(due + chrono::Days::new(10)).await;
    assert_eq!(r["reminders"].as_array().unwrap().len(), 1, "{r}");
    let r = post(
        &compta,
        &format!("/api/v1/billing/accounts/{account}/fsl"),
        json!({"filed_on": (due + chrono::Days::new(15)).to_string(), "reference": "FSL-35-2027-007"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = dunning(due + chrono::Days::new(41)).await;
    assert_eq!(r["throttled"], json!([account]), "{r}");
    assert_eq!(r["suspended"], json!([]), "{r}");
    let l = get(&tech, &format!("/api/v1/provisioning/lines/{line}")).await;
    assert_eq!(
        (
            l.json()["state"].clone(),
            l.json()["suspend_reason"].clone()
        ),
        (json!("suspended"), json!("keep_connected")),
        "{}",
        l.text
    );
    if let Some(radius) = &radius {
        // Slowed, never cut: FreeRADIUS still accepts the line, addresses kept.
        let answer = freeradius::ask(radius, &circuit_id);
        assert!(answer.contains("Received Access-Accept"), "{answer}");
        assert!(answer.contains("Filter-Id = \"throttled\""), "{answer}");
        assert!(answer.contains("Framed-IP-Address"), "{answer}");
    }

    // The FSL's decision settles the account; the next pass resumes.
    let owed = invoice.gross.0;
    let r = post(
        &compta,
        &format!("/api/v1/billing/accounts/{account}/fsl/decision"),
        json!({"decided_on": (due + chrono::Days::new(50)).to_string(),
            "paid_cents": owed / 2, "written_off_cents": owed - owed / 2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["balance"]["balance"], 0, "{}", r.text);
    dunning(due + chrono::Days::new(51)).await;
    let l = get(&tech, &format!("/api/v1/provisioning/lines/{line}")).await;
    assert_eq!(l.json()["state"], "active", "{}", l.text);
    let payments = billing::storage::ledger::payments(t.db(), &account)
        .await
        .unwrap();
    let booked: Vec<(&str, i64)> = payments
        .iter()
        .map(|p| (p.method.as_str(), p.amount.0))
        .collect();
    assert_eq!(
        booked,
        [
            ("direct_debit", owed),
            ("return", -owed),
            ("fsl", owed / 2),
            ("write_off", owed - owed / 2)
        ]
    );
    assert_eq!(Cents(owed), invoice.gross);

    // 5. The audit journal: each step, with who did it.
    let journal = get(&admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(journal.status, StatusCode::OK, "{}", journal.text);
    let entries = journal.json();
    let by = |who: &str| -> Vec<String> {
        entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"].as_str() == Some(who))
            .map(|e| {
                format!(
                    "{} {}",
                    e["entity"].as_str().unwrap_or(""),
                    e["action"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    for (who, what) in [
        ("martin", "application"),
        ("nadia", "decision"),
        ("karim", "line"),
        ("sophie", "account"),
        ("sophie", "fsl"),
    ] {
        assert!(
            by(who).iter().any(|e| e.contains(what)),
            "{who} / {what}: {:?}",
            by(who)
        );
    }
}
