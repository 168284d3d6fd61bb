//! Refurbished-equipment grants: only households entitled to the social
//! tariff may ask, once per household and year; requests are served in
//! their order as devices and money arrive (a waiting list otherwise), the
//! envelope is never overspent, a cancelled request hands its device to the
//! next in line, and the handover is recorded. Technicians and accountants
//! see none of it.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use regie::platform::auth::Role;
use regie_tests::{granted_household, publish_example_rules, Answer, Session, TestApp};
use serde_json::{json, Value};

async fn submit(t: &TestApp, s: &Session, uri: &str, fields: &[(&str, &str)]) -> Answer {
    let mut form = vec![("csrf_token", s.csrf.as_str())];
    form.extend_from_slice(fields);
    t.page(Method::POST, uri, Some(s), Some(&form)).await
}

async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.api(Method::POST, uri, Some(token), Some(body)).await
}

fn laptop(serial: &str, euros: i64) -> Value {
    json!({
        "partner": "Emmaüs Connect", "kind": "laptop", "model": "ThinkPad T480",
        "serial": serial, "condition": "b", "value_cents": euros * 100,
        "received_on": regie::social::today().to_string(),
    })
}

async fn request(t: &TestApp, agent: &str, household: &str, kind: &str) -> Value {
    let r = post(
        t,
        agent,
        "/api/v1/social-tariff/grants",
        json!({"household": household, "kind": kind}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

async fn grant(t: &TestApp, agent: &str, id: &Value) -> Value {
    let all = t
        .api(
            Method::GET,
            "/api/v1/social-tariff/grants",
            Some(agent),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    all.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == *id)
        .cloned()
        .unwrap()
}

/// Reads the envelope and checks it is never overspent.
async fn budget(t: &TestApp, agent: &str, year: i32) -> Value {
    let b = t
        .api(
            Method::GET,
            &format!("/api/v1/social-tariff/budgets/{year}"),
            Some(agent),
            None,
        )
        .await
        .json();
    let (amount, committed) = (
        b["amount_cents"].as_i64().unwrap(),
        b["committed_cents"].as_i64().unwrap(),
    );
    assert!(committed <= amount, "overspent: {b}");
    assert_eq!(b["remaining_cents"].as_i64().unwrap(), amount - committed);
    b
}

#[tokio::test]
async fn the_waiting_list_is_served_in_order_within_the_envelope() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let year = regie::social::today().year();

    let mut households = Vec::new();
    for (i, name) in ["Awa Diallo", "Jean Martin", "Inès Roux", "Léa Petit"]
        .iter()
        .enumerate()
    {
        let (h, _) = granted_household(
            &t,
            &agent,
            name,
            &format!("{} rue des Lilas", i + 1),
            json!({}),
        )
        .await;
        households.push(h);
    }
    let [awa, jean, ines, lea] = <[String; 4]>::try_from(households).unwrap();

    // A household without an entitlement is told to apply first.
    let filed = post(
        &t,
        &agent,
        "/api/v1/social-tariff/applications",
        json!({"nom": "Paul Blanc", "adresse": "9 rue des Lilas", "code_postal": "35000",
               "commune": "Rennes", "taille_foyer": "1", "prestations": ["RSA"],
               "submit": true, "consent": true, "contact": "courrier"}),
    )
    .await;
    let paul = filed.json()["household"].as_str().unwrap().to_owned();
    let refused = post(
        &t,
        &agent,
        "/api/v1/social-tariff/grants",
        json!({"household": paul, "kind": "laptop"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("tarif social"), "{}", refused.text);

    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/social-tariff/budgets/{year}"),
            Some(&agent),
            Some(json!({"deliberation": "2026-041", "amount_cents": 30_000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // No stock yet: everyone waits, in the order of the requests.
    let g_awa = request(&t, &agent, &awa, "laptop").await;
    let g_jean = request(&t, &agent, &jean, "laptop").await;
    let g_ines = request(&t, &agent, &ines, "phone").await;
    assert_eq!(
        (g_awa["status"].as_str(), g_awa["position"].as_u64()),
        (Some("waiting"), Some(1))
    );
    assert_eq!(g_jean["position"], 2);
    // One grant per household and year.
    let twice = post(
        &t,
        &agent,
        "/api/v1/social-tariff/grants",
        json!({"household": awa, "kind": "phone"}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.text.contains("une seule par foyer"), "{}", twice.text);

    // A laptop arrives: the first in line gets it, the second moves up.
    let r = post(
        &t,
        &agent,
        "/api/v1/social-tariff/devices",
        laptop("PF-001", 150),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = grant(&t, &agent, &g_awa["id"]).await;
    assert_eq!(a["status"], "allocated");
    assert_eq!(a["device"]["serial"], "PF-001");
    assert_eq!(a["value_cents"], 15_000);
    assert_eq!(grant(&t, &agent, &g_jean["id"]).await["position"], 1);
    assert_eq!(budget(&t, &agent, year).await["committed_cents"], 15_000);

    // The same serial twice is refused.
    let dup = post(
        &t,
        &agent,
        "/api/v1/social-tariff/devices",
        laptop("PF-001", 90),
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.text.contains("PF-001"), "{}", dup.text);

    // Too dear for what is left (€150): it stays in stock; a cheaper one
    // arriving later serves Jean.
    post(
        &t,
        &agent,
        "/api/v1/social-tariff/devices",
        laptop("PF-002", 200),
    )
    .await;
    assert_eq!(grant(&t, &agent, &g_jean["id"]).await["status"], "waiting");
    post(
        &t,
        &agent,
        "/api/v1/social-tariff/devices",
        laptop("PF-003", 100),
    )
    .await;
    let j = grant(&t, &agent, &g_jean["id"]).await;
    assert_eq!(
        (j["status"].as_str(), j["device"]["serial"].as_str()),
        (Some("allocated"), Some("PF-003"))
    );
    assert_eq!(budget(&t, &agent, year).await["committed_cents"], 25_000);

    // The envelope cannot go below what is committed; raised, it serves
    // whoever the money was missing for.
    let low = t
        .api(
            Method::PUT,
            &format!("/api/v1/social-tariff/budgets/{year}"),
            Some(&agent),
            Some(json!({"deliberation": "2026-058", "amount_cents": 20_000})),
        )
        .await;
    assert_eq!(low.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", low.text);
    let l = request(&t, &agent, &lea, "laptop").await;
    assert_eq!(l["status"], "waiting");
    t.api(
        Method::PUT,
        &format!("/api/v1/social-tariff/budgets/{year}"),
        Some(&agent),
        Some(json!({"deliberation": "2026-058", "amount_cents": 45_000})),
    )
    .await;
    let l = grant(&t, &agent, &l["id"]).await;
    assert_eq!(l["device"]["serial"], "PF-002");
    assert_eq!(budget(&t, &agent, year).await["committed_cents"], 45_000);
    assert_eq!(grant(&t, &agent, &g_ines["id"]).await["status"], "waiting");

    // Handover, signed; twice is refused, as is handing over a waiting one.
    let url = format!("/api/v1/social-tariff/grants/{}/handover", g_awa["id"]);
    let h = post(&t, &agent, &url, json!({"attestation": "signature"})).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    assert_eq!(h.json()["status"], "handed_over");
    assert_eq!(h.json()["attestation"], "signature");
    assert_eq!(h.json()["handed_by"], "agent");
    let again = post(&t, &agent, &url, json!({"attestation": "agent"})).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let waiting = post(
        &t,
        &agent,
        &format!("/api/v1/social-tariff/grants/{}/handover", g_ines["id"]),
        json!({"attestation": "agent"}),
    )
    .await;
    assert_eq!(waiting.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A handed-over grant cannot be cancelled.
    let c = post(
        &t,
        &agent,
        &format!("/api/v1/social-tariff/grants/{}/cancel", g_awa["id"]),
        json!({}),
    )
    .await;
    assert_eq!(c.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Jean cancels: his device and its money come back, and the list is
    // served again (nobody waits for a laptop now, so it stays in stock).
    let c = post(
        &t,
        &agent,
        &format!("/api/v1/social-tariff/grants/{}/cancel", g_jean["id"]),
        json!({}),
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(c.json()["status"], "cancelled");
    assert_eq!(budget(&t, &agent, year).await["committed_cents"], 35_000);
    let stock = t
        .api(
            Method::GET,
            "/api/v1/social-tariff/devices",
            Some(&agent),
            None,
        )
        .await
        .json();
    let pf3 = stock
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["serial"] == "PF-003")
        .unwrap();
    assert_eq!(pf3["status"], "in_stock");
    // A cancelled request no longer counts: Jean may ask again and gets it.
    let again = request(&t, &agent, &jean, "laptop").await;
    assert_eq!(again["device"]["serial"], "PF-003");

    // Neither technicians nor accountants see grants; a household sees its own.
    for role in [Role::Technician, Role::Accountant] {
        let u = t.user(&format!("{role:?}").to_lowercase(), &[role]).await;
        let token = t.token_for(&u).await;
        let r = t
            .api(
                Method::GET,
                "/api/v1/social-tariff/grants",
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role:?}");
    }
}

#[tokio::test]
async fn concurrent_requests_never_share_a_device_or_overspend() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let year = regie::social::today().year();
    t.api(
        Method::PUT,
        &format!("/api/v1/social-tariff/budgets/{year}"),
        Some(&agent),
        Some(json!({"deliberation": "2026-041", "amount_cents": 25_000})),
    )
    .await;
    for (serial, euros) in [("C-1", 100), ("C-2", 100), ("C-3", 100)] {
        post(
            &t,
            &agent,
            "/api/v1/social-tariff/devices",
            laptop(serial, euros),
        )
        .await;
    }
    let mut households = Vec::new();
    for i in 0..6 {
        let (h, _) = granted_household(
            &t,
            &agent,
            &format!("Foyer {i}"),
            &format!("{} avenue du Parc", i + 1),
            json!({}),
        )
        .await;
        households.push(h);
    }
    let answers =
        futures::future::join_all(households.iter().map(|h| request(&t, &agent, h, "laptop")))
            .await;
    let allocated: Vec<&Value> = answers
        .iter()
        .filter(|g| g["status"] == "allocated")
        .collect();
    // Three devices but money for two.
    let all = t
        .api(
            Method::GET,
            "/api/v1/social-tariff/grants",
            Some(&agent),
            None,
        )
        .await
        .json();
    let held: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "allocated")
        .map(|g| g["device"]["serial"].as_str().unwrap())
        .collect();
    assert_eq!(held.len(), 2, "{all}");
    assert_ne!(held[0], held[1]);
    assert!(allocated.len() <= 2);
    assert_eq!(budget(&t, &agent, year).await["committed_cents"], 20_000);
    // The waiting ones keep their order: positions 1 to 4.
    let mut positions: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["position"].as_u64())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn through_the_pages_an_agent_keeps_the_stock_and_a_household_asks() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    publish_example_rules(&t, &admin).await;
    let agent_user = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent_user).await;
    let a = t.session_for(&agent_user).await;
    let family = t.user("famille", &[Role::Household]).await;
    let f = t.session_for(&family).await;
    let today = regie::social::today().to_string();
    // Not entitled yet: the page says what the aid is for, with no form.
    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    assert!(home
        .text
        .contains("réservée aux foyers qui bénéficient du tarif social"));
    assert!(!home.text.contains("action=\"/mon-espace/equipement\""));

    // The household applies online; an agent grants it.
    let r = submit(
        &t,
        &f,
        "/mon-espace/demande",
        &[
            ("nom", "Awa Diallo"),
            ("adresse", "12 rue de l'Église"),
            ("code_postal", "35000"),
            ("commune", "Rennes"),
            ("taille_foyer", "3"),
            ("prestations", "AAH"),
            ("contact", "courrier"),
            ("action", "envoyer"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.header("location").unwrap();
    let code = location
        .trim_start_matches("/mon-espace/demandes/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (household, _) = regie_tests::grant_application(&t, &agent, &code).await;

    // The agent's page: a bad amount and an empty serial are shown by
    // their fields, what was typed is kept.
    let page = t
        .page(Method::GET, "/instruction/equipements", Some(&a), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Aucune enveloppe n'est encore votée"));
    let bad = submit(
        &t,
        &a,
        "/instruction/equipements/appareils",
        &[
            ("partenaire", "Emmaüs Connect"),
            ("type_appareil", "laptop"),
            ("modele", "Latitude 5490"),
            ("numero_serie", " "),
            ("etat", "a"),
            ("valeur", "douze"),
            ("recu_le", today.as_str()),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["numero_serie", "valeur"] {
        assert!(bad.text.contains(&format!("href=\"#{field}\"")), "{field}");
        assert!(
            bad.text.contains(&format!("id=\"{field}-erreur\"")),
            "{field}"
        );
    }
    assert!(bad.text.contains("value=\"Latitude 5490\""));
    let budget = submit(
        &t,
        &a,
        "/instruction/equipements/enveloppe",
        &[("deliberation", "2026-041"), ("montant", "1 000")],
    )
    .await;
    assert_eq!(budget.status, StatusCode::OK, "{}", budget.text);
    assert!(budget.text.contains("1\u{202f}000,00 €"), "{}", budget.text);

    // The household asks from its page: nothing in stock, it waits first.
    let asked = submit(
        &t,
        &f,
        "/mon-espace/equipement",
        &[("type_appareil", "tablet")],
    )
    .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    assert!(
        home.text.contains("en liste d'attente (rang 1)"),
        "{}",
        home.text
    );
    assert!(home.text.contains("Une aide par foyer et par an"));
    let again = submit(
        &t,
        &f,
        "/mon-espace/equipement",
        &[("type_appareil", "phone")],
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text.contains("une seule par foyer"), "{}", again.text);

    // A tablet arrives: the household's request is served at once.
    let added = submit(
        &t,
        &a,
        "/instruction/equipements/appareils",
        &[
            ("partenaire", "Ateliers du Bocage"),
            ("type_appareil", "tablet"),
            ("modele", "iPad 7"),
            ("numero_serie", "DMPX1234"),
            ("etat", "b"),
            ("valeur", "120,50"),
            ("recu_le", today.as_str()),
        ],
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    assert!(
        added.text.contains("équipement réservé, à remettre"),
        "{}",
        added.text
    );
    assert!(added.text.contains(&household));
    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    assert!(
        home.text.contains("Un appareil vous attend"),
        "{}",
        home.text
    );

    // Handover attested by the agent.
    let grants = t
        .api(
            Method::GET,
            "/api/v1/social-tariff/grants",
            Some(&agent),
            None,
        )
        .await
        .json();
    let id = grants[0]["id"].as_i64().unwrap();
    // The receipt to sign is printed before the handover, linked from the
    // page.
    let page = t
        .page(Method::GET, "/instruction/equipements", Some(&a), None)
        .await;
    let receipt = format!("/instruction/equipements/demandes/{id}/recu.pdf");
    assert!(page.text.contains(&receipt), "{}", page.text);
    let pdf = t.page(Method::GET, &receipt, Some(&a), None).await;
    assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.text);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.text.starts_with("%PDF-"));
    let none = t
        .page(
            Method::GET,
            "/instruction/equipements/demandes/999999/recu.pdf",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let uri = format!("/instruction/equipements/demandes/{id}/remise");
    let done = submit(&t, &a, &uri, &[("attestation", "agent")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("attestée par l'agent"), "{}", done.text);
    let twice = submit(&t, &a, &uri, &[("attestation", "agent")]).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A technician cannot open the page.
    let tech = t.user("tech", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let r = t
        .page(Method::GET, "/instruction/equipements", Some(&s), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_period_of_one_grant_per_household_is_configurable() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let (household, _) =
        granted_household(&t, &agent, "Awa Diallo", "1 rue des Lilas", json!({})).await;
    let household = social_tariff::HouseholdCode::parse(&household).unwrap();
    let actor = regie_core::audit::Actor::system("test");
    let today = regie::social::today();
    // The first of January next year: a new calendar year, still within
    // the twelve months of the right.
    let next_year = NaiveDate::from_ymd_opt(today.year() + 1, 1, 1).unwrap();
    let all = social_tariff::Scope::All;
    let laptop = social_tariff::grants::DeviceKind::Laptop;
    social_tariff::request_grant(t.db(), &actor, all, &household, laptop, today, 3)
        .await
        .unwrap();
    // Every three years: next year is refused, with the year it reopens.
    let refused =
        social_tariff::request_grant(t.db(), &actor, all, &household, laptop, next_year, 3)
            .await
            .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&format!("à partir de {}", today.year() + 3)),
        "{refused}"
    );
    // Every year: next year is a new period.
    let g = social_tariff::request_grant(t.db(), &actor, all, &household, laptop, next_year, 1)
        .await
        .unwrap();
    assert_eq!(g.year, today.year() + 1);
}
