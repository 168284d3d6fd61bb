//! The second factor (issue 19): TOTP codes (RFC 6238) turned on from
//! `/compte/double-authentification`, asked after the password at login
//! (pages: in a challenge; API: the `code` field), each code taken once,
//! and required of chosen roles by configuration. Codes are computed here
//! as an authenticator application would, from the key the page shows.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use regie::platform::auth::totp::{TotpSecret, CHALLENGE_COOKIE};
use regie::platform::auth::Role;
use regie::platform::web::LOGIN_CSRF_COOKIE;
use regie_tests::{hidden_field, password_of, set_cookie, Answer, TestApp};
use serde_json::json;

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The application's code, `ahead` steps from now. Never in the last
/// second of a step, so that the server checks it within the same step it
/// was computed in (a code one step behind would fall out of the window).
fn code(key: &TotpSecret, ahead: i64) -> String {
    while now() % 30 >= 29 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    key.code_at((now() as i64 + 30 * ahead) as u64)
}

/// A code no step near now accepts.
fn wrong(key: &TotpSecret) -> String {
    let near: Vec<String> = (-2..=2).map(|a| code(key, a)).collect();
    (0..1000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

fn cookie_value(a: &Answer, name: &str) -> String {
    set_cookie(a, name)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches(&format!("{name}="))
        .to_owned()
}

async fn enrol(t: &TestApp, s: &regie_tests::Session) -> TotpSecret {
    let page = t
        .page(
            Method::GET,
            "/compte/double-authentification",
            Some(s),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<svg"), "a QR code to scan");
    let key = TotpSecret::parse_base32(&hidden_field(&page.text, "cle").unwrap()).unwrap();
    let bad = wrong(&key);
    let r = t
        .page(
            Method::POST,
            "/compte/double-authentification",
            Some(s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("cle", &key.to_base32()),
                ("code", &bad),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"code-erreur\""), "{}", r.text);
    let r = t
        .page(
            Method::POST,
            "/compte/double-authentification",
            Some(s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("cle", &key.to_base32()),
                ("code", &code(&key, -1)),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Double authentification activée"));
    key
}

async fn api_login(t: &TestApp, user: &str, code: Option<&str>) -> Answer {
    let mut body = json!({"username": user, "password": password_of(user)});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    t.api(Method::POST, "/api/v1/auth/token", None, Some(body))
        .await
}

#[tokio::test]
async fn a_second_factor_is_asked_after_the_password_and_each_code_serves_once() {
    let t = TestApp::new().await;
    let sophie = t.user("sophie", &[Role::Accountant]).await;
    let s = t.session_for(&sophie).await;
    let key = enrol(&t, &s).await;

    // The API: the password alone is not enough; the code is.
    let r = api_login(&t, "sophie", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "code_required");
    let fresh = code(&key, 0);
    let r = api_login(&t, "sophie", Some(&fresh)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The same code again: refused (taken once).
    let r = api_login(&t, "sophie", Some(&fresh)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The pages: the password, then the code in a challenge.
    let form = t.page(Method::GET, "/connexion", None, None).await;
    let csrf = cookie_value(&form, LOGIN_CSRF_COOKIE);
    let post = |uri: &'static str, cookies: String, fields: Vec<(&'static str, String)>| {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::COOKIE, cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(&fields).unwrap()))
            .unwrap()
    };
    let asked = t
        .send(post(
            "/connexion",
            format!("{LOGIN_CSRF_COOKIE}={csrf}"),
            vec![
                ("csrf_token", csrf.clone()),
                ("identifiant", "sophie".into()),
                ("mot_de_passe", password_of("sophie")),
            ],
        ))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    assert!(asked.text.contains("Code de vérification"));
    assert!(
        set_cookie(&asked, regie::platform::web::SESSION_COOKIE).is_none(),
        "no session yet"
    );
    let challenge = cookie_value(&asked, CHALLENGE_COOKIE);
    let csrf = cookie_value(&asked, LOGIN_CSRF_COOKIE);
    let cookies = format!("{LOGIN_CSRF_COOKIE}={csrf}; {CHALLENGE_COOKIE}={challenge}");
    let bad = t
        .send(post(
            "/connexion/code",
            cookies.clone(),
            vec![("csrf_token", csrf.clone()), ("code", wrong(&key))],
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.text.contains("ne convient pas"), "{}", bad.text);
    let csrf = cookie_value(&bad, LOGIN_CSRF_COOKIE);
    let cookies = format!("{LOGIN_CSRF_COOKIE}={csrf}; {CHALLENGE_COOKIE}={challenge}");
    let ok = t
        .send(post(
            "/connexion/code",
            cookies,
            vec![("csrf_token", csrf.clone()), ("code", code(&key, 1))],
        ))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(ok.header("location"), Some("/comptabilite"));
    assert!(set_cookie(&ok, regie::platform::web::SESSION_COOKIE).is_some());

    // Turned off with a current code... the last one was used: a wrong one
    // is refused, and the audit journal has the switch on.
    let r = t
        .page(
            Method::POST,
            "/compte/double-authentification/desactiver",
            Some(&s),
            Some(&[("csrf_token", &s.csrf), ("code", &wrong(&key))]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let journal = t
        .api(
            Method::GET,
            "/api/v1/audit?action=user.totp_enable",
            Some(&admin),
            None,
        )
        .await;
    assert!(journal.text.contains("sophie"), "{}", journal.text);
}

#[tokio::test]
async fn roles_can_be_required_to_use_a_second_factor() {
    let t = TestApp::with_config(|c| c.totp_required_roles = vec![Role::Admin]).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let token = t.token_for(&admin).await;
    let s = t.session_for(&admin).await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let ts = t.session_for(&tech).await;
    // Not yet turned on: every page leads to the page that turns it on.
    let r = t.page(Method::GET, "/admin", Some(&s), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some("/compte/double-authentification")
    );
    let r = t
        .api(Method::GET, "/api/v1/users", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("double authentification"), "{}", r.text);
    // Other roles are not concerned.
    let r = t.page(Method::GET, "/technicien", Some(&ts), None).await;
    assert_eq!(r.status, StatusCode::OK);
    // Once on, the pages open.
    enrol(&t, &s).await;
    let r = t.page(Method::GET, "/admin", Some(&s), None).await;
    assert_eq!(r.status, StatusCode::OK);
}
