//! Subscriptions follow their lines through provisioning's event feed: a
//! suspension at the subscriber's request stops billing, a resumption
//! restarts it, a suspension for unpaid bills changes nothing, a
//! termination ends the subscription. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{connectable_premises, network_app, Answer, TestApp};
use serde_json::{json, Value};

async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.api(Method::POST, uri, Some(token), Some(body)).await
}

#[tokio::test]
async fn a_subscription_follows_its_line() {
    let t = network_app(300, 24).await;
    let tech = t.user("tech", &[Role::Technician]).await;
    let tech = t.token_for(&tech).await;
    let compta = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta).await;
    let premises = connectable_premises(&t, "PM1").await;

    let a = post(
        &t,
        &tech,
        "/api/v1/provisioning/lines",
        json!({ "premises": premises[0] }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let line = a.json()["id"].as_str().unwrap().to_owned();
    for (step, body) in [
        ("reserve-path", json!({})),
        (
            "install-ont",
            json!({"serial": "HWTC0B0C0D0E", "rx_dbm": -19.4}),
        ),
        ("activate", json!({})),
    ] {
        let r = post(
            &t,
            &tech,
            &format!("/api/v1/provisioning/lines/{line}/{step}"),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.text);
    }

    let r = post(&t, &compta, "/api/v1/billing/offers", json!({"code": "F300", "name": "Fibre 300",
        "monthly_price_cents": 2990, "vat_rate": "20", "deliberation": "2026-012", "valid_from": "2025-01-01"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = post(
        &t,
        &compta,
        "/api/v1/billing/accounts",
        json!({"kind": "household", "name": "Famille Roux",
        "address": "3 rue des Lilas", "postcode": "35000", "town": "Rennes"}),
    )
    .await;
    let account = r.json()["code"].as_str().unwrap().to_owned();
    // Not before the line entered service (today): those days are not owed.
    let r = post(
        &t,
        &compta,
        "/api/v1/billing/subscriptions",
        json!({"account": account, "line_id": line, "offer": "F300", "started_on": "2025-06-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let today = regie::social::today();
    assert!(
        r.text.contains(&format!(
            "est en service depuis le {} : l'abonnement ne peut commencer avant",
            today.format("%d/%m/%Y")
        )),
        "{}",
        r.text
    );
    let r = post(
        &t,
        &compta,
        "/api/v1/billing/subscriptions",
        json!({"account": account, "line_id": line, "offer": "F300", "started_on": today.to_string()}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sub = r.json()["code"].as_str().unwrap().to_owned();
    let sys = regie_core::audit::Actor::system("billing");
    let follow = || billing::sync::follow_lines(t.db(), &t.state.provisioning, &sys);
    let timeline = || async { billing::storage::subscription(t.db(), &sub).await.unwrap() };

    // The events before the subscription (order, activation) change nothing.
    follow().await.unwrap();
    assert_eq!(timeline().await.periods.len(), 1);

    // Unpaid: still billed.
    let r = post(
        &t,
        &tech,
        &format!("/api/v1/provisioning/lines/{line}/suspend"),
        json!({"reason": "unpaid"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(follow().await.unwrap(), 0);
    post(
        &t,
        &tech,
        &format!("/api/v1/provisioning/lines/{line}/resume"),
        json!({}),
    )
    .await;
    follow().await.unwrap();
    assert!(timeline()
        .await
        .periods
        .iter()
        .all(|p| !p.on_request_suspension));

    // At the subscriber's request: not billed from today.
    let r = post(
        &t,
        &tech,
        &format!("/api/v1/provisioning/lines/{line}/suspend"),
        json!({"reason": "subscriber_request"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(follow().await.unwrap(), 1);
    let s = timeline().await;
    let open = s.periods.last().unwrap();
    assert!(open.on_request_suspension && open.to.is_none(), "{s:?}");
    // Following again applies nothing twice.
    assert_eq!(follow().await.unwrap(), 0);

    // Resumed (the same day: the day is billed as it ends), then terminated.
    post(
        &t,
        &tech,
        &format!("/api/v1/provisioning/lines/{line}/resume"),
        json!({}),
    )
    .await;
    follow().await.unwrap();
    assert!(
        !timeline()
            .await
            .periods
            .last()
            .unwrap()
            .on_request_suspension
    );
    let r = post(
        &t,
        &tech,
        &format!("/api/v1/provisioning/lines/{line}/terminate"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    follow().await.unwrap();
    let s = timeline().await;
    assert!(s.ended_on.is_some(), "{s:?}");
    assert!(billing::storage::live_subscription_of_line(t.db(), &line)
        .await
        .unwrap()
        .is_none());
}
