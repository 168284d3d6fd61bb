//! The scheduler's lease and per-period claims, on both backends: what
//! makes several instances on one database do the scheduled work once.

use chrono::Duration;
use regie::platform::storage;
use regie_core::time;
use regie_tests::TestDb;

#[tokio::test]
async fn the_lease_has_one_holder_until_it_expires_or_is_released() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    let now = time::now();
    let s = Duration::seconds;
    assert!(storage::hold_lease(db, "scheduler", "a", now, now + s(30))
        .await
        .unwrap());
    // Another instance is refused while it runs…
    assert!(
        !storage::hold_lease(db, "scheduler", "b", now + s(10), now + s(40))
            .await
            .unwrap()
    );
    // …the holder renews it…
    assert!(
        storage::hold_lease(db, "scheduler", "a", now + s(20), now + s(50))
            .await
            .unwrap()
    );
    assert!(
        !storage::hold_lease(db, "scheduler", "b", now + s(40), now + s(70))
            .await
            .unwrap()
    );
    // …and once it expires (the holder died), the other takes it.
    assert!(
        storage::hold_lease(db, "scheduler", "b", now + s(51), now + s(81))
            .await
            .unwrap()
    );
    assert!(
        !storage::hold_lease(db, "scheduler", "a", now + s(52), now + s(82))
            .await
            .unwrap()
    );
    // Released on a clean stop, it is free at once; releasing a lease one
    // does not hold changes nothing.
    storage::release_lease(db, "scheduler", "a").await.unwrap();
    assert!(
        !storage::hold_lease(db, "scheduler", "a", now + s(53), now + s(83))
            .await
            .unwrap()
    );
    storage::release_lease(db, "scheduler", "b").await.unwrap();
    assert!(
        storage::hold_lease(db, "scheduler", "a", now + s(54), now + s(84))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_job_is_claimed_once_per_period_even_by_concurrent_instances() {
    let t = TestDb::migrated().await;
    let now = time::now();
    let hour = Duration::hours(1);
    // Eight instances at the same moment: one wins.
    let claims = (0..8).map(|i| {
        let db = t.db.clone();
        async move {
            storage::claim_job(&db, "dunning", &format!("i{i}"), now, now - hour)
                .await
                .unwrap()
        }
    });
    let won = futures::future::join_all(claims).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    // Within the period, nobody; after it, one again.
    let later = now + Duration::minutes(59);
    assert!(
        !storage::claim_job(&t.db, "dunning", "i9", later, later - hour)
            .await
            .unwrap()
    );
    let next = now + hour;
    assert!(
        storage::claim_job(&t.db, "dunning", "i9", next, next - hour)
            .await
            .unwrap()
    );
    // Other jobs have their own periods.
    assert!(
        storage::claim_job(&t.db, "retention", "i9", next, next - hour)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn runs_are_kept_in_the_history_for_a_while() {
    let t = TestDb::migrated().await;
    let now = time::now();
    let run = |job: &str, started: chrono::DateTime<chrono::Utc>| storage::JobRun {
        job: job.into(),
        instance: "i1".into(),
        started_at: started,
        finished_at: started + Duration::seconds(2),
        outcome: "ok".into(),
        detail: "3 reminders".into(),
    };
    let old = now - Duration::days(100);
    storage::record_job_run(&t.db, &run("dunning", old), old - Duration::days(90))
        .await
        .unwrap();
    storage::record_job_run(&t.db, &run("retention", now), now - Duration::days(90))
        .await
        .unwrap();
    storage::record_job_run(&t.db, &run("dunning", now), now - Duration::days(90))
        .await
        .unwrap();
    let kept = storage::job_runs(&t.db, 10).await.unwrap();
    // The dunning run of 100 days ago is forgotten; the others are kept.
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|r| r.started_at == now));
    assert_eq!(kept.iter().filter(|r| r.job == "dunning").count(), 1);
}
