//! Migrations on both backends: applied once, in order; a second run does
//! nothing; an edited migration is detected.

use regie_core::migrate::{self, Component, Migration};
use regie_tests::TestDb;

#[tokio::test]
async fn applying_migrations_twice_is_a_no_op() {
    let t = TestDb::new().await;
    let first = migrate::run(&t.db, regie::COMPONENTS)
        .await
        .expect("first run");
    let expected: usize = regie::COMPONENTS.iter().map(|c| c.migrations.len()).sum();
    assert_eq!(first.len(), expected);
    assert_eq!(first[0].component, "core", "the shared kernel comes first");
    let second = migrate::run(&t.db, regie::COMPONENTS)
        .await
        .expect("second run");
    assert!(second.is_empty(), "second run applied {second:?}");
    let ledger = migrate::ledger(&t.db).await.expect("ledger");
    assert_eq!(ledger.len(), expected);
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    static V1: &[Migration] = &[Migration::portable(
        1,
        "t",
        "CREATE TABLE edited_t (id {{id}}, a TEXT)",
    )];
    static V1_EDITED: &[Migration] = &[Migration::portable(
        1,
        "t",
        "CREATE TABLE edited_t (id {{id}}, a TEXT, b TEXT)",
    )];
    let t = TestDb::new().await;
    migrate::run(
        &t.db,
        &[Component {
            name: "demo",
            migrations: V1,
        }],
    )
    .await
    .expect("applies");
    let err = migrate::run(
        &t.db,
        &[Component {
            name: "demo",
            migrations: V1_EDITED,
        }],
    )
    .await
    .expect_err("edited migration must be refused");
    assert!(err.to_string().contains("never be edited"), "{err}");
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    static BAD: &[Migration] = &[
        Migration::portable(1, "good", "CREATE TABLE good_t (id {{id}})"),
        Migration::portable(
            2,
            "bad",
            "CREATE TABLE half_t (id {{id}}); CREATE TABLE broken (",
        ),
    ];
    let t = TestDb::new().await;
    let err = migrate::run(
        &t.db,
        &[Component {
            name: "demo",
            migrations: BAD,
        }],
    )
    .await
    .expect_err("must fail");
    assert!(err.to_string().contains("demo/2"), "{err}");
    let ledger = migrate::ledger(&t.db).await.expect("ledger");
    assert_eq!(ledger.len(), 1, "only the good migration is recorded");
    let half = sqlx::query("SELECT COUNT(*) FROM half_t")
        .fetch_one(t.db.pool())
        .await;
    assert!(
        half.is_err(),
        "the failed migration's first statement was rolled back"
    );
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let t = TestDb::new().await;
    let (a, b) = tokio::join!(
        migrate::run(&t.db, regie::COMPONENTS),
        migrate::run(&t.db, regie::COMPONENTS)
    );
    // On SQLite one of the two may lose the race for the ledger row and
    // fail; what matters is that the schema ends whole and each migration
    // is recorded exactly once.
    let applied = a.map(|v| v.len()).unwrap_or(0) + b.map(|v| v.len()).unwrap_or(0);
    let expected: usize = regie::COMPONENTS.iter().map(|c| c.migrations.len()).sum();
    assert!(applied <= expected);
    let third = migrate::run(&t.db, regie::COMPONENTS)
        .await
        .expect("settles");
    assert_eq!(
        migrate::ledger(&t.db).await.expect("ledger").len(),
        expected,
        "{third:?}"
    );
}
