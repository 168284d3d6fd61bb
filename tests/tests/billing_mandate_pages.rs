//! The mandate from the pages and the API: the accountant records a mandate
//! signed at the counter, prints its form, changes the account debited and
//! revokes it, each change answered by a redirect and errors beside their
//! fields in French; a household gives its own online after ticking its
//! consent, and reaches no other account.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_core::audit::Actor;
use regie_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_mandate_is_recorded_printed_changed_and_revoked_from_the_pages() {
    let t = TestApp::with_config(|c| c.sepa = Some(regie_tests::sepa_config())).await;
    let compta = t.user("compta", &[Role::Accountant]).await;
    let session = t.session_for(&compta).await;
    let account = regie_tests::billing_account(t.db(), "Famille Martin", None).await;
    let page = format!("/comptabilite/comptes/{account}");
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let session = &session;
        let t = &t;
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", session.csrf.as_str())];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            t.page(Method::POST, &path, Some(session), Some(&form))
                .await
        }
    };
    let shown = t.page(Method::GET, &page, Some(&session), None).await;
    assert!(
        shown.text.contains("Mandat de prélèvement SEPA"),
        "{}",
        shown.text
    );
    assert!(shown.text.contains("Enregistrer le mandat signé"));

    // A wrong IBAN and a date to come: said beside their fields, in French.
    let bad = post(
        format!("{page}/mandat"),
        vec![
            ("titulaire", "Marie Martin".into()),
            ("iban", "FR76 3000 6000 0112 3456 7890 188".into()),
            ("date", "01/01/2099".into()),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("id=\"mandat-iban-erreur\""),
        "{}",
        bad.text
    );
    assert!(
        bad.text.contains("la clé de contrôle est fausse"),
        "{}",
        bad.text
    );
    assert!(
        bad.text.contains("value=\"Marie Martin\""),
        "the fields are kept"
    );
    let later = post(
        format!("{page}/mandat"),
        vec![
            ("titulaire", "Marie Martin".into()),
            ("iban", "FR76 3000 6000 0112 3456 7890 189".into()),
            ("date", "01/01/2099".into()),
        ],
    )
    .await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(later.text.contains("dans le futur"), "{}", later.text);

    // Recorded: a redirect, then the page shows it with its form to print.
    let ok = post(
        format!("{page}/mandat"),
        vec![
            ("titulaire", "Marie Martin".into()),
            ("iban", "FR76 3000 6000 0112 3456 7890 189".into()),
            ("date", String::new()),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let after = ok.header("location").unwrap().to_owned();
    let shown = t.page(Method::GET, &after, Some(&session), None).await;
    let rum = format!("RUM-{account}-01");
    assert!(
        shown.text.contains(&rum) && shown.text.contains("Mandat enregistré"),
        "{}",
        shown.text
    );
    let pdf = t
        .page(
            Method::GET,
            &format!("{page}/mandat.pdf"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));

    // Another account at the same bank: the next debit will say so.
    let changed = post(
        format!("{page}/mandat/compte"),
        vec![("iban", "FR9730006000019876543210959".into())],
    )
    .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text);
    let shown = t.page(Method::GET, &page, Some(&session), None).await;
    assert!(
        shown
            .text
            .contains("annoncera à la banque le changement de compte"),
        "{}",
        shown.text
    );

    // The API sees the same.
    let token = t.token_for(&compta).await;
    let listed = t
        .api(
            Method::GET,
            &format!("/api/v1/billing/accounts/{account}/mandates"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.json()[0]["rum"], rum.as_str());
    assert_eq!(listed.json()[0]["status"], "live");
    assert_eq!(listed.json()[0]["channel"], "counter");
    assert!(listed.json()[0]["amendment_pending"].is_string());

    // Revoked: a redirect, then the mandate is past.
    let revoked = post(format!("{page}/mandat/revocation"), vec![]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let shown = t.page(Method::GET, &page, Some(&session), None).await;
    assert!(
        shown.text.contains("Mandats passés") && shown.text.contains("à la demande du débiteur"),
        "{}",
        shown.text
    );
    let none = t
        .api(
            Method::POST,
            &format!("/api/v1/billing/accounts/{account}/mandates/revocation"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(
        none.text.contains("n'a pas de mandat en cours"),
        "{}",
        none.text
    );
}

#[tokio::test]
async fn a_household_gives_its_mandate_online_and_only_for_itself() {
    let t = TestApp::with_config(|c| c.sepa = Some(regie_tests::sepa_config())).await;
    let sys = Actor::system("test");
    let roux = t.user("roux", &[Role::Household]).await;
    let other = t.user("blanc", &[Role::Household]).await;
    let mut codes = Vec::new();
    for (name, user) in [("Famille Roux", roux.id), ("Famille Blanc", other.id)] {
        let h = social_tariff::create_household(
            t.db(),
            &sys,
            &social_tariff::NewHousehold {
                display_name: name.into(),
                user_id: Some(user),
            },
        )
        .await
        .unwrap();
        codes.push(regie_tests::billing_account(t.db(), name, Some(&h.code.to_string())).await);
    }
    let session = t.session_for(&roux).await;
    let form = t
        .page(Method::GET, "/mon-espace/prelevement", Some(&session), None)
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.text.contains("En signant ce formulaire de mandat"),
        "{}",
        form.text
    );
    assert!(form.text.contains(&codes[0]) && !form.text.contains(&codes[1]));
    let fields = |accord: Option<&'static str>, account: &str| {
        let mut f = vec![
            ("csrf_token", session.csrf.clone()),
            ("compte", account.to_owned()),
            ("titulaire", "Paul Roux".to_owned()),
            ("iban", "FR14 2004 1010 0505 0001 3M02 606".to_owned()),
        ];
        if let Some(a) = accord {
            f.push(("accord", a.to_owned()));
        }
        f
    };
    let send = |f: Vec<(&'static str, String)>| {
        let t = &t;
        let session = &session;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.page(
                Method::POST,
                "/mon-espace/prelevement",
                Some(session),
                Some(&f),
            )
            .await
        }
    };
    // No consent ticked: nothing recorded, said beside the box.
    let refused = send(fields(None, &codes[0])).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text
            .contains("Cochez la case pour donner votre accord"),
        "{}",
        refused.text
    );
    // Another household's account: refused as unknown.
    let theirs = send(fields(Some("oui"), &codes[1])).await;
    assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(billing::storage::live_mandate(t.db(), &codes[1])
        .await
        .unwrap()
        .is_none());
    // Given: a redirect; the consent is kept with the user.
    let given = send(fields(Some("oui"), &codes[0])).await;
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.text);
    let record = &billing::storage::mandates_of(t.db(), &codes[0])
        .await
        .unwrap()[0];
    assert_eq!(record.channel, billing::mandate::Channel::Online);
    assert_eq!(record.consent_by.as_deref(), Some("roux"));
    let shown = t
        .page(Method::GET, "/mon-espace/prelevement", Some(&session), None)
        .await;
    assert!(
        shown.text.contains("est payé par prélèvement"),
        "{}",
        shown.text
    );

    // The API: the other household's account is not found for Roux.
    let token = t.token_for(&roux).await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/billing/my/mandates",
            Some(&token),
            Some(json!({"account": codes[1], "holder": "X", "iban": "FR7630006000011234567890189", "consent": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .api(
            Method::POST,
            "/api/v1/billing/my/mandates",
            Some(&token),
            Some(json!({"account": codes[0], "holder": "X", "iban": "FR7630006000011234567890189", "consent": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}
