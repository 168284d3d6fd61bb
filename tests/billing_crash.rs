//! A billing run killed in the middle (SIGKILL on the `regie billing run`
//! process) and started again ends with exactly one invoice per
//! subscription and no gap in the numbers. An integration test of the root
//! package, for the binary's path.

use std::process::Command;
use std::time::{Duration, Instant};

use billing::model::{AccountKind, NewAccount, NewOffer};
use billing::money::{Cents, VatRate};
use regie_core::audit::Actor;
use regie_core::{DatabaseUrl, Db};

const SUBSCRIPTIONS: usize = 3_000;

fn regie(dir: &std::path::Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regie"));
    c.arg("--data-dir").arg(dir).arg("--database").arg(url);
    c.env("REGIE_LOG_LEVEL", "warn");
    c
}

async fn count(db: &Db) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM bil_invoices")
        .fetch_one(db.pool())
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_midway_completes_on_the_rerun_without_gaps() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("billing.db");
    let url = DatabaseUrl::sqlite_file(&file);
    let db = Db::connect(&url, 4).await.expect("connect");
    regie_core::migrate::run(&db, regie::COMPONENTS)
        .await
        .expect("migrate");
    let actor = Actor::system("test");
    let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    billing::storage::create_offer(
        &db,
        &actor,
        &NewOffer {
            code: "F300".into(),
            name: "Fibre 300".into(),
            monthly_gross: Cents(2990),
            rate: VatRate::STANDARD,
            setup_fee: Cents(0),
            deliberation: "2026-012".into(),
            valid_from: day("2026-01-01"),
            valid_to: None,
        },
    )
    .await
    .expect("offer");
    for i in 0..SUBSCRIPTIONS {
        let a = billing::storage::create_account(
            &db,
            &actor,
            &NewAccount {
                kind: AccountKind::Household,
                name: format!("Foyer {i}"),
                address: format!("{} rue des Lilas", i + 1),
                postcode: "35000".into(),
                town: "Rennes".into(),
                email: None,
                siren: None,
                vat_number: None,
                household: None,
            },
        )
        .await
        .expect("account");
        billing::storage::subscribe(
            &db,
            &actor,
            &a.code,
            &format!("RGE-KILL-{i:04}"),
            "F300",
            day("2026-10-01"),
        )
        .await
        .expect("subscription");
    }

    let raw = format!("sqlite://{}", file.display());
    let args = [
        "billing",
        "run",
        "--period",
        "2026-11",
        "--issued-on",
        "2026-12-01",
    ];
    let mut child = regie(dir.path(), &raw).args(args).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut at_kill = count(&db).await;
    while at_kill < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        at_kill = count(&db).await;
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let at_kill = count(&db).await;
    assert!(
        at_kill > 0 && at_kill < SUBSCRIPTIONS as i64,
        "the run must be killed midway: {at_kill} of {SUBSCRIPTIONS} issued"
    );

    let out = regie(dir.path(), &raw).args(args).output().expect("rerun");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{} issued now", SUBSCRIPTIONS as i64 - at_kill)),
        "{text}"
    );
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM bil_invoices ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .expect("seqs");
    let expected: Vec<i64> = (1..=SUBSCRIPTIONS as i64).collect();
    assert_eq!(
        seqs, expected,
        "one invoice per subscription, numbered without a gap"
    );
    let once: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT subscription_id) FROM bil_invoices")
        .fetch_one(db.pool())
        .await
        .expect("distinct");
    assert_eq!(once, SUBSCRIPTIONS as i64);

    // A third run issues nothing.
    let out = regie(dir.path(), &raw)
        .args(args)
        .output()
        .expect("third run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 issued now"));
    db.close().await;
}
