//! Arrears end to end on a real line: a direct debit booked, returned by
//! the bank (AM04 in a pain.002 report), reminders on the schedule, then
//! for a household whose FSL request is pending a throttle — never a
//! suspension — and, once the FSL's decision is booked (its payment and
//! the write-off), the line resumed. A household without protection is
//! suspended for unpaid bills and resumed when it pays at the counter.
//! The FEC sales journal of the period is balanced. On SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use billing::money::Cents;
use billing::sepa::Iban;
use chrono::NaiveDate;
use regie::platform::auth::Role;
use regie_tests::{active_line, connectable_premises, network_app, Answer, TestApp};
use serde_json::{json, Value};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A POST with a fresh `Idempotency-Key` (required to book a payment).
async fn post(t: &TestApp, token: &str, uri: &str, body: Value) -> Answer {
    t.send(
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn get(t: &TestApp, token: &str, uri: &str) -> Answer {
    t.api(Method::GET, uri, Some(token), None).await
}

async fn raw(t: &TestApp, token: &str, uri: &str, mime: &str, body: &str) -> Answer {
    t.send(
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, mime)
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

/// An account subscribed to F300 on `line` since September 2026 (the
/// story's line served since then: the subscription is written as history,
/// not through the API, which refuses a start before today's activation).
async fn subscriber(t: &TestApp, compta: &str, name: &str, line: &str) -> String {
    let r = post(
        t,
        compta,
        "/api/v1/billing/accounts",
        json!({"kind": "household", "name": name,
        "address": "3 rue des Lilas", "postcode": "35000", "town": "Rennes"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let account = r.json()["code"].as_str().unwrap().to_owned();
    billing::storage::subscribe(
        t.db(),
        &regie_core::audit::Actor::system("test"),
        &account,
        line,
        "F300",
        d("2026-09-01"),
    )
    .await
    .unwrap();
    account
}

async fn line_state(t: &TestApp, tech: &str, line: &str) -> (String, Value) {
    let r = get(t, tech, &format!("/api/v1/provisioning/lines/{line}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let j = r.json();
    (
        j["state"].as_str().unwrap().to_owned(),
        j["suspend_reason"].clone(),
    )
}

async fn dunning(t: &TestApp, compta: &str, on: &str) -> Value {
    let r = post(t, compta, "/api/v1/billing/dunning", json!({ "date": on })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

async fn balance(t: &TestApp, compta: &str, account: &str) -> Value {
    let r = get(
        t,
        compta,
        &format!("/api/v1/billing/accounts/{account}/balance"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

fn status_report(invoice: &str, code: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>BANK-R-1</MsgId><CreDtTm>2026-10-20T09:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>PRLV-1</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>{invoice}</OrgnlEndToEndId><TxSts>RJCT</TxSts>
<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#
    )
}

#[tokio::test]
async fn a_protected_household_is_throttled_never_cut_and_the_fsl_decision_is_booked() {
    let t = network_app(300, 24).await;
    let tech_user = t.user("tech", &[Role::Technician]).await;
    let tech = t.token_for(&tech_user).await;
    let compta_user = t.user("compta", &[Role::Accountant]).await;
    let compta = t.token_for(&compta_user).await;
    let premises = connectable_premises(&t, "PM1").await;
    let protected_line = active_line(&t, &tech, &premises[0], "HWTC0B0C0D0E").await;
    let plain_line = active_line(&t, &tech, &premises[1], "HWTC0B0C0D0F").await;
    let r = post(&t, &compta, "/api/v1/billing/offers", json!({"code": "F300", "name": "Fibre 300",
        "monthly_price_cents": 2990, "vat_rate": "20", "deliberation": "2026-012", "valid_from": "2025-01-01"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let roux = subscriber(&t, &compta, "Famille Roux", &protected_line).await;
    let blanc = subscriber(&t, &compta, "Famille Blanc", &plain_line).await;

    // September, issued on 1 October: 29,90 € each, due on 31 October.
    let r = post(
        &t,
        &compta,
        "/api/v1/billing/runs/2026-09",
        json!({"issued_on": "2026-10-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let invoice_of = |b: &Value| {
        b["balance"]["open"][0]["invoice"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let roux_invoice = invoice_of(&balance(&t, &compta, &roux).await);

    // The Roux pay by direct debit: the collection is booked on its date
    // and settles the invoice.
    let sys = regie_core::audit::Actor::system("test");
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    billing::storage::add_mandate(t.db(), &sys, &roux, "M. Roux", &iban, None, d("2026-09-01"))
        .await
        .unwrap();
    let batch = billing::storage::prepare_collections(
        t.db(),
        &sys,
        d("2026-10-16"),
        14,
        true,
        "PRLV-1",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].amount, Cents(2990));
    let b = balance(&t, &compta, &roux).await;
    assert_eq!(b["balance"]["balance"], 0, "{b}");

    // The bank rejects it (AM04): the invoice owes again; importing the
    // same report twice books it once; an unknown code is refused.
    let bad = raw(
        &t,
        &compta,
        "/api/v1/billing/imports/returns?on=2026-10-20",
        "application/xml",
        &status_report(&roux_invoice, "ZZ99"),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let unknown = raw(
        &t,
        &compta,
        "/api/v1/billing/imports/returns?on=2026-10-20",
        "application/xml",
        &status_report("FA2026-999999", "AM04"),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["faults"][0]["field"], "OrgnlEndToEndId");
    for (booked, already) in [(1, 0), (0, 1)] {
        let r = raw(
            &t,
            &compta,
            "/api/v1/billing/imports/returns?on=2026-10-20",
            "application/xml",
            &status_report(&roux_invoice, "AM04"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (r.json()["booked"].as_i64(), r.json()["already"].as_i64()),
            (Some(booked), Some(already))
        );
    }
    let b = balance(&t, &compta, &roux).await;
    assert_eq!(b["balance"]["balance"], 2990);
    let st = get(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/statement"),
    )
    .await;
    let lines = st.json();
    let labels: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("AM04 provision insuffisante")),
        "{labels:?}"
    );
    assert_eq!(lines.as_array().unwrap().last().unwrap()["balance"], 2990);

    // Not yet late enough for a reminder, then the first reminder once.
    let r = dunning(&t, &compta, "2026-11-05").await;
    assert!(r["reminders"].as_array().unwrap().is_empty(), "{r}");
    let r = dunning(&t, &compta, "2026-11-10").await;
    assert_eq!(r["reminders"].as_array().unwrap().len(), 2, "{r}");
    let r = dunning(&t, &compta, "2026-11-10").await;
    assert!(r["reminders"].as_array().unwrap().is_empty(), "{r}");

    // The Roux ask the FSL for help; the pass past the last step throttles
    // their line and suspends the Blanc's.
    let r = post(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/fsl"),
        json!({"filed_on": "2026-11-20", "reference": "FSL-35-2026-118"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let twice = post(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/fsl"),
        json!({}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = dunning(&t, &compta, "2026-12-10").await;
    assert_eq!(r["throttled"], json!([roux]), "{r}");
    assert_eq!(r["suspended"], json!([blanc]), "{r}");
    let (state, reason) = line_state(&t, &tech, &protected_line).await;
    assert_eq!(
        (state.as_str(), reason),
        ("suspended", json!("keep_connected"))
    );
    let (state, reason) = line_state(&t, &tech, &plain_line).await;
    assert_eq!((state.as_str(), reason), ("suspended", json!("unpaid")));
    let b = balance(&t, &compta, &roux).await;
    assert_eq!(b["line_policy"], "throttled");
    assert_eq!(b["protection"]["kind"], "fsl_pending");
    assert!(b["protection_text"]
        .as_str()
        .unwrap()
        .contains("n'est pas coupée"));
    // The accountant's page says why the line is only slowed; the counter
    // form refuses a bad amount with the field named.
    let session = t.session_for(&compta_user).await;
    let page = t
        .page(
            Method::GET,
            &format!("/comptabilite/comptes/{roux}"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Foyer protégé"), "{}", page.text);
    assert!(page.text.contains("FSL"));
    assert!(page.text.contains("débit réduit"));
    let arrears = t
        .page(Method::GET, "/comptabilite/impayes", Some(&session), None)
        .await;
    assert_eq!(arrears.status, StatusCode::OK);
    assert!(arrears.text.contains(&roux) && arrears.text.contains(&blanc));
    let refused = t
        .page(
            Method::POST,
            &format!("/comptabilite/comptes/{blanc}/paiement"),
            Some(&session),
            Some(&[
                ("csrf_token", &session.csrf),
                ("mode", "cash"),
                ("montant", "douze"),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("montant-erreur"), "{}", refused.text);

    let letter = get(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/reminder"),
    )
    .await;
    assert_eq!(letter.status, StatusCode::OK);
    assert!(letter.text.starts_with("%PDF"));

    // The pass is idempotent: nothing changes on a second run.
    let r = dunning(&t, &compta, "2026-12-11").await;
    assert_eq!(
        (
            r["throttled"].as_array().unwrap().len(),
            r["suspended"].as_array().unwrap().len()
        ),
        (0, 0),
        "{r}"
    );

    // The FSL pays 20,00 € and writes off the rest: balance settled, line
    // resumed on the next pass. A second decision is refused.
    let r = post(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/fsl/decision"),
        json!({"decided_on": "2026-12-12", "paid_cents": 2000, "written_off_cents": 990}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["balance"]["balance"], 0);
    assert!(r.json()["protection"].is_null());
    let again = post(
        &t,
        &compta,
        &format!("/api/v1/billing/accounts/{roux}/fsl/decision"),
        json!({"paid_cents": 1}),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let payments = billing::storage::ledger::payments(t.db(), &roux)
        .await
        .unwrap();
    let booked: Vec<(&str, i64)> = payments
        .iter()
        .map(|p| (p.method.as_str(), p.amount.0))
        .collect();
    assert_eq!(
        booked,
        vec![
            ("direct_debit", 2990),
            ("return", -2990),
            ("fsl", 2000),
            ("write_off", 990)
        ]
    );
    assert_eq!(payments[1].reason.as_deref(), Some("AM04"));
    assert_eq!(
        payments[2].allocations,
        vec![(roux_invoice.clone(), Cents(2000))]
    );

    // The Blanc pay at the counter, by cheque (its number is required).
    let no_number = post(
        &t,
        &compta,
        "/api/v1/billing/payments",
        json!({"account": blanc, "method": "cheque", "amount_cents": 2990}),
    )
    .await;
    assert_eq!(no_number.status, StatusCode::UNPROCESSABLE_ENTITY);
    for bad in [
        json!({"account": blanc, "method": "cash", "amount_cents": -5}),
        json!({"account": blanc, "method": "bitcoin", "amount_cents": 5}),
        json!({"account": blanc, "method": "fsl", "amount_cents": 5}),
        json!({"account": blanc, "method": "cash", "amount_cents": 5, "received_on": "2026-13-01"}),
        json!({"account": blanc, "method": "cash", "amount_cents": 5, "invoice": roux_invoice}),
        // Beyond sane bounds: a typing error, a day to come, a year ago.
        json!({"account": blanc, "method": "cash", "amount_cents": 9_999_999_999_999i64}),
        json!({"account": blanc, "method": "cash", "amount_cents": 5, "received_on": "2030-01-01"}),
        json!({"account": blanc, "method": "cash", "amount_cents": 5, "received_on": "2020-01-01"}),
    ] {
        let r = post(&t, &compta, "/api/v1/billing/payments", bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
    }
    let r = post(&t, &compta, "/api/v1/billing/payments",
        json!({"account": blanc, "method": "cheque", "amount_cents": 2990, "reference": "0001234", "received_on": "2026-12-05"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let receipt_no = r.json()["number"].as_str().unwrap().to_owned();
    // The same cheque is not booked twice.
    let again = post(&t, &compta, "/api/v1/billing/payments",
        json!({"account": blanc, "method": "cheque", "amount_cents": 2990, "reference": "0001234", "received_on": "2026-12-05"})).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.text
    );
    assert!(
        again
            .text
            .contains(&format!("déjà enregistré (reçu {receipt_no})")),
        "{}",
        again.text
    );
    let pdf = get(
        &t,
        &compta,
        &format!("/api/v1/billing/payments/{receipt_no}/receipt"),
    )
    .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf.text.starts_with("%PDF"));

    // The same files from the accountant's pages, with the page session
    // (no token): every link the pages show downloads; other roles are
    // refused.
    let session = t.session_for(&compta_user).await;
    let tech_session = t.session_for(&tech_user).await;
    let page = t
        .page(
            Method::GET,
            &format!("/comptabilite/comptes/{blanc}"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let receipt_link = format!("/comptabilite/paiements/{receipt_no}/recu");
    assert!(!page.text.contains("/api/v1/billing"), "{}", page.text);
    assert!(
        page.text
            .contains(&format!("Chèque {receipt_no} (réf. 0001234)")),
        "{}",
        page.text
    );
    let arrears_page = t
        .page(Method::GET, "/comptabilite/impayes", Some(&session), None)
        .await;
    assert!(
        !arrears_page.text.contains("/api/v1/billing"),
        "{}",
        arrears_page.text
    );
    let mut links = vec![receipt_link];
    for kind in ["fec", "register", "payments", "arrears"] {
        let link = format!("/comptabilite/exports/{kind}?from=2026-10-01&amp;to=2026-10-31");
        assert!(
            arrears_page
                .text
                .contains(&format!("/comptabilite/exports/{kind}?")),
            "{}",
            arrears_page.text
        );
        links.push(link.replace("&amp;", "&"));
    }
    for link in &links {
        let ok = t.page(Method::GET, link, Some(&session), None).await;
        assert_eq!(ok.status, StatusCode::OK, "{link}: {}", ok.text);
        assert!(ok.header("content-disposition").is_some(), "{link}");
        let refused = t.page(Method::GET, link, Some(&tech_session), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{link}");
        let anonymous = t.page(Method::GET, link, None, None).await;
        assert_ne!(anonymous.status, StatusCode::OK, "{link}");
    }
    let bad = t
        .page(
            Method::GET,
            "/comptabilite/exports/fec?from=2026-10-31&to=2026-10-01",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("avant de commencer"), "{}", bad.text);

    let r = dunning(&t, &compta, "2026-12-13").await;
    let mut resumed: Vec<String> = serde_json::from_value(r["resumed"].clone()).unwrap();
    resumed.sort();
    let mut both = vec![roux.clone(), blanc.clone()];
    both.sort();
    assert_eq!(resumed, both, "{r}");
    for line in [&protected_line, &plain_line] {
        let (state, reason) = line_state(&t, &tech, line).await;
        assert_eq!((state.as_str(), reason), ("active", Value::Null));
    }

    // The FEC of October: 18 columns, every entry balanced, dates
    // AAAAMMJJ, amounts with a comma, in ISO 8859-15, named after the
    // year's closing day (every rule is checked in billing::fec's tests).
    let fec = get(
        &t,
        &compta,
        "/api/v1/billing/exports/fec?from=2026-10-01&to=2026-10-31",
    )
    .await;
    assert_eq!(fec.status, StatusCode::OK, "{}", fec.text);
    assert_eq!(
        fec.header("content-type"),
        Some("text/plain; charset=iso-8859-15")
    );
    assert!(
        fec.header("content-disposition")
            .is_some_and(|d| d.contains("FEC20261231.txt")),
        "{:?}",
        fec.header("content-disposition")
    );
    let rows: Vec<Vec<&str>> = fec.text.lines().map(|l| l.split('\t').collect()).collect();
    // Two invoices of three lines each, at least.
    assert!(rows.len() > 2 * 3, "{}", fec.text);
    assert!(rows.iter().all(|r| r.len() == 18));
    assert_eq!(rows[1][2], "1");
    let mut sums = std::collections::HashMap::new();
    for r in &rows[1..] {
        assert!(r[3].starts_with("202610"), "{r:?}");
        let debit = Cents::parse(r[11]).unwrap().0;
        let credit = Cents::parse(r[12]).unwrap().0;
        assert!(r[11].contains(',') && r[12].contains(','));
        let e = sums.entry(r[2]).or_insert((0, 0));
        e.0 += debit;
        e.1 += credit;
    }
    assert!(sums.values().all(|(d, c)| d == c), "{sums:?}");
    for kind in ["register", "payments", "arrears"] {
        let r = get(
            &t,
            &compta,
            &format!("/api/v1/billing/exports/{kind}?from=2026-10-01&to=2026-12-31"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{kind}: {}", r.text);
    }
    let pay = get(
        &t,
        &compta,
        "/api/v1/billing/exports/payments?from=2026-10-01&to=2026-12-31",
    )
    .await;
    assert!(pay.text.contains(";return;-29,90;"), "{}", pay.text);
    let nope = get(
        &t,
        &compta,
        "/api/v1/billing/exports/fec?from=2026-10-31&to=2026-10-01",
    )
    .await;
    assert_eq!(nope.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A technician reaches none of this.
    let r = get(
        &t,
        &tech,
        &format!("/api/v1/billing/accounts/{roux}/balance"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn transfers_are_matched_by_reference_and_imported_once() {
    let t = regie_tests::TestDb::migrated().await;
    let db = &t.db;
    let sys = regie_core::audit::Actor::system("test");
    regie_tests::billing_offer(db, "F300", 2990).await;
    let a = regie_tests::billing_account(db, "Famille Morel", None).await;
    billing::storage::subscribe(db, &sys, &a, "RGE-TRF-0001", "F300", d("2026-09-01"))
        .await
        .unwrap();
    for (m, on) in [("2026-09", "2026-10-01"), ("2026-10", "2026-11-02")] {
        billing::run::issue(
            db,
            &sys,
            billing::compute::Month::parse(m).unwrap(),
            regie_tests::issue_on(billing::compute::Month::parse(m).unwrap(), d(on)),
        )
        .await
        .unwrap();
    }
    let open = billing::storage::ledger::balance(db, &a)
        .await
        .unwrap()
        .open;
    assert_eq!(open.len(), 2);
    let (older, newer) = (open[0].invoice.clone(), open[1].invoice.clone());

    // A statement with a transfer naming the newer invoice, one naming the
    // account, one naming nothing known, and a bank fee (a debit).
    let csv = format!(
        "Date;Libellé;Montant;Référence\n\
         05/11/2026;VIR SEPA MOREL;29,90;{newer}\n\
         06/11/2026;VIR MOREL {a};10,00;\n\
         06/11/2026;VIR INCONNU;12,00;FACTURE 12\n\
         07/11/2026;FRAIS;-1,50;\n"
    );
    let lines = billing::ledger::parse_transfers(csv.as_bytes()).unwrap();
    let dry = billing::storage::ledger::import_transfers(db, &sys, &lines, true)
        .await
        .unwrap();
    assert_eq!((dry.booked, dry.unmatched.len()), (2, 1));
    assert_eq!(
        billing::storage::ledger::balance(db, &a)
            .await
            .unwrap()
            .balance,
        Cents(5980),
        "a dry run books nothing"
    );
    let r = billing::storage::ledger::import_transfers(db, &sys, &lines, false)
        .await
        .unwrap();
    assert_eq!((r.booked, r.already, r.unmatched.len()), (2, 0, 1));
    assert_eq!(r.unmatched[0].line, 4);
    let again = billing::storage::ledger::import_transfers(db, &sys, &lines, false)
        .await
        .unwrap();
    assert_eq!((again.booked, again.already), (0, 2));

    // The named invoice is settled; the 10 € went to the older one.
    let b = billing::storage::ledger::balance(db, &a).await.unwrap();
    assert_eq!(b.balance, Cents(5980 - 3990));
    assert_eq!(b.open.len(), 1);
    assert_eq!(
        (b.open[0].invoice.as_str(), b.open[0].due),
        (older.as_str(), Cents(1990))
    );

    // More than owed at the counter: the rest stays as a credit and pays
    // the next invoice when it is issued and a payment is spread.
    let p = billing::storage::ledger::record_payment(
        db,
        &sys,
        &billing::storage::ledger::NewPayment {
            account: a.clone(),
            method: billing::ledger::Method::Cash,
            amount: Cents(5000),
            received_on: d("2026-11-10"),
            reference: None,
            invoice: None,
            submission: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(p.allocations, vec![(older.clone(), Cents(1990))]);
    let b = billing::storage::ledger::balance(db, &a).await.unwrap();
    assert_eq!((b.balance, b.open.len()), (Cents(-3010), 0));
    // A credit is not collected by direct debit.
    billing::run::issue(
        db,
        &sys,
        billing::compute::Month::parse("2026-11").unwrap(),
        regie_tests::issue_on(
            billing::compute::Month::parse("2026-11").unwrap(),
            d("2026-12-01"),
        ),
    )
    .await
    .unwrap();
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    billing::storage::add_mandate(db, &sys, &a, "Mme Morel", &iban, None, d("2026-09-01"))
        .await
        .unwrap();
    let batch = billing::storage::prepare_collections(
        db,
        &sys,
        d("2026-12-20"),
        14,
        true,
        "PRLV-9",
        |_| Ok(()),
    )
    .await
    .unwrap();
    assert!(batch.is_empty(), "{batch:?}");
    let b = billing::storage::ledger::balance(db, &a).await.unwrap();
    assert_eq!(b.balance, Cents(-20));
    assert!(b.open.is_empty());

    // A statement without the expected columns, or with a bad amount, is
    // refused with line and field.
    let faults = billing::ledger::parse_transfers(b"date;montant;libelle\n01/12/2026;1,234;X\n")
        .unwrap_err();
    assert_eq!((faults[0].line, faults[0].field.as_str()), (2, "montant"));
}

#[tokio::test]
async fn the_pes_flow_needs_its_configuration_and_carries_the_period() {
    let pes = billing::pes::PesConfig {
        poste_comptable: "035000".into(),
        siret: "21350000000017".into(),
        code_budget: "01".into(),
        libelle_budget: "Régie de la fibre".into(),
        nature: "706".into(),
        code_collectivite: "123".into(),
        code_produit: "FTTH".into(),
    };
    let with = TestApp::with_config(|c| c.pes = Some(pes)).await;
    let without = TestApp::new().await;
    for t in [&with, &without] {
        let sys = regie_core::audit::Actor::system("test");
        regie_tests::billing_offer(t.db(), "F300", 2990).await;
        let a = regie_tests::billing_account(t.db(), "Famille Petit", None).await;
        billing::storage::subscribe(t.db(), &sys, &a, "RGE-PES-0001", "F300", d("2026-10-01"))
            .await
            .unwrap();
        billing::run::issue(
            t.db(),
            &sys,
            billing::compute::Month::parse("2026-10").unwrap(),
            regie_tests::issue_on(
                billing::compute::Month::parse("2026-10").unwrap(),
                d("2026-11-02"),
            ),
        )
        .await
        .unwrap();
    }
    let uri = "/api/v1/billing/exports/pes?from=2026-11-01&to=2026-11-30&bordereau=12";
    let compta = without.user("compta", &[Role::Accountant]).await;
    let token = without.token_for(&compta).await;
    let r = get(&without, &token, uri).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let compta = with.user("compta", &[Role::Accountant]).await;
    let token = with.token_for(&compta).await;
    let r = get(&with, &token, uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.text.contains("<IdBord V=\"12\">"), "{}", r.text);
    assert!(r.text.contains("FA2026-000001"));
    assert!(r.text.contains("<MtBordHt V=\"24.92\">"), "{}", r.text);
    assert!(r.text.contains("<Exer V=\"2026\">"), "{}", r.text);
}
