//! Application state and the router.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;
use chrono::Duration;
use regie_core::Db;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::platform::auth::{LoginPolicy, Principal};
use crate::platform::config::Config;
use crate::platform::error::ApiError;
use crate::platform::metrics::Metrics;
use crate::platform::routes::{
    delete, get, patch, post,
    Access::{AnyUser, Public, Roles},
    Route, RouteSpec,
    Surface::{Api, Infra, Page},
    ADMIN, SOCIAL_STAFF,
};
use crate::platform::{api, metrics, routes, telemetry, web};
use crate::Error;

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
    pub mailer: Option<crate::platform::mail::Mailer>,
    /// Billing runs started from the page, with their progress.
    pub runs: crate::billing::runs::Runs,
    /// This instance's part in the scheduled work (one instance does it).
    pub scheduler: crate::platform::schedule::Scheduler,
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
        let mut poller = monitoring::poller::Poller::new(
            monitoring::poller::Metrics::register(&metrics.registry).map_err(registered)?,
        );
        if let Some(dir) = &config.snmp_profiles_dir {
            poller.profiles = Arc::new(
                monitoring::profiles::Profiles::with_dir(dir)
                    .map_err(|e| Error::Invalid(e.to_string()))?,
            );
        }
        let trap_metrics =
            monitoring::traps::TrapMetrics::register(&metrics.registry).map_err(registered)?;
        let scheduler = crate::platform::schedule::Scheduler::new(
            &metrics.registry,
            std::time::Duration::from_secs(config.schedule_lease_s),
        )
        .map_err(registered)?;
        let verifier: Option<Arc<dyn social_tariff::verify::Verifier>> =
            match &config.api_particulier {
                Some(api) => Some(Arc::new(api.verifier()?)),
                None => None,
            };
        let mailer = config
            .smtp
            .as_ref()
            .map(crate::platform::mail::Mailer::new)
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
            runs: crate::billing::runs::Runs::new(scheduler.instance()),
            scheduler,
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

/// Every route of the application with its access rule.
pub fn route_table() -> Vec<Route> {
    let mut routes = platform_routes();
    routes.extend(crate::network::routes());
    routes.extend(crate::monitoring::routes());
    routes.extend(crate::billing::routes());
    routes.extend(crate::social::routes());
    routes
}

/// The platform's routes: operations, documentation, authentication,
/// accounts, users, the journal, the homes.
#[rustfmt::skip]
fn platform_routes() -> Vec<Route> {
    vec![
        // Operations and documentation.
        get("/healthz", Public, Infra, api::system::healthz),
        get("/readyz", Public, Infra, api::system::readyz),
        get("/metrics", Public, Infra, metrics::expose),
        get("/static/regie.css", Public, Infra, web::assets::css),
        get("/static/favicon.svg", Public, Infra, web::assets::favicon),
        get("/api/v1/openapi.json", Public, Infra, api::system::openapi_json),
        get("/api/v1/docs", Public, Infra, web::apidoc::page),
        // API.
        post("/api/v1/auth/token", Public, Api, api::auth::create_token),
        delete("/api/v1/auth/token", AnyUser, Api, api::auth::revoke_current),
        get("/api/v1/auth/tokens", AnyUser, Api, api::auth::list_tokens),
        delete("/api/v1/auth/tokens/{id}", AnyUser, Api, api::auth::revoke_token),
        get("/api/v1/me", AnyUser, Api, api::auth::me),
        get("/api/v1/users", Roles(ADMIN), Api, api::users::list),
        post("/api/v1/users", Roles(ADMIN), Api, api::users::create),
        get("/api/v1/users/{username}", Roles(ADMIN), Api, api::users::show),
        patch("/api/v1/users/{username}", Roles(ADMIN), Api, api::users::update),
        post("/api/v1/users/{username}/unlock", Roles(ADMIN), Api, api::users::unlock),
        get("/api/v1/audit", Roles(ADMIN), Api, api::audit::list),
        // Pages.
        get("/", Public, Page, web::pages::root),
        get("/connexion", Public, Page, web::pages::login_form),
        post("/connexion", Public, Page, web::pages::login_submit),
        post("/deconnexion", AnyUser, Page, web::pages::logout),
        get("/compte", AnyUser, Page, web::pages::account),
        get("/connexion/mot-de-passe-oublie", Public, Page, web::reset::forgotten_form),
        post("/connexion/mot-de-passe-oublie", Public, Page, web::reset::forgotten_submit),
        get("/connexion/nouveau-mot-de-passe", Public, Page, web::reset::choose_form),
        post("/connexion/nouveau-mot-de-passe", Public, Page, web::reset::choose_submit),
        post("/admin/utilisateurs/{username}/courriel", Roles(ADMIN), Page, web::reset::admin_set_email),
        post("/admin/utilisateurs/{username}/nouveau-mot-de-passe", Roles(ADMIN), Page, web::reset::admin_hand_over),
        post("/foyers/{code}/nouveau-mot-de-passe", Roles(SOCIAL_STAFF), Page, web::reset::counter_hand_over),
        post("/connexion/code", Public, Page, web::second_factor::code_submit),
        get("/compte/double-authentification", AnyUser, Page, web::second_factor::enrol_form),
        post("/compte/double-authentification", AnyUser, Page, web::second_factor::enrol_submit),
        post("/compte/double-authentification/desactiver", AnyUser, Page, web::second_factor::disable_submit),
        get("/compte/mot-de-passe", AnyUser, Page, web::users::password_form),
        post("/compte/mot-de-passe", AnyUser, Page, web::users::password_submit),
        post("/compte/jetons/{id}/revoquer", AnyUser, Page, web::pages::account_revoke),
        get("/admin", Roles(ADMIN), Page, web::pages::admin_home),
        get("/admin/utilisateurs", Roles(ADMIN), Page, web::pages::admin_users),
        post("/admin/utilisateurs", Roles(ADMIN), Page, web::pages::admin_users_create),
        get("/admin/utilisateurs/{username}", Roles(ADMIN), Page, web::users::user),
        post("/admin/utilisateurs/{username}", Roles(ADMIN), Page, web::users::user_save),
        post("/admin/utilisateurs/{username}/desactiver", Roles(ADMIN), Page, web::users::user_disable),
        post("/admin/utilisateurs/{username}/reactiver", Roles(ADMIN), Page, web::users::user_enable),
        post("/admin/utilisateurs/{username}/double-authentification/retirer", Roles(ADMIN), Page, web::users::user_remove_totp),
        post("/admin/utilisateurs/{username}/debloquer", Roles(ADMIN), Page, web::users::user_unlock),
        get("/admin/journal", Roles(ADMIN), Page, web::journal::page_handler),
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
            crate::platform::idempotency::layer,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), routes::enforce))
        .fallback(routes::fallback)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(crate::platform::security::request_id_guard))
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
                .layer(axum::middleware::from_fn(crate::platform::security::headers))
                .layer(axum::middleware::from_fn(crate::platform::security::french_rejections))
                .layer(axum::middleware::from_fn(crate::platform::security::control_characters))
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
