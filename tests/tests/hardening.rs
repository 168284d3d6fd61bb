//! What a stranger types that nothing may store: a NUL byte or another
//! control character, in the path, the query, a JSON or a form body, is
//! refused before any handler with the field named, the same on SQLite and
//! PostgreSQL (which cannot store a NUL and answered 500).
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use regie::platform::auth::Role;
use regie_tests::TestApp;

#[tokio::test]
async fn control_characters_are_refused_with_the_field_named() {
    let t = TestApp::new().await;
    let compta = t.user("compta", &[Role::Accountant]).await;
    let token = t.token_for(&compta).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let json = |uri: &str, body: &str, bearer: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(tk) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {tk}"));
        }
        b.body(Body::from(body.to_owned())).unwrap()
    };
    // Unauthenticated: the token endpoint and the login form.
    let r = t
        .send(json(
            "/api/v1/auth/token",
            r#"{"username": "a\u0000b", "password": "x"}"#,
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("username : caractère de contrôle refusé"),
        "{}",
        r.text
    );
    let r = t
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/connexion")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("identifiant=a%00b&mot_de_passe=x&csrf_token=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text
            .contains("Identifiant : caractère de contrôle refusé")
            && r.text.contains("<html"),
        "{}",
        r.text
    );
    // An invoice number in the path, an audit filter in the query.
    let r = t
        .api(
            Method::GET,
            "/api/v1/billing/invoices/FA%00",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("chemin"), "{}", r.text);
    let r = t
        .api(Method::GET, "/api/v1/audit?entity=%00", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("entity : caractère"), "{}", r.text);
    // Deep in a JSON body: named by its path; an escape sequence too.
    let r = t
        .send(json(
            "/api/v1/billing/accounts",
            r#"{"kind": "household", "name": "Famille \u001b[31mMartin", "address": "3 rue", "postcode": "35000", "town": "Rennes"}"#,
            Some(&token),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("name : caractère"), "{}", r.text);
    // Tabs and line breaks of a text area pass.
    let r = t
        .send(json(
            "/api/v1/billing/accounts",
            r#"{"kind": "household", "name": "Famille Martin", "address": "3 rue des Lilas\nBâtiment B", "postcode": "35000", "town": "Rennes"}"#,
            Some(&token),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_control_character_in_a_delivery_is_refused_by_the_dry_run_as_by_the_import() {
    let t = TestApp::new().await;
    let actor = regie_core::audit::Actor::system("test");
    let dir = regie_tests::modified_fixture("t_fibre.csv", |lines| {
        lines[1] = lines[1].replacen("FO18", "FO\u{0}18", 1);
    });
    let dry = inventory::service::import(t.db(), &actor, dir.path(), true)
        .await
        .unwrap();
    let refused: Vec<_> = dry
        .report
        .issues
        .iter()
        .filter(|i| i.reason.contains("caractère de contrôle"))
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", dry.report.issues);
    assert_eq!(
        (
            refused[0].file.as_str(),
            refused[0].line,
            refused[0].field.as_str()
        ),
        ("t_fibre.csv", 2, "fo_code")
    );
    // What the dry run says is what the import does: no 500, no surprise.
    let real = inventory::service::import(t.db(), &actor, dir.path(), false)
        .await
        .unwrap();
    assert_eq!(
        real.report
            .issues
            .iter()
            .filter(|i| i.reason.contains("caractère de contrôle"))
            .count(),
        1
    );
    assert_eq!(dry.report.has_errors(), real.report.has_errors());
}

#[tokio::test]
async fn a_request_id_is_kept_only_when_plain_and_refusals_are_in_french() {
    let t = TestApp::new().await;
    let with_id = |id: &str| {
        Request::builder()
            .uri("/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let kept = t.send(with_id("abc-123_x.y")).await;
    assert_eq!(kept.header("x-request-id"), Some("abc-123_x.y"));
    // A forged one (a fake log line, a very long one) is replaced.
    for forged in ["abc<def>", "x INFO forged=entry", &"a".repeat(200)] {
        let r = t.send(with_id(forged)).await;
        let id = r.header("x-request-id").unwrap_or_default().to_owned();
        assert!(id != forged && id.len() == 36, "{forged:?} → {id}");
    }
    // A statement over the body limit: refused in French, as JSON.
    let compta = t.user("compta", &[Role::Accountant]).await;
    let token = t.token_for(&compta).await;
    let big = format!(
        "date;montant;libelle\n{}",
        "01/12/2026;1,00;X\n".repeat(200_000)
    );
    let r = t
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/billing/imports/transfers")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.text.contains("trop volumineux") && r.header("content-type") == Some("application/json"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_booked_once_per_key_however_often_it_is_sent() {
    let t = TestApp::new().await;
    let compta = t.user("compta", &[Role::Accountant]).await;
    let token = t.token_for(&compta).await;
    let account = regie_tests::billing_account(t.db(), "Famille Martin", None).await;
    let body =
        serde_json::json!({"account": account, "method": "cash", "amount_cents": 1000}).to_string();
    let call = |key: Option<&'static str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/billing/payments")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(k) = key {
            b = b.header("Idempotency-Key", k);
        }
        t.send(b.body(Body::from(body.clone())).unwrap())
    };
    // Without a key: refused, in French, nothing booked.
    let r = call(None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("Idempotency-Key : en-tête obligatoire"),
        "{}",
        r.text
    );
    // Thirty at once with one key: one payment.
    let answers =
        futures::future::join_all((0..30).map(|_| call(Some("paiement-guichet-1")))).await;
    assert!(
        answers
            .iter()
            .all(|a| a.status.is_success() || a.status == StatusCode::CONFLICT),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().any(|a| a.status == StatusCode::CREATED));
    let booked = billing::storage::ledger::payments(t.db(), &account)
        .await
        .unwrap();
    assert_eq!(booked.len(), 1);
    // Sent again later: the same payment, not a second.
    let again = call(Some("paiement-guichet-1")).await;
    assert_eq!(again.json()["number"], booked[0].number.as_str());
    assert_eq!(
        billing::storage::ledger::payments(t.db(), &account)
            .await
            .unwrap()
            .len(),
        1
    );
}
