//! Personal data of the social tariff: a scan is sealed at rest, opened
//! only by social staff, deleted when the appeal period ends (not while an
//! appeal is pending); applications go N years after the entitlement ends
//! and forgotten drafts sooner, each deletion logged without a name; a
//! household takes away all its data (JSON and page) and nobody else's;
//! the public indicators never show a count under 10. The retention runs
//! with a controllable clock.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::NaiveDate;
use regie::platform::auth::Role;
use regie_tests::{granted_household, publish_example_rules, Answer, TestApp};
use serde_json::{json, Value};
use social_tariff::privacy::Policy;

const PDF: &str = "%PDF-1.4\n% attestation de paiement CAF, septembre 2026\n%%EOF\n";

async fn upload(t: &TestApp, token: &str, code: &str, description: &str, content: &str) -> Answer {
    let boundary = "----regie-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{description}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"caf.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/social-tariff/applications/{code}/scans"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    t.send(req).await
}

async fn get(t: &TestApp, token: Option<&str>, uri: &str) -> Answer {
    t.api(Method::GET, uri, token, None).await
}

/// The application code of a household's only application.
async fn application_of(t: &TestApp, agent: &str, household: &str) -> String {
    let list = get(
        t,
        Some(agent),
        &format!("/api/v1/social-tariff/applications?household={household}"),
    )
    .await
    .json();
    list.as_array()
        .and_then(|l| l.first())
        .and_then(|a| a["code"].as_str())
        .unwrap_or_else(|| panic!("no application for {household}: {list}"))
        .to_owned()
}

#[tokio::test]
async fn scans_are_sealed_and_go_when_the_appeal_period_ends() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let (household, decision) =
        granted_household(&t, &agent, "Awa Diallo", "1 rue des Lilas", json!({})).await;
    let code = application_of(&t, &agent, &household).await;

    // Not a PDF/JPEG/PNG, or no description: refused, nothing stored.
    let bad = upload(&t, &agent, &code, "attestation", "MZ\u{90} not a document").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(bad.text.contains("PDF, JPEG ou PNG"), "{}", bad.text);
    let bad = upload(&t, &agent, &code, " ", PDF).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = upload(&t, &agent, &code, "attestation CAF", PDF).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let scan = r.json();
    assert_eq!(scan["content_type"], "application/pdf");
    let id = scan["id"].as_i64().unwrap();

    // Sealed at rest: neither the text nor its base64 is in the database.
    let stored: String = sqlx::query_scalar("SELECT sealed FROM st_scans WHERE id = $1")
        .bind(id)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    assert!(!stored.contains("PDF") && !stored.contains("attestation"));
    use base64::Engine;
    let plain_b64 = base64::engine::general_purpose::STANDARD.encode(PDF);
    assert!(!stored.contains(plain_b64.get(..20).unwrap()));

    // Opened for social staff only.
    let back = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/scans/{id}"),
    )
    .await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.text, PDF);
    assert_eq!(back.header("content-type"), Some("application/pdf"));
    for role in [Role::Technician, Role::Accountant, Role::Household] {
        let u = t.user(&format!("{role:?}").to_lowercase(), &[role]).await;
        let token = t.token_for(&u).await;
        let r = get(
            &t,
            Some(&token),
            &format!("/api/v1/social-tariff/scans/{id}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role:?}");
    }

    let d = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/decisions/{decision}"),
    )
    .await
    .json()["decision"]
        .clone();
    let appeal_until: NaiveDate = d["appeal_until"].as_str().unwrap().parse().unwrap();
    let valid_to: NaiveDate = d["valid_to"].as_str().unwrap().parse().unwrap();
    let policy = Policy::default();

    // The last day of the appeal period it is kept; the day after it goes.
    let run = social_tariff::retention(t.db(), appeal_until, policy)
        .await
        .unwrap();
    assert_eq!(run.scans, 0);
    let run = social_tariff::retention(t.db(), appeal_until.succ_opt().unwrap(), policy)
        .await
        .unwrap();
    assert_eq!((run.scans, run.applications), (1, 0));
    let gone = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/scans/{id}"),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = social_tariff::retention(t.db(), appeal_until.succ_opt().unwrap(), policy)
        .await
        .unwrap();
    assert_eq!(again, social_tariff::privacy::RetentionRun::default());

    // The application stays while the right runs and N years after.
    let end = valid_to
        .checked_add_months(chrono::Months::new(12 * policy.application_years))
        .unwrap();
    let run = social_tariff::retention(t.db(), end, policy).await.unwrap();
    assert_eq!(run.applications, 0);
    let run = social_tariff::retention(t.db(), end.succ_opt().unwrap(), policy)
        .await
        .unwrap();
    assert_eq!(run.applications, 1);
    let r = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/applications/{code}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The log says what went and why, and names no one.
    let log = get(&t, Some(&agent), "/api/v1/social-tariff/deletions").await;
    assert_eq!(log.status, StatusCode::OK);
    let entries = log.json();
    assert_eq!(entries.as_array().unwrap().len(), 2, "{entries}");
    assert_eq!(entries[0]["reference"], code);
    assert!(entries[1]["rule"]
        .as_str()
        .unwrap()
        .contains("délai de recours"));
    assert!(!log.text.contains("Awa") && !log.text.contains("Lilas"));
    let tech = t.user("tech2", &[Role::Technician]).await;
    let tech = t.token_for(&tech).await;
    assert_eq!(
        get(&t, Some(&tech), "/api/v1/social-tariff/deletions")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_pending_appeal_keeps_the_scan_and_forgotten_drafts_go() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let (household, decision) =
        granted_household(&t, &agent, "Jean Martin", "2 rue des Lilas", json!({})).await;
    let code = application_of(&t, &agent, &household).await;
    assert_eq!(
        upload(&t, &agent, &code, "avis CAF", PDF).await.status,
        StatusCode::CREATED
    );
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/social-tariff/decisions/{decision}/appeals"),
            Some(&agent),
            Some(json!({"grounds": "Le niveau accordé ne tient pas compte de ma situation.", "channel": "counter"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/decisions/{decision}"),
    )
    .await
    .json()["decision"]
        .clone();
    let after: NaiveDate = d["appeal_until"].as_str().unwrap().parse().unwrap();
    let run = social_tariff::retention(t.db(), after + chrono::Days::new(30), Policy::default())
        .await
        .unwrap();
    assert_eq!(run.scans, 0, "an appeal is pending");

    // A draft nobody touches goes after the configured days.
    let family = t.user("famille", &[Role::Household]).await;
    let f = t.token_for(&family).await;
    let draft = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/applications",
            Some(&f),
            Some(json!({"nom": "Famille Roux"})),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
    let today = regie::social::today();
    let policy = Policy {
        application_years: 2,
        draft_days: 30,
    };
    let run = social_tariff::retention(t.db(), today + chrono::Days::new(29), policy)
        .await
        .unwrap();
    assert_eq!(run.drafts, 0);
    let run = social_tariff::retention(t.db(), today + chrono::Days::new(31), policy)
        .await
        .unwrap();
    assert_eq!(run.drafts, 1);
}

#[tokio::test]
async fn a_household_takes_away_its_data_and_nobody_elses() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let family = t.user("famille", &[Role::Household]).await;
    let f = t.token_for(&family).await;
    let s = t.session_for(&family).await;
    let mine = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/applications",
            Some(&f),
            Some(
                json!({"nom": "Inès Roux", "adresse": "3 rue des Lilas", "code_postal": "35000",
                "commune": "Rennes", "taille_foyer": "2", "prestations": ["AAH"],
                "contact": "courrier", "submit": true}),
            ),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    let my_code = mine.json()["code"].as_str().unwrap().to_owned();
    regie_tests::grant_application(&t, &agent, &my_code).await;
    granted_household(&t, &agent, "Paul Blanc", "4 rue des Lilas", json!({})).await;

    let data = get(&t, Some(&f), "/api/v1/social-tariff/my-data").await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.text);
    let d: Value = data.json();
    assert_eq!(d["applications"].as_array().unwrap().len(), 1);
    assert_eq!(d["applications"][0]["code"], my_code);
    assert_eq!(d["decisions"].as_array().unwrap().len(), 1);
    assert!(data.text.contains("Inès Roux") && !data.text.contains("Paul Blanc"));

    let page = t
        .page(Method::GET, "/mon-espace/donnees", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Inès Roux") && page.text.contains(&my_code));
    assert!(!page.text.contains("Paul Blanc"));
    let file = t
        .page(Method::GET, "/mon-espace/donnees.json", Some(&s), None)
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(file
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    let parsed: Value = serde_json::from_str(&file.text).unwrap();
    assert_eq!(parsed["applications"][0]["code"], my_code);

    // An agent answers a request made at the counter, for one household.
    let household = d["households"][0]["code"].as_str().unwrap();
    let r = get(&t, Some(&agent), "/api/v1/social-tariff/my-data").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = get(
        &t,
        Some(&agent),
        &format!("/api/v1/social-tariff/my-data?household={household}"),
    )
    .await;
    assert_eq!(r.json()["applications"][0]["code"], my_code);
    assert!(!r.text.contains("Paul Blanc"));
    // Nobody else's role reads it.
    let compta = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta).await;
    assert_eq!(
        get(
            &t,
            Some(&compta),
            &format!("/api/v1/social-tariff/my-data?household={household}")
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn public_indicators_never_show_a_count_under_ten() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    granted_household(&t, &agent, "Awa Diallo", "1 rue des Lilas", json!({})).await;
    for i in 0..9 {
        let r = t
            .api(
                Method::POST,
                "/api/v1/social-tariff/applications",
                Some(&agent),
                Some(json!({"nom": format!("Foyer {i}"), "adresse": format!("{} avenue du Parc", i + 10),
                    "code_postal": "35000", "commune": "Rennes", "taille_foyer": "1",
                    "prestations": ["RSA"], "contact": "courrier", "submit": true, "consent": true})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let month = regie::social::today().format("%Y-%m").to_string();
    let r = get(&t, None, "/api/v1/social-tariff/indicators").await;
    assert_eq!(r.status, StatusCode::OK, "public, no token");
    let months = r.json();
    assert_eq!(months.as_array().unwrap().len(), 12);
    let this = &months[11];
    assert_eq!(this["month"], month);
    assert_eq!(this["applications"], 10, "{this}");
    assert_eq!(this["granted"], "<10");
    assert_eq!(this["refused"], "<10");
    assert_eq!(months[0]["applications"], "<10", "zero is under ten too");
    let page = t
        .page(Method::GET, "/tarif-social/indicateurs", None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("moins de 10") && page.text.contains(">10<"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Awa"));
}

#[tokio::test]
async fn billing_lists_the_rights_changing_in_a_period_without_their_reasons() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let (household, decision) =
        granted_household(&t, &agent, "Awa Diallo", "1 rue des Lilas", json!({})).await;
    let compta = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta).await;
    let today = regie::social::today();
    let month_ago = today - chrono::Days::new(30);
    let r = get(
        &t,
        Some(&compta),
        &format!("/api/v1/social-tariff/entitlements?from={month_ago}&to={today}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.json();
    assert_eq!(list[0]["household"], household);
    assert_eq!(list[0]["decision_ref"], decision);
    for secret in ["AAH", "allocation", "prestation", "quotient", "MDPH", "Awa"] {
        assert!(!r.text.contains(secret), "{secret} in {}", r.text);
    }
    for bad in [
        format!("from={today}&to={month_ago}"),
        "from=2026-01-01&to=2027-06-01".to_owned(),
        "from=hier&to=2026-01-01".to_owned(),
    ] {
        let r = get(
            &t,
            Some(&compta),
            &format!("/api/v1/social-tariff/entitlements?{bad}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let tech = t.user("tech", &[Role::Technician]).await;
    let tech = t.token_for(&tech).await;
    let r = get(
        &t,
        Some(&tech),
        &format!("/api/v1/social-tariff/entitlements?from={month_ago}&to={today}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_agent_attaches_a_scan_from_the_review_page() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent_user = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent_user).await;
    let s = t.session_for(&agent_user).await;
    publish_example_rules(&t, &admin).await;
    let (household, _) =
        granted_household(&t, &agent, "Awa Diallo", "1 rue des Lilas", json!({})).await;
    let code = application_of(&t, &agent, &household).await;
    let page = t
        .page(
            Method::GET,
            &format!("/instruction/demandes/{code}"),
            Some(&s),
            None,
        )
        .await;
    assert!(
        page.text.contains("Copies de justificatifs"),
        "{}",
        page.text
    );
    assert!(page.text.contains("enctype=\"multipart/form-data\""));

    let send = |description: &'static str, content: &'static str| {
        let boundary = "----regie-page-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{description}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"avis.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n{content}\r\n--{boundary}--\r\n",
            s.csrf
        );
        Request::builder()
            .method(Method::POST)
            .uri(format!("/instruction/demandes/{code}/copies"))
            .header(header::COOKIE, &s.cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    let bad = t.send(send("avis CAF", "GIF89a")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("id=\"fichier-erreur\""), "{}", bad.text);
    // Each error beside its own field: without a description, the
    // description is at fault, not the (good) file.
    let undescribed = t.send(send(" ", PDF)).await;
    assert_eq!(undescribed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        undescribed.text.contains("id=\"description-erreur\"")
            && !undescribed.text.contains("id=\"fichier-erreur\""),
        "{}",
        undescribed.text
    );
    let ok = t.send(send("avis CAF", PDF)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.text.contains("déposée et chiffrée") && ok.text.contains("avis.pdf"));
    let id = hidden_scan_id(&ok.text);
    let file = t
        .page(
            Method::GET,
            &format!("/instruction/copies/{id}"),
            Some(&s),
            None,
        )
        .await;
    assert_eq!(file.text, PDF);
    // Without the form's token, nothing is stored.
    let forged = Request::builder()
        .method(Method::POST)
        .uri(format!("/instruction/demandes/{code}/copies"))
        .header(header::COOKIE, &s.cookie)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(Body::from("--x--\r\n"))
        .unwrap();
    assert_eq!(t.send(forged).await.status, StatusCode::FORBIDDEN);
}

/// The id of the first scan linked from a page.
fn hidden_scan_id(html: &str) -> String {
    let (_, from) = html.split_once("/instruction/copies/").unwrap();
    from.chars().take_while(char::is_ascii_digit).collect()
}
