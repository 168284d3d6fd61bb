//! Every route × every role: allowed or denied exactly as the route table
//! declares; and a household never reaches another household's records.

use axum::http::{Method, StatusCode};
use regie::app::route_table;
use regie::platform::auth::Role;
use regie::platform::routes::{Access, Surface};
use regie_core::audit::Actor;
use regie_tests::{TestApp, ROLES};

fn concrete(path: &str, household_code: &str) -> String {
    path.replace("{id}", "999999")
        .replace("{username}", "admin")
        .replace("{code}", household_code)
}

#[tokio::test]
async fn every_route_admits_exactly_its_declared_roles() {
    let t = TestApp::new().await;
    let mut users = Vec::new();
    for role in ROLES {
        users.push((
            role,
            t.user(role.as_str().replace('_', "-").as_str(), &[role])
                .await,
        ));
    }
    let household_user = users
        .iter()
        .find(|(r, _)| *r == Role::Household)
        .map(|(_, u)| u.id);
    let h = social_tariff::create_household(
        t.db(),
        &Actor::system("test"),
        &social_tariff::NewHousehold {
            display_name: "Famille Test".into(),
            user_id: household_user,
        },
    )
    .await
    .expect("household");

    let mut checked = 0;
    for route in route_table() {
        let spec = route.spec;
        let uri = concrete(spec.path, h.code.as_str());
        let callers: Vec<Option<&(Role, regie::platform::storage::User)>> = std::iter::once(None)
            .chain(users.iter().map(Some))
            .collect();
        for caller in callers {
            let roles = caller.map(|(r, _)| vec![*r]);
            let allowed = spec.access.admits(roles.as_deref());
            // A fresh credential per request: some routes (logout, revoke)
            // end the credential that called them.
            let answer = match (spec.surface, caller) {
                (Surface::Page, Some((_, u))) => {
                    let s = t.session_for(u).await;
                    let form = [("csrf_token", s.csrf.as_str())];
                    let form = (spec.method != Method::GET).then_some(&form[..]);
                    t.page(spec.method.clone(), &uri, Some(&s), form).await
                }
                (Surface::Page, None) if spec.method != Method::GET => {
                    // The login form's double-submit token, so that only the
                    // access rule decides.
                    let s = regie_tests::Session {
                        cookie: format!("{}=tok", regie::platform::web::LOGIN_CSRF_COOKIE),
                        csrf: "tok".into(),
                    };
                    t.page(
                        spec.method.clone(),
                        &uri,
                        Some(&s),
                        Some(&[("csrf_token", "tok")]),
                    )
                    .await
                }
                (Surface::Page, None) => t.page(spec.method.clone(), &uri, None, None).await,
                (_, Some((_, u))) => {
                    let tok = t.token_for(u).await;
                    t.api(spec.method.clone(), &uri, Some(&tok), None).await
                }
                (_, None) => t.api(spec.method.clone(), &uri, None, None).await,
            };
            let who = caller.map(|(r, _)| r.as_str()).unwrap_or("anonymous");
            let to_login = answer.status == StatusCode::SEE_OTHER
                && answer
                    .header("location")
                    .is_some_and(|l| l.starts_with("/connexion?"));
            if allowed {
                assert!(
                    answer.status != StatusCode::UNAUTHORIZED
                        && answer.status != StatusCode::FORBIDDEN
                        && !to_login,
                    "{} {} as {who}: allowed by the table but got {}: {}",
                    spec.method,
                    spec.path,
                    answer.status,
                    answer.text
                );
            } else if caller.is_none() {
                let expected_login = spec.surface == Surface::Page && spec.method == Method::GET;
                if expected_login {
                    assert!(
                        to_login,
                        "{} {} as anonymous: expected redirect to login, got {}",
                        spec.method, spec.path, answer.status
                    );
                } else {
                    assert_eq!(
                        answer.status,
                        StatusCode::UNAUTHORIZED,
                        "{} {} as anonymous",
                        spec.method,
                        spec.path
                    );
                }
            } else {
                assert_eq!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{} {} as {who}",
                    spec.method,
                    spec.path
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, route_table().len() * 6);
}

#[tokio::test]
async fn protected_api_routes_refuse_bad_tokens() {
    let t = TestApp::new().await;
    for route in route_table()
        .into_iter()
        .filter(|r| r.spec.surface == Surface::Api && r.spec.access != Access::Public)
    {
        let uri = concrete(route.spec.path, "FOY-AAAAAA");
        for bad in [
            "rga_",
            "nonsense",
            "rga_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let a = t
                .api(route.spec.method.clone(), &uri, Some(bad), None)
                .await;
            assert_eq!(
                a.status,
                StatusCode::UNAUTHORIZED,
                "{} {} with {bad}",
                route.spec.method,
                route.spec.path
            );
            assert_eq!(a.json()["error"]["code"], "unauthenticated");
        }
    }
}

#[tokio::test]
async fn a_household_cannot_read_another_households_record() {
    let t = TestApp::new().await;
    let martin = t.user("martin", &[Role::Household]).await;
    let durand = t.user("durand", &[Role::Household]).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let new = |name: &str, user_id| social_tariff::NewHousehold {
        display_name: name.into(),
        user_id: Some(user_id),
    };
    let actor = Actor::system("test");
    let hm = social_tariff::create_household(t.db(), &actor, &new("Famille Martin", martin.id))
        .await
        .expect("created");
    let hd = social_tariff::create_household(t.db(), &actor, &new("Famille Durand", durand.id))
        .await
        .expect("created");

    let tok = t.token_for(&martin).await;
    let own = t
        .api(
            Method::GET,
            &format!("/api/v1/households/{}", hm.code),
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json()["display_name"], "Famille Martin");

    let other = t
        .api(
            Method::GET,
            &format!("/api/v1/households/{}", hd.code),
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "another household's record must look absent"
    );
    let absent = t
        .api(
            Method::GET,
            "/api/v1/households/FOY-AAAAAA",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.json()["error"]["code"],
        absent.json()["error"]["code"]
    );
    assert!(!other.text.contains("Durand"));

    let list = t
        .api(Method::GET, "/api/v1/households", Some(&tok), None)
        .await
        .json();
    let codes: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|h| h["code"].as_str())
        .collect();
    assert_eq!(codes, vec![hm.code.as_str()]);

    let s = t.session_for(&martin).await;
    let page = t
        .page(Method::GET, &format!("/foyers/{}", hd.code), Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.text.contains("Durand"));
    let page = t
        .page(Method::GET, &format!("/foyers/{}", hm.code), Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);

    // Staff see both.
    let tok = t.token_for(&agent).await;
    let list = t
        .api(Method::GET, "/api/v1/households", Some(&tok), None)
        .await
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}
