//! Subscriber lines through the HTTP API, on SQLite and PostgreSQL: the
//! lifecycle, every refusal and its message, idempotent retries, failures
//! of the OLT, address attribution, and concurrent activations.
#![allow(clippy::unwrap_used)] // A failed unwrap in a scenario stops it loudly, with the value.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{connectable_premises, network_app, network_app_with, Answer, TestApp};
use serde_json::{json, Value};

/// A technician's token.
async fn technician(t: &TestApp) -> String {
    let u = t.user("tech", &[Role::Technician]).await;
    t.token_for(&u).await
}

async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.api(Method::POST, uri, Some(token), Some(body)).await
}

fn message(a: &Answer) -> String {
    a.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Orders, reserves and installs a line for a premises; answers its id.
async fn installed_line(t: &TestApp, token: &str, premises: &str, serial: &str) -> String {
    let a = post(
        t,
        token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let a = post(
        t,
        token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = post(
        t,
        token,
        &format!("/api/v1/provisioning/lines/{id}/install-ont"),
        json!({ "serial": serial, "rx_dbm": -19.4 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    id
}

async fn radius_rows(t: &TestApp, username: &str) -> Vec<(String, String)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT attribute, value FROM radreply WHERE username = $1
         UNION ALL SELECT 'group', groupname FROM radusergroup WHERE username = $1",
    )
    .bind(username)
    .fetch_all(t.db().pool())
    .await
    .unwrap();
    let mut rows = rows;
    rows.sort();
    rows
}

#[tokio::test]
async fn a_line_goes_from_order_to_termination() {
    let t = network_app(700, 24).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;
    assert!(premises.len() > 50, "PM1 has connectable premises");

    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0], "profile": "500M" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let line = a.json();
    let id = line["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("RGE-") && id.len() == 13, "{id}");
    assert_eq!(line["state"], "ordered");

    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let line = a.json();
    assert_eq!(line["state"], "path_reserved");
    let path = &line["path"];
    assert!(path["pon_port"].as_str().unwrap().starts_with("OLT01-"));
    assert_eq!(path["ont_id"], 0, "the first ONT id of the port");
    assert!(path["pbo"].as_str().is_some() && path["splitter_output"].as_str().is_some());
    assert_eq!(line["budget"]["pass"], true);
    assert_eq!(
        line["budget"]["class"]
            .as_str()
            .map(|c| c.starts_with("GPON")),
        Some(true)
    );

    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/install-ont"),
        json!({ "serial": "hwtc1a2b3c4d", "rx_dbm": -21.37, "notes": "PTO au salon" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["ont"]["serial"], "HWTC1A2B3C4D");
    assert_eq!(a.json()["ont"]["rx_cdbm"], -2137);

    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/activate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let line = a.json();
    assert_eq!(line["state"], "active");
    let svc = &line["service"];
    assert_eq!(svc["ipv4"], "100.64.0.1");
    assert_eq!(svc["ipv6_prefix"], "2001:db8::/56");
    assert_eq!(svc["ipv6_wan"], "2001:db8:ff00::/64");
    assert_eq!(svc["svlan"], 100);
    assert_eq!(svc["cvlan"], 2);
    let circuit = svc["circuit_id"].as_str().unwrap().to_owned();
    assert!(
        !circuit.contains(' '),
        "no spaces for FreeRADIUS: {circuit}"
    );
    let olt = line["path"]["olt"].as_str().unwrap().to_owned();
    let sim = t.state.provisioning.drivers().simulator(&olt);
    assert_eq!(sim.ont_count(), 1, "the ONT is declared on the OLT");
    assert_eq!(
        radius_rows(&t, &circuit).await,
        vec![
            ("Delegated-IPv6-Prefix".into(), "2001:db8::/56".into()),
            ("Filter-Id".into(), "profile-500M".into()),
            ("Framed-IP-Address".into(), "100.64.0.1".into()),
            ("Framed-IPv6-Prefix".into(), "2001:db8:ff00::/64".into()),
            ("group".into(), "regie-active".into()),
        ]
    );

    // The ONT answers through its OLT; a stray ONT shows in discovery.
    let a = t
        .api(
            Method::GET,
            &format!("/api/v1/provisioning/lines/{id}/ont-status"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["online"], true);
    assert!(a.json()["rx_cdbm"].as_i64().unwrap() < 0);
    sim.plug(
        0,
        1,
        0,
        provisioning::ids::OntSerial::parse("ZTEG00000001").unwrap(),
    );
    let a = t
        .api(
            Method::GET,
            &format!("/api/v1/provisioning/olts/{olt}/unprovisioned"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.json()[0]["serial"], "ZTEG00000001", "{}", a.text);

    // Suspension keeps every address; the throttle is its own group.
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/suspend"),
        json!({ "reason": "unpaid" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["state"], "suspended");
    assert_eq!(a.json()["service"], *svc);
    let rows = radius_rows(&t, &circuit).await;
    assert!(
        rows.contains(&("group".into(), "regie-walled-garden".into())),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|r| r.0 == "Filter-Id"),
        "the group sets the policy"
    );
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/suspend"),
        json!({ "reason": "keep_connected" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(radius_rows(&t, &circuit)
        .await
        .contains(&("group".into(), "regie-throttled".into())));

    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/resume"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["state"], "active");
    assert_eq!(
        a.json()["service"],
        *svc,
        "resume restores exactly the previous service"
    );
    assert_eq!(a.json()["suspend_reason"], Value::Null);

    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/terminate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["state"], "terminated");
    assert_eq!(sim.ont_count(), 0, "the ONT left the OLT");
    assert!(
        radius_rows(&t, &circuit).await.is_empty(),
        "FreeRADIUS now rejects"
    );
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prov_resources WHERE line_id = $1")
        .bind(&id)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(held, 0, "every resource is released");

    // The history and the address ranges stay.
    let a = t
        .api(
            Method::GET,
            &format!("/api/v1/provisioning/lines/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let d = a.json();
    let steps: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "order",
            "reserve_path",
            "install_ont",
            "activate",
            "suspend",
            "suspend",
            "resume",
            "terminate"
        ]
    );
    assert_eq!(d["history"][3]["actor"], "tech");
    assert_eq!(d["allowed_steps"], json!([]));
    let ranges = d["assignments"].as_array().unwrap();
    assert_eq!(ranges.len(), 3);
    assert!(
        ranges.iter().all(|r| r["until"].is_string()),
        "closed at termination"
    );

    // The audit journal holds every step with who made it.
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'line' AND entity_id = $1 AND actor = 'tech'",
    )
    .bind(&id)
    .fetch_one(t.db().pool())
    .await
    .unwrap();
    assert_eq!(audit, 8);

    // A PON port serving a live line cannot leave the inventory.
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[1] }),
    )
    .await;
    let live = a.json()["id"].as_str().unwrap().to_owned();
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{live}/reserve-path"),
        json!({}),
    )
    .await;
    let port = a.json()["path"]["pon_port"].as_str().unwrap().to_owned();
    let a = t
        .api(
            Method::DELETE,
            &format!("/api/v1/inventory/pon-ports/{}", port.replace('/', "%2F")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert!(message(&a).contains(&live), "{}", a.text);
    let cancel = format!("/api/v1/provisioning/lines/{live}/cancel");
    let a = post(&t, &token, &cancel, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["state"], "cancelled");
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prov_resources WHERE line_id = $1")
        .bind(&live)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(held, 0, "a cancelled order releases what it reserved");
    let a = post(&t, &token, &cancel, json!({})).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "cancelling twice answers the same line"
    );
    let reserve = format!("/api/v1/provisioning/lines/{live}/reserve-path");
    let a = post(&t, &token, &reserve, json!({})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(message(&a).contains("aucune (état final)"), "{}", a.text);

    // The premises can be ordered again, and billing's feed saw it all.
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0] }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let feed = t.state.provisioning.events_since(0, 100).await.unwrap();
    assert_eq!(feed.len(), 12);
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn every_bad_input_gets_a_message_the_user_can_act_on() {
    let t = network_app(700, 24).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;

    // Unknown premises.
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": "SF-NOPE" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert!(message(&a).contains("SF-NOPE"), "{}", a.text);

    // A premises whose drop is not built: the inventory's reason.
    let plant = t.state.plant.get(t.db()).await.unwrap();
    let to_build = plant
        .sufs
        .values()
        .find(|s| {
            matches!(
                inventory::capacity::eligibility(&plant, &s.code),
                Ok(inventory::capacity::Eligibility::DropToBuild { .. })
            )
        })
        .expect("the generator leaves drops to build")
        .code
        .to_string();
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": to_build }),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(message(&a).contains("reste à construire"), "{}", a.text);

    // Unknown profile and IPv4 kind.
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0], "profile": "10G" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&a).contains("profil « 10G » inconnu"), "{}", a.text);
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0], "ipv4": "v6" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A second live line on the same premises.
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0] }),
    )
    .await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0] }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        message(&a).contains(&id),
        "names the line holding it: {}",
        a.text
    );

    // Illegal transition: the state and the allowed steps.
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/activate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(
        message(&a),
        "étape « activer » impossible : la ligne est « commandée » ; étapes possibles : réserver le chemin, annuler"
    );

    // Unknown line, and a malformed id.
    for bad in ["RGE-0000-0000", "n'importe-quoi"] {
        let a = post(
            &t,
            &token,
            &format!("/api/v1/provisioning/lines/{bad}/activate"),
            json!({}),
        )
        .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}: {}", a.text);
        assert!(message(&a).contains("aucune ligne"));
    }

    // Bad serials and readings.
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({}),
    )
    .await;
    for (body, expected) in [
        (
            json!({ "serial": "HWTC1A2B3C4", "rx_dbm": -20.0 }),
            "n'est pas un numéro de série",
        ),
        (
            json!({ "serial": "12341A2B3C4D", "rx_dbm": -20.0 }),
            "4 lettres du fabricant",
        ),
        (
            json!({ "serial": "HWTC1A2B3C4D", "rx_dbm": -80.0 }),
            "pas plausible",
        ),
    ] {
        let a = post(
            &t,
            &token,
            &format!("/api/v1/provisioning/lines/{id}/install-ont"),
            body,
        )
        .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert!(message(&a).contains(expected), "{expected}: {}", a.text);
    }
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/install-ont"),
        json!({ "serial": "ALCL00000001" }),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a missing reading: {}",
        a.text
    );

    // The same serial on two lines.
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/install-ont"),
        json!({ "serial": "ALCL00000001", "rx_dbm": -18 }),
    )
    .await;
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[1] }),
    )
    .await;
    let other = a.json()["id"].as_str().unwrap().to_owned();
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{other}/reserve-path"),
        json!({}),
    )
    .await;
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{other}/install-ont"),
        json!({ "serial": "alcl00000001", "rx_dbm": -18 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        message(&a).contains(&format!(
            "l'ONT ALCL00000001 est déjà installé sur la ligne {id}"
        )),
        "{}",
        a.text
    );

    // Unknown suspension reason.
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/suspend"),
        json!({ "reason": "holiday" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&a).contains("motif de suspension « holiday » inconnu"));

    // Pools: overlap, bad network, wrong role.
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let a = post(
        &t,
        &admin,
        "/api/v1/provisioning/pools",
        json!({ "name": "cgnat2", "kind": "cgnat_v4", "network": "100.64.0.128/25" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message(&a).contains("chevauche le pool « cgnat » (100.64.0.0/24)"),
        "{}",
        a.text
    );
    let a = post(&t, &admin, "/api/v1/provisioning/pools", json!({ "name": "pd2", "kind": "delegated_v6", "network": "2001:db9::/40", "assign_len": 57 })).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&a).contains("quartet"), "{}", a.text);
    let a = post(
        &t,
        &admin,
        "/api/v1/provisioning/pools",
        json!({ "name": "cgnat", "kind": "cgnat_v4", "network": "100.65.0.0/24" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/pools",
        json!({ "name": "x", "kind": "cgnat_v4", "network": "100.66.0.0/24" }),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "only an admin defines pools"
    );
    let a = post(
        &t,
        &admin,
        "/api/v1/provisioning/pools",
        json!({ "name": "cgnat2", "kind": "cgnat_v4", "network": "100.65.0.0/24" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);

    // Attribution is for the accountable admin only, with checked input.
    let a = t
        .api(
            Method::GET,
            "/api/v1/provisioning/attribution?ip=100.64.0.1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = t
        .api(
            Method::GET,
            "/api/v1/provisioning/attribution?ip=100.64.0.999",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = t
        .api(
            Method::GET,
            "/api/v1/provisioning/attribution?ip=100.64.0.1&at=hier",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&a).contains("RFC 3339"));
}

#[tokio::test]
async fn a_path_over_budget_needs_a_reason() {
    // Every seventh PM, the third among them, is far behind 1:64 splitters.
    let t = network_app(2500, 24).await;
    let token = technician(&t).await;
    let plant = t.state.plant.get(t.db()).await.unwrap();
    // A premises connectable but over the GPON B+ budget.
    let over = plant
        .sufs
        .values()
        .find_map(|s| {
            let Ok(inventory::capacity::Eligibility::Connectable { outlet, .. }) =
                inventory::capacity::eligibility(&plant, &s.code)
            else {
                return None;
            };
            let up = inventory::trace::upstream(
                &plant,
                &outlet,
                &inventory::budget::PlanningLosses::default(),
                inventory::budget::OpticalClass::GponBPlus,
            )
            .ok()?;
            matches!(up.verdict, Some(inventory::budget::Verdict::Fail { .. }))
                .then(|| s.code.to_string())
        })
        .expect("the generator makes paths over budget");
    let a = post(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        json!({ "premises": over }),
    )
    .await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(message(&a).contains("dérogation motivée"), "{}", a.text);
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({ "override_reason": "  " }),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a blank reason is no reason"
    );
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({ "override_reason": "mesure OTDR 27,1 dB le 20/11" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let b = &a.json()["budget"];
    assert_eq!(b["pass"], false);
    assert!(b["margin_mdb"].as_i64().unwrap() < 0);
    assert_eq!(b["override_reason"], "mesure OTDR 27,1 dB le 20/11");
}

async fn send_with_key(t: &TestApp, token: &str, uri: &str, key: &str, body: Value) -> Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    t.send(req).await
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let t = network_app(700, 24).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;
    let body = json!({ "premises": premises[0] });
    let first = send_with_key(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        "order-1",
        body.clone(),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = send_with_key(&t, &token, "/api/v1/provisioning/lines", "order-1", body).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.text, first.text, "the same line, not a second order");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prov_lines")
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(lines, 1);

    let changed = send_with_key(
        &t,
        &token,
        "/api/v1/provisioning/lines",
        "order-1",
        json!({ "premises": premises[1] }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message(&changed).contains("déjà utilisée pour une autre requête"),
        "{}",
        changed.text
    );

    // A refusal is replayed too: it is an answer, not a failure.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/provisioning/lines/{id}/activate");
    let refused = send_with_key(&t, &token, &uri, "act-1", json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let replay = send_with_key(&t, &token, &uri, "act-1", json!({})).await;
    assert_eq!(replay.text, refused.text);

    // Keys belong to their user.
    let other = t.user("tech2", &[Role::Technician]).await;
    let other = t.token_for(&other).await;
    let a = send_with_key(
        &t,
        &other,
        "/api/v1/provisioning/lines",
        "order-1",
        json!({ "premises": premises[1] }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

#[tokio::test]
async fn a_failure_between_database_and_olt_is_finished_by_a_retry() {
    let t = network_app_with(700, 24, |c| c.olt_timeout_ms = 200).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;
    let id = installed_line(&t, &token, &premises[0], "HWTC00000042").await;
    let olt = t
        .state
        .provisioning
        .line(&id)
        .await
        .unwrap()
        .path
        .unwrap()
        .olt;
    let sim = t.state.provisioning.drivers().simulator(&olt);
    let uri = format!("/api/v1/provisioning/lines/{id}/activate");

    // The addresses are committed, then the OLT is unreachable.
    sim.fail_next(1);
    let a = send_with_key(&t, &token, &uri, "activate-1", json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY, "{}", a.text);
    assert_eq!(a.json()["error"]["code"], "upstream");
    assert!(message(&a).contains("injoignable"), "{}", a.text);
    let line = t.state.provisioning.line(&id).await.unwrap();
    assert_eq!(line.state, provisioning::lifecycle::State::OntInstalled);
    let first_service = line.service.clone().expect("allocated before the OLT call");
    assert!(
        line.last_error
            .as_deref()
            .is_some_and(|e| e.contains("injoignable")),
        "visible on the line"
    );
    assert_eq!(sim.ont_count(), 0);

    // Then it hangs past the timeout after declaring nothing.
    sim.hang_next(1);
    let a = send_with_key(&t, &token, &uri, "activate-1", json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(message(&a).contains("pas répondu à temps"), "{}", a.text);

    // The retry, with the same key (a 5xx freed it), finishes the job with
    // the same allocations and one ONT on the OLT.
    let a = send_with_key(&t, &token, &uri, "activate-1", json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let line = t.state.provisioning.line(&id).await.unwrap();
    assert_eq!(line.state, provisioning::lifecycle::State::Active);
    assert_eq!(line.service.as_ref(), Some(&first_service));
    assert_eq!(line.last_error, None);
    assert_eq!(sim.ont_count(), 1);
    let addresses: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM prov_resources WHERE kind = 'address'")
            .fetch_one(t.db().pool())
            .await
            .unwrap();
    assert_eq!(
        addresses, 3,
        "one IPv4, one prefix, one WAN: nothing allocated twice"
    );

    // A crash after the OLT was configured but before the state landed:
    // the retry finds the ONT in place and does not declare it again.
    let id2 = installed_line(&t, &token, &premises[1], "HWTC00000043").await;
    let line2 = t.state.provisioning.line(&id2).await.unwrap();
    let path = line2.path.clone().unwrap();
    use provisioning::driver::{OltDriver, OntLocation, OntSpec};
    sim.provision_ont(&OntSpec {
        location: OntLocation {
            frame: 0,
            slot: path.slot,
            port: path.port,
            ont_id: path.ont_id,
        },
        serial: provisioning::ids::OntSerial::parse("HWTC00000043").unwrap(),
        line_profile: 10,
        service_profile: 10,
        description: id2.clone(),
    })
    .await
    .unwrap();
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id2}/activate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(sim.ont_count(), 2);
    assert!(t.state.provisioning.drift(&olt).await.unwrap().is_clean());

    // A failed termination leaves the line whole; the retry completes it.
    sim.fail_next(1);
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/terminate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        t.state.provisioning.line(&id).await.unwrap().state,
        provisioning::lifecycle::State::Active
    );
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/terminate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(sim.ont_count(), 1);
}

#[tokio::test]
async fn an_order_cancelled_while_its_olt_is_configured_leaves_no_stray_ont() {
    let t = network_app(700, 24).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;
    let id = installed_line(&t, &token, &premises[0], "HWTC00000099").await;
    let olt = t
        .state
        .provisioning
        .line(&id)
        .await
        .unwrap()
        .path
        .unwrap()
        .olt;
    let sim = t.state.provisioning.drivers().simulator(&olt);
    // Each OLT call lasts a second: long enough for the cancellation to be
    // sent once the activation is seen talking to the OLT, however slow
    // the machine.
    sim.slow_down(1000);
    let calls_before = sim.calls();
    let activation = {
        let app = t.app.clone();
        let (token, id) = (token.clone(), id.clone());
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/provisioning/lines/{id}/activate"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        })
    };
    // The cancellation lands while the OLT is being configured: sent once
    // the activation's first call has reached the OLT (waited for, not
    // guessed with a sleep).
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while sim.calls() == calls_before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the activation reaches the OLT");
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        activation.await.unwrap(),
        StatusCode::CONFLICT,
        "the activation yields to the cancellation"
    );
    assert_eq!(sim.ont_count(), 0, "the ONT it had declared is taken back");
    let line = t.state.provisioning.line(&id).await.unwrap();
    assert_eq!(line.state, provisioning::lifecycle::State::Cancelled);
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prov_resources WHERE line_id = $1")
        .bind(&id)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(held, 0);
}

#[tokio::test]
async fn attribution_follows_an_address_across_suspend_terminate_and_reuse() {
    // A pool of two addresses, so the third line must reuse one.
    let t = network_app(700, 30).await;
    let token = technician(&t).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let premises = connectable_premises(&t, "PM1").await;
    let at = || regie_core::time::to_db(regie_core::time::now());
    let holders = |a: &Answer| -> Vec<String> {
        a.json()["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["line_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let ask = |ip: &'static str, at: String| {
        let t = &t;
        let admin = admin.clone();
        async move {
            let uri = format!(
                "/api/v1/provisioning/attribution?ip={ip}&at={}",
                at.replace('+', "%2B")
            );
            let a = t.api(Method::GET, &uri, Some(&admin), None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a
        }
    };

    let before = at();
    let a_line = installed_line(&t, &token, &premises[0], "HWTC00000001").await;
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{a_line}/activate"),
        json!({}),
    )
    .await;
    let b_line = installed_line(&t, &token, &premises[1], "HWTC00000002").await;
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{b_line}/activate"),
        json!({}),
    )
    .await;
    let a_svc = t
        .state
        .provisioning
        .line(&a_line)
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(a_svc.ipv4, "100.64.0.1");

    // A third line finds the pool exhausted, named.
    let c_line = installed_line(&t, &token, &premises[2], "HWTC00000003").await;
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{c_line}/activate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.json()["error"]["code"], "exhausted");
    assert!(
        message(&a).contains("épuisé : « cgnat » (100.64.0.0/30)"),
        "{}",
        a.text
    );
    let metrics = t.api(Method::GET, "/metrics", None, None).await.text;
    assert!(
        metrics.contains(
            r#"regie_provisioning_pool_addresses{kind="cgnat_v4",pool="cgnat",state="free"} 0"#
        ),
        "{metrics}"
    );

    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{a_line}/suspend"),
        json!({ "reason": "unpaid" }),
    )
    .await;
    let during_suspension = at();
    post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{a_line}/terminate"),
        json!({}),
    )
    .await;
    let after_termination = at();
    let a = post(
        &t,
        &token,
        &format!("/api/v1/provisioning/lines/{c_line}/activate"),
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.json()["service"]["ipv4"],
        "100.64.0.1",
        "the address is reused"
    );
    let now = at();

    assert!(holders(&ask("100.64.0.1", before).await).is_empty());
    assert_eq!(
        holders(&ask("100.64.0.1", during_suspension.clone()).await),
        std::slice::from_ref(&a_line)
    );
    assert!(holders(&ask("100.64.0.1", after_termination).await).is_empty());
    assert_eq!(
        holders(&ask("100.64.0.1", now.clone()).await),
        std::slice::from_ref(&c_line)
    );
    assert_eq!(holders(&ask("100.64.0.2", now.clone()).await), [b_line]);
    // An address inside a delegated prefix names the prefix's holder.
    let inside = ask("2001:db8:0:0:abcd::1", during_suspension).await;
    assert_eq!(holders(&inside), [a_line]);
    assert_eq!(inside.json()["holders"][0]["kind"], "ipv6_prefix");
    assert!(inside.json()["holders"][0]["premises"].is_string());
    // The journal cannot be rewritten.
    let tamper = sqlx::query("DELETE FROM prov_assignments")
        .execute(t.db().pool())
        .await;
    assert!(tamper.is_err(), "the journal is append-only");
}

#[tokio::test]
async fn two_hundred_concurrent_activations_on_one_pm_never_share_a_resource() {
    // 126 CGNAT addresses for 200 lines: some must fail, cleanly.
    let t = network_app(1000, 25).await;
    let token = technician(&t).await;
    let premises = connectable_premises(&t, "PM1").await;
    assert!(
        premises.len() >= 200,
        "PM1 has {} premises within budget",
        premises.len()
    );
    let mut tasks = Vec::new();
    for (i, p) in premises.iter().take(200).enumerate() {
        let app = t.app.clone();
        let token = token.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let call = |uri: String, body: Value| {
                let app = app.clone();
                let token = token.clone();
                async move {
                    use http_body_util::BodyExt;
                    use tower::ServiceExt;
                    let req = Request::builder()
                        .method(Method::POST)
                        .uri(uri)
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap();
                    let resp = app.oneshot(req).await.unwrap();
                    let status = resp.status();
                    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                    (status, serde_json::from_slice::<Value>(&bytes).unwrap())
                }
            };
            let (s, line) = call(
                "/api/v1/provisioning/lines".into(),
                json!({ "premises": p }),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{line}");
            let id = line["id"].as_str().unwrap().to_owned();
            let (s, b) = call(
                format!("/api/v1/provisioning/lines/{id}/reserve-path"),
                json!({}),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let (s, b) = call(
                format!("/api/v1/provisioning/lines/{id}/install-ont"),
                json!({ "serial": format!("HWTC{i:08X}"), "rx_dbm": -20.0 }),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let (s, b) = call(
                format!("/api/v1/provisioning/lines/{id}/activate"),
                json!({}),
            )
            .await;
            (id, s, b)
        }));
    }
    let mut active = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let (id, status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => active.push(body),
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "exhausted", "{body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("« cgnat » (100.64.0.0/25)"),
                    "{body}"
                );
                refused.push(id);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(active.len(), 126, "every address of the pool is given");
    assert_eq!(refused.len(), 74);

    let distinct =
        |f: &dyn Fn(&Value) -> String| active.iter().map(f).collect::<HashSet<_>>().len();
    assert_eq!(distinct(&|l| l["service"]["ipv4"].to_string()), 126);
    assert_eq!(distinct(&|l| l["service"]["ipv6_prefix"].to_string()), 126);
    assert_eq!(distinct(&|l| l["service"]["ipv6_wan"].to_string()), 126);
    assert_eq!(distinct(&|l| l["service"]["circuit_id"].to_string()), 126);
    assert_eq!(
        distinct(&|l| format!("{}/{}", l["service"]["svlan"], l["service"]["cvlan"])),
        126
    );
    assert_eq!(
        distinct(&|l| format!("{}/{}", l["path"]["pon_port"], l["path"]["ont_id"])),
        126
    );
    assert_eq!(distinct(&|l| l["path"]["splitter_output"].to_string()), 126);

    // The refused lines hold no address and stay installed, ready to retry.
    for id in &refused {
        let line = t.state.provisioning.line(id).await.unwrap();
        assert_eq!(line.state, provisioning::lifecycle::State::OntInstalled);
        assert!(line.service.is_none());
    }
    let (addresses, journal): (i64, i64) = (
        sqlx::query_scalar("SELECT COUNT(*) FROM prov_resources WHERE kind = 'address'")
            .fetch_one(t.db().pool())
            .await
            .unwrap(),
        sqlx::query_scalar("SELECT COUNT(*) FROM prov_assignments")
            .fetch_one(t.db().pool())
            .await
            .unwrap(),
    );
    assert_eq!((addresses, journal), (378, 378));
    let radius: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM radcheck")
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(radius, 126);
    // The OLTs hold exactly the active lines.
    let olts: HashSet<String> = active
        .iter()
        .map(|l| l["path"]["olt"].as_str().unwrap().to_owned())
        .collect();
    let mut on_olts = 0;
    for olt in &olts {
        on_olts += t.state.provisioning.drivers().simulator(olt).ont_count();
        assert!(t.state.provisioning.drift(olt).await.unwrap().is_clean());
    }
    assert_eq!(on_olts, 126);
}

/// Numbers are handed out after the highest in use; once the range is
/// full, the lowest number released is given again, then none is left.
#[tokio::test]
async fn numbers_follow_the_highest_then_fill_the_lowest_gap() {
    use provisioning::storage::{allocate, Claim, Resource};
    let t = TestApp::new().await;
    let mut tx = t.db().begin().await.unwrap();
    let mut take = Vec::new();
    for line in ["L1", "L2", "L3"] {
        take.push(
            allocate(
                &mut tx,
                Resource::Cvlan,
                "PON-T",
                10,
                12,
                line,
                Claim::Advisory,
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(take, [Some(10), Some(11), Some(12)]);
    sqlx::query("DELETE FROM prov_resources WHERE scope = 'PON-T' AND value = 11")
        .execute(&mut *tx)
        .await
        .unwrap();
    let again = allocate(
        &mut tx,
        Resource::Cvlan,
        "PON-T",
        10,
        12,
        "L4",
        Claim::Advisory,
    )
    .await
    .unwrap();
    assert_eq!(again, Some(11));
    let none = allocate(
        &mut tx,
        Resource::Cvlan,
        "PON-T",
        10,
        12,
        "L5",
        Claim::Advisory,
    )
    .await
    .unwrap();
    assert_eq!(none, None);
    tx.rollback().await.unwrap();
}
