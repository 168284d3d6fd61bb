//! Taking over from the concession: the outgoing operator's files for
//! three households on the generated network. A dry run checks and keeps
//! nothing; a delivery with a bad row keeps nothing and names the row; the
//! good delivery makes active lines (FreeRADIUS rows included), accounts,
//! subscriptions, mandates keeping their RUM and balances owed; the first
//! direct debit of a kept mandate is recurrent and quotes the former
//! creditor, in files valid against the pain.008 schemas; the letters
//! announcing the change of creditor are produced. On SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::fmt::Write as _;
use std::path::Path;

use billing::sepa::{CreditorId, Pain008, Sequence};
use billing::takeover::{NewCreditor, Options, Outcome};
use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_tests::validators::{assert_valid_pain008, sepa_ready};
use regie_tests::{connectable_premises, network_app_with, TestApp};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const SERIALS: [&str; 3] = ["ALCL00A1B2C3", "HWTC1A2B3C4D", "ZTEG00C0FFEE"];

/// One of the operator's lines: the premises' hexaclé and the PON port the
/// inventory leads it to.
struct Served {
    hexacle: String,
    pon_port: String,
}

async fn served(t: &TestApp, n: usize) -> Vec<Served> {
    let plant = t.state.plant.get(t.db()).await.unwrap();
    let mut out = Vec::new();
    for suf in connectable_premises(t, "PM1").await.into_iter().take(n) {
        let s = plant.sufs.get(&suf).unwrap();
        let address = plant.addresses.get(s.address.as_deref().unwrap()).unwrap();
        let outlet = plant.outlet_of(&suf).unwrap();
        let up = inventory::trace::upstream(
            &plant,
            outlet,
            &inventory::budget::PlanningLosses::default(),
            inventory::budget::OpticalClass::GponBPlus,
        )
        .unwrap();
        out.push(Served {
            hexacle: address.hexacle.as_ref().unwrap().as_str().to_owned(),
            pon_port: up.pon_port.unwrap(),
        });
    }
    out
}

/// The operator's five files for the households at `lines`.
fn delivery(dir: &Path, lines: &[Served]) {
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write(
        "offres.csv",
        "code;nom;prix_mensuel_ttc;tva;frais_mise_en_service;deliberation\n\
         CONC300;Fibre 300 Mb/s (reprise);29,99;20;0;Délibération 2026-41 du 3 novembre 2026\n\
         CONC1G;Fibre 1 Gb/s (reprise);39,99;20;;Délibération 2026-41 du 3 novembre 2026\n"
            .into(),
    );
    let mut accounts = String::from(
        "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\n",
    );
    let mut rows = String::from(
        "ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\n",
    );
    for (i, l) in lines.iter().enumerate() {
        writeln!(
            accounts,
            "C{i:03};menage;Famille Reprise {i};{} rue des Chênes;99100;Régie-sur-Fibre;;;;",
            i + 1
        )
        .unwrap();
        writeln!(
            rows,
            "L{i:03};C{i:03};{};;{};300M;{};{};{};{};-19,{i}",
            l.hexacle,
            if i == 2 { "CONC1G" } else { "CONC300" },
            if i == 2 { "publique" } else { "cgnat" },
            SERIALS[i],
            l.pon_port,
            40 + i
        )
        .unwrap();
    }
    write("comptes.csv", accounts);
    write("lignes.csv", rows);
    write(
        "mandats.csv",
        "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\n\
         C000;CONC-2019-000123;Famille Reprise 0;FR7630006000011234567890189;AGRIFRPP;12/03/2019;FR76ZZZ987654;Fibre Concession SAS\n\
         C001;CONC-2021-000456;Famille Reprise 1;DE89370400440532013000;;2021-06-01;FR76ZZZ987654;Fibre Concession SAS\n"
            .into(),
    );
    write(
        "soldes.csv",
        "ref_client;facture;date_facture;montant\nC001;FC-2026-11-0042;01/11/2026;29,99\n".into(),
    );
}

async fn run(t: &TestApp, dir: &Path, dry_run: bool) -> Outcome {
    let creditor = NewCreditor {
        seller: t.state.config.seller(),
        id: CreditorId::parse("FR72ZZZ123456").unwrap(),
    };
    billing::takeover::import(
        t.db(),
        &t.state.provisioning,
        &Actor::system("takeover"),
        dir,
        &Options {
            on: d("2027-01-01"),
            dry_run,
        },
        Some(&creditor),
    )
    .await
    .unwrap()
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(t.db().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_concession_base_is_taken_over_whole_or_not_at_all() {
    let t = network_app_with(400, 24, |c| {
        c.sepa = Some(regie_tests::sepa_config());
    })
    .await;
    let lines = served(&t, 3).await;
    assert_eq!(lines.len(), 3, "three connectable premises on PM1");
    let dir = tempfile::tempdir().unwrap();
    delivery(dir.path(), &lines);

    // A dry run checks everything against the database and keeps nothing.
    let dry = run(&t, dir.path(), true).await;
    assert!(!dry.report.has_errors(), "{:?}", dry.report.issues);
    assert!(!dry.committed);
    assert_eq!(
        (
            dry.counts.accounts,
            dry.counts.lines,
            dry.counts.subscriptions
        ),
        (3, 3, 3)
    );
    assert_eq!((dry.counts.mandates, dry.counts.balances), (2, 1));
    assert_eq!(count(&t, "SELECT COUNT(*) FROM bil_accounts").await, 0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM prov_lines").await, 0);

    // One bad row (a PON port the inventory does not lead to; an ONT id
    // past the port) and nothing is kept: the report names file and line.
    let bad = tempfile::tempdir().unwrap();
    delivery(bad.path(), &lines);
    let text = std::fs::read_to_string(bad.path().join("lignes.csv")).unwrap();
    let text = text.replacen(
        &format!(";{};41;", lines[1].pon_port),
        ";PON-AILLEURS;41;",
        1,
    );
    std::fs::write(bad.path().join("lignes.csv"), text).unwrap();
    let refused = run(&t, bad.path(), false).await;
    assert!(!refused.committed);
    let errors: Vec<String> = refused.report.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("erreur lignes.csv:3") && errors[0].contains("PON-AILLEURS"),
        "{errors:?}"
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM bil_accounts").await, 0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM prov_lines").await, 0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM radcheck").await, 0);

    // The good delivery.
    let done = run(&t, dir.path(), false).await;
    assert!(done.committed, "{:?}", done.report.issues);
    assert_eq!(done.lines.len(), 3);
    assert_eq!(done.letters.len(), 2);
    for (former, id) in &done.lines {
        let line = t.state.provisioning.line(id).await.unwrap();
        assert_eq!(
            line.state,
            provisioning::lifecycle::State::Active,
            "{former}"
        );
        let service = line.service.unwrap();
        let radius: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM radcheck WHERE username = $1")
            .bind(&service.circuit_id)
            .fetch_one(t.db().pool())
            .await
            .unwrap();
        assert_eq!(radius, 1, "FreeRADIUS knows {id}");
        let history = t.state.provisioning.history(id).await.unwrap();
        assert_eq!(history[0].step, "takeover");
    }
    let first = t.state.provisioning.line(&done.lines[0].1).await.unwrap();
    assert_eq!(first.ont.unwrap().serial, SERIALS[0]);
    assert_eq!(first.path.unwrap().ont_id, 40);
    let public = t.state.provisioning.line(&done.lines[2].1).await.unwrap();
    assert!(public.service.unwrap().ipv4.starts_with("198.51.100."));

    let accounts = billing::storage::accounts(t.db(), None).await.unwrap();
    assert_eq!(accounts.len(), 3);
    let code_of = |name: &str| {
        accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .code
            .clone()
    };
    let kept = billing::storage::live_mandate(t.db(), &code_of("Famille Reprise 0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.rum, "CONC-2019-000123");
    assert_eq!(kept.signed_on, d("2019-03-12"));
    // The balance is owed like an invoice, but it is not a sale.
    let open = billing::storage::ledger::open_invoices(t.db(), d("2027-01-31"))
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].account, code_of("Famille Reprise 1"));
    assert_eq!(open[0].open.due.0, 2999);
    assert!(open[0].open.invoice.starts_with("SR2027-"));
    assert!(
        billing::storage::issued_between(t.db(), d("2027-01-01"), d("2027-01-31"))
            .await
            .unwrap()
            .is_empty(),
        "a balance taken over is not in the sales registers"
    );

    // Its document prints as a balance taken over, and has no e-invoice.
    let compta = t
        .user("compta", &[regie::platform::auth::Role::Accountant])
        .await;
    let token = t.token_for(&compta).await;
    let number = &open[0].open.invoice;
    let pdf = t
        .api(
            axum::http::Method::GET,
            &format!("/api/v1/billing/invoices/{number}/pdf"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(pdf.status, axum::http::StatusCode::OK);
    let cii = t
        .api(
            axum::http::Method::GET,
            &format!("/api/v1/billing/invoices/{number}/cii"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        cii.status,
        axum::http::StatusCode::NOT_FOUND,
        "{}",
        cii.text
    );
    let blocks = billing::document::blocks(
        &billing::storage::invoice(t.db(), number).await.unwrap(),
        &t.state.config.seller(),
        None,
    );
    let text = format!("{blocks:?}");
    assert!(
        text.contains("Solde repris n°") && text.contains("FC-2026-11-0042"),
        "{text}"
    );
    assert!(!text.contains("TVA 20"), "{text}");

    // Taken over once: the same files again are refused, row by row.
    let again = run(&t, dir.path(), false).await;
    assert!(!again.committed);
    assert!(again
        .report
        .errors()
        .any(|i| i.file == "comptes.csv" && i.reason.contains("déjà été repris")));
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM bil_accounts").await,
        3,
        "nothing of the second run kept"
    );

    // January is billed; the kept mandates are debited as recurrent, the
    // first time with the former creditor quoted.
    let sys = Actor::system("test");
    billing::run::issue(
        t.db(),
        &sys,
        billing::compute::Month::parse("2027-01").unwrap(),
        regie_tests::issue_on(
            billing::compute::Month::parse("2027-01").unwrap(),
            d("2027-02-01"),
        ),
    )
    .await
    .unwrap();
    let batch = billing::storage::prepare_collections(
        t.db(),
        &sys,
        d("2027-02-15"),
        14,
        true,
        "PRLV-REPRISE",
        |_| Ok(()),
    )
    .await
    .unwrap();
    // The January invoices of the two accounts with a mandate, and the
    // balance one of them owed the concession (collected like an invoice).
    assert_eq!(batch.len(), 3, "{batch:?}");
    assert_eq!(
        batch
            .iter()
            .filter(|c| c.end_to_end.starts_with("SR2027-"))
            .count(),
        1,
        "{batch:?}"
    );
    assert!(batch.iter().all(|c| c.sequence == Sequence::Recurring));
    assert!(batch.iter().all(|c| c
        .amended_from
        .as_ref()
        .is_some_and(|f| f.id.as_str() == "FR76ZZZ987654")));
    assert!(batch.iter().any(|c| c.rum == "CONC-2021-000456"));

    // The letters print.
    let seller = t.state.config.seller();
    for l in &done.letters {
        let pdf =
            billing::document::render("Changement de créancier".into(), &seller, l.blocks.clone())
                .unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        assert!(format!("{:?}", l.blocks).contains(&l.rum));
    }
    // They can be written again from what is stored, the same, dated the
    // takeover day (`regie takeover letters`).
    let again = billing::takeover::creditor_letters(
        t.db(),
        &NewCreditor {
            seller: t.state.config.seller(),
            id: CreditorId::parse("FR72ZZZ123456").unwrap(),
        },
    )
    .await
    .unwrap();
    assert_eq!(again.len(), done.letters.len());
    for (a, l) in again.iter().zip(&done.letters) {
        assert_eq!((&a.account, &a.rum), (&l.account, &l.rum));
        assert_eq!(format!("{:?}", a.blocks), format!("{:?}", l.blocks));
        assert!(format!("{:?}", a.blocks).contains("01/01/2027"));
    }

    if !sepa_ready() {
        return;
    }
    let creditor = t
        .state
        .config
        .sepa
        .as_ref()
        .unwrap()
        .creditor(&t.state.config.regie_name)
        .unwrap();
    for version in [Pain008::V08, Pain008::V02] {
        let xml = billing::sepa::pain008(
            version,
            "PRLV-REPRISE",
            chrono::Utc::now(),
            &creditor,
            d("2027-02-15"),
            &batch,
        )
        .unwrap();
        assert!(xml.contains("<AmdmntInd>true</AmdmntInd>"));
        assert_valid_pain008(&xml, version);
    }
}

/// The operator's files with only accounts: `refs` as client references.
fn accounts_only(dir: &Path, refs: impl Iterator<Item = usize>) {
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write(
        "offres.csv",
        "code;nom;prix_mensuel_ttc;tva;frais_mise_en_service;deliberation\n".into(),
    );
    let mut accounts = String::from(
        "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\n",
    );
    for i in refs {
        writeln!(
            accounts,
            "C{i:04};menage;Famille {i};1 rue Haute;99100;Régie-sur-Fibre;;;;"
        )
        .unwrap();
    }
    write("comptes.csv", accounts);
    write(
        "lignes.csv",
        "ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\n".into(),
    );
    write(
        "mandats.csv",
        "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\n".into(),
    );
    write(
        "soldes.csv",
        "ref_client;facture;date_facture;montant\n".into(),
    );
}

#[tokio::test]
async fn one_refused_row_among_many_is_named_and_nothing_is_kept() {
    let t = regie_tests::TestApp::new().await;
    let first = tempfile::tempdir().unwrap();
    accounts_only(first.path(), 550..551);
    assert!(run(&t, first.path(), false).await.committed);
    // 1,200 accounts, more than one savepoint's worth; the 551st was
    // taken over already (a refusal by the database's unique index).
    let many = tempfile::tempdir().unwrap();
    accounts_only(many.path(), 0..1200);
    let outcome = run(&t, many.path(), false).await;
    assert!(!outcome.committed);
    let errors: Vec<String> = outcome.report.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("erreur comptes.csv:552"),
        "{errors:?}"
    );
    assert_eq!(outcome.counts.accounts, 1199);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM bil_accounts").await, 1);
}
