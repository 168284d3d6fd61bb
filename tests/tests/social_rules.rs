//! The social tariff's rules: published by an admin after a preview, never
//! changed afterwards, readable by anyone (the rules in force and older
//! versions), and the version in force found by date.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use regie::platform::auth::Role;
use regie_tests::TestApp;
use serde_json::json;
use social_tariff::rules::EXAMPLE;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The example, under another délibération and period.
fn version(numero: &str, from: &str, to: Option<&str>) -> String {
    let mut doc = EXAMPLE
        .replace(r#"numero = "2026-045""#, &format!(r#"numero = "{numero}""#))
        .replace(r#"du = "2026-04-01""#, &format!(r#"du = "{from}""#));
    if let Some(to) = to {
        doc = doc.replace(
            &format!(r#"du = "{from}""#),
            &format!("du = \"{from}\"\nau = \"{to}\""),
        );
    }
    doc
}

#[tokio::test]
async fn rules_are_previewed_published_and_read_by_anyone() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let (admin_token, agent_token) = (t.token_for(&admin).await, t.token_for(&agent).await);

    let none = t
        .api(Method::GET, "/api/v1/social-tariff/rules", None, None)
        .await;
    assert_eq!((none.status, none.json()), (StatusCode::OK, json!([])));
    let page = t
        .page(Method::GET, "/tarif-social/regles", None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Aucune règle n'est en vigueur"));

    // Preview: told in French, or refused with the reason.
    let ok = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules/preview",
            Some(&admin_token),
            Some(json!({"document": EXAMPLE})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.text.contains("délibération n° 2026-045 du 12 mars 2026"));
    let bad = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules/preview",
            Some(&admin_token),
            Some(json!({"document": EXAMPLE.replace("max = 800", "max = 100")})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("croître"), "{}", bad.text);

    // Only an admin publishes; nothing is stored from a refusal.
    let refused = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&agent_token),
            Some(json!({"document": EXAMPLE})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            None,
            Some(json!({"document": EXAMPLE})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let broken = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&admin_token),
            Some(json!({"document": "[deliberation"})),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(social_tariff::rule_sets(t.db()).await.unwrap().is_empty());

    let first = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&admin_token),
            Some(json!({"document": version("2026-045", "2026-04-01", Some("2027-03-31"))})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json()["version"], 1);
    let second = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&admin_token),
            Some(json!({"document": version("2027-012", "2027-04-01", None)})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);

    // The version in force by date, bounds included.
    let at = |d: &'static str| {
        let db = t.db().clone();
        async move {
            social_tariff::rule_set_in_force(&db, day(d))
                .await
                .unwrap()
                .map(|r| r.rules.deliberation.numero)
        }
    };
    assert_eq!(at("2026-03-31").await, None);
    assert_eq!(at("2026-04-01").await.as_deref(), Some("2026-045"));
    assert_eq!(at("2027-03-31").await.as_deref(), Some("2026-045"));
    assert_eq!(at("2027-04-01").await.as_deref(), Some("2027-012"));
    assert_eq!(at("2030-01-01").await.as_deref(), Some("2027-012"));

    // Anyone reads every version, newest first; the journal says who.
    let list = t
        .api(Method::GET, "/api/v1/social-tariff/rules", None, None)
        .await;
    let list = list.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["deliberation"], "2027-012");
    let v1 = t
        .api(Method::GET, "/api/v1/social-tariff/rules/1", None, None)
        .await;
    assert_eq!(v1.json()["effective_to"], "2027-03-31");
    assert_eq!(
        t.api(Method::GET, "/api/v1/social-tariff/rules/99", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = t
        .page(Method::GET, "/tarif-social/regles/1", None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("délibération n° 2026-045")
            && page.text.contains("traitement algorithmique")
    );
    let journal: Vec<String> =
        sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'rule_set.publish'")
            .fetch_all(t.db().pool())
            .await
            .unwrap();
    assert_eq!(journal, ["admin", "admin"]);
}

#[tokio::test]
async fn the_admin_page_previews_and_publishes() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let page = t
        .page(Method::GET, "/admin/tarif-social", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("2026-045"), "the example to start from");

    let bad = EXAMPLE.replace(
        r#"niveau = "N2"
"#,
        r#"niveau = "N7"
"#,
    );
    let a = t
        .page(
            Method::POST,
            "/admin/tarif-social/apercu",
            Some(&s),
            Some(&[("csrf_token", &s.csrf), ("document", &bad)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text.contains("document-erreur") && a.text.contains("N7"),
        "{}",
        a.text
    );
    let a = t
        .page(
            Method::POST,
            "/admin/tarif-social/apercu",
            Some(&s),
            Some(&[("csrf_token", &s.csrf), ("document", EXAMPLE)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text.contains("Aperçu") && a.text.contains("10,00 € par mois"));
    assert!(
        social_tariff::rule_sets(t.db()).await.unwrap().is_empty(),
        "a preview publishes nothing"
    );

    // Without the CSRF token, nothing.
    let a = t
        .page(
            Method::POST,
            "/admin/tarif-social",
            Some(&s),
            Some(&[("document", EXAMPLE)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = t
        .page(
            Method::POST,
            "/admin/tarif-social",
            Some(&s),
            Some(&[("csrf_token", &s.csrf), ("document", EXAMPLE)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    assert_eq!(a.header("location"), Some("/tarif-social/regles/1"));
    let public = t
        .page(Method::GET, "/tarif-social/regles", None, None)
        .await;
    assert!(
        public.text.contains("Version 1"),
        "in force since 1 April 2026"
    );

    // A social agent may not reach the admin page.
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let sa = t.session_for(&agent).await;
    let a = t
        .page(Method::GET, "/admin/tarif-social", Some(&sa), None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}
