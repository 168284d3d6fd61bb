//! Subscriber AAA with the real FreeRADIUS reading the test database
//! through the configuration shipped in `deploy/freeradius`, questioned by
//! `radclient`; and changes of authorization received by a local BNG
//! stand-in. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::rfc2865;
use regie::platform::auth::Role;
use regie::platform::config::BngConfig;
use regie_tests::freeradius::{ask, peers, start_radius, SECRET};
use regie_tests::{connectable_premises, network_app_with, TestApp};
use serde_json::json;

/// A stand-in BNG on loopback: acknowledges every CoA and Disconnect and
/// keeps them, until the test says it is done (never on a silence: a slow
/// machine may be silent for long between two requests).
struct Bng {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<Packet>>,
}

impl Bng {
    /// Every packet received, once the test is done with the BNG.
    async fn received(self) -> Vec<Packet> {
        let _ = self.stop.send(());
        self.task.await.unwrap()
    }
}

async fn bng() -> (BngConfig, Bng) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(_) => break,
                },
                _ = &mut stopped => break,
            };
            assert!(Packet::is_authentic_request(&buf[..n], SECRET.as_bytes()));
            let p = Packet::decode(&buf[..n], SECRET.as_bytes()).unwrap();
            let ack = match p.get_code() {
                Code::DisconnectRequest => Code::DisconnectACK,
                _ => Code::CoAACK,
            };
            socket
                .send_to(&p.make_response_packet(ack).encode().unwrap(), from)
                .await
                .unwrap();
            got.push(p);
        }
        got
    });
    let task = Bng { stop, task };
    let config = BngConfig {
        olts: vec![],
        address: address.to_string(),
        secret: SECRET.into(),
        timeout_ms: 500,
        attempts: 3,
    };
    (config, task)
}

async fn line_through(t: &TestApp, token: &str, premises: &str, serial: &str) -> (String, String) {
    let call = |uri: String, body: serde_json::Value| async move {
        let a = t.api(Method::POST, &uri, Some(token), Some(body)).await;
        assert!(
            a.status == StatusCode::OK || a.status == StatusCode::CREATED,
            "{uri}: {}",
            a.text
        );
        a.json()
    };
    let id = call(
        "/api/v1/provisioning/lines".into(),
        json!({ "premises": premises, "profile": "300M" }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        format!("/api/v1/provisioning/lines/{id}/reserve-path"),
        json!({}),
    )
    .await;
    call(
        format!("/api/v1/provisioning/lines/{id}/install-ont"),
        json!({ "serial": serial, "rx_dbm": -20.5 }),
    )
    .await;
    let line = call(
        format!("/api/v1/provisioning/lines/{id}/activate"),
        json!({}),
    )
    .await;
    (
        id,
        line["service"]["circuit_id"].as_str().unwrap().to_owned(),
    )
}

async fn nas_status(t: &TestApp, id: &str) -> String {
    for _ in 0..600 {
        let line = t.state.provisioning.line(id).await.unwrap();
        if let Some(s) = line.nas_status.filter(|s| !s.contains("en cours")) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = t.state.provisioning.line(id).await.unwrap().nas_status;
    panic!("the BNG's answer was never recorded on {id}: {last:?}");
}

#[tokio::test]
async fn freeradius_grants_suspends_and_rejects_from_the_database() {
    let Some(daemon) = peers() else { return };
    let (bng_config, bng_task) = bng().await;
    let t = network_app_with(700, 24, |c| c.bng = vec![bng_config]).await;
    let u = t.user("tech", &[Role::Technician]).await;
    let token = t.token_for(&u).await;
    let premises = connectable_premises(&t, "PM1").await;
    let (active, active_cid) = line_through(&t, &token, &premises[0], "HWTC0000A001").await;
    let (suspended, suspended_cid) = line_through(&t, &token, &premises[1], "HWTC0000A002").await;
    let (terminated, terminated_cid) = line_through(&t, &token, &premises[2], "HWTC0000A003").await;
    let line = t.state.provisioning.line(&active).await.unwrap();
    let svc = line.service.unwrap();

    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/provisioning/lines/{suspended}/suspend"),
            Some(&token),
            Some(json!({ "reason": "unpaid" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/provisioning/lines/{terminated}/terminate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    let radius = start_radius(&t, &daemon);

    let answer = ask(&radius, &active_cid);
    assert!(answer.contains("Received Access-Accept"), "{answer}");
    assert!(
        answer.contains(&format!("Framed-IP-Address = {}", svc.ipv4)),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("Delegated-IPv6-Prefix = {}", svc.ipv6_prefix)),
        "{answer}"
    );
    assert!(svc.ipv6_prefix.ends_with("/56"), "a /56 is delegated");
    assert!(
        answer.contains(&format!("Framed-IPv6-Prefix = {}", svc.ipv6_wan)),
        "{answer}"
    );
    assert!(answer.contains("Filter-Id = \"profile-300M\""), "{answer}");

    let answer = ask(&radius, &suspended_cid);
    assert!(answer.contains("Received Access-Accept"), "{answer}");
    assert!(answer.contains("Filter-Id = \"walled-garden\""), "{answer}");
    assert!(
        answer.contains("Framed-IP-Address"),
        "the address stays: {answer}"
    );

    let answer = ask(&radius, &terminated_cid);
    assert!(answer.contains("Received Access-Reject"), "{answer}");
    let answer = ask(&radius, "OLT99:0/9/9:99");
    assert!(
        answer.contains("Received Access-Reject"),
        "an unknown circuit id: {answer}"
    );

    // The keep-connected throttle is a policy change the BNG hears of, and
    // FreeRADIUS answers it at once.
    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/provisioning/lines/{suspended}/suspend"),
            Some(&token),
            Some(json!({ "reason": "keep_connected" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let answer = ask(&radius, &suspended_cid);
    assert!(answer.contains("Filter-Id = \"throttled\""), "{answer}");
    assert!(nas_status(&t, &suspended).await.contains("acquitté"));
    assert!(nas_status(&t, &terminated)
        .await
        .contains("Disconnect : acquitté"));

    let got = bng_task.received().await;
    let seen: Vec<(Code, String, Option<String>)> = got
        .iter()
        .map(|p| {
            (
                p.get_code(),
                rfc2865::lookup_user_name(p).unwrap().unwrap(),
                rfc2865::lookup_filter_id(p).map(|f| f.unwrap()),
            )
        })
        .collect();
    assert!(
        seen.contains(&(
            Code::CoARequest,
            suspended_cid.clone(),
            Some("walled-garden".into())
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            Code::CoARequest,
            suspended_cid.clone(),
            Some("throttled".into())
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(Code::DisconnectRequest, terminated_cid.clone(), None)),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_bng_that_never_answers_is_visible_on_the_line() {
    // A socket that receives and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = BngConfig {
        olts: vec![],
        address: silent.local_addr().unwrap().to_string(),
        secret: SECRET.into(),
        timeout_ms: 50,
        attempts: 2,
    };
    let t = network_app_with(700, 24, |c| c.bng = vec![config]).await;
    let u = t.user("tech", &[Role::Technician]).await;
    let token = t.token_for(&u).await;
    let premises = connectable_premises(&t, "PM1").await;
    let (id, _) = line_through(&t, &token, &premises[0], "HWTC0000B001").await;
    let a = t
        .api(
            Method::POST,
            &format!("/api/v1/provisioning/lines/{id}/suspend"),
            Some(&token),
            Some(json!({ "reason": "fault" })),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "the suspension itself lands: {}",
        a.text
    );
    let status = nas_status(&t, &id).await;
    assert!(
        status.contains("échec") && status.contains("après 2 essai(s)"),
        "{status}"
    );
    let a = t
        .api(
            Method::GET,
            &format!("/api/v1/provisioning/lines/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert!(a.json()["nas_status"].as_str().unwrap().contains("échec"));
}
