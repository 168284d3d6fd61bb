//! Devices an admin adds for SNMP polling: their secrets stored sealed and
//! never shown, polled at the next cycle, and the inventory's OLTs listed.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{network_app, TestApp};
use serde_json::json;

const COMMUNITY: &str = "communaute-tres-secrete";

#[tokio::test]
async fn an_admin_adds_a_device_whose_secret_is_sealed_and_never_shown() {
    let t = network_app(300, 24).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let tech = t.user("tech", &[Role::Technician]).await;
    let (admin_token, tech_token) = (t.token_for(&admin).await, t.token_for(&tech).await);
    let body = json!({
        "name": "SW-NRO-1", "address": "192.0.2.10", "version": "v2c",
        "community": COMMUNITY, "timeout_ms": 500, "retries": 1
    });

    // Only an admin adds.
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&tech_token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&admin_token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json()["address"], "192.0.2.10:161");
    assert!(!a.text.contains(COMMUNITY));
    let again = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&admin_token),
            Some(body),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);

    // Listed for a technician without the secret, beside the inventory's
    // OLTs that nobody polls.
    let list = t
        .api(
            Method::GET,
            "/api/v1/monitoring/devices",
            Some(&tech_token),
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(COMMUNITY));
    let rows = list.json();
    let rows = rows.as_array().unwrap();
    let added = rows.iter().find(|d| d["name"] == "SW-NRO-1").unwrap();
    assert_eq!(added["status"], "polled");
    assert_eq!(added["origin"], "added");
    assert!(rows
        .iter()
        .any(|d| d["status"] == "unmonitored" && d["name"].as_str().unwrap().starts_with("OLT")));

    // At rest: sealed, neither in the table nor in the audit journal.
    let stored: String =
        sqlx::query_scalar("SELECT secret FROM mon_devices WHERE name = 'SW-NRO-1'")
            .fetch_one(t.db().pool())
            .await
            .unwrap();
    assert!(!stored.contains(COMMUNITY) && stored.len() > 40, "{stored}");
    let journal: Vec<String> = sqlx::query_scalar(
        "SELECT COALESCE(after_json, '') FROM audit_log WHERE entity = 'snmp_device'",
    )
    .fetch_all(t.db().pool())
    .await
    .unwrap();
    assert_eq!(journal.len(), 1);
    assert!(!journal[0].contains(COMMUNITY) && journal[0].contains("SW-NRO-1"));
    // The key lives beside the data, readable by its owner only.
    assert!(t.state.config.data_dir.join("secret.key").is_file());

    // Under another key, the device is named as unreadable, not polled
    // with garbage.
    let other = regie::AppState::new(
        t.db().clone(),
        regie::platform::config::Config {
            secret_key: Some(regie_core::secret::SecretKey::generate().to_text()),
            ..(*t.state.config).clone()
        },
    )
    .unwrap();
    let set = regie::monitoring::poll::devices(&other).await.unwrap();
    assert_eq!(set.sealed_shut, vec!["SW-NRO-1".to_owned()]);
    assert!(set.polled.iter().all(|(d, _)| d.name != "SW-NRO-1"));

    // Removal.
    let gone = t
        .api(
            Method::DELETE,
            "/api/v1/monitoring/devices/SW-NRO-1",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    let gone = t
        .api(
            Method::DELETE,
            "/api/v1/monitoring/devices/SW-NRO-1",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // An SNMPv3 device read in a context: kept, shown, and polled in it.
    let v3 = json!({
        "name": "OLT-CTX", "address": "192.0.2.11", "version": "v3",
        "user": "regie", "auth": "sha256", "auth_key": "cle-auth-2026",
        "priv_key": "cle-priv-2026", "context": "vlan100"
    });
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&admin_token),
            Some(v3.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json()["context"], "vlan100");
    let set = regie::monitoring::poll::devices(&t.state).await.unwrap();
    let (polled, _) = set
        .polled
        .iter()
        .find(|(d, _)| d.name == "OLT-CTX")
        .unwrap();
    assert!(
        matches!(&polled.target.credentials, monitoring::snmp::Credentials::V3 { context, .. } if context == "vlan100"),
        "{polled:?}"
    );
    let mut long = v3;
    long["name"] = json!("OLT-CTX2");
    long["context"] = json!("c".repeat(33));
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&admin_token),
            Some(long),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a.text.contains("contexte SNMPv3"), "{}", a.text);
}

#[tokio::test]
async fn bad_devices_are_refused_with_the_field_named_and_nothing_stored() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let token = t.token_for(&admin).await;
    for (body, expected) in [
        (
            json!({"name": "OLT 01", "address": "192.0.2.1", "version": "v2c", "community": "c"}),
            "nom",
        ),
        (
            json!({"name": "OLT01", "address": "olt01.mairie.fr", "version": "v2c", "community": "c"}),
            "adresse",
        ),
        (
            json!({"name": "OLT01", "address": "192.0.2.1", "version": "v1", "community": "c"}),
            "v2c ou v3",
        ),
        (
            json!({"name": "OLT01", "address": "192.0.2.1", "version": "v2c"}),
            "communauté",
        ),
        (
            json!({"name": "OLT01", "address": "192.0.2.1", "version": "v3", "user": "regie", "auth_key": "court", "priv_key": "privsecret"}),
            "authentification",
        ),
        (
            json!({"name": "OLT01", "address": "192.0.2.1", "version": "v2c", "community": "c", "timeout_ms": 5}),
            "délai",
        ),
    ] {
        let a = t
            .api(
                Method::POST,
                "/api/v1/monitoring/devices",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert!(a.text.contains(expected), "{body}: {}", a.text);
    }
    // Not JSON at all, or a number where text goes.
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&token),
            Some(json!({"name": 3})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mon_devices")
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn the_page_adds_and_removes_and_never_writes_a_secret_back() {
    let t = network_app(300, 24).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let page = t
        .page(Method::GET, "/technicien/equipements", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("non supervisé"), "inventory OLTs listed");

    // A bad address: the form again, the error next to the field, the
    // community not echoed.
    let bad = t
        .page(
            Method::POST,
            "/technicien/equipements",
            Some(&s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("name", "OLT01"),
                ("address", "pas une adresse"),
                ("version", "v2c"),
                ("community", COMMUNITY),
                ("timeout_ms", ""),
                ("retries", ""),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("address-erreur"), "{}", bad.text);
    assert!(!bad.text.contains(COMMUNITY));
    let bad = t
        .page(
            Method::POST,
            "/technicien/equipements",
            Some(&s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("name", "OLT01"),
                ("address", "192.0.2.1"),
                ("community", "c"),
                ("retries", "deux"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("retries-erreur"), "{}", bad.text);

    let ok = t
        .page(
            Method::POST,
            "/technicien/equipements",
            Some(&s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("name", "OLT01"),
                ("address", "192.0.2.1:1161"),
                ("version", "v2c"),
                ("community", COMMUNITY),
            ]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let page = t
        .page(
            Method::GET,
            "/technicien/equipements?ajoute=OLT01",
            Some(&s),
            None,
        )
        .await;
    assert!(
        page.text.contains("192.0.2.1:1161") && page.text.contains("ajouté par un administrateur")
    );
    assert!(!page.text.contains(COMMUNITY));

    // A technician sees the list, not the form.
    let tech = t.user("tech", &[Role::Technician]).await;
    let ts = t.session_for(&tech).await;
    let page = t
        .page(Method::GET, "/technicien/equipements", Some(&ts), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("OLT01") && !page.text.contains("Ajouter l'équipement"));

    let gone = t
        .page(
            Method::POST,
            "/technicien/equipements/OLT01/retrait",
            Some(&s),
            Some(&[("csrf_token", &s.csrf)]),
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.text);
}

#[tokio::test]
async fn a_device_added_while_the_server_runs_is_polled_at_the_next_cycle() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = TestApp::with_config(|c| c.snmp_interval_s = 1).await;
    // This instance leads the scheduled work, as a lone server does.
    assert!(t.state.scheduler.renew(t.db()).await);
    regie::monitoring::poll::spawn(&t.state).await.unwrap();
    let admin = t.user("admin", &[Role::Admin]).await;
    let token = t.token_for(&admin).await;
    let a = t
        .api(
            Method::POST,
            "/api/v1/monitoring/devices",
            Some(&token),
            Some(
                json!({"name": "muet", "address": silent.local_addr().unwrap().to_string(),
                "version": "v2c", "community": "public", "timeout_ms": 100, "retries": 0}),
            ),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut raised = false;
    for _ in 0..60 {
        let a = t
            .api(Method::GET, "/api/v1/monitoring/alarms", Some(&token), None)
            .await;
        if a.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "device_unreachable" && x["subject"] == "muet")
        {
            raised = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(raised, "the added device was polled and found unreachable");
}
