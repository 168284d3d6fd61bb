//! The accounts people need (issue 19): a login delay that grows after the
//! limit and that the administrator lifts; the administrator's page for an
//! account (name, roles, disable, re-enable); one's own password changed
//! with the current one; bounded names. Same on both backends.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{password_of, TestApp};
use serde_json::json;

async fn login(t: &TestApp, user: &str, password: &str) -> regie_tests::Answer {
    t.api(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await
}

fn retry_after(a: &regie_tests::Answer) -> i64 {
    a.header("retry-after").unwrap().parse().unwrap()
}

/// Moves every recorded failure `minutes` into the past, as if that long
/// had gone by.
async fn age_failures(t: &TestApp, minutes: i64) {
    let at = regie_core::time::to_db(regie_core::time::now() - chrono::Duration::minutes(minutes));
    sqlx::query("UPDATE login_failures SET at = $1")
        .bind(at)
        .execute(t.db().pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_login_delay_grows_after_the_limit_and_the_admin_lifts_it() {
    let t = TestApp::new().await;
    t.user("sophie", &[Role::Accountant]).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    for _ in 0..10 {
        assert_eq!(
            login(&t, "sophie", "pas le bon mot").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The limit (10): the next waits the window, 15 minutes, even with the
    // right password.
    let r = login(&t, "sophie", &password_of("sophie")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        (890..=900).contains(&retry_after(&r)),
        "{}",
        retry_after(&r)
    );
    // Once the 15 minutes are over, one attempt is checked; another
    // failure doubles the delay: 30 minutes.
    age_failures(&t, 16).await;
    assert_eq!(
        login(&t, "sophie", "encore faux !").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&t, "sophie", &password_of("sophie")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        (1790..=1800).contains(&retry_after(&r)),
        "{}",
        retry_after(&r)
    );
    // Then 60, and never more than an hour.
    age_failures(&t, 31).await;
    assert_eq!(
        login(&t, "sophie", "toujours faux").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&t, "sophie", "x").await;
    assert!(
        (3590..=3600).contains(&retry_after(&r)),
        "{}",
        retry_after(&r)
    );
    age_failures(&t, 61).await;
    assert_eq!(
        login(&t, "sophie", "faux, faux").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&t, "sophie", "x").await;
    assert!(
        (3590..=3600).contains(&retry_after(&r)),
        "{}",
        retry_after(&r)
    );
    // The administrator unlocks: the failures are forgotten, in the journal.
    let u = t
        .api(
            Method::POST,
            "/api/v1/users/sophie/unlock",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.json()["failures_cleared"], 13);
    let ok = login(&t, "sophie", &password_of("sophie")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let journal = t
        .api(
            Method::GET,
            "/api/v1/audit?action=user.unlock",
            Some(&admin),
            None,
        )
        .await;
    assert!(journal.text.contains("sophie"), "{}", journal.text);
    let missing = t
        .api(
            Method::POST,
            "/api/v1/users/personne/unlock",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_admin_manages_an_account_from_its_page() {
    let t = TestApp::new().await;
    let karim = t.user("karim", &[Role::Technician]).await;
    let karim_token = t.token_for(&karim).await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let list = t
        .page(Method::GET, "/admin/utilisateurs", Some(&s), None)
        .await;
    assert!(
        list.text.contains("href=\"/admin/utilisateurs/karim\""),
        "{}",
        list.text
    );
    let page = t
        .page(Method::GET, "/admin/utilisateurs/karim", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Compte karim") && page.text.contains("Désactiver le compte"));

    let save = |nom: String, roles: &'static [&'static str]| {
        let mut form = vec![("csrf_token", s.csrf.clone()), ("nom", nom)];
        form.extend(roles.iter().map(|r| ("roles", (*r).to_owned())));
        form
    };
    let form = save("Karim Benali".into(), &["technician", "accountant"]);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim",
            Some(&s),
            Some(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let u = regie::platform::storage::get_user(t.db(), "karim")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.display_name, "Karim Benali");
    assert_eq!(u.roles, vec![Role::Technician, Role::Accountant]);
    // 101 characters: refused beside the field, nothing changed.
    let form = save("K".repeat(101), &["technician"]);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim",
            Some(&s),
            Some(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("id=\"nom-erreur\"") && r.text.contains("100 caractères"),
        "{}",
        r.text
    );
    // 100,000 characters never reach the page: refused by length.
    let form = save("K".repeat(100_000), &["technician"]);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim",
            Some(&s),
            Some(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("texte trop long"),
        "{}",
        r.text.chars().take(2000).collect::<String>()
    );
    assert_eq!(
        regie::platform::storage::get_user(t.db(), "karim")
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Karim Benali"
    );

    // Disabled: its token stops working at once; re-enabled.
    let csrf = [("csrf_token", s.csrf.as_str())];
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim/desactiver",
            Some(&s),
            Some(&csrf),
        )
        .await;
    assert!(r.text.contains("Compte désactivé"), "{}", r.text);
    let me = t
        .api(Method::GET, "/api/v1/me", Some(&karim_token), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/karim/reactiver",
            Some(&s),
            Some(&csrf),
        )
        .await;
    assert!(r.text.contains("Compte réactivé"), "{}", r.text);
    assert!(
        !regie::platform::storage::get_user(t.db(), "karim")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    // An administrator cannot disable their own account, nor drop their
    // own administrator role.
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/admin/desactiver",
            Some(&s),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let form = save("Admin".into(), &["technician"]);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .page(
            Method::POST,
            "/admin/utilisateurs/admin",
            Some(&s),
            Some(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("administrateur"), "{}", r.text);
}

#[tokio::test]
async fn a_user_changes_their_own_password() {
    let t = TestApp::new().await;
    let karim = t.user("karim", &[Role::Technician]).await;
    let token = t.token_for(&karim).await;
    let s = t.session_for(&karim).await;
    let account = t.page(Method::GET, "/compte", Some(&s), None).await;
    assert!(account.text.contains("href=\"/compte/mot-de-passe\""));
    let current = password_of("karim");
    let change = |actuel: &str, nouveau: &str, confirmation: &str| {
        vec![
            ("csrf_token", s.csrf.clone()),
            ("actuel", actuel.to_owned()),
            ("nouveau", nouveau.to_owned()),
            ("confirmation", confirmation.to_owned()),
        ]
    };
    for (form, field, words) in [
        (
            change(
                "pas le bon",
                "une longue phrase secrète",
                "une longue phrase secrète",
            ),
            "actuel",
            "pas le bon",
        ),
        (
            change(&current, "une longue phrase secrète", "une autre phrase"),
            "confirmation",
            "diffèrent",
        ),
        (
            change(&current, "court", "court"),
            "nouveau",
            "12 caractères",
        ),
        (
            change(&current, "Telechargement", "Telechargement"),
            "nouveau",
            "plus courants",
        ),
    ] {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = t
            .page(
                Method::POST,
                "/compte/mot-de-passe",
                Some(&s),
                Some(&fields),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            r.text.contains(&format!("id=\"{field}-erreur\"")) && r.text.contains(words),
            "{field}: {}",
            r.text
        );
    }
    let form = change(
        &current,
        "une longue phrase secrète",
        "une longue phrase secrète",
    );
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .page(
            Method::POST,
            "/compte/mot-de-passe",
            Some(&s),
            Some(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Mot de passe changé"));
    // The other accesses are closed; this session goes on.
    let me = t.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.page(Method::GET, "/compte", Some(&s), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&t, "karim", &current).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&t, "karim", "une longue phrase secrète").await.status,
        StatusCode::OK
    );
}
