//! Scenario tests of Régie, across crates, through the HTTP application.
//!
//! The helpers here give each test a fresh database: a SQLite file in a
//! temporary directory, or, when `REGIE_TEST_POSTGRES` is set to a server URL
//! (e.g. `postgres://postgres@127.0.0.1:5432`), a new PostgreSQL database
//! created for the test and dropped after it. The same tests therefore run on
//! both backends.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)] // Test helpers: a failed setup should stop the test loudly.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use regie::platform::auth::{self, Password, Role, TokenKind, Username};
use regie::platform::config::Config;
use regie::platform::storage;
use regie::AppState;
use regie_core::audit::Actor;
use regie_core::{Backend, DatabaseUrl, Db};
use serde_json::Value;
use tower::ServiceExt;

pub mod browser;
pub mod freeradius;
pub mod smtp;
pub mod snmpsim;
pub mod validators;

/// Environment variable naming a PostgreSQL server for the test suite.
pub const POSTGRES_ENV: &str = "REGIE_TEST_POSTGRES";

/// A database made for one test; dropped with it on PostgreSQL.
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    pub url: DatabaseUrl,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on the backend chosen by the environment.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
            None => {
                let url = DatabaseUrl::sqlite_file(&dir.path().join("regie.db"));
                let db = Db::connect(&url, 5).await.unwrap();
                Self {
                    db,
                    url,
                    dir,
                    pg: None,
                }
            }
            Some(server) => {
                let server = server.trim_end_matches('/').to_owned();
                let name = format!("regie_test_{}", uuid::Uuid::new_v4().simple());
                let admin = DatabaseUrl::parse(&format!("{server}/postgres")).unwrap();
                let admin_db = Db::connect(&admin, 1).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(admin_db.pool())
                    .await
                    .unwrap();
                admin_db.close().await;
                let url = DatabaseUrl::parse(&format!("{server}/{name}")).unwrap();
                let db = Db::connect(&url, 5).await.unwrap();
                Self {
                    db,
                    url,
                    dir,
                    pg: Some((server, name)),
                }
            }
        }
    }

    /// A fresh database with every migration applied.
    pub async fn migrated() -> Self {
        let t = Self::new().await;
        regie_core::migrate::run(&t.db, regie::COMPONENTS)
            .await
            .unwrap();
        t
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.pg.take() else {
            return;
        };
        // The test's runtime may be the one blocked here, and the pool's
        // connections belong to it: so do not wait for them; drop the
        // database from a thread with its own runtime, and let FORCE end the
        // connections server-side.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(admin) = DatabaseUrl::parse(&format!("{server}/postgres")) {
                    if let Ok(db) = Db::connect(&admin, 1).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(db.pool())
                                .await;
                        db.close().await;
                    }
                }
            });
        })
        .join();
    }
}

/// The application over a fresh database, called in-process.
#[derive(Debug)]
pub struct TestApp {
    pub app: Router,
    pub state: AppState,
    pub tdb: TestDb,
}

/// A logged-in browser: its session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A parsed response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(f: impl FnOnce(&mut Config)) -> Self {
        let tdb = TestDb::migrated().await;
        let mut config = Config {
            data_dir: tdb.dir.path().to_owned(),
            ..Config::default()
        };
        f(&mut config);
        let state = AppState::new(tdb.db.clone(), config).unwrap();
        let app = regie::router(state.clone());
        Self { app, state, tdb }
    }

    pub fn db(&self) -> &Db {
        &self.tdb.db
    }

    /// Creates a user with a known password.
    pub async fn user(&self, name: &str, roles: &[Role]) -> storage::User {
        let hash = Password::parse(&password_of(name)).unwrap().hash().unwrap();
        let username = Username::parse(name).unwrap();
        storage::create_user(
            self.db(),
            &Actor::system("test"),
            &username,
            &regie::platform::auth::DisplayName::parse(name, &username).unwrap(),
            &hash,
            roles,
        )
        .await
        .unwrap()
    }

    /// An API token for a user, issued directly (no password check).
    pub async fn token_for(&self, user: &storage::User) -> String {
        auth::issue(
            self.db(),
            user.id,
            &user.username,
            TokenKind::Api,
            chrono::Duration::hours(1),
        )
        .await
        .unwrap()
        .secret
    }

    /// A web session for a user, issued directly.
    pub async fn session_for(&self, user: &storage::User) -> Session {
        let issued = auth::issue(
            self.db(),
            user.id,
            &user.username,
            TokenKind::Session,
            chrono::Duration::hours(1),
        )
        .await
        .unwrap();
        Session {
            cookie: format!("{}={}", regie::platform::web::SESSION_COOKIE, issued.secret),
            csrf: issued.csrf_token.unwrap(),
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        let resp: Response = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// An API call with an optional bearer token and JSON body.
    pub async fn api(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// A page request with an optional session; `form` is sent url-encoded.
    pub async fn page(
        &self,
        method: Method,
        uri: &str,
        session: Option<&Session>,
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(s) = session {
            b = b.header(header::COOKIE, &s.cookie);
        }
        let req = match form {
            Some(fields) => b
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }
}

/// The password the helpers give a test user.
pub fn password_of(name: &str) -> String {
    format!("mot-de-passe-{name}")
}

/// The value of a cookie set by a response.
pub fn set_cookie<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of a hidden form field in a page.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let (_, from) = html.split_once(&marker)?;
    let (value, _) = from.split_once('"')?;
    Some(value.to_owned())
}

/// Every role, for walking access rules.
pub const ROLES: [Role; 5] = Role::ALL;

/// The GraceTHD demo01 fixture, read in place from `../shared`.
pub fn gracethd_fixture() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/gracethd-demo01")
}

/// A copy of the fixture in a temporary directory, for tests that change
/// it. `edit` gets the decoded lines of `file` (Latin-1 in and out).
pub fn modified_fixture(file: &str, edit: impl FnOnce(&mut Vec<String>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(gracethd_fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join(file);
    let bytes = std::fs::read(&path).unwrap();
    let text: String = bytes.iter().map(|b| char::from(*b)).collect();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let out: Vec<u8> = (lines.join("\n") + "\n")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    std::fs::write(&path, out).unwrap();
    dir
}

/// An app over a generated network of `premises` premises (seed 7, so
/// identical every run), with address pools: a CGNAT pool of `cgnat_size`
/// addresses (a power of two less two, at least 2), a public pool, a
/// delegated-prefix pool (/40 cut into /56) and a WAN pool.
pub async fn network_app(premises: u32, cgnat_prefix: u8) -> TestApp {
    network_app_with(premises, cgnat_prefix, |_| {}).await
}

/// The régie as a SEPA creditor, as the tests configure it (valid ICS,
/// IBAN and BIC; 14 days of pre-notification).
pub fn sepa_config() -> regie::platform::config::SepaConfig {
    regie::platform::config::SepaConfig {
        creditor_id: "FR72ZZZ123456".into(),
        iban: "FR7630006000011234567890189".into(),
        bic: "AGRIFRPP".into(),
        prenotice_days: 14,
    }
}

/// [`network_app`] with a configuration change.
pub async fn network_app_with(
    premises: u32,
    cgnat_prefix: u8,
    f: impl FnOnce(&mut Config),
) -> TestApp {
    let t = TestApp::with_config(f).await;
    let dir = tempfile::tempdir().unwrap();
    inventory::generate::generate(premises, 7, dir.path()).unwrap();
    let outcome = inventory::service::import(t.db(), &Actor::system("test"), dir.path(), false)
        .await
        .unwrap();
    assert!(!outcome.refused(), "the generated network imports");
    let admin = Actor::system("test");
    for (name, kind, network) in [
        ("cgnat", "cgnat_v4", format!("100.64.0.0/{cgnat_prefix}")),
        ("public", "public_v4", "198.51.100.0/24".to_owned()),
        ("pd", "delegated_v6", "2001:db8::/40".to_owned()),
        ("wan", "wan_v6", "2001:db8:ff00::/48".to_owned()),
    ] {
        t.state
            .provisioning
            .add_pool(
                &admin,
                &provisioning::service::NewPool {
                    name: name.into(),
                    kind: kind.into(),
                    network,
                    assign_len: None,
                },
            )
            .await
            .unwrap();
    }
    t
}

/// Premises of a PM (by site label) that a line can be ordered for now and
/// whose path is within the optical budget, in code order.
pub async fn connectable_premises(t: &TestApp, pm: &str) -> Vec<String> {
    use inventory::budget::{OpticalClass, PlanningLosses, Verdict};
    let plant = t.state.plant.get(t.db()).await.unwrap();
    let mut out = Vec::new();
    for suf in plant.sufs.values() {
        if let Ok(inventory::capacity::Eligibility::Connectable {
            outlet,
            pm: Some(p),
        }) = inventory::capacity::eligibility(&plant, &suf.code)
        {
            if p != pm {
                continue;
            }
            let up = inventory::trace::upstream(
                &plant,
                &outlet,
                &PlanningLosses::default(),
                OpticalClass::GponBPlus,
            )
            .unwrap();
            if matches!(up.verdict, Some(Verdict::Pass { .. })) && up.pon_port.is_some() {
                out.push(suf.code.to_string());
            }
        }
    }
    out
}

/// Publishes the example social-tariff rule set, as an admin.
pub async fn publish_example_rules(t: &TestApp, admin_token: &str) {
    let r = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(admin_token),
            Some(serde_json::json!({ "document": social_tariff::rules::EXAMPLE })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// Files an application at the counter for a household receiving the AAH,
/// records the notification seen and the dwelling in the area, and grants
/// it: answers (household code, decision number). `contact` adds form
/// fields (e.g. the contact preference).
pub async fn granted_household(
    t: &TestApp,
    agent_token: &str,
    name: &str,
    address: &str,
    contact: Value,
) -> (String, String) {
    let mut form = serde_json::json!({
        "nom": name, "adresse": address, "code_postal": "35000", "commune": "Rennes",
        "taille_foyer": "2", "prestations": ["AAH"], "submit": true, "consent": true,
        "contact": "courrier",
    });
    if let (Some(form), Some(extra)) = (form.as_object_mut(), contact.as_object()) {
        form.extend(extra.clone());
    }
    let filed = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/applications",
            Some(agent_token),
            Some(form),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let code = filed.json()["code"].as_str().unwrap().to_owned();
    grant_application(t, agent_token, &code).await
}

/// Records, for a submitted application, the AAH notification seen and the
/// dwelling in the area, and grants it: answers (household code, decision
/// number).
pub async fn grant_application(t: &TestApp, agent_token: &str, code: &str) -> (String, String) {
    let steps = [
        (
            "documents",
            serde_json::json!({"subject": "benefit", "benefit": "AAH", "received": true,
                "document": "notification MDPH", "dated": "2026-09-01", "issuer": "CAF"}),
        ),
        ("area", serde_json::json!({"connectable": true})),
        ("decision", serde_json::json!({"outcome": "granted"})),
    ];
    let mut last = Value::Null;
    for (step, body) in steps {
        let r = t
            .api(
                Method::POST,
                &format!("/api/v1/social-tariff/applications/{code}/{step}"),
                Some(agent_token),
                Some(body),
            )
            .await;
        assert!(r.status.is_success(), "{step}: {}", r.text);
        last = r.json();
    }
    (
        last["household"].as_str().unwrap().to_owned(),
        last["number"].as_str().unwrap().to_owned(),
    )
}

/// Records an offer "Fibre CODE" at `monthly_gross_cents` VAT included
/// (20 %), open since 2025.
pub async fn billing_offer(db: &Db, code: &str, monthly_gross_cents: i64) {
    billing::storage::create_offer(
        db,
        &Actor::system("test"),
        &billing::model::NewOffer {
            code: code.into(),
            name: format!("Fibre {code}"),
            monthly_gross: billing::money::Cents(monthly_gross_cents),
            rate: billing::money::VatRate::STANDARD,
            setup_fee: billing::money::Cents(0),
            deliberation: "2026-012".into(),
            valid_from: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            valid_to: None,
        },
    )
    .await
    .unwrap();
}

/// Opens a household's billing account in Rennes; answers its code.
pub async fn billing_account(db: &Db, name: &str, household: Option<&str>) -> String {
    billing::storage::create_account(
        db,
        &Actor::system("test"),
        &billing::model::NewAccount {
            kind: billing::model::AccountKind::Household,
            name: name.into(),
            address: "3 rue des Lilas".into(),
            postcode: "35000".into(),
            town: "Rennes".into(),
            email: None,
            siren: None,
            vat_number: None,
            household: household.map(str::to_owned),
        },
    )
    .await
    .unwrap()
    .code
}

/// Orders a line at `premises`, reserves its path, installs the ONT
/// `serial` and activates it on the simulated OLT, through the API as the
/// technician `tech` (a token); answers the line's id.
pub async fn active_line(t: &TestApp, tech: &str, premises: &str, serial: &str) -> String {
    let a = t
        .api(
            Method::POST,
            "/api/v1/provisioning/lines",
            Some(tech),
            Some(serde_json::json!({ "premises": premises })),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let line = a.json()["id"].as_str().unwrap().to_owned();
    for (step, body) in [
        ("reserve-path", serde_json::json!({})),
        (
            "install-ont",
            serde_json::json!({"serial": serial, "rx_dbm": -19.4}),
        ),
        ("activate", serde_json::json!({})),
    ] {
        let r = t
            .api(
                Method::POST,
                &format!("/api/v1/provisioning/lines/{line}/{step}"),
                Some(tech),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.text);
    }
    line
}

/// The issue date `on` of `month`'s invoices, for a test standing on that
/// day (the month must be over; the run refuses a day after today).
pub fn issue_on(month: billing::compute::Month, on: chrono::NaiveDate) -> billing::run::IssueDate {
    billing::run::IssueDate::new(month, on, on).unwrap_or_else(|e| panic!("{e}"))
}
