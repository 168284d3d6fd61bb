//! Renewals: reminders 60 and 15 days before an entitlement ends, planned
//! once whatever the number of runs, sent by e-mail through a real SMTP
//! server (aiosmtpd, from PyPI) when the household chose e-mail, otherwise
//! left as letters to print in the outbox; a renewal pre-filled from the
//! last application continues the right without a gap, and the grace
//! period holds while it is examined.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use regie::platform::auth::Role;
use regie_tests::smtp::smtp;
use regie_tests::{granted_household, publish_example_rules, Answer, TestApp};
use serde_json::{json, Value};

async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.api(Method::POST, uri, Some(token), Some(body)).await
}

#[tokio::test]
async fn reminders_are_planned_once_sent_or_printed_and_a_renewal_continues_the_right() {
    let server = smtp();
    let t = match &server {
        Some(s) => {
            let smtp = s.config();
            TestApp::with_config(|c| c.smtp = Some(smtp)).await
        }
        None => TestApp::new().await,
    };
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;

    let (by_mail, _) = granted_household(
        &t,
        &agent,
        "Awa Diallo",
        "1 rue des Lilas",
        json!({"contact": "courriel", "courriel": "awa@exemple.fr"}),
    )
    .await;
    let (by_post, decision) = granted_household(
        &t,
        &agent,
        "Jean Martin",
        "2 rue des Lilas",
        json!({"contact": "courrier"}),
    )
    .await;
    let e = t
        .api(
            Method::GET,
            &format!("/api/v1/social-tariff/entitlements/{by_post}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    let valid_to: NaiveDate = e["valid_to"].as_str().unwrap().parse().unwrap();
    let j60 = valid_to - chrono::Days::new(60);
    let j15 = valid_to - chrono::Days::new(15);

    // Nothing before the 60th day; then one reminder per household, once.
    let run = regie::social::renewal_job(&t.state, j60.pred_opt().unwrap())
        .await
        .unwrap();
    assert_eq!(run.planned, 0);
    let run = regie::social::renewal_job(&t.state, j60).await.unwrap();
    assert_eq!(run.planned, 2);
    let again = regie::social::renewal_job(&t.state, j60).await.unwrap();
    assert_eq!(again, regie::social::ReminderRun::default());
    let outbox = social_tariff::outbox(t.db()).await.unwrap();
    let mail = outbox.iter().find(|r| r.household == by_mail).unwrap();
    let letter = outbox.iter().find(|r| r.household == by_post).unwrap();
    assert_eq!(letter.status, social_tariff::renewal::Status::ToPrint);
    assert_eq!(letter.decision.to_string(), decision);
    if server.is_some() {
        assert_eq!((run.sent, run.failed), (1, 0));
        assert_eq!(mail.status, social_tariff::renewal::Status::Sent);
    } else {
        assert_eq!(mail.status, social_tariff::renewal::Status::ToPrint);
    }

    // The letter prints from the outbox page, then is marked printed.
    let agent_user = storage_user(&t, "agent").await;
    let s = t.session_for(&agent_user).await;
    let page = t
        .page(Method::GET, "/instruction/courrier", Some(&s), None)
        .await;
    assert!(
        page.text.contains("Jean Martin") && page.text.contains("lettre à imprimer"),
        "{}",
        page.text
    );
    let pdf = t
        .page(
            Method::GET,
            &format!("/instruction/courrier/{}/lettre.pdf", letter.id),
            Some(&s),
            None,
        )
        .await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let printed = t
        .page(
            Method::POST,
            &format!("/instruction/courrier/{}/imprime", letter.id),
            Some(&s),
            Some(&[("csrf_token", s.csrf.as_str())]),
        )
        .await;
    assert!(printed.text.contains("lettre imprimée"), "{}", printed.text);

    // The 15-day reminder comes for the household that did not renew.
    let family = t.user("martin", &[Role::Household]).await;
    let run = regie::social::renewal_job(&t.state, j15).await.unwrap();
    assert_eq!(run.planned, 2);

    // Awa renews at the counter: pre-filled, flagged as a renewal, and the
    // new right starts the day after the old one ends.
    let last = social_tariff::last_application(
        t.db(),
        social_tariff::Scope::All,
        &social_tariff::HouseholdCode::parse(&by_mail).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let form = social_tariff::application::ApplicationForm::from_input(&last.input);
    assert_eq!(form.courriel, "awa@exemple.fr");
    let mut body = serde_json::to_value(&form).unwrap();
    body.as_object_mut().unwrap().extend([
        ("submit".to_owned(), json!(true)),
        ("consent".to_owned(), json!(true)),
        ("household".to_owned(), json!(by_mail)),
    ]);
    let renewal = post(&t, &agent, "/api/v1/social-tariff/applications", body).await;
    assert_eq!(renewal.status, StatusCode::CREATED, "{}", renewal.text);
    assert_eq!(renewal.json()["renewal"], true);
    let code = renewal.json()["code"].as_str().unwrap().to_owned();
    // While it is examined, the grace period keeps the tariff after the end.
    let after_end = valid_to + chrono::Days::new(10);
    let e = t
        .api(
            Method::GET,
            &format!("/api/v1/social-tariff/entitlements/{by_mail}?date={after_end}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(e.json()["valid_to"], valid_to.to_string(), "{}", e.text);
    let e = t
        .api(
            Method::GET,
            &format!("/api/v1/social-tariff/entitlements/{by_post}?date={after_end}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(e.json(), Value::Null, "no grace without a renewal");
    for (uri, body) in [
        (
            "documents",
            json!({"subject": "benefit", "benefit": "AAH", "received": true, "document": "notification MDPH", "dated": "2026-11-01", "issuer": "CAF"}),
        ),
        ("area", json!({"connectable": true})),
        ("decision", json!({"outcome": "granted"})),
    ] {
        let r = post(
            &t,
            &agent,
            &format!("/api/v1/social-tariff/applications/{code}/{uri}"),
            body,
        )
        .await;
        assert!(r.status.is_success(), "{uri}: {}", r.text);
        if uri == "decision" {
            assert_eq!(
                r.json()["valid_from"],
                (valid_to + chrono::Days::new(1)).to_string()
            );
        }
    }
    // A household that renewed gets no more reminders for its old right.
    let run = regie::social::renewal_job(&t.state, valid_to)
        .await
        .unwrap();
    assert_eq!(run.planned, 0);
    let _ = family;

    if let Some(server) = server {
        let received = server.received();
        assert!(received.contains("awa@exemple.fr"), "{received}");
        assert!(
            received.contains("renouveler") || received.contains("=?utf-8?"),
            "{received}"
        );
    }
}

async fn storage_user(t: &TestApp, name: &str) -> regie::platform::storage::User {
    regie::platform::storage::get_user(t.db(), name)
        .await
        .unwrap()
        .unwrap()
}
