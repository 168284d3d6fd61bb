//! The audit journal: every change leaves an entry with its author, and no
//! one can edit or delete entries.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{TestApp, TestDb};
use serde_json::json;

#[tokio::test]
async fn changes_are_journaled_with_who_and_what() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let admin_tok = t.token_for(&admin).await;
    let agent_tok = t.token_for(&agent).await;

    let created = t
        .api(
            Method::POST,
            "/api/v1/users",
            Some(&admin_tok),
            Some(json!({"username": "karim", "display_name": "Karim", "password": "un-long-mot-de-passe", "roles": ["technician"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let updated = t
        .api(
            Method::PATCH,
            "/api/v1/users/karim",
            Some(&admin_tok),
            Some(json!({"roles": ["technician", "accountant"]})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    let household = t
        .api(
            Method::POST,
            "/api/v1/households",
            Some(&agent_tok),
            Some(json!({"display_name": "Famille Leroy"})),
        )
        .await;
    assert_eq!(household.status, StatusCode::CREATED);
    let code = household.json()["code"].as_str().expect("code").to_owned();

    let journal = |query: &str| {
        let (t, tok, q) = (&t, admin_tok.clone(), query.to_owned());
        async move {
            let a = t
                .api(Method::GET, &format!("/api/v1/audit{q}"), Some(&tok), None)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.json().as_array().cloned().expect("array")
        }
    };

    let entries = journal("?entity=user&entity_id=karim").await;
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["user.update", "user.create"], "newest first");
    let update = &entries[0];
    assert_eq!(update["actor"], "admin");
    assert_eq!(update["before"]["roles"], json!(["technician"]));
    assert_eq!(
        update["after"]["roles"],
        json!(["technician", "accountant"])
    );
    assert!(
        update["request_id"].as_str().is_some_and(|s| !s.is_empty()),
        "entries carry the request id"
    );
    assert!(
        !update.to_string().contains("argon2"),
        "no password hash in the journal"
    );

    let entries = journal(&format!("?entity=household&entity_id={code}")).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], "agent");
    assert_eq!(entries[0]["action"], "household.create");
    assert_eq!(entries[0]["after"]["display_name"], "Famille Leroy");

    let by_agent = journal("?actor=agent&action=household.create").await;
    assert_eq!(by_agent.len(), 1);
    let limited = journal("?limit=1").await;
    assert_eq!(limited.len(), 1);
    let since_future = journal("?since=2999-01-01T00:00:00.000000Z").await;
    assert!(since_future.is_empty());
}

#[tokio::test]
async fn no_route_changes_the_journal() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let tok = t.token_for(&admin).await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let a = t
            .api(method.clone(), "/api/v1/audit", Some(&tok), Some(json!({})))
            .await;
        assert_eq!(
            a.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} /api/v1/audit"
        );
    }
    assert!(regie::app::route_table()
        .iter()
        .filter(|r| r.spec.path.contains("audit") || r.spec.path.contains("journal"))
        .all(|r| r.spec.method == Method::GET));
}

#[tokio::test]
async fn the_database_refuses_to_edit_or_delete_entries() {
    let t = TestDb::migrated().await;
    let mut conn = t.db.pool().acquire().await.expect("connection");
    regie_core::audit::record(
        &mut conn,
        &regie_core::audit::Actor::system("test"),
        regie_core::audit::Change {
            action: "x.test",
            entity: "x",
            entity_id: "1",
            before: None,
            after: None,
        },
    )
    .await
    .expect("append works");
    let update = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
        .execute(&mut *conn)
        .await;
    assert!(
        update.is_err(),
        "update must be refused on {:?}",
        t.backend()
    );
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(&mut *conn)
        .await;
    assert!(
        delete.is_err(),
        "delete must be refused on {:?}",
        t.backend()
    );
    let n: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM audit_log")
            .fetch_one(&mut *conn)
            .await
            .expect("count"),
        "n",
    );
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_failed_change_leaves_neither_record_nor_entry() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let tok = t.token_for(&admin).await;
    let before = regie_core::audit::list(t.db(), &Default::default())
        .await
        .expect("list")
        .len();
    let dup = t
        .api(
            Method::POST,
            "/api/v1/users",
            Some(&tok),
            Some(json!({"username": "admin", "password": "un-long-mot-de-passe", "roles": ["admin"]})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let after = regie_core::audit::list(t.db(), &Default::default())
        .await
        .expect("list")
        .len();
    assert_eq!(before, after);
}
