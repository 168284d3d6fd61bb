//! The life of a SEPA mandate, on SQLite and PostgreSQL: given at the
//! counter or online (consent kept with time and user), one live per
//! account, a first debit then recurrent ones, a change of account
//! announced on the next debit only (same bank: the former IBAN; another
//! bank: SMNDA, presented as a first debit), revocation, and lapse after 36
//! months without a debit; the files valid against the pain.008 XSDs.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use billing::compute::Month;
use billing::mandate::{Channel, Status};
use billing::sepa::{AccountChange, Bic, Creditor, CreditorId, Iban, Pain008, Sequence};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_pain008, sepa_ready};
use regie_tests::{issue_on, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn creditor() -> Creditor {
    Creditor {
        name: "Régie publique de la fibre".into(),
        iban: Iban::parse("FR7630006000011234567890189").unwrap(),
        bic: Bic::parse("AGRIFRPP").unwrap(),
        id: CreditorId::parse("FR72ZZZ123456").unwrap(),
    }
}

fn check_files(batch: &[billing::sepa::Collection], on: NaiveDate) {
    if !sepa_ready() {
        return;
    }
    for version in [Pain008::V08, Pain008::V02] {
        let xml = billing::sepa::pain008(
            version,
            "PRLV-M",
            chrono::Utc::now(),
            &creditor(),
            on,
            batch,
        )
        .unwrap();
        assert_valid_pain008(&xml, version);
    }
}

async fn bill(db: &regie_core::Db, month: &str, on: &str) {
    let m = Month::parse(month).unwrap();
    billing::run::issue(db, &Actor::system("test"), m, issue_on(m, d(on)))
        .await
        .unwrap();
}

async fn collect(db: &regie_core::Db, on: &str) -> Vec<billing::sepa::Collection> {
    billing::storage::prepare_collections(
        db,
        &Actor::system("test"),
        d(on),
        14,
        true,
        "PRLV-M",
        |_| Ok(()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_mandate_is_given_amended_revoked_and_lapses() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    let agent = Actor::system("guichet");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let counter = regie_tests::billing_account(db, "Famille Martin", None).await;
    let online = regie_tests::billing_account(db, "Famille Roux", None).await;
    for (i, a) in [&counter, &online].into_iter().enumerate() {
        billing::storage::subscribe(
            db,
            &agent,
            a,
            &format!("RGE-MAND-{i:04}"),
            "F300",
            d("2026-08-01"),
        )
        .await
        .unwrap();
    }
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    // At the counter, signed on paper; a signature date to come is refused.
    assert!(billing::storage::add_mandate(
        db,
        &agent,
        &counter,
        "Marie Martin",
        &iban,
        None,
        d("2099-01-01")
    )
    .await
    .is_err());
    let m = billing::storage::add_mandate(
        db,
        &agent,
        &counter,
        "Marie Martin",
        &iban,
        None,
        d("2026-08-05"),
    )
    .await
    .unwrap();
    // Online, by the household's own user: consent kept with time and user.
    let household = Actor {
        user_id: Some(7),
        username: "roux".into(),
        request_id: None,
    };
    let other = Iban::parse("FR1420041010050500013M02606").unwrap();
    billing::storage::add_mandate_online(db, &household, &online, "Paul Roux", &other, None)
        .await
        .unwrap();
    let records = billing::storage::mandates_of(db, &online).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].channel, Channel::Online);
    assert_eq!(records[0].consent_by.as_deref(), Some("roux"));
    assert!(records[0].consent_at.is_some());
    assert_eq!(records[0].status, Status::Live);
    // One live mandate per account.
    let again =
        billing::storage::add_mandate_online(db, &household, &online, "Paul Roux", &other, None)
            .await;
    assert!(again
        .unwrap_err()
        .to_string()
        .contains("a déjà un mandat en cours"));

    // August: the first debit is FRST.
    bill(db, "2026-08", "2026-09-01").await;
    let first = collect(db, "2026-09-15").await;
    assert_eq!(first.len(), 2);
    assert!(first
        .iter()
        .all(|c| c.sequence == Sequence::First && c.account_changed.is_none()));
    check_files(&first, d("2026-09-15"));

    // Martin moves to another account of the same bank, then Roux to
    // another bank: the next debit says so, once.
    let same_bank = Iban::parse("FR9730006000019876543210959").unwrap();
    let amended = billing::storage::amend_mandate(db, &agent, &counter, None, &same_bank, None)
        .await
        .unwrap();
    assert_eq!(
        (amended.rum.as_str(), &amended.iban),
        (m.rum.as_str(), &same_bank)
    );
    billing::storage::amend_mandate(db, &agent, &online, Some("Paul et Léa Roux"), &iban, None)
        .await
        .unwrap();
    let pending = &billing::storage::mandates_of(db, &counter).await.unwrap()[0];
    assert_eq!(
        pending.amendment_pending.as_deref(),
        Some(iban.masked().as_str())
    );
    bill(db, "2026-09", "2026-10-01").await;
    let second = collect(db, "2026-10-15").await;
    let by = |batch: &[billing::sepa::Collection], rum: &str| {
        batch.iter().find(|c| c.rum == rum).cloned().unwrap()
    };
    let martin = by(&second, &m.rum);
    assert_eq!(martin.sequence, Sequence::Recurring);
    assert_eq!(
        martin.account_changed,
        Some(AccountChange::SameBank(iban.clone()))
    );
    assert_eq!(martin.iban, same_bank);
    let roux = second.iter().find(|c| c.rum != m.rum).unwrap();
    assert_eq!(roux.account_changed, Some(AccountChange::OtherBank));
    assert_eq!(
        roux.sequence,
        Sequence::First,
        "another bank: presented as a first debit"
    );
    assert_eq!(roux.debtor, "Paul et Léa Roux");
    check_files(&second, d("2026-10-15"));
    bill(db, "2026-10", "2026-11-02").await;
    let third = collect(db, "2026-11-16").await;
    assert!(third
        .iter()
        .all(|c| c.account_changed.is_none() && c.sequence == Sequence::Recurring));

    // Roux revokes: nothing more is debited, its page says so.
    billing::storage::revoke_mandate(db, &agent, &online, d("2026-11-20"))
        .await
        .unwrap();
    bill(db, "2026-11", "2026-12-01").await;
    let fourth = collect(db, "2026-12-15").await;
    assert_eq!(fourth.len(), 1);
    assert_eq!(fourth[0].rum, m.rum);
    let roux_records = billing::storage::mandates_of(db, &online).await.unwrap();
    assert!(
        matches!(&roux_records[0].status, Status::Revoked { on, reason } if *on == d("2026-11-20") && reason.contains("débiteur"))
    );
    assert!(
        billing::storage::revoke_mandate(db, &agent, &online, d("2026-11-21"))
            .await
            .is_err()
    );

    // Martin's mandate, last used on 15/12/2026, lapses after 15/12/2029:
    // an invoice collected after then is not debited.
    let live = &billing::storage::mandates_of(db, &counter).await.unwrap()[0];
    assert_eq!(live.last_debit, Some(d("2026-12-15")));
    assert_eq!(live.lapses_on, Some(d("2029-12-15")));
    bill(db, "2026-12", "2027-01-04").await;
    let late = collect(db, "2029-12-16").await;
    assert!(late.is_empty(), "{late:?}");
    let lapsed = &billing::storage::mandates_of(db, &counter).await.unwrap()[0];
    assert_eq!(
        lapsed.status,
        Status::Expired {
            on: d("2029-12-16")
        }
    );
    // A new mandate can then be given.
    billing::storage::add_mandate(
        db,
        &agent,
        &counter,
        "Marie Martin",
        &same_bank,
        None,
        d("2026-12-07"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_debit_returned_for_insufficient_funds_is_presented_once_more() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    let sys = Actor::system("test");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let a = regie_tests::billing_account(db, "Famille Petit", None).await;
    let b = regie_tests::billing_account(db, "Famille Blanc", None).await;
    for (i, acc) in [&a, &b].into_iter().enumerate() {
        billing::storage::subscribe(
            db,
            &sys,
            acc,
            &format!("RGE-REPR-{i:04}"),
            "F300",
            d("2026-09-01"),
        )
        .await
        .unwrap();
        billing::storage::add_mandate(
            db,
            &sys,
            acc,
            "Titulaire",
            &Iban::parse("FR7630006000011234567890189").unwrap(),
            None,
            d("2026-09-01"),
        )
        .await
        .unwrap();
    }
    bill(db, "2026-09", "2026-10-01").await;
    let first = collect(db, "2026-10-15").await;
    assert_eq!(first.len(), 2);
    let petit = first
        .iter()
        .find(|c| c.debtor == "Titulaire" && c.end_to_end.starts_with("FA"))
        .unwrap()
        .end_to_end
        .clone();
    let blanc = first
        .iter()
        .map(|c| c.end_to_end.clone())
        .find(|n| *n != petit)
        .unwrap();
    // One returned for insufficient funds (AM04), the other for a closed
    // account (AC04, which ends its mandate).
    let sys = &sys;
    let ret = |n: &str, code: &str| {
        let n = n.to_owned();
        let code = code.to_owned();
        async move {
            billing::storage::ledger::record_return(
                db,
                sys,
                &n,
                billing::ledger::ReturnReason::parse(&code).unwrap(),
                d("2026-10-20"),
            )
            .await
            .unwrap()
        }
    };
    assert!(ret(&petit, "AM04").await);
    assert!(ret(&blanc, "AC04").await);
    // The next batch presents the AM04 one again, quoted NUMBER/2, for the
    // 29,90 € still owed; the AC04 one is not (its mandate ended).
    bill(db, "2026-10", "2026-11-02").await;
    let next = collect(db, "2026-11-16").await;
    let again: Vec<_> = next
        .iter()
        .filter(|c| c.end_to_end.ends_with("/2"))
        .collect();
    assert_eq!(again.len(), 1, "{next:?}");
    assert_eq!(again[0].end_to_end, format!("{petit}/2"));
    assert_eq!(again[0].amount, billing::money::Cents(2990));
    assert_eq!(again[0].sequence, Sequence::Recurring);
    assert!(!next.iter().any(|c| c.end_to_end.contains(&blanc)));
    check_files(&next, d("2026-11-16"));
    // Returned again: booked against the second presentation; never a third.
    assert!(ret(&format!("{petit}/2"), "AM04").await);
    assert!(
        !ret(&format!("{petit}/2"), "AM04").await,
        "a report imported twice books nothing twice"
    );
    bill(db, "2026-11", "2026-12-01").await;
    let third = collect(db, "2026-12-15").await;
    assert!(
        third.iter().all(|c| !c.end_to_end.contains(&petit)),
        "{third:?}"
    );
    // The invoice owes again in full.
    let balance = billing::storage::ledger::balance(db, &a).await.unwrap();
    assert!(balance
        .open
        .iter()
        .any(|o| o.invoice == petit && o.due == billing::money::Cents(2990)));
    // Without re-presentation in the schedule, nothing is presented again.
    let t2 = TestDb::migrated().await;
    let db2 = &t2.db;
    regie_tests::billing_offer(db2, "F300", 2990).await;
    let c = regie_tests::billing_account(db2, "Famille Roux", None).await;
    billing::storage::subscribe(db2, sys, &c, "RGE-REPR-0009", "F300", d("2026-09-01"))
        .await
        .unwrap();
    billing::storage::add_mandate(
        db2,
        sys,
        &c,
        "Titulaire",
        &Iban::parse("FR7630006000011234567890189").unwrap(),
        None,
        d("2026-09-01"),
    )
    .await
    .unwrap();
    bill(db2, "2026-09", "2026-10-01").await;
    let first = collect(db2, "2026-10-15").await;
    billing::storage::ledger::record_return(
        db2,
        sys,
        &first[0].end_to_end,
        billing::ledger::ReturnReason::parse("AM04").unwrap(),
        d("2026-10-20"),
    )
    .await
    .unwrap();
    let none = billing::storage::prepare_collections(
        db2,
        sys,
        d("2026-11-16"),
        14,
        false,
        "PRLV-N",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert!(none.is_empty(), "{none:?}");
}
