//! Every page of every role in headless Chromium, found by following the
//! links each demo user sees (`tests/browser/every_page.mjs`): at 1280 and
//! at 390 px wide, no page wider than the screen, no English word, no raw
//! identifier where a label belongs, no serious or critical axe-core
//! violation, and the pages of each role's work among those reached.
//!
//! Needs Node, `npm ci` in `tests/browser` and Chromium (see
//! `regie_tests::browser`).

use std::path::PathBuf;

use regie::auth::Role;
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
    for a in &accounts {
        let visited = report["visited"][&a.username].as_array().unwrap();
        eprintln!("{}: {} pages", a.username, visited.len());
        assert!(visited.len() >= must(a.role).len(), "{report}");
    }
}
