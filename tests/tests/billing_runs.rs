//! Billing runs on SQLite and PostgreSQL: hand-computed totals, numbers
//! gapless per series under concurrent runs, a rerun that issues nothing,
//! plan changes and suspensions on request, the social tariff as one line
//! that never names the benefit, credit notes that cannot exceed the
//! invoice, invoices that cannot be changed.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use billing::compute::{LineKind, Month};
use billing::model::DocumentKind;
use billing::money::Cents;
use billing::storage::{self, SubscriptionChange};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::{billing_account as account, billing_offer as offer, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn actor() -> Actor {
    Actor::system("test")
}

#[tokio::test]
async fn a_month_is_billed_once_with_hand_computed_totals() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    offer(db, "F300", 2990).await;
    offer(db, "F1G", 3990).await;
    let nov = Month::parse("2026-11").unwrap();

    // A full month; a start on the 17th; a plan change on the 16th; a
    // suspension on request from the 11th to the 20th; a suspension for
    // unpaid bills (billed: no change to the timeline).
    let full = account(db, "Famille A", None).await;
    storage::subscribe(
        db,
        &actor(),
        &full,
        "RGE-AAAA-0001",
        "F300",
        d("2026-10-01"),
    )
    .await
    .unwrap();
    let late = account(db, "Famille B", None).await;
    storage::subscribe(
        db,
        &actor(),
        &late,
        "RGE-AAAA-0002",
        "F300",
        d("2026-11-17"),
    )
    .await
    .unwrap();
    let plan = account(db, "Famille C", None).await;
    let s = storage::subscribe(
        db,
        &actor(),
        &plan,
        "RGE-AAAA-0003",
        "F300",
        d("2026-10-01"),
    )
    .await
    .unwrap();
    storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-16"),
        &SubscriptionChange::Plan {
            offer: "F1G".into(),
        },
    )
    .await
    .unwrap();
    let pause = account(db, "Famille D", None).await;
    let s = storage::subscribe(
        db,
        &actor(),
        &pause,
        "RGE-AAAA-0004",
        "F300",
        d("2026-10-01"),
    )
    .await
    .unwrap();
    storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-11"),
        &SubscriptionChange::SuspendOnRequest,
    )
    .await
    .unwrap();
    storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-21"),
        &SubscriptionChange::Resume,
    )
    .await
    .unwrap();
    // A second change the same day replaces the first (suspended again,
    // then resumed: the 21st stays billed); a change before the current
    // stretch, a second live subscription on a line, an unknown offer:
    // refused, nothing half-written.
    let again = storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-21"),
        &SubscriptionChange::SuspendOnRequest,
    )
    .await
    .unwrap();
    assert!(again.periods.last().unwrap().on_request_suspension);
    let back = storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-21"),
        &SubscriptionChange::Resume,
    )
    .await
    .unwrap();
    assert_eq!(back.periods.len(), 3, "{back:?}");
    assert!(!back.periods[2].on_request_suspension);
    assert!(storage::change(
        db,
        &actor(),
        &s.code,
        d("2026-11-20"),
        &SubscriptionChange::SuspendOnRequest
    )
    .await
    .is_err());
    assert!(storage::subscribe(
        db,
        &actor(),
        &pause,
        "RGE-AAAA-0004",
        "F300",
        d("2026-11-01")
    )
    .await
    .is_err());
    assert!(storage::subscribe(
        db,
        &actor(),
        &pause,
        "RGE-AAAA-0009",
        "NOPE",
        d("2026-11-01")
    )
    .await
    .is_err());

    let preview = billing::run::preview(db, nov).await.unwrap();
    assert_eq!((preview.to_issue, preview.issued), (4, 0));
    // 29,90 + 13,96 + 34,91 + 19,94 (8,31 × 2 net + 3,32 VAT).
    assert_eq!(preview.gross, Cents(2990 + 1396 + 3491 + 1994));
    assert!(
        storage::invoices(db, None).await.unwrap().is_empty(),
        "a preview writes nothing"
    );

    let run = billing::run::issue(
        db,
        &actor(),
        nov,
        regie_tests::issue_on(nov, d("2026-12-01")),
    )
    .await
    .unwrap();
    assert_eq!(run.issued, 4);
    assert_eq!(run.gross, preview.gross);
    let again = billing::run::issue(
        db,
        &actor(),
        nov,
        regie_tests::issue_on(nov, d("2026-12-01")),
    )
    .await
    .unwrap();
    assert_eq!((again.issued, again.already), (0, 4));
    let all = storage::invoices(db, None).await.unwrap();
    let numbers: Vec<&str> = all.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(
        numbers,
        [
            "FA2026-000001",
            "FA2026-000002",
            "FA2026-000003",
            "FA2026-000004"
        ]
    );
    let b = all.iter().find(|i| i.account == late).unwrap();
    assert_eq!(
        (b.net, b.tax, b.gross),
        (Cents(1163), Cents(233), Cents(1396))
    );
    assert_eq!(
        b.lines[0].description,
        "Fibre F300 — du 17/11/2026 au 30/11/2026 (14 jours sur 30)"
    );

    // A partial credit note on the full month: its own series, referencing
    // the invoice; never more than what remains; never on a credit note.
    let inv = all.iter().find(|i| i.account == full).unwrap();
    let mut part = inv.lines[0].clone();
    part.net = Cents(1000);
    part.description = "Geste commercial : panne du 3 au 12 novembre".into();
    let cn = storage::credit_note(
        db,
        &actor(),
        &inv.number,
        vec![part.clone()],
        d("2026-12-05"),
    )
    .await
    .unwrap();
    assert_eq!(cn.kind, DocumentKind::CreditNote);
    assert_eq!(cn.number, "AV2026-000001");
    assert_eq!(cn.corrects.as_deref(), Some(inv.number.as_str()));
    assert_eq!(
        (cn.net, cn.tax, cn.gross),
        (Cents(-1000), Cents(-200), Cents(-1200))
    );
    let mut too_much = part.clone();
    too_much.net = Cents(1500);
    let err = storage::credit_note(db, &actor(), &inv.number, vec![too_much], d("2026-12-05"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("dépasse"), "{err}");
    assert!(
        storage::credit_note(db, &actor(), &cn.number, vec![part], d("2026-12-05"))
            .await
            .is_err()
    );
    // The refused attempts gave their numbers back.
    let mut ok = inv.lines[0].clone();
    ok.net = Cents(100);
    let next = storage::credit_note(db, &actor(), &inv.number, vec![ok], d("2026-12-06"))
        .await
        .unwrap();
    assert_eq!(next.number, "AV2026-000002");

    // An invoice cannot be changed or deleted, whatever the SQL.
    for sql in [
        "UPDATE bil_invoices SET gross_cents = 0 WHERE number = 'FA2026-000001'",
        "DELETE FROM bil_invoices WHERE number = 'FA2026-000001'",
    ] {
        assert!(sqlx::query(sql).execute(db.pool()).await.is_err(), "{sql}");
    }
    // An invoice names an existing account and subscription (a foreign key
    // on SQLite, a check per statement on PostgreSQL), and neither can be
    // deleted once it has invoices.
    for (account, subscription) in [("999999", "NULL"), ("1", "999999")] {
        let sql = format!(
            "INSERT INTO bil_invoices (number, series, seq, kind, account_id, subscription_id, period, issued_on,
                net_cents, tax_cents, gross_cents, lines_json, buyer_json, created_at)
             VALUES ('FX-1', 'FX', 1, 'invoice', {account}, {subscription}, '2026-11', '2026-12-01', 0, 0, 0, '[]', '{{}}', 'now')"
        );
        assert!(sqlx::query(&sql).execute(db.pool()).await.is_err(), "{sql}");
    }
    for sql in ["DELETE FROM bil_subscriptions", "DELETE FROM bil_accounts"] {
        assert!(sqlx::query(sql).execute(db.pool()).await.is_err(), "{sql}");
    }
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bil_invoices WHERE number = 'FX-1'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn concurrent_runs_number_without_gaps_or_doubles() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    offer(db, "F300", 2990).await;
    for i in 0..30 {
        let a = account(db, &format!("Foyer {i}"), None).await;
        storage::subscribe(
            db,
            &actor(),
            &a,
            &format!("RGE-BBBB-{i:04}"),
            "F300",
            d("2026-10-01"),
        )
        .await
        .unwrap();
    }
    let nov = Month::parse("2026-11").unwrap();
    let who = actor();
    let (a, b, c) = tokio::join!(
        billing::run::issue(db, &who, nov, regie_tests::issue_on(nov, d("2026-12-01"))),
        billing::run::issue(db, &who, nov, regie_tests::issue_on(nov, d("2026-12-01"))),
        billing::run::issue(db, &who, nov, regie_tests::issue_on(nov, d("2026-12-01"))),
    );
    let issued = a.unwrap().issued + b.unwrap().issued + c.unwrap().issued;
    assert_eq!(issued, 30);
    let all = storage::invoices(db, None).await.unwrap();
    assert_eq!(all.len(), 30);
    let expected: Vec<String> = (1..=30).map(|n| format!("FA2026-{n:06}")).collect();
    let numbers: Vec<String> = all.into_iter().map(|i| i.number).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn the_social_tariff_is_one_line_that_never_names_the_benefit() {
    let t = regie_tests::TestApp::new().await;
    let admin = t.user("admin", &[regie::platform::auth::Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t
        .user("agent", &[regie::platform::auth::Role::SocialAgent])
        .await;
    let agent = t.token_for(&agent).await;
    regie_tests::publish_example_rules(&t, &admin).await;
    let (household, _) = regie_tests::granted_household(
        &t,
        &agent,
        "Awa Diallo",
        "1 rue des Lilas",
        serde_json::json!({}),
    )
    .await;
    let db = t.db();
    offer(db, "F300", 2990).await;
    let acc = account(db, "Awa Diallo", Some(&household)).await;
    let today = regie::social::today();
    let month = Month::parse(&today.format("%Y-%m").to_string()).unwrap();
    storage::subscribe(db, &actor(), &acc, "RGE-CCCC-0001", "F300", month.first)
        .await
        .unwrap();
    let run = billing::run::issue(
        db,
        &actor(),
        month,
        regie_tests::issue_on(month, month.last + chrono::Days::new(1)),
    )
    .await
    .unwrap();
    assert_eq!(run.issued, 1);
    let inv = &storage::invoices(db, Some(&acc)).await.unwrap()[0];
    let social: Vec<_> = inv
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::SocialTariff)
        .collect();
    assert_eq!(social.len(), 1, "{inv:?}");
    assert!(social[0].description.starts_with("Tarif social"));
    assert!(social[0].net.0 < 0);
    let text = serde_json::to_string(inv).unwrap();
    for word in ["AAH", "allocation", "RSA", "quotient", "prestation"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
}

/// A refurbished laptop worth 150,00 € handed over under a grant: the
/// month's invoice carries the device at its price and the aid against
/// it, once per household even with two subscriptions. By hand: the
/// subscription 29,90 € TTC = 24,92 € HT; the device 150,00 € TTC =
/// 125,00 € HT and the aid −125,00 € HT; the tariff reduction on top. The
/// aid nets the device to zero, so the total is that of the month alone.
#[tokio::test]
async fn an_equipment_grant_is_its_own_line_against_the_device_price() {
    let t = regie_tests::TestApp::new().await;
    let admin = t.user("admin", &[regie::platform::auth::Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t
        .user("agent", &[regie::platform::auth::Role::SocialAgent])
        .await;
    let agent = t.token_for(&agent).await;
    regie_tests::publish_example_rules(&t, &admin).await;
    let (household, _) = regie_tests::granted_household(
        &t,
        &agent,
        "Awa Diallo",
        "1 rue des Lilas",
        serde_json::json!({}),
    )
    .await;
    let db = t.db();
    let today = regie::social::today();
    let month = Month::parse(&today.format("%Y-%m").to_string()).unwrap();
    let sys = actor();
    use chrono::Datelike;
    social_tariff::set_budget(db, &sys, today.year(), "2026-044", 100_000)
        .await
        .unwrap();
    social_tariff::add_device(
        db,
        &sys,
        &social_tariff::grants::NewDevice {
            partner: "Emmaüs Connect".into(),
            kind: social_tariff::grants::DeviceKind::Laptop,
            model: "ThinkPad T480".into(),
            serial: "PF1ABC23".into(),
            condition: social_tariff::grants::Condition::B,
            value_cents: 15_000,
            received_on: month.first,
        },
        today,
    )
    .await
    .unwrap();
    let code = social_tariff::HouseholdCode::parse(&household).unwrap();
    let g = social_tariff::request_grant(
        db,
        &sys,
        social_tariff::Scope::All,
        &code,
        social_tariff::grants::DeviceKind::Laptop,
        today,
        1,
    )
    .await
    .unwrap();
    social_tariff::hand_over(
        db,
        &sys,
        g.id,
        social_tariff::grants::Attestation::Signature,
        today,
    )
    .await
    .unwrap();

    offer(db, "F300", 2990).await;
    let acc = account(db, "Awa Diallo", Some(&household)).await;
    for line in ["RGE-GRNT-0001", "RGE-GRNT-0002"] {
        storage::subscribe(db, &sys, &acc, line, "F300", month.first)
            .await
            .unwrap();
    }
    let run = billing::run::issue(
        db,
        &sys,
        month,
        regie_tests::issue_on(month, month.last + chrono::Days::new(1)),
    )
    .await
    .unwrap();
    assert_eq!(run.issued, 2);
    let invoices = storage::invoices(db, Some(&acc)).await.unwrap();
    let with_device: Vec<_> = invoices
        .iter()
        .filter(|i| i.lines.iter().any(|l| l.kind == LineKind::Equipment))
        .collect();
    assert_eq!(with_device.len(), 1, "one invoice carries the device");
    let inv = with_device[0];
    let of = |k: LineKind| -> Vec<&billing::compute::Line> {
        inv.lines.iter().filter(|l| l.kind == k).collect()
    };
    let device = of(LineKind::Equipment);
    assert_eq!(device[0].net, Cents(12_500));
    assert!(device[0]
        .description
        .contains("ordinateur portable ThinkPad T480"));
    let aid = of(LineKind::EquipmentAid);
    assert_eq!(aid.len(), 1);
    assert_eq!(aid[0].description, "Aide à l'équipement");
    assert_eq!(aid[0].net, Cents(-12_500));
    let other = invoices.iter().find(|i| i.number != inv.number).unwrap();
    assert_eq!(inv.gross, other.gross, "the aid nets the device to zero");
    // A rerun issues nothing and moves no device.
    let again = billing::run::issue(
        db,
        &sys,
        month,
        regie_tests::issue_on(month, month.last + chrono::Days::new(1)),
    )
    .await
    .unwrap();
    assert_eq!((again.issued, again.already), (0, 2));
}

#[tokio::test]
async fn a_run_started_on_one_instance_is_seen_and_not_doubled_by_another() {
    let t = regie_tests::TestApp::new().await;
    let db = t.db();
    offer(db, "F300", 2990).await;
    for i in 0..3 {
        let a = account(db, &format!("Famille {i}"), None).await;
        storage::subscribe(
            db,
            &actor(),
            &a,
            &format!("RGE-INST-{i:04}"),
            "F300",
            d("2026-10-01"),
        )
        .await
        .unwrap();
    }
    // A second instance on the same database.
    let other = regie::AppState::new(db.clone(), (*t.state.config).clone()).unwrap();
    let nov = Month::parse("2026-11").unwrap();
    assert!(t.state.runs.get(db, "2026-11").await.unwrap().is_none());
    t.state
        .runs
        .start(
            db.clone(),
            actor(),
            nov,
            regie_tests::issue_on(nov, d("2026-12-01")),
        )
        .await
        .unwrap();
    // Asked on the other instance, the run is seen (running, then done).
    let mut seen = None;
    for _ in 0..100 {
        match other.runs.get(db, "2026-11").await.unwrap() {
            Some(s) if s.status == "done" => {
                seen = Some(s);
                break;
            }
            Some(s) => assert_eq!(s.status, "running"),
            None => panic!("the other instance does not see the run"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = seen.expect("the other instance sees the run end");
    let report = seen.report.unwrap();
    assert_eq!((report.issued, seen.done, seen.total), (3, 3, 3));
    // Started again from the other instance once over: nothing twice.
    other
        .runs
        .start(
            db.clone(),
            actor(),
            nov,
            regie_tests::issue_on(nov, d("2026-12-01")),
        )
        .await
        .unwrap();
    for _ in 0..100 {
        if other.runs.get(db, "2026-11").await.unwrap().unwrap().status == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(storage::invoices(db, None).await.unwrap().len(), 3);

    // A run whose instance fell silent counts as dead after a minute: it
    // may be started again (and issues nothing twice).
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(5);
    assert!(regie::platform::storage::claim_billing_run(
        db,
        "2026-10",
        "gone:1:abcdef",
        long_ago,
        long_ago - chrono::Duration::minutes(1)
    )
    .await
    .unwrap());
    let now = chrono::Utc::now();
    assert!(
        !regie::platform::storage::claim_billing_run(
            db,
            "2026-10",
            "x",
            now,
            long_ago - chrono::Duration::minutes(1)
        )
        .await
        .unwrap(),
        "a live run is not started twice"
    );
    assert!(
        regie::platform::storage::claim_billing_run(
            db,
            "2026-10",
            "x",
            now,
            now - chrono::Duration::minutes(1)
        )
        .await
        .unwrap(),
        "a stale run is taken over"
    );
}
