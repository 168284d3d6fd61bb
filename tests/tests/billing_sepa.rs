//! SEPA direct debit from issued invoices: mandates with a RUM the régie
//! assigns (one live per account), nothing debited before the
//! pre-notification delay, each invoice collected once, first then
//! recurring sequences, and the pain.008.001.08 and .001.02 files valid
//! against the XSDs shipped in PyPI's `sepaxml`. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::process::Command;

use billing::compute::Month;
use billing::sepa::{Bic, Creditor, CreditorId, Iban, Pain008, Sequence};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_pain008, sepa_ready};
use regie_tests::TestDb;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test]
async fn invoices_are_debited_once_after_notice_in_valid_files() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    let sys = Actor::system("test");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let mut accounts = Vec::new();
    for i in 0..3 {
        let a = regie_tests::billing_account(db, &format!("Famille n° {i} & Cie"), None).await;
        billing::storage::subscribe(
            db,
            &sys,
            &a,
            &format!("RGE-SEPA-{i:04}"),
            "F300",
            d("2026-10-01"),
        )
        .await
        .unwrap();
        accounts.push(a);
    }
    // A bad IBAN never reaches storage; one live mandate per account.
    assert!(Iban::parse("FR7630006000011234567890188").is_err());
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    let bic = Bic::parse("AGRIFRPP").unwrap();
    let m = billing::storage::add_mandate(
        db,
        &sys,
        &accounts[0],
        "Famille n° 0",
        &iban,
        Some(&bic),
        d("2026-10-02"),
    )
    .await
    .unwrap();
    assert_eq!(m.rum, format!("RUM-{}-01", accounts[0]));
    let twice = billing::storage::add_mandate(
        db,
        &sys,
        &accounts[0],
        "Famille n° 0",
        &iban,
        None,
        d("2026-10-03"),
    )
    .await;
    assert!(twice.unwrap_err().to_string().contains("déjà un mandat"));
    let other = Iban::parse("DE89370400440532013000").unwrap();
    billing::storage::add_mandate(
        db,
        &sys,
        &accounts[1],
        "Famille n° 1",
        &other,
        None,
        d("2026-10-05"),
    )
    .await
    .unwrap();

    let nov = Month::parse("2026-11").unwrap();
    billing::run::issue(db, &sys, nov, regie_tests::issue_on(nov, d("2026-12-01")))
        .await
        .unwrap();
    // A bank file that cannot be written keeps nothing: the invoices stay
    // to collect.
    let failed = billing::storage::prepare_collections(
        db,
        &sys,
        d("2026-12-15"),
        14,
        true,
        "PRLV-FAIL",
        |_| Err(billing::Error::Invalid("disque plein".into())),
    )
    .await;
    assert!(failed.is_err());
    // Before 14 days of notice: nothing; then the two with a mandate, first.
    let early = billing::storage::prepare_collections(
        db,
        &sys,
        d("2026-12-14"),
        14,
        true,
        "PRLV-EARLY",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert!(early.is_empty());
    let batch = billing::storage::prepare_collections(
        db,
        &sys,
        d("2026-12-15"),
        14,
        true,
        "PRLV-2026-12",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert_eq!(batch.len(), 2);
    assert!(batch.iter().all(|c| c.sequence == Sequence::First));
    assert_eq!(batch.iter().map(|c| c.amount.0).sum::<i64>(), 2 * 2990);
    assert!(
        billing::storage::prepare_collections(
            db,
            &sys,
            d("2026-12-20"),
            14,
            true,
            "PRLV-AGAIN",
            |_| Ok(())
        )
        .await
        .unwrap()
        .is_empty(),
        "an invoice is collected once"
    );
    // The next month's debits are recurring.
    billing::run::issue(
        db,
        &sys,
        Month::parse("2026-12").unwrap(),
        regie_tests::issue_on(Month::parse("2026-12").unwrap(), d("2027-01-01")),
    )
    .await
    .unwrap();
    let next = billing::storage::prepare_collections(
        db,
        &sys,
        d("2027-01-15"),
        14,
        true,
        "PRLV-2027-01",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|c| c.sequence == Sequence::Recurring));

    if !sepa_ready() {
        return;
    }
    let creditor = Creditor {
        name: "Régie publique de la fibre".into(),
        iban,
        bic,
        id: CreditorId::parse("FR72ZZZ123456").unwrap(),
    };
    let all: Vec<_> = batch.iter().chain(next.iter()).cloned().collect();
    for version in [Pain008::V08, Pain008::V02] {
        let xml = billing::sepa::pain008(
            version,
            "PRLV-2026-12",
            chrono::Utc::now(),
            &creditor,
            d("2026-12-15"),
            &all,
        )
        .unwrap();
        assert_valid_pain008(&xml, version);
    }
}

/// The application with the régie configured as a SEPA creditor.
async fn app_with_sepa() -> regie_tests::TestApp {
    regie_tests::TestApp::with_config(|c| c.sepa = Some(regie_tests::sepa_config())).await
}

#[tokio::test]
async fn an_invoice_paid_by_direct_debit_carries_its_prenotification() {
    let t = app_with_sepa().await;
    let db = t.db();
    let sys = Actor::system("test");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let a = regie_tests::billing_account(db, "Famille Martin", None).await;
    billing::storage::subscribe(db, &sys, &a, "RGE-PDF0-0001", "F300", d("2026-10-01"))
        .await
        .unwrap();
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    let m =
        billing::storage::add_mandate(db, &sys, &a, "Famille Martin", &iban, None, d("2026-10-02"))
            .await
            .unwrap();
    billing::run::issue(
        db,
        &sys,
        Month::parse("2026-11").unwrap(),
        regie_tests::issue_on(Month::parse("2026-11").unwrap(), d("2026-12-01")),
    )
    .await
    .unwrap();
    let number = billing::storage::invoices(db, None).await.unwrap()[0]
        .number
        .clone();
    let compta = t
        .user("compta", &[regie::platform::auth::Role::Accountant])
        .await;
    let token = t.token_for(&compta).await;
    let pdf = t
        .api(
            axum::http::Method::GET,
            &format!("/api/v1/billing/invoices/{number}/pdf"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.pdf");
    // The notice the API prints (the body came back as lossy text: the
    // PDF is rendered again here from the same pieces).
    let inv = billing::storage::invoices(db, None)
        .await
        .unwrap()
        .remove(0);
    let notice = regie::billing::files::debit_notice(&t.state, &inv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        notice.on,
        d("2026-12-31"),
        "the due date, 30 days after issue"
    );
    assert_eq!(notice.iban, "FR76 **** **** **** **** **** 189");
    let seller = regie::billing::files::seller(&t.state);
    std::fs::write(
        &path,
        billing::document::pdf(&inv, &seller, Some(&notice)).unwrap(),
    )
    .unwrap();
    let Some(text) = pdf_words(&path) else {
        return;
    };
    assert!(
        text.contains("pré-notification") && text.contains(&m.rum) && text.contains("31/12/2026"),
        "{text}"
    );
}

/// The text of a PDF as rendered, words separated by single spaces; `None`
/// when poppler's pdftotext is missing (and allowed to be).
fn pdf_words(path: &std::path::Path) -> Option<String> {
    let Ok(out) = Command::new("pdftotext").arg(path).arg("-").output() else {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "pdftotext is required"
        );
        return None;
    };
    Some(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[tokio::test]
async fn a_months_pdfs_are_written_for_the_post_with_their_prenotifications() {
    let t = app_with_sepa().await;
    let db = t.db();
    let sys = Actor::system("test");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let mut accounts = Vec::new();
    for (i, name) in ["Famille Martin", "Famille Durand", "Famille Petit"]
        .iter()
        .enumerate()
    {
        let a = regie_tests::billing_account(db, name, None).await;
        billing::storage::subscribe(
            db,
            &sys,
            &a,
            &format!("RGE-MAIL-{i:04}"),
            "F300",
            d("2026-10-01"),
        )
        .await
        .unwrap();
        accounts.push(a);
    }
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    let m = billing::storage::add_mandate(
        db,
        &sys,
        &accounts[1],
        "Famille Durand",
        &iban,
        None,
        d("2026-10-02"),
    )
    .await
    .unwrap();
    billing::run::issue(
        db,
        &sys,
        Month::parse("2026-11").unwrap(),
        regie_tests::issue_on(Month::parse("2026-11").unwrap(), d("2026-12-01")),
    )
    .await
    .unwrap();
    // December's invoices are not November's mailing.
    billing::run::issue(
        db,
        &sys,
        Month::parse("2026-12").unwrap(),
        regie_tests::issue_on(Month::parse("2026-12").unwrap(), d("2027-01-01")),
    )
    .await
    .unwrap();
    let nov: Vec<_> = billing::storage::invoices(db, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.period == "2026-11")
        .collect();
    assert_eq!(nov.len(), 3);
    let mut part = nov[2].lines[0].clone();
    part.net = billing::money::Cents(500);
    let credit =
        billing::storage::credit_note(db, &sys, &nov[2].number, vec![part], d("2026-12-05"))
            .await
            .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("courrier");
    regie::billing::cli::run(
        db,
        &t.state.config,
        regie::cli::BillingCommand::Pdfs {
            period: "2026-11".into(),
            output: out.clone(),
        },
    )
    .await
    .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = nov
        .iter()
        .map(|i| format!("{}.pdf", i.number))
        .chain([format!("{}.pdf", credit.number)])
        .collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "the month's documents, nothing half-written"
    );

    let debited = nov.iter().find(|i| i.account == m.account).unwrap();
    let Some(text) = pdf_words(&out.join(format!("{}.pdf", debited.number))) else {
        return;
    };
    assert!(
        text.contains(&m.rum) && text.contains("31/12/2026"),
        "{text}"
    );
    let other = nov.iter().find(|i| i.account != m.account).unwrap();
    let text = pdf_words(&out.join(format!("{}.pdf", other.number))).unwrap_or_default();
    assert!(
        text.contains(&other.number) && !text.contains("pré-notification"),
        "{text}"
    );
    let text = pdf_words(&out.join(format!("{}.pdf", credit.number))).unwrap_or_default();
    assert!(
        text.contains("Avoir") && text.contains(&nov[2].number),
        "{text}"
    );

    // Bad input: a month that is not one, a directory under a file.
    let bad = regie::billing::cli::run(
        db,
        &t.state.config,
        regie::cli::BillingCommand::Pdfs {
            period: "2026-13".into(),
            output: out.clone(),
        },
    )
    .await;
    assert!(bad.is_err());
    let file = dir.path().join("fichier");
    std::fs::write(&file, "x").unwrap();
    let bad = regie::billing::cli::run(
        db,
        &t.state.config,
        regie::cli::BillingCommand::Pdfs {
            period: "2026-11".into(),
            output: file.join("sous"),
        },
    )
    .await;
    assert!(bad.unwrap_err().to_string().contains("cannot create"));
}
