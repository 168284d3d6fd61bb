//! Billing through the API and the pages: offers and accounts checked, a
//! subscription only for a line provisioning knows, a run refused before
//! the month is over then issued, the accountant's page, credit notes; a
//! household reads its own invoices only, a technician none, and no
//! invoice names the benefit behind the social tariff.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use chrono::Datelike;
use regie::platform::auth::Role;
use regie_tests::{grant_application, publish_example_rules, Answer, TestApp};
use serde_json::{json, Value};

async fn call(t: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> Answer {
    t.api(method, uri, Some(token), body).await
}

#[tokio::test]
async fn accountants_bill_and_households_read_their_own_invoices() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    let compta_user = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta_user).await;
    publish_example_rules(&t, &admin).await;

    // A household applies online and is granted the tariff.
    let family = t.user("famille", &[Role::Household]).await;
    let f = t.token_for(&family).await;
    let filed = call(
        &t,
        &f,
        Method::POST,
        "/api/v1/social-tariff/applications",
        Some(
            json!({"nom": "Inès Roux", "adresse": "3 rue des Lilas", "code_postal": "35000",
            "commune": "Rennes", "taille_foyer": "2", "prestations": ["AAH"],
            "contact": "courrier", "submit": true}),
        ),
    )
    .await;
    let (household, _) =
        grant_application(&t, &agent, filed.json()["code"].as_str().unwrap()).await;

    // Offers: the rate as written, a wrong one refused.
    let offer = json!({"code": "F300", "name": "Fibre 300", "monthly_price_cents": 2990, "vat_rate": "20",
        "deliberation": "2026-012", "valid_from": "2025-01-01"});
    let mut bad = offer.clone();
    bad["vat_rate"] = json!("19,6");
    let r = call(
        &t,
        &compta,
        Method::POST,
        "/api/v1/billing/offers",
        Some(bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = call(
        &t,
        &compta,
        Method::POST,
        "/api/v1/billing/offers",
        Some(offer.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = call(
        &t,
        &compta,
        Method::POST,
        "/api/v1/billing/offers",
        Some(offer),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the same code twice"
    );

    // Accounts: a business needs a valid SIREN; a household links its file.
    let r = call(&t, &compta, Method::POST, "/api/v1/billing/accounts",
        Some(json!({"kind": "business", "name": "Boulangerie", "address": "1 place", "postcode": "35000", "town": "Rennes", "siren": "123456789"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = call(&t, &compta, Method::POST, "/api/v1/billing/accounts",
        Some(json!({"kind": "household", "name": "Inès Roux", "address": "3 rue des Lilas", "postcode": "35000", "town": "Rennes", "household": household}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mine = r.json()["code"].as_str().unwrap().to_owned();
    let r = call(&t, &compta, Method::POST, "/api/v1/billing/accounts",
        Some(json!({"kind": "household", "name": "Paul Blanc", "address": "4 rue des Lilas", "postcode": "35000", "town": "Rennes"}))).await;
    let other = r.json()["code"].as_str().unwrap().to_owned();

    // A subscription needs a line provisioning knows.
    let r = call(&t, &compta, Method::POST, "/api/v1/billing/subscriptions",
        Some(json!({"account": mine, "line_id": "RGE-NONE-0000", "offer": "F300", "started_on": "2025-01-01"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // (Lines come from provisioning; here the subscriptions are recorded
    // through billing's storage, as the provisioning tests cover lines.)
    let sys = regie_core::audit::Actor::system("test");
    let today = regie::social::today();
    let this_month = today.format("%Y-%m").to_string();
    let first = chrono::NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let start = first.pred_opt().unwrap().with_day(1).unwrap();
    let last_month = start.format("%Y-%m").to_string();
    let s = billing::storage::subscribe(t.db(), &sys, &mine, "RGE-TEST-0001", "F300", start)
        .await
        .unwrap();
    billing::storage::subscribe(t.db(), &sys, &other, "RGE-TEST-0002", "F300", start)
        .await
        .unwrap();
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/subscriptions/{}/changes", s.code),
        Some(json!({"on": start.pred_opt().unwrap().to_string(), "change": "suspend_on_request"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "before the period's start: {}",
        r.text
    );
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/subscriptions/{}/changes", s.code),
        Some(json!({"on": start.to_string(), "change": "plan", "offer": "F300"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the same day, the terms are replaced: {}",
        r.text
    );

    // The current month cannot be issued yet; last month can, once.
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/runs/{this_month}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = call(
        &t,
        &compta,
        Method::GET,
        "/api/v1/billing/runs/2026-13",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = call(
        &t,
        &compta,
        Method::GET,
        &format!("/api/v1/billing/runs/{last_month}"),
        None,
    )
    .await;
    assert_eq!(p.json()["to_issue"], 2, "{}", p.text);
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/runs/{last_month}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["issued"], 2);
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/runs/{last_month}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (r.json()["issued"].as_u64(), r.json()["already"].as_u64()),
        (Some(0), Some(2))
    );

    // The household reads its own invoice, not the other one.
    let r = call(&t, &f, Method::GET, "/api/v1/billing/invoices", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["account"], mine);
    let others: Vec<Value> = call(
        &t,
        &compta,
        Method::GET,
        &format!("/api/v1/billing/invoices?account={other}"),
        None,
    )
    .await
    .json()
    .as_array()
    .unwrap()
    .clone();
    let theirs = others[0]["number"].as_str().unwrap();
    let r = call(
        &t,
        &f,
        Method::GET,
        &format!("/api/v1/billing/invoices/{theirs}"),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another household's invoice does not exist for it"
    );
    for word in ["AAH", "allocation", "prestation", "quotient"] {
        assert!(!list.to_string().contains(word), "{word}");
    }
    let tech = t.user("tech", &[Role::Technician]).await;
    let tech = t.token_for(&tech).await;
    assert_eq!(
        call(&t, &tech, Method::GET, "/api/v1/billing/invoices", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &t,
            &f,
            Method::GET,
            &format!("/api/v1/billing/runs/{last_month}"),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // The PDF: the household's own, never another's.
    let own = t
        .api(
            Method::GET,
            &format!(
                "/api/v1/billing/invoices/{}/pdf",
                list[0]["number"].as_str().unwrap()
            ),
            Some(&f),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.header("content-type"), Some("application/pdf"));
    let theirs_pdf = t
        .api(
            Method::GET,
            &format!("/api/v1/billing/invoices/{theirs}/pdf"),
            Some(&f),
            None,
        )
        .await;
    assert_eq!(theirs_pdf.status, StatusCode::NOT_FOUND);

    let xml = t
        .api(
            Method::GET,
            &format!(
                "/api/v1/billing/invoices/{}/cii",
                list[0]["number"].as_str().unwrap()
            ),
            Some(&f),
            None,
        )
        .await;
    assert_eq!(xml.header("content-type"), Some("application/xml"));
    assert!(
        xml.text.contains("<rsm:CrossIndustryInvoice")
            && xml.text.contains("urn:cen.eu:en16931:2017")
    );

    // A partial credit note; too much refused.
    let number = list[0]["number"].as_str().unwrap();
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/invoices/{number}/credit-notes"),
        Some(json!({"lines": [{"description": "Geste commercial", "net_cents": 100}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["gross"], -120);
    let r = call(
        &t,
        &compta,
        Method::POST,
        &format!("/api/v1/billing/invoices/{number}/credit-notes"),
        Some(json!({"lines": [{"description": "Tout", "net_cents": 100000}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The pages: the accountant's run page, the household's invoices.
    let s = t.session_for(&compta_user).await;
    let page = t
        .page(
            Method::GET,
            &format!("/comptabilite/facturation?periode={last_month}"),
            Some(&s),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Déjà émises") && page.text.contains(number),
        "{}",
        page.text
    );
    let bad = t
        .page(
            Method::GET,
            "/comptabilite/facturation?periode=mars",
            Some(&s),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("id=\"periode-erreur\""));
    // The month under way cannot be issued yet: the page says from when,
    // and offers no button.
    let this_month = regie::social::today().format("%Y-%m").to_string();
    let current = t
        .page(
            Method::GET,
            &format!("/comptabilite/facturation?periode={this_month}"),
            Some(&s),
            None,
        )
        .await;
    assert!(
        current.text.contains("n'est pas terminé"),
        "{}",
        current.text
    );
    assert!(
        !current.text.contains("Émettre les factures de"),
        "{}",
        current.text
    );
    let fs = t.session_for(&family).await;
    let home = t.page(Method::GET, "/mon-espace", Some(&fs), None).await;
    assert!(
        home.text.contains("Mes factures") && home.text.contains(number),
        "{}",
        home.text
    );
    assert!(!home.text.contains(theirs));
    // A list a household reads: the month in words, where it stands, no
    // tax columns.
    assert!(home.text.contains("Facture de "), "{}", home.text);
    assert!(
        home.text.contains("à payer avant le") || home.text.contains("payée"),
        "{}",
        home.text
    );
    assert!(!home.text.contains(">HT<") && !home.text.contains(">TVA<"));
    let own_pdf = t
        .page(Method::GET, &format!("/factures/{number}"), Some(&fs), None)
        .await;
    assert_eq!(own_pdf.header("content-type"), Some("application/pdf"));
    let other_pdf = t
        .page(Method::GET, &format!("/factures/{theirs}"), Some(&fs), None)
        .await;
    assert_eq!(other_pdf.status, StatusCode::NOT_FOUND);
}
