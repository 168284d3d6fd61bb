//! A forgotten password (issue 19): a one-time link by e-mail through a
//! real SMTP server, handed over at the counter by a social agent, or
//! forced by the administrator; used once, then dead; every step audited.
//! Same on both backends.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use regie::platform::auth::Role;
use regie::platform::web::LOGIN_CSRF_COOKIE;
use regie_tests::smtp::smtp;
use regie_tests::{password_of, set_cookie, Answer, TestApp};
use serde_json::json;

/// A public form of `/connexion/…`: fetch it for its CSRF cookie, then
/// post `fields` with the token.
async fn public_post(
    t: &TestApp,
    form_uri: &str,
    post_uri: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let form = t.page(Method::GET, form_uri, None, None).await;
    assert_eq!(form.status, StatusCode::OK, "{form_uri}: {}", form.text);
    let cookie = set_cookie(&form, LOGIN_CSRF_COOKIE).unwrap();
    let csrf = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches(&format!("{LOGIN_CSRF_COOKIE}="))
        .to_owned();
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    t.send(
        Request::builder()
            .method(Method::POST)
            .uri(post_uri)
            .header(header::COOKIE, format!("{LOGIN_CSRF_COOKIE}={csrf}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(&all).unwrap()))
            .unwrap(),
    )
    .await
}

fn link_in(text: &str) -> String {
    let marker = "/connexion/nouveau-mot-de-passe?jeton=";
    let (_, from) = text.split_once(marker).unwrap();
    marker
        .chars()
        .chain(from.chars())
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_?=".contains(*c))
        .collect()
}

async fn login(t: &TestApp, user: &str, password: &str) -> StatusCode {
    t.api(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await
    .status
}

/// Chooses `password` through `link`.
async fn redeem(t: &TestApp, link: &str, password: &str, confirm: &str) -> Answer {
    let secret = link.split("jeton=").nth(1).unwrap().to_owned();
    public_post(
        t,
        link,
        "/connexion/nouveau-mot-de-passe",
        &[
            ("jeton", &secret),
            ("nouveau", password),
            ("confirmation", confirm),
        ],
    )
    .await
}

#[tokio::test]
async fn a_link_by_email_sets_a_new_password_once() {
    let Some(server) = smtp() else { return };
    let smtp = server.config();
    let t = TestApp::with_config(|c| {
        c.smtp = Some(smtp);
        c.public_url = Some("https://fibre.mairie.example".into());
    })
    .await;
    t.user("karim", &[Role::Technician]).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    // The administrator records karim's address (a bad one is refused).
    let bad = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim/courriel",
            Some(&s),
            Some(&[("csrf_token", &s.csrf), ("courriel", "pas une adresse")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("id=\"courriel-erreur\""), "{}", bad.text);
    let ok = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim/courriel",
            Some(&s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("courriel", "Karim@Mairie.example"),
            ]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let login_page = t.page(Method::GET, "/connexion", None, None).await;
    assert!(login_page
        .text
        .contains("href=\"/connexion/mot-de-passe-oublie\""));
    // By e-mail address; an unknown name gets the very same answer.
    let asked = public_post(
        &t,
        "/connexion/mot-de-passe-oublie",
        "/connexion/mot-de-passe-oublie",
        &[("qui", "karim@mairie.example")],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    assert!(asked.text.contains("un message vient de partir"));
    let unknown = public_post(
        &t,
        "/connexion/mot-de-passe-oublie",
        "/connexion/mot-de-passe-oublie",
        &[("qui", "personne")],
    )
    .await;
    let strip = |s: &str| s.split("csrf_token").next().unwrap_or("").to_owned();
    assert_eq!(strip(&asked.text), strip(&unknown.text));
    // The message as sent is quoted-printable: soft line breaks and `=3D`.
    let mail = server
        .received()
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(mail.contains("karim@mairie.example"), "{mail}");
    assert!(
        mail.contains("https://fibre.mairie.example/connexion/nouveau-mot-de-passe?jeton=rgr_"),
        "{mail}"
    );
    let link = link_in(&mail);
    let form = t.page(Method::GET, &link, None, None).await;
    assert_eq!(form.status, StatusCode::OK);
    let r = redeem(&t, &link, "une phrase toute neuve", "une autre phrase").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"confirmation-erreur\""), "{}", r.text);
    let r = redeem(
        &t,
        &link,
        "une phrase toute neuve",
        "une phrase toute neuve",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Mot de passe enregistré"));
    assert_eq!(
        login(&t, "karim", "une phrase toute neuve").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&t, "karim", &password_of("karim")).await,
        StatusCode::UNAUTHORIZED
    );
    // Used once: dead after.
    let secret = link.split("jeton=").nth(1).unwrap();
    let again = public_post(
        &t,
        "/connexion/mot-de-passe-oublie",
        "/connexion/nouveau-mot-de-passe",
        &[
            ("jeton", secret),
            ("nouveau", "encore une autre phrase"),
            ("confirmation", "encore une autre phrase"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.text.contains("Ce lien ne sert plus"));
    let dead = t.page(Method::GET, &link, None, None).await;
    assert_eq!(dead.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_agent_hands_a_household_a_link_at_the_counter() {
    let t = TestApp::new().await;
    let foyer = t.user("foyer-diallo", &[Role::Household]).await;
    let h = social_tariff::create_household(
        t.db(),
        &regie_core::audit::Actor::system("test"),
        &social_tariff::NewHousehold {
            display_name: "Awa Diallo".into(),
            user_id: Some(foyer.id),
        },
    )
    .await
    .unwrap();
    let agent = t.user("nadia", &[Role::SocialAgent]).await;
    let s = t.session_for(&agent).await;
    let page = t
        .page(Method::GET, &format!("/foyers/{}", h.code), Some(&s), None)
        .await;
    assert!(
        page.text
            .contains("Remettre un lien pour un nouveau mot de passe"),
        "{}",
        page.text
    );
    let handed = t
        .page(
            Method::POST,
            &format!("/foyers/{}/nouveau-mot-de-passe", h.code),
            Some(&s),
            Some(&[("csrf_token", &s.csrf)]),
        )
        .await;
    assert_eq!(handed.status, StatusCode::OK, "{}", handed.text);
    assert!(handed.text.contains("foyer-diallo") && handed.text.contains("sert une fois"));
    let link = link_in(&handed.text);
    // A second link kills the first.
    let second = t
        .page(
            Method::POST,
            &format!("/foyers/{}/nouveau-mot-de-passe", h.code),
            Some(&s),
            Some(&[("csrf_token", &s.csrf)]),
        )
        .await;
    let link2 = link_in(&second.text);
    assert_ne!(link, link2);
    assert_eq!(
        t.page(Method::GET, &link, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = redeem(&t, &link2, "la clé du jardin bleu", "la clé du jardin bleu").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        login(&t, "foyer-diallo", "la clé du jardin bleu").await,
        StatusCode::OK
    );
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let journal = t
        .api(
            Method::GET,
            "/api/v1/audit?entity_id=foyer-diallo",
            Some(&admin),
            None,
        )
        .await;
    assert!(
        journal.text.contains("user.password_reset_issued")
            && journal.text.contains("counter")
            && journal.text.contains("nadia")
            && journal.text.contains("\"user.password_reset\""),
        "{}",
        journal.text
    );
}

#[tokio::test]
async fn the_admin_forces_a_reset() {
    let t = TestApp::new().await;
    let karim = t.user("karim", &[Role::Technician]).await;
    let token = t.token_for(&karim).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let handed = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim/nouveau-mot-de-passe",
            Some(&s),
            Some(&[("csrf_token", &s.csrf)]),
        )
        .await;
    assert_eq!(handed.status, StatusCode::OK, "{}", handed.text);
    // The old password and the open accesses stop at once.
    assert_eq!(
        login(&t, "karim", &password_of("karim")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.api(Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let link = link_in(&handed.text);
    let r = redeem(&t, &link, "court", "court").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("12 caractères"), "{}", r.text);
    let r = redeem(
        &t,
        &link,
        "un nouveau départ serein",
        "un nouveau départ serein",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        login(&t, "karim", "un nouveau départ serein").await,
        StatusCode::OK
    );
    // A forged or malformed link is simply dead.
    let forged = t
        .page(
            Method::GET,
            "/connexion/nouveau-mot-de-passe?jeton=rgr_x",
            None,
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
}
