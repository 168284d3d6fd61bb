//! The pages in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core`), checked with axe-core: a household logs in and fills
//! the application form with the keyboard only; every demo user logs in and
//! walks the pages of its work. No page met has a serious or critical
//! violation. Screenshots go to `tests/artifacts/`.
//!
//! Needs Node, `npm ci` in `tests/browser` and Chromium; skipped when they
//! are missing, except under `REGIE_REQUIRE_PEERS` (CI), where it fails.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::path::PathBuf;

use regie::platform::auth::Role;
use regie_tests::browser::{browser_ready, run_script};
use regie_tests::{password_of, publish_example_rules, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_form_works_with_the_keyboard_and_passes_axe() {
    if !browser_ready() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    publish_example_rules(&t, &admin).await;
    t.user("famille", &[Role::Household]).await;

    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(format!("application-form-{:?}", t.db().backend()).to_lowercase());
    let json = run_script(
        &t,
        "application_form.mjs",
        vec![
            "famille".into(),
            password_of("famille"),
            artifacts.display().to_string(),
        ],
    )
    .await;
    assert_eq!(json["failures"], serde_json::json!([]), "{json}");
    assert_eq!(json["pages"].as_array().unwrap().len(), 6, "{json}");
    assert!(
        json["sent_to"]
            .as_str()
            .unwrap()
            .contains("/mon-espace/demandes/DEM-"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accountant_finds_an_account_books_a_payment_and_downloads_from_the_pages() {
    if !browser_ready() {
        return;
    }
    let t = TestApp::new().await;
    t.user("compta", &[Role::Accountant]).await;
    let sys = regie_core::audit::Actor::system("test");
    regie_tests::billing_offer(t.db(), "F300", 2990).await;
    let account = regie_tests::billing_account(t.db(), "Famille Lemaire", None).await;
    billing::storage::subscribe(
        t.db(),
        &sys,
        &account,
        "RGE-BROW-0001",
        "F300",
        "2026-10-01".parse().unwrap(),
    )
    .await
    .unwrap();
    let oct = billing::compute::Month::parse("2026-10").unwrap();
    billing::run::issue(
        t.db(),
        &sys,
        oct,
        regie_tests::issue_on(oct, "2026-11-02".parse().unwrap()),
    )
    .await
    .unwrap();
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(format!("accountant-day-{:?}", t.db().backend()).to_lowercase());
    let json = run_script(
        &t,
        "accountant_day.mjs",
        vec![
            "compta".into(),
            password_of("compta"),
            "Famille Lemaire".into(),
            artifacts.display().to_string(),
        ],
    )
    .await;
    assert_eq!(json["failures"], serde_json::json!([]), "{json}");
    assert_eq!(json["pages"].as_array().unwrap().len(), 8, "{json}");
    assert_eq!(json["downloads"].as_array().unwrap().len(), 4, "{json}");
    // Two payments of 5,00 € booked, one per screen width.
    let payments = billing::storage::ledger::payments(t.db(), &account)
        .await
        .unwrap();
    assert_eq!(payments.len(), 2);
}

/// Serves the application on a free port while a browser script runs;
/// answers the script's JSON report once it has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_walks_its_pages_in_the_demo() {
    if !browser_ready() {
        return;
    }
    let t = TestApp::new().await;
    let accounts = regie::demo::load(t.db(), t.tdb.dir.path(), 400, &t.state.provisioning)
        .await
        .unwrap()
        .unwrap();
    // What the demo holds for each journey: a live line and its outlet,
    // last month's run, the household's invoice, the open alarm's port.
    let line = t
        .state
        .provisioning
        .lines(Some(provisioning::lifecycle::State::Active), None, 1)
        .await
        .unwrap()
        .remove(0);
    let outlet = line.path.as_ref().unwrap().outlet.clone();
    let olt = line.path.as_ref().unwrap().olt.clone();
    let invoices = billing::storage::invoices(t.db(), None).await.unwrap();
    let period = invoices[0].period.clone();
    let household_invoice = invoices
        .iter()
        .find(|i| {
            i.buyer.name == "Famille Martin" && i.kind == billing::model::DocumentKind::Invoice
        })
        .unwrap()
        .number
        .clone();
    let alarm = monitoring::alarms::open(t.db()).await.unwrap().remove(0);
    let pages = |r: Role| -> Vec<(&str, String, String)> {
        match r {
            Role::Admin => vec![
                (
                    "utilisateurs",
                    "/admin/utilisateurs".into(),
                    "technicien".into(),
                ),
                ("journal", "/admin/journal".into(), "demo".into()),
                (
                    "compte-technicien",
                    "/admin/utilisateurs/technicien".into(),
                    "Désactiver le compte".into(),
                ),
                (
                    "mot-de-passe",
                    "/compte/mot-de-passe".into(),
                    "Nouveau mot de passe".into(),
                ),
                (
                    "double-authentification",
                    "/compte/double-authentification".into(),
                    "Code à six chiffres".into(),
                ),
            ],
            Role::Technician => vec![
                ("lignes", "/technicien/lignes".into(), line.id.clone()),
                (
                    "ligne",
                    format!("/technicien/lignes/{}", line.id),
                    line.id.clone(),
                ),
                (
                    "trace",
                    format!("/technicien/trace?pto={outlet}"),
                    outlet.clone(),
                ),
                (
                    "alarmes",
                    "/technicien/alarmes".into(),
                    alarm.subject.clone(),
                ),
                ("equipements", "/technicien/equipements".into(), olt.clone()),
                (
                    "equipement",
                    format!("/technicien/equipements/{olt}"),
                    "Ports PON".into(),
                ),
            ],
            Role::Accountant => vec![
                (
                    "facturation",
                    "/comptabilite/facturation".into(),
                    period.clone(),
                ),
                (
                    "mois",
                    format!("/comptabilite/facturation?periode={period}"),
                    period.clone(),
                ),
                ("impayes", "/comptabilite/impayes".into(), String::new()),
            ],
            Role::SocialAgent => vec![
                ("demandes", "/instruction/demandes".into(), "DEM-".into()),
                ("recours", "/instruction/recours".into(), String::new()),
            ],
            // The invoices are on the household's home page (a PDF each).
            Role::Household => vec![("factures", "/mon-espace".into(), household_invoice.clone())],
        }
    };
    let plan: Vec<serde_json::Value> = accounts
        .iter()
        .map(|a| {
            serde_json::json!({
                "username": a.username,
                "password": a.password.expose(),
                "home": a.role.home(),
                "pages": pages(a.role),
            })
        })
        .collect();
    let plan_file = t.tdb.dir.path().join("plan.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    // REGIE_SCREENSHOTS=docs/screenshots (from the workspace root)
    // regenerates the README's walkthrough images.
    let artifacts = match std::env::var("REGIE_SCREENSHOTS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("artifacts")
            .join(format!("roles-{:?}", t.db().backend()).to_lowercase()),
    };
    let report = run_script(
        &t,
        "roles.mjs",
        vec![
            plan_file.display().to_string(),
            artifacts.display().to_string(),
        ],
    )
    .await;
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
    // Each user's home page and each page of its journey.
    let expected: usize = accounts.iter().map(|a| 1 + pages(a.role).len()).sum();
    assert_eq!(
        report["pages"].as_array().unwrap().len(),
        expected,
        "{report}"
    );
    assert!(artifacts.join("technicien-trace.png").exists());
}
