//! Login, sessions, CSRF, rate limits and token revocation.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{hidden_field, password_of, set_cookie, Session, TestApp};
use serde_json::json;

async fn browser_login(
    t: &TestApp,
    username: &str,
    password: &str,
) -> (regie_tests::Answer, Option<Session>) {
    let form = t.page(Method::GET, "/connexion", None, None).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden_field(&form.text, "csrf_token").expect("csrf field");
    let cookie =
        set_cookie(&form, regie::platform::web::LOGIN_CSRF_COOKIE).expect("login csrf cookie");
    assert!(cookie.contains("HttpOnly"));
    let pre = Session {
        cookie: cookie.split(';').next().unwrap_or_default().to_owned(),
        csrf: csrf.clone(),
    };
    let answer = t
        .page(
            Method::POST,
            "/connexion",
            Some(&pre),
            Some(&[
                ("csrf_token", &csrf),
                ("identifiant", username),
                ("mot_de_passe", password),
            ]),
        )
        .await;
    let session = set_cookie(&answer, regie::platform::web::SESSION_COOKIE)
        .map(|c| c.split(';').next().unwrap_or_default().to_owned());
    let session = match session {
        Some(cookie) => {
            // The CSRF token of the session is in every page's forms.
            let page = t
                .page(
                    Method::GET,
                    "/compte",
                    Some(&Session {
                        cookie: cookie.clone(),
                        csrf: String::new(),
                    }),
                    None,
                )
                .await;
            Some(Session {
                cookie,
                csrf: hidden_field(&page.text, "csrf_token").expect("session csrf"),
            })
        }
        None => None,
    };
    (answer, session)
}

#[tokio::test]
async fn browser_login_sets_a_protected_cookie_and_logout_ends_it() {
    let t = TestApp::new().await;
    t.user("nadia", &[Role::SocialAgent]).await;
    let (answer, session) = browser_login(&t, "nadia", &password_of("nadia")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.header("location"), Some("/instruction"));
    let cookie = set_cookie(&answer, regie::platform::web::SESSION_COOKIE).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let session = session.expect("logged in");

    let home = t
        .page(Method::GET, "/instruction", Some(&session), None)
        .await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains("lang=\"fr\""));
    assert!(home.text.contains("Instruction sociale"));

    let out = t
        .page(
            Method::POST,
            "/deconnexion",
            Some(&session),
            Some(&[("csrf_token", &session.csrf)]),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = t
        .page(Method::GET, "/instruction", Some(&session), None)
        .await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the session must be gone"
    );
}

#[tokio::test]
async fn secure_cookie_when_served_over_tls() {
    let t = TestApp::with_config(|c| c.public_url = Some("https://regie.example.fr".into())).await;
    t.user("karim", &[Role::Technician]).await;
    let (answer, _) = browser_login(&t, "karim", &password_of("karim")).await;
    let cookie = set_cookie(&answer, regie::platform::web::SESSION_COOKIE).expect("session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_in_french() {
    let t = TestApp::new().await;
    t.user("karim", &[Role::Technician]).await;
    let (answer, session) = browser_login(&t, "karim", "pas-le-bon-mot").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(session.is_none());
    assert!(answer
        .text
        .contains("Identifiant ou mot de passe incorrect"));
    assert!(
        answer.text.contains("role=\"alert\""),
        "errors are announced"
    );
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let fields = |csrf: &'static str| {
        vec![
            ("csrf_token", csrf),
            ("identifiant", "nouveau"),
            ("mot_de_passe", "un-mot-de-passe-long"),
            ("roles", "technician"),
        ]
    };
    let missing = t
        .page(
            Method::POST,
            "/admin/utilisateurs",
            Some(&s),
            Some(&fields("")[1..]),
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.text.contains("Formulaire expiré"));
    let wrong = t
        .page(
            Method::POST,
            "/admin/utilisateurs",
            Some(&s),
            Some(&fields("faux-jeton")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another session's token does not do either.
    let other = t.session_for(&admin).await;
    let csrf: &'static str = Box::leak(other.csrf.clone().into_boxed_str());
    let crossed = t
        .page(
            Method::POST,
            "/admin/utilisateurs",
            Some(&s),
            Some(&fields(csrf)),
        )
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    assert!(
        regie::platform::storage::get_user(t.db(), "nouveau")
            .await
            .expect("query")
            .is_none(),
        "nothing written"
    );

    let csrf: &'static str = Box::leak(s.csrf.clone().into_boxed_str());
    let ok = t
        .page(
            Method::POST,
            "/admin/utilisateurs",
            Some(&s),
            Some(&fields(csrf)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert!(regie::platform::storage::get_user(t.db(), "nouveau")
        .await
        .expect("query")
        .is_some());

    // The login form is protected too (double-submit cookie).
    let login = t
        .page(
            Method::POST,
            "/connexion",
            None,
            Some(&[("identifiant", "admin"), ("mot_de_passe", "x")]),
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let t = TestApp::new().await;
    t.user("sophie", &[Role::Accountant]).await;
    let attempt = |password: String| {
        let t = &t;
        async move {
            t.api(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"username": "sophie", "password": password})),
            )
            .await
        }
    };
    for _ in 0..10 {
        assert_eq!(
            attempt("mauvais".into()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = attempt("mauvais".into()).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = blocked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert_eq!(blocked.json()["error"]["code"], "rate_limited");
    // Even the right password is refused while blocked.
    assert_eq!(
        attempt(password_of("sophie")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let t = TestApp::with_config(|c| c.login_max_failures_per_address = 3).await;
    t.user("sophie", &[Role::Accountant]).await;
    for name in ["inconnu1", "inconnu2", "inconnu3"] {
        let a = t
            .api(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"username": name, "password": "x"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = t
        .api(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "sophie", "password": password_of("sophie")})),
        )
        .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn successful_login_resets_the_account_counter() {
    let t = TestApp::new().await;
    t.user("sophie", &[Role::Accountant]).await;
    let login = |password: String| {
        let t = &t;
        async move {
            t.api(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"username": "sophie", "password": password})),
            )
            .await
            .status
        }
    };
    for _ in 0..9 {
        assert_eq!(login("mauvais".into()).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(password_of("sophie")).await, StatusCode::OK);
    for _ in 0..9 {
        assert_eq!(login("mauvais".into()).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(password_of("sophie")).await, StatusCode::OK);
}

#[tokio::test]
async fn tokens_work_until_revoked() {
    let t = TestApp::new().await;
    t.user("karim", &[Role::Technician]).await;
    let other = t.user("sophie", &[Role::Accountant]).await;
    let admin = t.user("admin", &[Role::Admin]).await;

    let issued = t
        .api(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "karim", "password": password_of("karim")})),
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK);
    let body = issued.json();
    let token = body["token"].as_str().expect("token").to_owned();
    assert!(body["expires_at"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));

    let me = t.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["roles"], json!(["technician"]));

    // Someone else's token cannot be revoked by a non-admin: it looks absent.
    let sophie_token = t.token_for(&other).await;
    let sophie_id = t
        .api(
            Method::GET,
            "/api/v1/auth/tokens",
            Some(&sophie_token),
            None,
        )
        .await
        .json()[0]["id"]
        .as_i64()
        .expect("id");
    let denied = t
        .api(
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{sophie_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.api(Method::GET, "/api/v1/me", Some(&sophie_token), None)
            .await
            .status,
        StatusCode::OK
    );

    // An admin can.
    let admin_token = t.token_for(&admin).await;
    let revoked = t
        .api(
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{sophie_id}"),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.api(Method::GET, "/api/v1/me", Some(&sophie_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // A token revokes itself.
    let gone = t
        .api(Method::DELETE, "/api/v1/auth/token", Some(&token), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = t.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.json()["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn disabling_a_user_revokes_its_tokens() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let karim = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&karim).await;
    let admin_tok = t.token_for(&admin).await;
    let a = t
        .api(
            Method::PATCH,
            "/api/v1/users/karim",
            Some(&admin_tok),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["disabled"], true);
    assert_eq!(
        t.api(Method::GET, "/api/v1/me", Some(&tok), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let relogin = t
        .api(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "karim", "password": password_of("karim")})),
        )
        .await;
    assert_eq!(relogin.status, StatusCode::UNAUTHORIZED);
    let own = t
        .api(
            Method::PATCH,
            "/api/v1/users/admin",
            Some(&admin_tok),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an admin cannot lock itself out"
    );
}

#[tokio::test]
async fn bad_input_gets_actionable_json_errors() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let tok = t.token_for(&admin).await;
    let create = |body: serde_json::Value| {
        let (t, tok) = (&t, tok.clone());
        async move {
            t.api(Method::POST, "/api/v1/users", Some(&tok), Some(body))
                .await
        }
    };
    let short =
        create(json!({"username": "x1", "password": "court", "roles": ["technician"]})).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("12")));
    let bad_name = create(
        json!({"username": "Jean Dupont!", "password": "assez-long-oui", "roles": ["technician"]}),
    )
    .await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_role =
        create(json!({"username": "jean", "password": "assez-long-oui", "roles": []})).await;
    assert_eq!(no_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_role =
        create(json!({"username": "jean", "password": "assez-long-oui", "roles": ["root"]})).await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad_role.json()["error"]["code"],
        "invalid",
        "JSON errors even for undecodable bodies"
    );
    let not_json = t
        .send(
            axum::http::Request::post("/api/v1/users")
                .header("authorization", format!("Bearer {tok}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{pas du json"))
                .expect("request"),
        )
        .await;
    assert!(not_json.status.is_client_error());
    assert_eq!(not_json.json()["error"]["code"], "invalid");
    let ok =
        create(json!({"username": "jean", "password": "assez-long-oui", "roles": ["technician"]}))
            .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let dup =
        create(json!({"username": "jean", "password": "assez-long-oui", "roles": ["technician"]}))
            .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["error"]["code"], "conflict");
    let missing = t
        .api(Method::GET, "/api/v1/nowhere", Some(&tok), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn after_login_only_a_page_of_this_site_is_followed() {
    let t = TestApp::new().await;
    t.user("sophie", &[Role::Accountant]).await;
    for (suite, lands) in [
        ("/\t/evil.example/phish", "/comptabilite"),
        ("//evil.example/phish", "/comptabilite"),
        ("/\\evil.example", "/comptabilite"),
        ("https://evil.example/", "/comptabilite"),
        ("/comptabilite/impayes", "/comptabilite/impayes"),
    ] {
        let form = t.page(Method::GET, "/connexion", None, None).await;
        let csrf = hidden_field(&form.text, "csrf_token").unwrap();
        let cookie = set_cookie(&form, regie::platform::web::LOGIN_CSRF_COOKIE).unwrap();
        let pre = Session {
            cookie: cookie.split(';').next().unwrap_or_default().to_owned(),
            csrf: csrf.clone(),
        };
        let password = password_of("sophie");
        let answer = t
            .page(
                Method::POST,
                "/connexion",
                Some(&pre),
                Some(&[
                    ("csrf_token", csrf.as_str()),
                    ("identifiant", "sophie"),
                    ("mot_de_passe", password.as_str()),
                    ("suite", suite),
                ]),
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{suite:?}");
        assert_eq!(answer.header("location"), Some(lands), "{suite:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_check_no_more_than_the_limit() {
    let t = TestApp::new().await;
    t.user("sophie", &[Role::Accountant]).await;
    // 60 wrong passwords at once: each attempt is counted before its
    // password is checked, so no more than the limit (10) are checked.
    let attempts = (0..60).map(|_| {
        t.api(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "sophie", "password": "mauvais"})),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let checked = answers
        .iter()
        .filter(|a| a.status == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + limited, 60);
    assert!(checked <= 10, "{checked} passwords checked");
    assert!(limited >= 50, "{limited} refused");
    // The account is blocked for the window: even the right password.
    let right = t
        .api(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "sophie", "password": password_of("sophie")})),
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
}
