//! The activation fee and the order of numbers, on SQLite and PostgreSQL,
//! every figure computed by hand from the offer's prices: the fee is one
//! line of the subscription's first invoice (and of the preview), never
//! again on a rerun, a change of offer or a resumption; a series' numbers
//! follow its dates (CGI art. 242 nonies A).
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use billing::compute::{LineKind, Month};
use billing::money::{Cents, VatRate};
use billing::storage::{self, SubscriptionChange};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::{billing_account as account, billing_offer as offer, issue_on, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn sys() -> Actor {
    Actor::system("test")
}

/// "Fibre 300 pro" at 29,90 € a month with a 49,00 € activation fee.
async fn offer_with_fee(db: &regie_core::Db) {
    storage::create_offer(
        db,
        &sys(),
        &billing::model::NewOffer {
            code: "F300FEE".into(),
            name: "Fibre 300 avec mise en service".into(),
            monthly_gross: Cents(2990),
            rate: VatRate::STANDARD,
            setup_fee: Cents(4900),
            deliberation: "2026-013".into(),
            valid_from: d("2025-01-01"),
            valid_to: None,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_activation_fee_is_billed_once_on_the_first_invoice() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    offer_with_fee(db).await;
    offer(db, "F1G", 3990).await;
    let nov = Month::parse("2026-11").unwrap();
    let dec = Month::parse("2026-12").unwrap();
    let acc = account(db, "Famille Leroy", None).await;
    let sub = storage::subscribe(
        db,
        &sys(),
        &acc,
        "RGE-FEE0-0001",
        "F300FEE",
        d("2026-11-17"),
    )
    .await
    .unwrap();

    // The preview shows it. By hand: 14 days of 30 at 29,90 €: 29,90 / 1,2
    // × 14 / 30 = 11,627… → 11,63 net; the fee 49,00 / 1,2 = 40,833… →
    // 40,83 net; 52,46 net, VAT 20 % 10,492 → 10,49; 62,95 € in all.
    let preview = billing::run::preview(db, nov).await.unwrap();
    assert_eq!((preview.to_issue, preview.gross), (1, Cents(6295)));
    let run = billing::run::issue(db, &sys(), nov, issue_on(nov, d("2026-12-01")))
        .await
        .unwrap();
    assert_eq!((run.issued, run.gross), (1, Cents(6295)));
    let first = &storage::invoices(db, Some(&acc)).await.unwrap()[0];
    let fee: Vec<_> = first
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::SetupFee)
        .collect();
    assert_eq!(fee.len(), 1, "{first:?}");
    assert_eq!(fee[0].net, Cents(4083));
    assert_eq!(fee[0].rate, VatRate::STANDARD);
    assert_eq!(
        fee[0].description,
        "Frais de mise en service — Fibre 300 avec mise en service"
    );

    // A rerun issues nothing; a change of offer and a suspension at the
    // household's request and its end bring no second fee.
    let again = billing::run::issue(db, &sys(), nov, issue_on(nov, d("2026-12-01")))
        .await
        .unwrap();
    assert_eq!((again.issued, again.already), (0, 1));
    storage::change(
        db,
        &sys(),
        &sub.code,
        d("2026-12-10"),
        &SubscriptionChange::SuspendOnRequest,
    )
    .await
    .unwrap();
    storage::change(
        db,
        &sys(),
        &sub.code,
        d("2026-12-20"),
        &SubscriptionChange::Resume,
    )
    .await
    .unwrap();
    storage::change(
        db,
        &sys(),
        &sub.code,
        d("2026-12-25"),
        &SubscriptionChange::Plan {
            offer: "F1G".into(),
        },
    )
    .await
    .unwrap();
    billing::run::issue(db, &sys(), dec, issue_on(dec, d("2027-01-02")))
        .await
        .unwrap();
    let all = storage::invoices(db, Some(&acc)).await.unwrap();
    assert_eq!(all.len(), 2);
    let second = &all[1];
    assert!(
        second.lines.iter().all(|l| l.kind != LineKind::SetupFee),
        "{second:?}"
    );
    // By hand, December (31 days): 1–9 and 20–24 at 29,90 € (14 days):
    // 29,90 / 1,2 × 9 / 31 = 7,233… → 7,23 and × 5 / 31 = 4,018… → 4,02;
    // 25–31 at 39,90 € (7 days): 39,90 / 1,2 × 7 / 31 = 7,508… → 7,51.
    // 18,76 net, VAT 3,752 → 3,75; 22,51 €.
    let nets: Vec<i64> = second.lines.iter().map(|l| l.net.0).collect();
    assert_eq!(nets, vec![723, 402, 751]);
    assert_eq!(second.gross, Cents(2251));
}

#[tokio::test]
async fn numbers_follow_dates_in_every_series() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    offer(db, "F300", 2990).await;
    let acc = account(db, "Famille Moreau", None).await;
    storage::subscribe(db, &sys(), &acc, "RGE-ORD0-0001", "F300", d("2026-10-01"))
        .await
        .unwrap();
    let oct = Month::parse("2026-10").unwrap();
    let nov = Month::parse("2026-11").unwrap();
    billing::run::issue(db, &sys(), nov, issue_on(nov, d("2026-12-05")))
        .await
        .unwrap();
    // October issued after November, dated before it: refused, nothing kept.
    let err = billing::run::issue(db, &sys(), oct, issue_on(oct, d("2026-11-15")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "la date du 15/11/2026 précède celle de la dernière pièce de la série FA2026 (05/12/2026) : \
         les numéros d'une série suivent l'ordre des dates"
    );
    assert_eq!(storage::invoices(db, Some(&acc)).await.unwrap().len(), 1);
    // The same day, or later, is fine.
    let r = billing::run::issue(db, &sys(), oct, issue_on(oct, d("2026-12-05")))
        .await
        .unwrap();
    assert_eq!(r.issued, 1);
    let numbers: Vec<String> = storage::invoices(db, Some(&acc))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.number)
        .collect();
    assert_eq!(numbers, vec!["FA2026-000001", "FA2026-000002"]);

    // Credit notes keep their own order.
    let inv = &storage::invoices(db, Some(&acc)).await.unwrap()[0];
    let mut part = inv.lines[0].clone();
    part.net = Cents(100);
    storage::credit_note(db, &sys(), &inv.number, vec![part.clone()], d("2026-12-06"))
        .await
        .unwrap();
    let err = storage::credit_note(db, &sys(), &inv.number, vec![part], d("2026-12-01"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("série AV2026 (06/12/2026)"),
        "{err}"
    );
    // A credit note is listed right after the invoice it corrects.
    let listed: Vec<String> = storage::invoices(db, Some(&acc))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.number)
        .collect();
    assert_eq!(
        listed,
        vec!["FA2026-000001", "AV2026-000001", "FA2026-000002"]
    );

    // The month not over, or a day to come: refused before anything.
    let dec = Month::parse("2026-12").unwrap();
    let today = d("2026-12-07");
    assert!(billing::run::IssueDate::new(dec, d("2026-12-31"), today).is_err());
    assert!(billing::run::IssueDate::new(nov, d("2026-12-08"), today).is_err());
}

#[tokio::test]
async fn over_two_months_the_fee_is_billed_once() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    offer_with_fee(db).await;
    let acc = account(db, "Famille Petit", None).await;
    storage::subscribe(
        db,
        &sys(),
        &acc,
        "RGE-FEE0-0002",
        "F300FEE",
        d("2026-10-01"),
    )
    .await
    .unwrap();
    let oct = Month::parse("2026-10").unwrap();
    billing::run::issue(db, &sys(), oct, issue_on(oct, d("2026-11-02")))
        .await
        .unwrap();
    let nov = Month::parse("2026-11").unwrap();
    billing::run::issue(db, &sys(), nov, issue_on(nov, d("2026-12-01")))
        .await
        .unwrap();
    let fees = storage::invoices(db, Some(&acc))
        .await
        .unwrap()
        .iter()
        .flat_map(|i| i.lines.clone())
        .filter(|l| l.kind == LineKind::SetupFee)
        .count();
    assert_eq!(fees, 1);
}
