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
    billing::storage::prepare_collections(db, &Actor::system("test"), d(on), 14, "PRLV-M", |_| {
        Ok(())
    })
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
