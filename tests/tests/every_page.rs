//! Every page of every role in headless Chromium, found by following the
//! links each demo user sees (`tests/browser/every_page.mjs`): at 1280 and
//! at 390 px wide, no page wider than the screen, no English word, no raw
//! identifier where a label belongs, no serious or critical axe-core
//! violation, and the pages of each role's work among those reached.
//!
//! Needs Node, `npm ci` in `tests/browser` and Chromium (see
//! `regie_tests::browser`).

use std::path::PathBuf;

use regie::platform::auth::Role;
use regie_tests::browser::{browser_ready, run_script};
use regie_tests::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_every_role_fits_a_phone_and_speaks_french() {
    if !browser_ready() {
        return;
    }
    let t = TestApp::new().await;
    let accounts = regie::demo::load(t.db(), t.tdb.dir.path(), 400, &t.state.provisioning)
        .await
        .unwrap()
        .unwrap();
    let line = t
        .state
        .provisioning
        .lines(Some(provisioning::lifecycle::State::Active), None, 1)
        .await
        .unwrap()
        .remove(0);
    let path = line.path.as_ref().unwrap();
    let invoices = billing::storage::invoices(t.db(), None).await.unwrap();
    let invoice = invoices
        .iter()
        .find(|i| i.buyer.name == "Famille Martin")
        .unwrap();
    // A payment at the counter and a direct-debit mandate on that account:
    // the receipt among the files read, the mandate's record in the journal.
    let sys = regie_core::audit::Actor::system("test");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    billing::storage::ledger::record_payment(
        t.db(),
        &sys,
        &billing::storage::ledger::NewPayment {
            account: invoice.account.clone(),
            method: billing::ledger::Method::Cheque,
            amount: billing::money::Cents(1000),
            received_on: day,
            reference: Some("0001234".into()),
            invoice: None,
            submission: None,
        },
    )
    .await
    .unwrap();
    let iban = billing::sepa::Iban::parse("FR7630006000011234567890189").unwrap();
    billing::storage::add_mandate(
        t.db(),
        &sys,
        &invoice.account,
        "Famille Martin",
        &iban,
        None,
        day,
    )
    .await
    .unwrap();
    // The pages each role's work needs, which the walk must reach (by
    // links, or named here where no link leads: a trace is asked by form).
    let must = |r: Role| -> Vec<String> {
        match r {
            Role::Admin => vec![
                "/admin/utilisateurs".into(),
                "/admin/journal".into(),
                "/admin/utilisateurs/technicien".into(),
                "/compte".into(),
            ],
            Role::Technician => vec![
                "/technicien/lignes".into(),
                format!("/technicien/lignes/{}", line.id),
                format!("/technicien/trace?pto={}", path.outlet),
                "/technicien/alarmes".into(),
                "/technicien/equipements".into(),
                format!("/technicien/equipements/{}", path.olt),
                "/technicien/capacite".into(),
                "/technicien/pon".into(),
                "/technicien/carte".into(),
            ],
            Role::Accountant => vec![
                "/comptabilite/facturation".into(),
                "/comptabilite/impayes".into(),
                "/comptabilite/comptes".into(),
                format!("/comptabilite/comptes/{}", invoice.account),
                format!("/comptabilite/factures/{}", invoice.number),
            ],
            Role::SocialAgent => vec![
                "/instruction/demandes".into(),
                "/instruction/recours".into(),
                "/instruction/equipements".into(),
                "/tarif-social/indicateurs".into(),
            ],
            Role::Household => vec!["/mon-espace".into(), "/compte".into()],
        }
    };
    // The error pages each role may meet: a mistyped address, another
    // role's page, an address with a malformed value.
    let errors = |r: Role| -> Vec<(&str, u16)> {
        let mut e = vec![
            ("/page-qui-n-existe-pas", 404),
            // A form's action opened in the address bar.
            ("/compte/jetons/1/revoquer", 405),
        ];
        e.push(match r {
            Role::Admin => ("/mon-espace", 403),
            Role::Technician => ("/comptabilite/facturation", 403),
            Role::Accountant => ("/technicien/lignes", 403),
            Role::SocialAgent => ("/admin/utilisateurs", 403),
            Role::Household => ("/admin/journal", 403),
        });
        if r == Role::Accountant {
            // An export asked without its period.
            e.push(("/comptabilite/exports/fec", 400));
        }
        e
    };
    let plan: Vec<serde_json::Value> = accounts
        .iter()
        .map(|a| {
            serde_json::json!({
                "username": a.username,
                "password": a.password.expose(),
                "home": a.role.home(),
                "must": must(a.role),
                // The API reference is English, for developers: never
                // offered to a household.
                "forbid": if a.role == Role::Household { vec!["/api/v1/docs"] } else { vec![] },
                "errors": errors(a.role),
            })
        })
        .collect();
    let plan_file = t.tdb.dir.path().join("plan.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(format!("every-page-{:?}", t.db().backend()).to_lowercase());
    let report = run_script(
        &t,
        "every_page.mjs",
        vec![
            plan_file.display().to_string(),
            artifacts.display().to_string(),
        ],
    )
    .await;
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
    eprintln!("files fetched: {}", report["files"]);
    // The documents each person takes away were among the files read:
    // the household's invoice, the agent's letter and receipt.
    let fetched = |user: &str, part: &str| {
        report["files"][user]
            .as_array()
            .is_some_and(|f| f.iter().any(|p| p.as_str().unwrap_or("").contains(part)))
    };
    assert!(fetched("foyer", "/factures/"), "{report}");
    assert!(fetched("agent", "/lettre.pdf"), "{report}");
    assert!(fetched("agent", "/recu.pdf"), "{report}");
    assert!(fetched("comptable", "/recu"), "{report}");
    for a in &accounts {
        let visited = report["visited"][&a.username].as_array().unwrap();
        eprintln!("{}: {} pages", a.username, visited.len());
        assert!(visited.len() >= must(a.role).len(), "{report}");
    }
}
