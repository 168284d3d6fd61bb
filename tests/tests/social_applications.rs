//! Social-tariff applications from filing to decision letter, through each
//! channel (online, counter, paper then entered), verified by a local stub
//! of the State's API Particulier or by documents an agent saw; appeals
//! reviewed by another agent; what an accountant may see.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::time::Duration;

use axum::extract::Query;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use regie::platform::auth::Role;
use regie::platform::config::ApiParticulierConfig;
use regie_tests::{Answer, TestApp};
use serde_json::{json, Value};

/// A stub of API Particulier v3 answering as documented: by birth name,
/// DIALLO receives the RSA, MARTIN has a quotient familial of 640 €,
/// LENT never answers in time, CASSE answers garbage, INCONNU is unknown.
async fn stub() -> String {
    async fn answer(
        uri: axum::http::Uri,
        headers: axum::http::HeaderMap,
        Query(q): Query<Vec<(String, String)>>,
    ) -> axum::response::Response {
        let name = q
            .iter()
            .find(|(k, _)| k == "nomNaissance")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let has = |k: &str| q.iter().any(|(key, _)| key == k);
        if headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some("Bearer jeton-de-test")
            || !has("recipient")
            || !has("prenoms[]")
        {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"errors": [{"code": "00101", "title": "Interdit", "detail": "jeton ou paramètres absents"}]}))).into_response();
        }
        let path = uri.path().to_owned();
        let id = [("x-request-id", "req-4242")];
        match name.as_str() {
            "LENT" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, "{}").into_response()
            }
            "CASSE" => (StatusCode::OK, id, "{\"data\": {\"est_benefic").into_response(),
            "INCONNU" => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"errors": [{"code": "37003", "title": "Entité non trouvée", "detail": "Dossier allocataire inexistant."}]})),
            )
                .into_response(),
            _ if path.contains("quotient_familial") => {
                let qf = if name == "MARTIN" { 640 } else { 1200 };
                (StatusCode::OK, id, axum::Json(json!({"data": {"quotient_familial": {"valeur": qf, "annee": 2026, "mois": 10}}, "links": {}, "meta": {}}))).into_response()
            }
            _ => (StatusCode::OK, id, axum::Json(json!({"data": {"est_beneficiaire": name == "DIALLO", "avec_majoration": false}, "links": {}, "meta": {}}))).into_response(),
        }
    }
    let app = axum::Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

async fn app_with_stub() -> TestApp {
    let url = stub().await;
    TestApp::with_config(|c| {
        c.api_particulier = Some(ApiParticulierConfig {
            url,
            token: Some("jeton-de-test".into()),
            recipient: "21350238800019".into(),
            timeout_ms: 1000,
        })
    })
    .await
}

struct Cast {
    admin: String,
    agent: String,
    second_agent: String,
    accountant: String,
    technician: String,
    household: String,
}

async fn cast(t: &TestApp) -> Cast {
    let mut tokens = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("agent", Role::SocialAgent),
        ("agente2", Role::SocialAgent),
        ("compta", Role::Accountant),
        ("tech", Role::Technician),
        ("famille", Role::Household),
    ] {
        let u = t.user(name, &[role]).await;
        tokens.push(t.token_for(&u).await);
    }
    let mut it = tokens.into_iter();
    let mut next = || it.next().unwrap();
    let c = Cast {
        admin: next(),
        agent: next(),
        second_agent: next(),
        accountant: next(),
        technician: next(),
        household: next(),
    };
    let published = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&c.admin),
            Some(json!({"document": social_tariff::rules::EXAMPLE})),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    c
}

fn form(name: &str) -> Value {
    json!({
        "nom": name,
        "adresse": "12 rue de l'Église",
        "code_postal": "35000",
        "commune": "Rennes",
        "taille_foyer": "3",
        "prestations": ["RSA"],
        "contact": "courrier",
    })
}

fn with_identity(mut v: Value, birth_name: &str) -> Value {
    let o = v.as_object_mut().unwrap();
    o.insert("verification_auto".into(), json!("on"));
    o.insert("nom_naissance".into(), json!(birth_name));
    o.insert("prenoms".into(), json!("Awa Marie"));
    o.insert("date_naissance".into(), json!("14/07/1980"));
    o.insert("sexe".into(), json!("F"));
    o.insert("commune_naissance".into(), json!("35238"));
    v
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().unwrap() {
        a.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    a
}

async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.api(Method::POST, uri, Some(token), Some(body)).await
}

async fn get(t: &TestApp, token: &str, uri: &str) -> Answer {
    t.api(Method::GET, uri, Some(token), None).await
}

fn proposal(detail: &Value) -> String {
    detail["evaluation"]["proposal"]["proposal"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn online_application_verified_by_the_state_decided_and_explained() {
    let t = app_with_stub().await;
    let c = cast(&t).await;

    // A draft first: incomplete is fine, and staff do not see it.
    let draft = post(
        &t,
        &c.household,
        "/api/v1/social-tariff/applications",
        json!({"nom": "Awa Diallo"}),
    )
    .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
    let code = draft.json()["code"].as_str().unwrap().to_owned();
    assert_eq!(draft.json()["status"], "draft");
    let staff_list = get(&t, &c.agent, "/api/v1/social-tariff/applications").await;
    assert_eq!(staff_list.json(), json!([]));

    // Sending it needs every field: each error names its field.
    let incomplete = t
        .api(
            Method::PUT,
            &format!("/api/v1/social-tariff/applications/{code}"),
            Some(&c.household),
            Some(json!({"nom": "Awa Diallo", "submit": true})),
        )
        .await;
    assert_eq!(incomplete.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = incomplete.json();
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "adresse",
            "code_postal",
            "commune",
            "taille_foyer",
            "prestations",
            "contact"
        ]
    );

    let sent = t
        .api(
            Method::PUT,
            &format!("/api/v1/social-tariff/applications/{code}"),
            Some(&c.household),
            Some(merge(
                with_identity(form("Awa Diallo"), "DIALLO"),
                json!({"submit": true}),
            )),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(sent.json()["status"], "submitted");
    assert_eq!(sent.json()["channel"], "online");
    // The identity is never shown back.
    assert!(
        !sent.text.contains("14/07/1980") && !sent.text.contains("1980-07-14"),
        "{}",
        sent.text
    );
    // A sent application no longer changes.
    let again = t
        .api(
            Method::PUT,
            &format!("/api/v1/social-tariff/applications/{code}"),
            Some(&c.household),
            Some(form("Awa Diallo")),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.text.contains("ne peut plus être modifiée"),
        "{}",
        again.text
    );

    // The agent sees a proposal waiting for verification.
    let detail = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}"),
    )
    .await
    .json();
    assert_eq!(proposal(&detail), "incomplete");
    assert_eq!(detail["verification_possible"], true);
    let early = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/decision"),
        json!({"outcome": "granted"}),
    )
    .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(early.text.contains("à vérifier"), "{}", early.text);

    // The State answers; its reference is kept; the identity is erased.
    let verified = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    assert_eq!(verified.json()["checks"][0]["answered"], true);
    assert!(verified.text.contains("req-4242"), "{}", verified.text);
    let twice = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.text.contains("déjà eu lieu"), "{}", twice.text);

    // The dwelling is checked by the agent; the engine now proposes N1.
    let area = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/area"),
        json!({"connectable": true}),
    )
    .await;
    assert_eq!(area.status, StatusCode::OK, "{}", area.text);
    let detail = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}"),
    )
    .await
    .json();
    assert_eq!(
        detail["evaluation"]["proposal"],
        json!({"proposal": "grant", "level": "N1"})
    );
    let rsa = &detail["evaluation"]["criteria"][0];
    assert_eq!(rsa["verdict"], "met");
    assert_eq!(rsa["source"]["kind"], "service");
    assert_eq!(rsa["source"]["answer_id"], "req-4242");

    let decided = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/decision"),
        json!({"outcome": "granted"}),
    )
    .await;
    assert_eq!(decided.status, StatusCode::CREATED, "{}", decided.text);
    let d = decided.json();
    let number = d["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("DEC-"), "{number}");
    assert_eq!(
        (
            d["level"].as_str(),
            d["validated_by"].as_str(),
            d["rule_version"].as_i64()
        ),
        (Some("N1"), Some("agent"), Some(1))
    );
    // A second decision on the same application is refused.
    let second = post(
        &t,
        &c.second_agent,
        &format!("/api/v1/social-tariff/applications/{code}/decision"),
        json!({"outcome": "granted"}),
    )
    .await;
    assert_eq!(second.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The household reads the decision, its reasons and how to appeal.
    let mine = get(
        &t,
        &c.household,
        &format!("/api/v1/social-tariff/decisions/{number}"),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let letter = mine.json()["letter"].to_string();
    for expected in [
        "acceptée",
        "traitement algorithmique",
        "L311-3-1",
        "recours",
        "délibération n° 2026-045",
        "selon l'API Particulier",
    ] {
        assert!(
            letter.contains(expected),
            "{expected} missing from {letter}"
        );
    }
    let pdf = t
        .api(
            Method::GET,
            &format!("/api/v1/social-tariff/decisions/{number}/letter.pdf"),
            Some(&c.household),
            None,
        )
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.text.starts_with("%PDF-"));

    // Accountants see the entitlement, never what opened it; technicians nothing.
    let household = d["household"].as_str().unwrap();
    let e = get(
        &t,
        &c.accountant,
        &format!("/api/v1/social-tariff/entitlements/{household}"),
    )
    .await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    assert_eq!(e.json()["level"], "N1");
    assert_eq!(e.json()["decision_ref"], number.as_str());
    for secret in [
        "RSA",
        "revenu",
        "quotient",
        "prestation",
        "Diallo",
        "DIALLO",
    ] {
        assert!(
            !e.text.contains(secret),
            "{secret} leaked to the accountant: {}",
            e.text
        );
    }
    for (who, uri) in [
        (
            &c.accountant,
            format!("/api/v1/social-tariff/applications/{code}"),
        ),
        (
            &c.accountant,
            format!("/api/v1/social-tariff/decisions/{number}"),
        ),
        (
            &c.technician,
            format!("/api/v1/social-tariff/entitlements/{household}"),
        ),
        (
            &c.technician,
            format!("/api/v1/social-tariff/applications/{code}"),
        ),
    ] {
        assert_eq!(
            get(&t, who, &uri).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
    // Another household does not know it exists.
    let other = t.user("voisin", &[Role::Household]).await;
    let other = t.token_for(&other).await;
    assert_eq!(
        get(
            &t,
            &other,
            &format!("/api/v1/social-tariff/decisions/{number}")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            &t,
            &other,
            &format!("/api/v1/social-tariff/applications/{code}")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // The audit journal holds each step with who made it.
    let audit = get(&t, &c.admin, "/api/v1/audit?entity=application").await;
    for action in [
        "application.draft",
        "application.submit",
        "application.verify",
        "application.area",
    ] {
        assert!(
            audit.text.contains(action),
            "{action} missing: {}",
            audit.text
        );
    }
}

#[tokio::test]
async fn the_state_failing_falls_back_to_documents_with_a_clear_message() {
    let t = app_with_stub().await;
    let c = cast(&t).await;
    for (name, expected) in [
        ("LENT", "n'a pas répondu dans le délai"),
        ("CASSE", "réponse illisible"),
        ("INCONNU", "ne connaît pas cette personne"),
    ] {
        let filed = post(
            &t,
            &c.agent,
            "/api/v1/social-tariff/applications",
            merge(
                with_identity(form(&format!("Personne {name}")), name),
                json!({"submit": true, "consent": true}),
            ),
        )
        .await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
        let code = filed.json()["code"].as_str().unwrap().to_owned();
        let v = post(
            &t,
            &c.agent,
            &format!("/api/v1/social-tariff/applications/{code}/verify"),
            json!({}),
        )
        .await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.text);
        let check = &v.json()["checks"][0];
        assert_eq!(check["answered"], false, "{name}");
        let said = check["result"].as_str().unwrap();
        assert!(
            said.contains(expected) && said.contains("vérifiez un justificatif"),
            "{name}: {said}"
        );
        // The declared fact stays to verify; the note is kept for the agent.
        let detail = get(
            &t,
            &c.agent,
            &format!("/api/v1/social-tariff/applications/{code}"),
        )
        .await
        .json();
        assert_eq!(proposal(&detail), "incomplete", "{name}");
        assert!(detail["application"]["notes"][0]
            .as_str()
            .unwrap()
            .contains(expected));
        // A document seen settles it.
        let doc = post(
            &t,
            &c.agent,
            &format!("/api/v1/social-tariff/applications/{code}/documents"),
            json!({"subject": "benefit", "benefit": "RSA", "received": true, "document": "attestation de paiement", "dated": "2026-10-05", "issuer": "CAF d'Ille-et-Vilaine"}),
        )
        .await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    }
    // Without a verification service configured, the agent is told so.
    let plain = TestApp::new().await;
    let c2 = cast(&plain).await;
    let filed = post(
        &plain,
        &c2.agent,
        "/api/v1/social-tariff/applications",
        merge(form("Awa Diallo"), json!({"submit": true, "consent": true})),
    )
    .await;
    let code = filed.json()["code"].as_str().unwrap().to_owned();
    let v = post(
        &plain,
        &c2.agent,
        &format!("/api/v1/social-tariff/applications/{code}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(v.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v.text.contains("record the documents seen"), "{}", v.text);
}

#[tokio::test]
async fn counter_and_paper_applications_with_documents_duplicates_and_an_appeal() {
    let t = TestApp::new().await;
    let c = cast(&t).await;

    // At the counter the household's consent is required.
    let no_consent = post(
        &t,
        &c.agent,
        "/api/v1/social-tariff/applications",
        merge(form("Jean Martin"), json!({"submit": true})),
    )
    .await;
    assert_eq!(no_consent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_consent.json()["fields"][0]["field"], "consent");
    let counter = post(
        &t,
        &c.agent,
        "/api/v1/social-tariff/applications",
        merge(
            form("Jean Martin"),
            json!({"submit": true, "consent": true, "prestations": [], "quotient_familial": "900"}),
        ),
    )
    .await;
    assert_eq!(counter.status, StatusCode::CREATED, "{}", counter.text);
    let a = counter.json();
    assert_eq!(
        (a["channel"].as_str(), a["entered_by"].as_str()),
        (Some("counter"), Some("agent"))
    );
    assert!(a["consent_at"].is_string());
    let code = a["code"].as_str().unwrap().to_owned();

    // A paper form for the same dwelling, entered later, shows as a duplicate.
    let paper = post(
        &t,
        &c.second_agent,
        "/api/v1/social-tariff/applications",
        merge(form("Julie Martin"), json!({"submit": true, "consent": true, "channel": "paper", "adresse": "12, Rue de l'Eglise"})),
    )
    .await;
    assert_eq!(paper.status, StatusCode::CREATED, "{}", paper.text);
    assert_eq!(paper.json()["channel"], "paper");
    let paper_code = paper.json()["code"].as_str().unwrap().to_owned();
    let detail = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{paper_code}"),
    )
    .await
    .json();
    let dups = detail["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0]["reference"], code.as_str());
    assert_eq!(dups[0]["why"], "demande pour le même logement");

    // The QF seen on a CAF certificate is above every bracket: refusal.
    for (uri, body) in [
        (
            "documents",
            json!({"subject": "quotient_familial", "value": 900, "document": "attestation de quotient familial", "dated": "2026-10-01", "issuer": "CAF"}),
        ),
        ("area", json!({"connectable": true})),
    ] {
        let r = post(
            &t,
            &c.agent,
            &format!("/api/v1/social-tariff/applications/{code}/{uri}"),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let detail = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}"),
    )
    .await
    .json();
    assert_eq!(proposal(&detail), "refuse");
    let qf = detail["evaluation"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "quotient_familial")
        .unwrap()
        .clone();
    assert_eq!(qf["verdict"], "not_met");
    assert!(
        qf["reason"]
            .as_str()
            .unwrap()
            .contains("au-dessus du plafond de 800 €"),
        "{qf}"
    );
    let granted = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/decision"),
        json!({"outcome": "granted"}),
    )
    .await;
    assert_eq!(granted.status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}/decision"),
        json!({"outcome": "refused"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CREATED, "{}", refused.text);
    let number = refused.json()["number"].as_str().unwrap().to_owned();
    let household = refused.json()["household"].as_str().unwrap().to_owned();

    // The household (met at the counter) appeals through the agent.
    let appeal = post(&t, &c.agent, &format!("/api/v1/social-tariff/decisions/{number}/appeals"), json!({"grounds": "Mon quotient a baissé depuis la naissance de mon fils ; voici l'attestation d'octobre."})).await;
    assert_eq!(appeal.status, StatusCode::CREATED, "{}", appeal.text);
    let id = appeal.json()["id"].as_i64().unwrap();
    assert_eq!(appeal.json()["channel"], "counter");
    let twice = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/decisions/{number}/appeals"),
        json!({"grounds": "encore"}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.text.contains("déjà en cours"), "{}", twice.text);

    // The agent who decided may not review it.
    let own = post(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/appeals/{id}/review"),
        json!({"overturn": true, "level": "N2", "reason": "attestation d'octobre"}),
    )
    .await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(own.text.contains("un autre agent"), "{}", own.text);
    let reviewed = post(&t, &c.second_agent, &format!("/api/v1/social-tariff/appeals/{id}/review"), json!({"overturn": true, "level": "N2", "reason": "Quotient de 700 € sur l'attestation d'octobre."})).await;
    assert_eq!(reviewed.status, StatusCode::OK, "{}", reviewed.text);
    let r = reviewed.json();
    assert_eq!(r["appeal"]["status"], "overturned");
    assert_eq!(r["appeal"]["reviewed_by"], "agente2");
    assert_eq!(r["new_decision"]["level"], "N2");
    assert_eq!(r["new_decision"]["supersedes"], number.as_str());
    let new_number = r["new_decision"]["number"].as_str().unwrap().to_owned();
    let closed = post(
        &t,
        &c.admin,
        &format!("/api/v1/social-tariff/appeals/{id}/review"),
        json!({"overturn": false, "reason": "x"}),
    )
    .await;
    assert_eq!(closed.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The history stays: both decisions, the new one's letter says why.
    let history = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/applications/{code}"),
    )
    .await
    .json();
    assert_eq!(history["decisions"].as_array().unwrap().len(), 2);
    let letter = get(
        &t,
        &c.agent,
        &format!("/api/v1/social-tariff/decisions/{new_number}"),
    )
    .await
    .text;
    assert!(
        letter.contains("fait suite à votre recours") && letter.contains(&number),
        "{letter}"
    );
    let e = get(
        &t,
        &c.accountant,
        &format!("/api/v1/social-tariff/entitlements/{household}"),
    )
    .await
    .json();
    assert_eq!(
        (e["level"].as_str(), e["monthly_price_cents"].as_i64()),
        (Some("N2"), Some(1000))
    );
    assert_eq!(e["decision_ref"], new_number.as_str());
}
