//! Two months of a régie's billing, on SQLite and PostgreSQL, every
//! expected figure written here by hand from the rules (README, « Rounding
//! », « Activation fee »), not read from the code: a start on the 17th of
//! a 30-day month and on the last day of a 31-day month, activation fees, a
//! business on a business offer with its fee, a suspension at the
//! household's request, a partial credit note, a counter payment, a
//! transfer, a direct debit returned for insufficient funds then presented
//! again; then the same figures found in the invoices, the FEC, the SEPA
//! files (XSD-checked) and the PES flow.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use billing::compute::Month;
use billing::ledger::ReturnReason;
use billing::model::{AccountKind, NewAccount, NewOffer};
use billing::money::{Cents, VatRate};
use billing::sepa::{Bic, Creditor, CreditorId, Iban, Pain008};
use billing::storage::{self, SubscriptionChange};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_pain008, sepa_ready};
use regie_tests::{issue_on, TestDb};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn offer(db: &regie_core::Db, code: &str, monthly: i64, fee: i64) {
    storage::create_offer(
        db,
        &Actor::system("test"),
        &NewOffer {
            code: code.into(),
            name: format!("Offre {code}"),
            monthly_gross: Cents(monthly),
            rate: VatRate::STANDARD,
            setup_fee: Cents(fee),
            deliberation: "2026-020".into(),
            valid_from: d("2025-01-01"),
            valid_to: None,
        },
    )
    .await
    .unwrap();
}

fn gross_of(inv: &billing::model::Invoice) -> (i64, i64, i64) {
    (inv.net.0, inv.tax.0, inv.gross.0)
}

#[tokio::test]
async fn two_months_of_billing_match_the_figures_computed_by_hand() {
    let t = TestDb::migrated().await;
    let db = &t.db;
    let sys = Actor::system("test");
    offer(db, "F300", 2990, 0).await;
    offer(db, "F300FEE", 2990, 4900).await;
    offer(db, "PRO", 5990, 12000).await;
    let martin = regie_tests::billing_account(db, "Famille Martin", None).await;
    let roux = regie_tests::billing_account(db, "Famille Roux", None).await;
    let blanc = regie_tests::billing_account(db, "Famille Blanc", None).await;
    let boulangerie = storage::create_account(
        db,
        &sys,
        &NewAccount {
            kind: AccountKind::Business,
            name: "Boulangerie du Marché SARL".into(),
            address: "2 place du Marché".into(),
            postcode: "35000".into(),
            town: "Rennes".into(),
            email: None,
            siren: Some("732829320".into()),
            vat_number: Some("FR44732829320".into()),
            household: None,
        },
    )
    .await
    .unwrap()
    .code;
    let sub = |a: &str, line: &str, o: &str, on: &str| {
        let (a, line, o, on) = (a.to_owned(), line.to_owned(), o.to_owned(), d(on));
        let sys = sys.clone();
        async move {
            storage::subscribe(db, &sys, &a, &line, &o, on)
                .await
                .unwrap()
        }
    };
    sub(&martin, "RGE-SCEN-0001", "F300", "2026-11-17").await;
    sub(&boulangerie, "RGE-SCEN-0002", "PRO", "2026-11-01").await;
    let blanc_sub = sub(&blanc, "RGE-SCEN-0003", "F300", "2026-11-01").await;
    sub(&roux, "RGE-SCEN-0004", "F300FEE", "2026-12-31").await;
    let iban = Iban::parse("FR7630006000011234567890189").unwrap();
    storage::add_mandate(
        db,
        &sys,
        &blanc,
        "Jeanne Blanc",
        &iban,
        None,
        d("2026-10-28"),
    )
    .await
    .unwrap();

    // November (30 days), issued on 1 December.
    let nov = Month::parse("2026-11").unwrap();
    let run = billing::run::issue(db, &sys, nov, issue_on(nov, d("2026-12-01")))
        .await
        .unwrap();
    assert_eq!(run.issued, 3);
    let inv = |a: &str| {
        let a = a.to_owned();
        async move { storage::invoices(db, Some(&a)).await.unwrap() }
    };
    // Martin, 17–30 November, 14 days of 30:
    //   29,90 / 1,2 × 14 / 30 = 11,6277… → 11,63 net; VAT 20 % of 11,63 =
    //   2,326 → 2,33; 13,96 €.
    let m_nov = inv(&martin).await.remove(0);
    assert_eq!(gross_of(&m_nov), (1163, 233, 1396));
    assert_eq!(
        m_nov.lines[0].description,
        "Offre F300 — du 17/11/2026 au 30/11/2026 (14 jours sur 30)"
    );
    // The bakery, all November on PRO with its fee: 59,90 / 1,2 = 49,9166…
    //   → 49,92; fee 120,00 / 1,2 = 100,00; 149,92 net; VAT 29,984 → 29,98;
    //   179,90 €. Its VAT number is on the invoice.
    let b_nov = inv(&boulangerie).await.remove(0);
    assert_eq!(gross_of(&b_nov), (14992, 2998, 17990));
    assert_eq!(b_nov.breakdown.len(), 1);
    assert_eq!(
        (b_nov.breakdown[0].taxable.0, b_nov.breakdown[0].tax.0),
        (14992, 2998)
    );
    assert_eq!(b_nov.buyer.vat_number.as_deref(), Some("FR44732829320"));
    // Blanc, all November: 29,90 / 1,2 = 24,9166… → 24,92; VAT 4,984 → 4,98.
    let bl_nov = inv(&blanc).await.remove(0);
    assert_eq!(gross_of(&bl_nov), (2492, 498, 2990));

    // Blanc suspends at its request from 11 to 20 December (back on the 21st).
    storage::change(
        db,
        &sys,
        &blanc_sub.code,
        d("2026-12-11"),
        &SubscriptionChange::SuspendOnRequest,
    )
    .await
    .unwrap();
    storage::change(
        db,
        &sys,
        &blanc_sub.code,
        d("2026-12-21"),
        &SubscriptionChange::Resume,
    )
    .await
    .unwrap();

    // A partial credit note on the bakery: 5,00 € TTC, 4,17 net
    // (4,1666…), VAT 0,83.
    let part = billing::credit::part(
        &b_nov,
        Cents(500),
        VatRate::STANDARD,
        "panne du 3 au 4 novembre",
    )
    .unwrap();
    let cn = storage::credit_note(db, &sys, &b_nov.number, part, d("2026-12-03"))
        .await
        .unwrap();
    assert_eq!(gross_of(&cn), (-417, -83, -500));
    // Martin pays in cash at the counter; the bakery by transfer for the
    // rest, 179,90 − 5,00 = 174,90.
    storage::ledger::record_payment(
        db,
        &sys,
        &storage::ledger::NewPayment {
            account: martin.clone(),
            method: billing::ledger::Method::Cash,
            amount: Cents(1396),
            received_on: d("2026-12-04"),
            reference: None,
            invoice: None,
            submission: None,
        },
    )
    .await
    .unwrap();
    let statement = format!(
        "date;montant;libelle\n05/12/2026;174,90;VIR BOULANGERIE {}\n",
        b_nov.number
    );
    let lines = billing::ledger::parse_transfers(statement.as_bytes()).unwrap();
    let imported = storage::ledger::import_transfers(db, &sys, &lines, false)
        .await
        .unwrap();
    assert_eq!(imported.booked, 1);

    // Blanc's November debit, on the day the invoice announced (issued
    // 1 December + 14 days): 29,90 €; returned for insufficient funds.
    let batch =
        storage::prepare_collections(db, &sys, d("2026-12-15"), 14, true, "PRLV-1", |_| Ok(()))
            .await
            .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(
        (batch[0].end_to_end.as_str(), batch[0].amount),
        (bl_nov.number.as_str(), Cents(2990))
    );
    assert!(storage::ledger::record_return(
        db,
        &sys,
        &bl_nov.number,
        ReturnReason::parse("AM04").unwrap(),
        d("2026-12-18")
    )
    .await
    .unwrap());

    // December (31 days), issued on 2 January.
    let dec = Month::parse("2026-12").unwrap();
    billing::run::issue(db, &sys, dec, issue_on(dec, d("2027-01-02")))
        .await
        .unwrap();
    // Roux, 31 December only, with its offer's fee:
    //   29,90 / 1,2 × 1 / 31 = 0,8037… → 0,80; fee 49,00 / 1,2 = 40,8333…
    //   → 40,83; 41,63 net; VAT 8,326 → 8,33; 49,96 €.
    let r_dec = inv(&roux).await.remove(0);
    assert_eq!(gross_of(&r_dec), (4163, 833, 4996));
    assert_eq!(
        r_dec.lines[0].description,
        "Offre F300FEE — du 31/12/2026 au 31/12/2026 (1 jour sur 31)"
    );
    // Blanc: 1–10 December (10 days): 29,90 / 1,2 × 10 / 31 = 8,0376… →
    //   8,04; 21–31 (11 days): × 11 / 31 = 8,8414… → 8,84; 16,88 net;
    //   VAT 3,376 → 3,38; 20,26 €.
    let bl_dec = inv(&blanc).await.pop().unwrap();
    assert_eq!(gross_of(&bl_dec), (1688, 338, 2026));
    // The bakery: a whole month of PRO, no second fee: 49,92 + 9,98 = 59,90.
    let b_dec = inv(&boulangerie).await.pop().unwrap();
    assert_eq!(gross_of(&b_dec), (4992, 998, 5990));

    // The next batch (16 January): December's debit for 20,26 €, and
    // November's 29,90 € presented again as NUMBER/2.
    let batch =
        storage::prepare_collections(db, &sys, d("2027-01-16"), 14, true, "PRLV-2", |_| Ok(()))
            .await
            .unwrap();
    let mut got: Vec<(String, i64)> = batch
        .iter()
        .map(|c| (c.end_to_end.clone(), c.amount.0))
        .collect();
    got.sort();
    let mut want = vec![
        (format!("{}/2", bl_nov.number), 2990),
        (bl_dec.number.clone(), 2026),
    ];
    want.sort();
    assert_eq!(got, want);
    if sepa_ready() {
        let creditor = Creditor {
            name: "Régie publique de la fibre".into(),
            iban: iban.clone(),
            bic: Bic::parse("AGRIFRPP").unwrap(),
            id: CreditorId::parse("FR72ZZZ123456").unwrap(),
        };
        for v in [Pain008::V08, Pain008::V02] {
            let xml = billing::sepa::pain008(
                v,
                "PRLV-2",
                chrono::Utc::now(),
                &creditor,
                d("2027-01-16"),
                &batch,
            )
            .unwrap();
            assert!(
                xml.contains("<CtrlSum>50.16</CtrlSum>"),
                "29,90 + 20,26 = 50,16: {xml}"
            );
            assert_valid_pain008(&xml, v);
        }
    }

    // The FEC of 2026: the figures above, entry by entry.
    let docs = storage::booked_between(db, d("2026-01-01"), d("2026-12-31"))
        .await
        .unwrap();
    let payments = storage::ledger::payments_between(db, d("2026-01-01"), d("2026-12-31"))
        .await
        .unwrap();
    let names = storage::accounts(db, None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    let books = billing::fec::Books {
        documents: &docs,
        payments: &payments,
        names: &names,
    };
    let rows = billing::fec::rows(
        &books,
        &Default::default(),
        d("2026-01-01"),
        d("2026-12-31"),
    );
    let of = |piece: &str| -> Vec<(String, String, String)> {
        rows.iter()
            .filter(|r| r[8] == piece)
            .map(|r| (r[4].clone(), r[11].clone(), r[12].clone()))
            .collect()
    };
    let row = |a: &str, dr: &str, cr: &str| (a.to_owned(), dr.to_owned(), cr.to_owned());
    assert_eq!(
        of(&b_nov.number),
        vec![
            row("411000", "179,90", "0,00"),
            row("706000", "0,00", "149,92"),
            row("445710", "0,00", "29,98")
        ]
    );
    assert_eq!(
        of(&cn.number),
        vec![
            row("411000", "0,00", "5,00"),
            row("706000", "4,17", "0,00"),
            row("445710", "0,83", "0,00")
        ]
    );
    assert_eq!(
        of(&m_nov.number),
        vec![
            row("411000", "13,96", "0,00"),
            row("706000", "0,00", "11,63"),
            row("445710", "0,00", "2,33")
        ]
    );
    // The bakery's invoice is settled by the credit note and the transfer,
    // Martin's by the cash: both lettered; Blanc's (returned) is not.
    let letter = |piece: &str| {
        rows.iter()
            .find(|r| r[8] == piece && r[4] == "411000")
            .map(|r| r[13].clone())
            .unwrap()
    };
    assert!(!letter(&b_nov.number).is_empty());
    assert_eq!(letter(&cn.number), letter(&b_nov.number));
    assert!(!letter(&m_nov.number).is_empty() && letter(&m_nov.number) != letter(&b_nov.number));
    assert!(letter(&bl_nov.number).is_empty());
    // Numbered 1, 2, 3… without a gap, each entry balanced.
    let mut nums: Vec<u32> = rows[1..].iter().map(|r| r[2].parse().unwrap()).collect();
    nums.dedup();
    assert_eq!(
        nums,
        (1..=u32::try_from(nums.len()).unwrap()).collect::<Vec<_>>()
    );

    // The PES flow of the November invoices and the credit note: titres of
    // 11,63 + 149,92 + 24,92 = 186,47 net, VAT 2,33 + 29,98 + 4,98 =
    // 37,29; the reduction 4,17 net, 0,83 VAT.
    let pes = billing::pes::PesConfig {
        poste_comptable: "035000".into(),
        siret: "21350000000017".into(),
        code_budget: "01".into(),
        libelle_budget: "Régie de la fibre".into(),
        nature: "706".into(),
        code_collectivite: "123".into(),
        code_produit: "FTTH".into(),
    };
    let pes_docs = storage::issued_between(db, d("2026-12-01"), d("2026-12-31"))
        .await
        .unwrap();
    let flow = billing::pes::pes_aller(&pes_docs, &pes, d("2026-12-31"), 1).unwrap();
    assert!(flow.left_out.is_empty(), "{:?}", flow.left_out);
    regie_tests::validators::assert_valid_pes(&flow.xml);
    // Debtors the schema's text types would refuse as they are: long
    // names and markup, a blank town, a street of zeros, a bad postcode.
    let mut odd = pes_docs.clone();
    odd[0].buyer.name = format!("«{}» & <Cie>", "Très long nom ".repeat(6));
    odd[0].buyer.town = "  ".into();
    odd[1].buyer.address = "0000".into();
    odd[2].buyer.postcode = "00000".into();
    let odd_flow = billing::pes::pes_aller(&odd, &pes, d("2026-12-31"), 1).unwrap();
    assert_eq!(odd_flow.left_out.len(), 2, "{:?}", odd_flow.left_out);
    regie_tests::validators::assert_valid_pes(&odd_flow.xml);
    assert!(
        flow.xml.contains("<MtBordHt V=\"186.47\">")
            && flow.xml.contains("<MtBordTVA V=\"37.29\">"),
        "{}",
        flow.xml
    );
    assert!(
        flow.xml.contains("<MtBordHt V=\"4.17\">") && flow.xml.contains("<MtBordTVA V=\"0.83\">"),
        "{}",
        flow.xml
    );
}
