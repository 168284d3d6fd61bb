//! The accountant's day from the pages, with the session: finding an
//! account by name, code, invoice, line or the end of an IBAN; a counter
//! payment booked once however often its form is sent, then its receipt;
//! an invoice's page with what is left to pay, and credit notes from it,
//! whole or in part, with their reason.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use billing::compute::Month;
use regie::platform::auth::Role;
use regie_core::audit::Actor;
use regie_tests::{issue_on, TestApp};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

#[tokio::test]
async fn the_accountant_finds_an_account_books_a_payment_once_and_credits_an_invoice() {
    let t = TestApp::new().await;
    let sys = Actor::system("test");
    let compta = t.user("compta", &[Role::Accountant]).await;
    let session = t.session_for(&compta).await;
    regie_tests::billing_offer(t.db(), "F300", 2990).await;
    let martin = regie_tests::billing_account(t.db(), "Famille Martin", None).await;
    let petit = regie_tests::billing_account(t.db(), "Famille Petit", None).await;
    billing::storage::subscribe(
        t.db(),
        &sys,
        &martin,
        "RGE-PAGE-0001",
        "F300",
        d("2026-10-01"),
    )
    .await
    .unwrap();
    let iban = billing::sepa::Iban::parse("FR7630006000011234567890189").unwrap();
    billing::storage::add_mandate(
        t.db(),
        &sys,
        &petit,
        "Léa Petit",
        &iban,
        None,
        d("2026-10-01"),
    )
    .await
    .unwrap();
    let oct = Month::parse("2026-10").unwrap();
    billing::run::issue(t.db(), &sys, oct, issue_on(oct, d("2026-11-02")))
        .await
        .unwrap();
    let invoice = billing::storage::invoices(t.db(), Some(&martin))
        .await
        .unwrap()[0]
        .clone();

    // Found by name (any part, any case), code, invoice, line, IBAN's end.
    let find = |q: String| {
        let t = &t;
        let session = &session;
        async move {
            let uri = format!("/comptabilite/comptes?q={}", urlencoding(&q));
            t.page(Method::GET, &uri, Some(session), None).await
        }
    };
    for (q, who) in [
        ("mart".to_owned(), &martin),
        (martin.to_lowercase(), &martin),
        (invoice.number.clone(), &martin),
        ("rge-page-0001".to_owned(), &martin),
        ("0189".to_owned(), &petit),
    ] {
        let r = find(q.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
        assert!(
            r.text.contains(&format!("/comptabilite/comptes/{who}")),
            "{q}: {}",
            r.text
        );
        let other = if who == &martin { &petit } else { &martin };
        assert!(
            !r.text.contains(&format!("/comptabilite/comptes/{other}\"")),
            "{q}"
        );
    }
    let none = find("zzz".into()).await;
    assert!(
        none.text.contains("Aucun compte ne correspond"),
        "{}",
        none.text
    );
    let short = find("a".into()).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text.contains("au moins 2 caractères"));

    // The account page lists the invoice, what is left, the line.
    let page = format!("/comptabilite/comptes/{martin}");
    let shown = t.page(Method::GET, &page, Some(&session), None).await;
    assert!(shown
        .text
        .contains(&format!("/comptabilite/factures/{}", invoice.number)));
    assert!(
        shown.text.contains("reste 29,90") && shown.text.contains("RGE-PAGE-0001"),
        "{}",
        shown.text
    );

    // A counter payment: sent twice (a double click, a reload), booked once.
    let token = regie_tests::hidden_field(&shown.text, "jeton").unwrap();
    let form = [
        ("csrf_token", session.csrf.as_str()),
        ("jeton", token.as_str()),
        ("mode", "cash"),
        ("montant", "10,00"),
        ("date", ""),
        ("reference", ""),
    ];
    let first = t
        .page(
            Method::POST,
            &format!("{page}/paiement"),
            Some(&session),
            Some(&form),
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text);
    let second = t
        .page(
            Method::POST,
            &format!("{page}/paiement"),
            Some(&session),
            Some(&form),
        )
        .await;
    assert_eq!(second.header("location"), first.header("location"));
    let payments = billing::storage::ledger::payments(t.db(), &martin)
        .await
        .unwrap();
    assert_eq!(payments.len(), 1);
    let after = t
        .page(
            Method::GET,
            first.header("location").unwrap(),
            Some(&session),
            None,
        )
        .await;
    assert!(
        after.text.contains("Imprimer le reçu") && after.text.contains(&payments[0].number),
        "{}",
        after.text
    );
    assert!(after.text.contains("reste 19,90"), "{}", after.text);

    // The invoice's page; a credit note without a reason is refused beside
    // its field; a part of 5,00 € with one is issued, then shown.
    let inv_page = format!("/comptabilite/factures/{}", invoice.number);
    let shown = t.page(Method::GET, &inv_page, Some(&session), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.text.contains("Reste à payer") && shown.text.contains("19,90"),
        "{}",
        shown.text
    );
    let credit = |fields: Vec<(&'static str, &'static str)>| {
        let t = &t;
        let session = &session;
        let inv_page = inv_page.clone();
        async move {
            let mut f: Vec<(&str, &str)> = vec![("csrf_token", session.csrf.as_str())];
            f.extend(fields);
            t.page(
                Method::POST,
                &format!("{inv_page}/avoir"),
                Some(session),
                Some(&f),
            )
            .await
        }
    };
    let no_reason = credit(vec![
        ("etendue", "partiel"),
        ("montant", "5,00"),
        ("taux", "20"),
        ("motif", ""),
    ])
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.text.contains("id=\"motif-erreur\""),
        "{}",
        no_reason.text
    );
    let issued = credit(vec![
        ("etendue", "partiel"),
        ("montant", "5,00"),
        ("taux", "20"),
        ("motif", "panne du 3 au 5 octobre"),
    ])
    .await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text);
    let cn_page = issued.header("location").unwrap().to_owned();
    assert!(cn_page.contains("/comptabilite/factures/AV"), "{cn_page}");
    let cn = t.page(Method::GET, &cn_page, Some(&session), None).await;
    assert!(
        cn.text.contains("panne du 3 au 5 octobre") && cn.text.contains(&invoice.number),
        "{}",
        cn.text
    );
    // 5,00 € TTC: 4,17 net at 20 % (4,1666…), 0,83 VAT.
    let notes = billing::storage::invoices(t.db(), Some(&martin))
        .await
        .unwrap();
    let note = notes.iter().find(|n| n.corrects.is_some()).unwrap();
    assert_eq!((note.net.0, note.tax.0, note.gross.0), (-417, -83, -500));
    // The whole invoice cannot be given back twice over.
    let too_much = credit(vec![("etendue", "totalite"), ("motif", "résiliation")]).await;
    assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_much.text.contains("dépasse ce qui reste"),
        "{}",
        too_much.text
    );
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
