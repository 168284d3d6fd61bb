//! Application state and the router.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use chrono::Duration;
use regie_core::Db;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{LoginPolicy, Principal};
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::routes::{
    Access, Route, RouteSpec, Surface, ACCOUNTANT, ADMIN, BILLING_STAFF, ENTITLEMENT_READERS,
    HOUSEHOLD, HOUSEHOLD_RECORD, INVOICE_READERS, LINE_FEED, NETWORK_STAFF, SOCIAL_AGENT,
    SOCIAL_STAFF, TECHNICIAN,
};
use crate::{api, metrics, routes, telemetry, web, Error};

/// Largest delivery upload (zip) accepted.
pub const UPLOAD_LIMIT_BYTES: usize = 1 << 30;
/// The largest scan body accepted: the file plus its form fields.
pub const SCAN_BODY_LIMIT_BYTES: usize = social_tariff::privacy::MAX_SCAN_BYTES + (64 << 10);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub routes: Arc<Vec<RouteSpec>>,
    /// The fibre plant, kept in memory between imports.
    pub plant: inventory::service::PlantCache,
    /// Subscriber lines, sharing the plant cache above.
    pub provisioning: provisioning::service::Provisioning,
    /// The SNMP poller, its metrics registered with the others.
    pub poller: monitoring::poller::Poller,
    /// The trap listener's counters.
    pub trap_metrics: monitoring::traps::TrapMetrics,
    /// The key sealing secrets stored in the database, read or created on
    /// first use (commands that never need it never touch its file).
    secret_key: Arc<std::sync::Mutex<Option<regie_core::secret::SecretKey>>>,
    /// The service that checks a household's situation without documents,
    /// when one is configured.
    pub verifier: Option<Arc<dyn social_tariff::verify::Verifier>>,
    /// The SMTP server for e-mail reminders, when one is configured.
    pub mailer: Option<crate::mail::Mailer>,
}

impl AppState {
    pub fn new(db: Db, config: Config) -> Result<Self, Error> {
        let metrics =
            Metrics::new().map_err(|e| Error::Internal(format!("metrics registry: {e}")))?;
        let plant = inventory::service::PlantCache::default();
        let provisioning = provisioning::service::Provisioning::new(
            db.clone(),
            plant.clone(),
            config.drivers()?,
            config.provisioning_settings(),
        );
        let registered = |e: prometheus::Error| Error::Internal(format!("metrics registry: {e}"));
        let poller = monitoring::poller::Poller::new(
            monitoring::poller::Metrics::register(&metrics.registry).map_err(registered)?,
        );
        let trap_metrics =
            monitoring::traps::TrapMetrics::register(&metrics.registry).map_err(registered)?;
        let verifier: Option<Arc<dyn social_tariff::verify::Verifier>> =
            match &config.api_particulier {
                Some(api) => Some(Arc::new(api.verifier()?)),
                None => None,
            };
        let mailer = config
            .smtp
            .as_ref()
            .map(crate::mail::Mailer::new)
            .transpose()?;
        Ok(Self {
            verifier,
            mailer,
            db,
            config: Arc::new(config),
            metrics,
            routes: Arc::new(route_table().into_iter().map(|r| r.spec).collect()),
            plant,
            provisioning,
            poller,
            trap_metrics,
            secret_key: Arc::default(),
        })
    }

    /// The key sealing the secrets stored in the database.
    pub fn secret_key(&self) -> Result<regie_core::secret::SecretKey, Error> {
        let mut held = self
            .secret_key
            .lock()
            .map_err(|_| Error::Internal("secret key lock poisoned".into()))?;
        if let Some(k) = held.as_ref() {
            return Ok(k.clone());
        }
        let key = self.config.secret_key()?;
        *held = Some(key.clone());
        Ok(key)
    }

    pub fn login_policy(&self) -> LoginPolicy {
        LoginPolicy {
            max_per_account: self.config.login_max_failures_per_account,
            max_per_address: self.config.login_max_failures_per_address,
            window: Duration::minutes(i64::from(self.config.login_window_minutes)),
        }
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::hours(i64::from(self.config.session_ttl_hours))
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::hours(i64::from(self.config.token_ttl_hours))
    }
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    surface: Surface,
    handler: axum::routing::MethodRouter<AppState>,
) -> Route {
    Route {
        spec: RouteSpec {
            method,
            path,
            access,
            surface,
        },
        handler,
    }
}

/// Every route of the application with its access rule.
pub fn route_table() -> Vec<Route> {
    use Access::{AnyUser, Public, Roles};
    use Surface::{Api, Infra, Page};
    vec![
        // Operations and documentation.
        route(
            Method::GET,
            "/healthz",
            Public,
            Infra,
            get(api::system::healthz),
        ),
        route(
            Method::GET,
            "/readyz",
            Public,
            Infra,
            get(api::system::readyz),
        ),
        route(Method::GET, "/metrics", Public, Infra, get(metrics::expose)),
        route(
            Method::GET,
            "/static/regie.css",
            Public,
            Infra,
            get(web::assets::css),
        ),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            Public,
            Infra,
            get(api::system::openapi_json),
        ),
        route(
            Method::GET,
            "/api/v1/docs",
            Public,
            Infra,
            get(web::apidoc::page),
        ),
        // API: authentication.
        route(
            Method::POST,
            "/api/v1/auth/token",
            Public,
            Api,
            post(api::auth::create_token),
        ),
        route(
            Method::DELETE,
            "/api/v1/auth/token",
            AnyUser,
            Api,
            delete(api::auth::revoke_current),
        ),
        route(
            Method::GET,
            "/api/v1/auth/tokens",
            AnyUser,
            Api,
            get(api::auth::list_tokens),
        ),
        route(
            Method::DELETE,
            "/api/v1/auth/tokens/{id}",
            AnyUser,
            Api,
            delete(api::auth::revoke_token),
        ),
        route(Method::GET, "/api/v1/me", AnyUser, Api, get(api::auth::me)),
        // API: administration.
        route(
            Method::GET,
            "/api/v1/users",
            Roles(ADMIN),
            Api,
            get(api::users::list),
        ),
        route(
            Method::POST,
            "/api/v1/users",
            Roles(ADMIN),
            Api,
            post(api::users::create),
        ),
        route(
            Method::GET,
            "/api/v1/users/{username}",
            Roles(ADMIN),
            Api,
            get(api::users::show),
        ),
        route(
            Method::PATCH,
            "/api/v1/users/{username}",
            Roles(ADMIN),
            Api,
            patch(api::users::update),
        ),
        route(
            Method::GET,
            "/api/v1/audit",
            Roles(ADMIN),
            Api,
            get(api::audit::list),
        ),
        // API: provisioning.
        route(
            Method::POST,
            "/api/v1/provisioning/lines",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::order),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/lines",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::list),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/lines/{id}",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::show),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/reserve-path",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::reserve_path),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/install-ont",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::install_ont),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/activate",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::activate),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/suspend",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::suspend),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/resume",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::resume),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/terminate",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::terminate),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/lines/{id}/cancel",
            Roles(NETWORK_STAFF),
            Api,
            post(api::provisioning::cancel),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/pools",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::pools),
        ),
        route(
            Method::POST,
            "/api/v1/provisioning/pools",
            Roles(ADMIN),
            Api,
            post(api::provisioning::create_pool),
        ),
        // Legal requisitions: only the accountable administrator.
        route(
            Method::GET,
            "/api/v1/provisioning/attribution",
            Roles(ADMIN),
            Api,
            get(api::provisioning::attribution),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/events",
            Roles(LINE_FEED),
            Api,
            get(api::provisioning::events),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/lines/{id}/ont-status",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::ont_status),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/olts/{olt}/unprovisioned",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::unprovisioned),
        ),
        route(
            Method::GET,
            "/api/v1/provisioning/olts/{olt}/drift",
            Roles(NETWORK_STAFF),
            Api,
            get(api::provisioning::drift),
        ),
        // API: monitoring.
        route(
            Method::GET,
            "/api/v1/monitoring/alarms",
            Roles(NETWORK_STAFF),
            Api,
            get(api::monitoring::list),
        ),
        route(
            Method::POST,
            "/api/v1/monitoring/alarms/{id}/ack",
            Roles(NETWORK_STAFF),
            Api,
            post(api::monitoring::acknowledge),
        ),
        route(
            Method::GET,
            "/api/v1/monitoring/devices",
            Roles(NETWORK_STAFF),
            Api,
            get(api::monitoring::devices),
        ),
        route(
            Method::POST,
            "/api/v1/monitoring/devices",
            Roles(ADMIN),
            Api,
            post(api::monitoring::create_device),
        ),
        route(
            Method::DELETE,
            "/api/v1/monitoring/devices/{name}",
            Roles(ADMIN),
            Api,
            axum::routing::delete(api::monitoring::delete_device),
        ),
        // API: social tariff.
        route(
            Method::GET,
            "/api/v1/social-tariff/rules",
            Public,
            Api,
            get(api::social_tariff::list),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Roles(ADMIN),
            Api,
            post(api::social_tariff::publish),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/rules/preview",
            Roles(ADMIN),
            Api,
            post(api::social_tariff::preview),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/rules/{version}",
            Public,
            Api,
            get(api::social_tariff::show),
        ),
        // API: social-tariff applications, decisions, appeals, entitlements.
        route(
            Method::POST,
            "/api/v1/social-tariff/applications",
            Roles(HOUSEHOLD_RECORD),
            Api,
            post(api::applications::file),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/applications",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::applications::list),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/applications/{code}",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::applications::show),
        ),
        route(
            Method::PUT,
            "/api/v1/social-tariff/applications/{code}",
            Roles(HOUSEHOLD_RECORD),
            Api,
            axum::routing::put(api::applications::update),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/applications/{code}/verify",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::applications::verify),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/applications/{code}/documents",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::applications::document),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/applications/{code}/area",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::applications::area),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/applications/{code}/decision",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::applications::decide),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/decisions/{number}",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::applications::decision),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/decisions/{number}/letter.pdf",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::applications::letter_pdf),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/decisions/{number}/appeals",
            Roles(HOUSEHOLD_RECORD),
            Api,
            post(api::applications::appeal),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/appeals",
            Roles(SOCIAL_STAFF),
            Api,
            get(api::applications::appeals),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/appeals/{id}/review",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::applications::review),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/entitlements",
            Roles(ENTITLEMENT_READERS),
            Api,
            get(api::applications::entitlements_changing),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/entitlements/{household}",
            Roles(ENTITLEMENT_READERS),
            Api,
            get(api::applications::entitlement),
        ),
        // API: billing.
        route(
            Method::POST,
            "/api/v1/billing/offers",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::create_offer),
        ),
        route(
            Method::GET,
            "/api/v1/billing/offers",
            Roles(BILLING_STAFF),
            Api,
            get(api::billing::offers),
        ),
        route(
            Method::POST,
            "/api/v1/billing/accounts",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::create_account),
        ),
        route(
            Method::GET,
            "/api/v1/billing/accounts",
            Roles(BILLING_STAFF),
            Api,
            get(api::billing::accounts),
        ),
        route(
            Method::POST,
            "/api/v1/billing/subscriptions",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::subscribe),
        ),
        route(
            Method::POST,
            "/api/v1/billing/subscriptions/{code}/changes",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::change),
        ),
        route(
            Method::GET,
            "/api/v1/billing/runs/{period}",
            Roles(BILLING_STAFF),
            Api,
            get(api::billing::preview),
        ),
        route(
            Method::POST,
            "/api/v1/billing/runs/{period}",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::issue),
        ),
        route(
            Method::GET,
            "/api/v1/billing/invoices",
            Roles(INVOICE_READERS),
            Api,
            get(api::billing::invoices),
        ),
        route(
            Method::GET,
            "/api/v1/billing/invoices/{number}",
            Roles(INVOICE_READERS),
            Api,
            get(api::billing::invoice),
        ),
        route(
            Method::GET,
            "/api/v1/billing/invoices/{number}/pdf",
            Roles(INVOICE_READERS),
            Api,
            get(api::billing::pdf),
        ),
        route(
            Method::GET,
            "/api/v1/billing/invoices/{number}/cii",
            Roles(INVOICE_READERS),
            Api,
            get(api::billing::cii),
        ),
        route(
            Method::POST,
            "/api/v1/billing/invoices/{number}/credit-notes",
            Roles(BILLING_STAFF),
            Api,
            post(api::billing::credit_note),
        ),
        // API: personal data of the social tariff.
        route(
            Method::POST,
            "/api/v1/social-tariff/applications/{code}/scans",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::privacy::upload_scan)
                .layer(axum::extract::DefaultBodyLimit::max(SCAN_BODY_LIMIT_BYTES)),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/scans/{id}",
            Roles(SOCIAL_STAFF),
            Api,
            get(api::privacy::download_scan),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/my-data",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::privacy::my_data),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/deletions",
            Roles(SOCIAL_STAFF),
            Api,
            get(api::privacy::deletions),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/indicators",
            Public,
            Api,
            get(api::privacy::indicators),
        ),
        // API: refurbished-equipment grants.
        route(
            Method::POST,
            "/api/v1/social-tariff/devices",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::grants::add_device),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/devices",
            Roles(SOCIAL_STAFF),
            Api,
            get(api::grants::devices),
        ),
        route(
            Method::PUT,
            "/api/v1/social-tariff/budgets/{year}",
            Roles(SOCIAL_STAFF),
            Api,
            axum::routing::put(api::grants::set_budget),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/budgets/{year}",
            Roles(SOCIAL_STAFF),
            Api,
            get(api::grants::budget),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/grants",
            Roles(HOUSEHOLD_RECORD),
            Api,
            post(api::grants::request),
        ),
        route(
            Method::GET,
            "/api/v1/social-tariff/grants",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::grants::grants),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/grants/{id}/handover",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::grants::hand_over),
        ),
        route(
            Method::POST,
            "/api/v1/social-tariff/grants/{id}/cancel",
            Roles(HOUSEHOLD_RECORD),
            Api,
            post(api::grants::cancel),
        ),
        // API: households.
        route(
            Method::GET,
            "/api/v1/households",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::households::list),
        ),
        route(
            Method::POST,
            "/api/v1/households",
            Roles(SOCIAL_STAFF),
            Api,
            post(api::households::create),
        ),
        route(
            Method::GET,
            "/api/v1/households/{code}",
            Roles(HOUSEHOLD_RECORD),
            Api,
            get(api::households::show),
        ),
        // API: inventory.
        route(
            Method::GET,
            "/api/v1/inventory/trace",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::trace),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/downstream",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::downstream),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/eligibility",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::eligibility),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/capacity",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::capacity),
        ),
        route(
            Method::POST,
            "/api/v1/inventory/imports",
            Roles(NETWORK_STAFF),
            Api,
            post(api::inventory::import)
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/export/plant.geojson",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::export_plant_geojson),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/pon-ports",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::pon_ports),
        ),
        route(
            Method::PUT,
            "/api/v1/inventory/pon-ports/{code}",
            Roles(NETWORK_STAFF),
            Api,
            put(api::inventory::save_pon_port),
        ),
        route(
            Method::DELETE,
            "/api/v1/inventory/pon-ports/{code}",
            Roles(NETWORK_STAFF),
            Api,
            delete(api::inventory::delete_pon_port),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/export/ipe.csv",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::export_ipe),
        ),
        route(
            Method::GET,
            "/api/v1/inventory/export/addresses.geojson",
            Roles(NETWORK_STAFF),
            Api,
            get(api::inventory::export_geojson),
        ),
        // Pages.
        route(Method::GET, "/", Public, Page, get(web::pages::root)),
        route(
            Method::GET,
            "/connexion",
            Public,
            Page,
            get(web::pages::login_form),
        ),
        route(
            Method::POST,
            "/connexion",
            Public,
            Page,
            post(web::pages::login_submit),
        ),
        route(
            Method::POST,
            "/deconnexion",
            AnyUser,
            Page,
            post(web::pages::logout),
        ),
        route(
            Method::GET,
            "/compte",
            AnyUser,
            Page,
            get(web::pages::account),
        ),
        route(
            Method::POST,
            "/compte/jetons/{id}/revoquer",
            AnyUser,
            Page,
            post(web::pages::account_revoke),
        ),
        route(
            Method::GET,
            "/admin",
            Roles(ADMIN),
            Page,
            get(web::pages::admin_home),
        ),
        route(
            Method::GET,
            "/admin/utilisateurs",
            Roles(ADMIN),
            Page,
            get(web::pages::admin_users),
        ),
        route(
            Method::POST,
            "/admin/utilisateurs",
            Roles(ADMIN),
            Page,
            post(web::pages::admin_users_create),
        ),
        route(
            Method::GET,
            "/admin/journal",
            Roles(ADMIN),
            Page,
            get(web::pages::admin_audit),
        ),
        route(
            Method::GET,
            "/technicien/trace",
            Roles(NETWORK_STAFF),
            Page,
            get(web::pages::trace_page),
        ),
        route(
            Method::GET,
            "/technicien/capacite",
            Roles(NETWORK_STAFF),
            Page,
            get(web::pages::capacity_page),
        ),
        route(
            Method::GET,
            "/technicien/carte",
            Roles(NETWORK_STAFF),
            Page,
            get(web::pages::map_page),
        ),
        route(
            Method::GET,
            "/technicien/alarmes",
            Roles(NETWORK_STAFF),
            Page,
            get(web::alarms::alarms),
        ),
        route(
            Method::POST,
            "/technicien/alarmes/{id}/prise-en-compte",
            Roles(NETWORK_STAFF),
            Page,
            post(web::alarms::acknowledge),
        ),
        // Pages: social-tariff applications, decisions, appeals.
        route(
            Method::GET,
            "/mon-espace/demande",
            Roles(HOUSEHOLD),
            Page,
            get(web::social::household_form),
        ),
        route(
            Method::POST,
            "/mon-espace/demande",
            Roles(HOUSEHOLD),
            Page,
            post(web::social::household_submit),
        ),
        route(
            Method::GET,
            "/mon-espace/demandes/{code}",
            Roles(HOUSEHOLD),
            Page,
            get(web::social::household_application),
        ),
        route(
            Method::POST,
            "/mon-espace/decisions/{number}/recours",
            Roles(HOUSEHOLD),
            Page,
            post(web::social::household_appeal),
        ),
        route(
            Method::GET,
            "/decisions/{number}/lettre.pdf",
            Roles(HOUSEHOLD_RECORD),
            Page,
            get(web::social::letter_pdf),
        ),
        route(
            Method::GET,
            "/instruction/demandes",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::agent_list),
        ),
        route(
            Method::GET,
            "/instruction/demandes/nouvelle",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::agent_new),
        ),
        route(
            Method::POST,
            "/instruction/demandes/nouvelle",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_create),
        ),
        route(
            Method::GET,
            "/instruction/demandes/{code}",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::agent_show),
        ),
        route(
            Method::POST,
            "/instruction/demandes/{code}/verification",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_verify),
        ),
        route(
            Method::POST,
            "/instruction/demandes/{code}/justificatif",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_document),
        ),
        route(
            Method::POST,
            "/instruction/demandes/{code}/raccordable",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_area),
        ),
        route(
            Method::POST,
            "/instruction/demandes/{code}/decision",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_decide),
        ),
        route(
            Method::POST,
            "/instruction/decisions/{number}/recours",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::agent_appeal),
        ),
        route(
            Method::GET,
            "/instruction/recours",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::appeals_page),
        ),
        route(
            Method::POST,
            "/instruction/recours/{id}",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::review),
        ),
        route(
            Method::GET,
            "/tarif-social/formulaire",
            Public,
            Page,
            get(web::social::paper_form),
        ),
        route(
            Method::GET,
            "/comptabilite/facturation",
            Roles(BILLING_STAFF),
            Page,
            get(web::billing::runs),
        ),
        route(
            Method::GET,
            "/factures/{number}",
            Roles(INVOICE_READERS),
            Page,
            get(web::billing::invoice_pdf),
        ),
        route(
            Method::POST,
            "/comptabilite/facturation/{period}",
            Roles(BILLING_STAFF),
            Page,
            post(web::billing::issue),
        ),
        route(
            Method::POST,
            "/instruction/demandes/{code}/copies",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::privacy::upload)
                .layer(axum::extract::DefaultBodyLimit::max(SCAN_BODY_LIMIT_BYTES)),
        ),
        route(
            Method::GET,
            "/instruction/copies/{id}",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::privacy::download),
        ),
        route(
            Method::GET,
            "/instruction/suppressions",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::privacy::deletions),
        ),
        route(
            Method::GET,
            "/mon-espace/donnees",
            Roles(HOUSEHOLD),
            Page,
            get(web::privacy::my_data),
        ),
        route(
            Method::GET,
            "/mon-espace/donnees.json",
            Roles(HOUSEHOLD),
            Page,
            get(web::privacy::my_data_json),
        ),
        route(
            Method::GET,
            "/tarif-social/indicateurs",
            Public,
            Page,
            get(web::privacy::indicators),
        ),
        route(
            Method::GET,
            "/instruction/equipements",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::grants::agent_page),
        ),
        route(
            Method::POST,
            "/instruction/equipements/appareils",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::grants::add_device),
        ),
        route(
            Method::POST,
            "/instruction/equipements/enveloppe",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::grants::set_budget),
        ),
        route(
            Method::POST,
            "/instruction/equipements/demandes",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::grants::agent_request),
        ),
        route(
            Method::POST,
            "/instruction/equipements/demandes/{id}/remise",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::grants::hand_over),
        ),
        route(
            Method::POST,
            "/instruction/equipements/demandes/{id}/annulation",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::grants::cancel),
        ),
        route(
            Method::POST,
            "/mon-espace/equipement",
            Roles(HOUSEHOLD),
            Page,
            post(web::grants::household_request),
        ),
        route(
            Method::GET,
            "/instruction/courrier",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::outbox),
        ),
        route(
            Method::POST,
            "/instruction/courrier",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::outbox_run),
        ),
        route(
            Method::GET,
            "/instruction/courrier/{id}/lettre.pdf",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::social::reminder_pdf),
        ),
        route(
            Method::POST,
            "/instruction/courrier/{id}/imprime",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::social::reminder_printed),
        ),
        route(
            Method::GET,
            "/comptabilite/tarif-social",
            Roles(ENTITLEMENT_READERS),
            Page,
            get(web::social::accountant_list),
        ),
        route(
            Method::GET,
            "/tarif-social/regles",
            Public,
            Page,
            get(web::rules::public),
        ),
        route(
            Method::GET,
            "/tarif-social/regles/{version}",
            Public,
            Page,
            get(web::rules::public_version),
        ),
        route(
            Method::GET,
            "/admin/tarif-social",
            Roles(ADMIN),
            Page,
            get(web::rules::admin),
        ),
        route(
            Method::POST,
            "/admin/tarif-social",
            Roles(ADMIN),
            Page,
            post(web::rules::admin_publish),
        ),
        route(
            Method::POST,
            "/admin/tarif-social/apercu",
            Roles(ADMIN),
            Page,
            post(web::rules::admin_preview),
        ),
        route(
            Method::GET,
            "/technicien/equipements",
            Roles(NETWORK_STAFF),
            Page,
            get(web::devices::devices),
        ),
        route(
            Method::POST,
            "/technicien/equipements",
            Roles(ADMIN),
            Page,
            post(web::devices::add),
        ),
        route(
            Method::POST,
            "/technicien/equipements/{name}/retrait",
            Roles(ADMIN),
            Page,
            post(web::devices::remove),
        ),
        route(
            Method::GET,
            "/technicien/lignes",
            Roles(NETWORK_STAFF),
            Page,
            get(web::lines::lines),
        ),
        route(
            Method::POST,
            "/technicien/lignes",
            Roles(NETWORK_STAFF),
            Page,
            post(web::lines::order),
        ),
        route(
            Method::GET,
            "/technicien/lignes/{id}",
            Roles(NETWORK_STAFF),
            Page,
            get(web::lines::line),
        ),
        route(
            Method::POST,
            "/technicien/lignes/{id}/{etape}",
            Roles(NETWORK_STAFF),
            Page,
            post(web::lines::step),
        ),
        route(
            Method::GET,
            "/technicien/pon",
            Roles(NETWORK_STAFF),
            Page,
            get(web::pon::pon_ports),
        ),
        route(
            Method::POST,
            "/technicien/pon",
            Roles(NETWORK_STAFF),
            Page,
            post(web::pon::pon_save),
        ),
        route(
            Method::POST,
            "/technicien/pon/supprimer",
            Roles(NETWORK_STAFF),
            Page,
            post(web::pon::pon_delete),
        ),
        route(
            Method::GET,
            "/technicien/import",
            Roles(NETWORK_STAFF),
            Page,
            get(web::pages::import_form),
        ),
        route(
            Method::POST,
            "/technicien/import",
            Roles(NETWORK_STAFF),
            Page,
            post(web::pages::import_submit)
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)),
        ),
        route(
            Method::GET,
            "/technicien",
            Roles(TECHNICIAN),
            Page,
            get(web::pages::technician_home),
        ),
        route(
            Method::GET,
            "/comptabilite",
            Roles(ACCOUNTANT),
            Page,
            get(web::pages::accountant_home),
        ),
        route(
            Method::GET,
            "/instruction",
            Roles(SOCIAL_AGENT),
            Page,
            get(web::pages::social_home),
        ),
        route(
            Method::GET,
            "/instruction/foyers",
            Roles(SOCIAL_STAFF),
            Page,
            get(web::pages::households),
        ),
        route(
            Method::POST,
            "/instruction/foyers",
            Roles(SOCIAL_STAFF),
            Page,
            post(web::pages::households_create),
        ),
        route(
            Method::GET,
            "/mon-espace",
            Roles(HOUSEHOLD),
            Page,
            get(web::pages::household_home),
        ),
        route(
            Method::GET,
            "/foyers/{code}",
            Roles(HOUSEHOLD_RECORD),
            Page,
            get(web::pages::household_show),
        ),
    ]
}

/// The whole application, ready to serve or to call in-process.
pub fn router(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for r in route_table() {
        router = router.route(r.spec.path, r.handler);
    }
    router
        // Route layers run outside-in from the last added: access first,
        // then idempotent replay, which needs the authenticated user.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), routes::enforce))
        .fallback(routes::fallback)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(telemetry::scope_request_id))
                .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track)),
        )
        .with_state(state)
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError(Error::Unauthenticated))
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
