//! The OpenAPI 3 document, generated from the handlers' annotations and
//! completed from the route table with each operation's allowed roles.

use axum::http::Method;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Doc, PathItem};
use utoipa::OpenApi;

use crate::platform::api;
use crate::platform::routes::{Access, RouteSpec, Surface};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Régie API",
        description = "API of Régie, the operator system of a municipally run fiber network. \
                       Authenticate with POST /api/v1/auth/token, then send `Authorization: Bearer <token>`. \
                       Errors are `{\"error\": {\"code\", \"message\", \"request_id\"}}`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(
        api::system::healthz,
        api::system::readyz,
        api::system::openapi_json,
        crate::platform::metrics::expose,
        crate::platform::web::apidoc::page,
        api::auth::create_token,
        api::auth::revoke_current,
        api::auth::list_tokens,
        api::auth::revoke_token,
        api::auth::me,
        api::users::list,
        api::users::create,
        api::users::show,
        api::users::update,
        api::users::unlock,
        api::audit::list,
        crate::social::households_api::list,
        crate::social::households_api::create,
        crate::social::households_api::show,
        crate::network::plant_api::trace,
        crate::network::plant_api::downstream,
        crate::network::plant_api::eligibility,
        crate::network::plant_api::capacity,
        crate::network::plant_api::import,
        crate::network::plant_api::export_ipe,
        crate::network::plant_api::export_geojson,
        crate::network::plant_api::export_plant_geojson,
        crate::network::plant_api::pon_ports,
        crate::network::plant_api::save_pon_port,
        crate::network::plant_api::delete_pon_port,
        crate::network::lines_api::order,
        crate::network::lines_api::list,
        crate::network::lines_api::show,
        crate::network::lines_api::reserve_path,
        crate::network::lines_api::install_ont,
        crate::network::lines_api::activate,
        crate::network::lines_api::suspend,
        crate::network::lines_api::resume,
        crate::network::lines_api::terminate,
        crate::network::lines_api::cancel,
        crate::network::lines_api::pools,
        crate::network::lines_api::create_pool,
        crate::network::lines_api::attribution,
        crate::network::lines_api::events,
        crate::network::lines_api::drift,
        crate::network::lines_api::ont_status,
        crate::network::lines_api::unprovisioned,
        crate::monitoring::api::list,
        crate::monitoring::api::acknowledge,
        crate::monitoring::api::devices,
        crate::monitoring::api::device,
        crate::monitoring::api::create_device,
        crate::monitoring::api::delete_device,
        crate::social::rules_api::list,
        crate::social::rules_api::show,
        crate::social::rules_api::preview,
        crate::social::rules_api::publish,
        crate::social::applications_api::file,
        crate::social::applications_api::list,
        crate::social::applications_api::show,
        crate::social::applications_api::update,
        crate::social::applications_api::verify,
        crate::social::applications_api::document,
        crate::social::applications_api::area,
        crate::social::applications_api::decide,
        crate::social::applications_api::decision,
        crate::social::applications_api::letter_pdf,
        crate::social::applications_api::appeal,
        crate::social::applications_api::appeals,
        crate::social::applications_api::review,
        crate::social::applications_api::entitlement,
        crate::social::applications_api::entitlements_changing,
        crate::billing::invoices_api::create_offer,
        crate::billing::invoices_api::offers,
        crate::billing::invoices_api::create_account,
        crate::billing::invoices_api::accounts,
        crate::billing::invoices_api::subscribe,
        crate::billing::invoices_api::change,
        crate::billing::invoices_api::preview,
        crate::billing::invoices_api::issue,
        crate::billing::invoices_api::run_state,
        crate::billing::invoices_api::invoices,
        crate::billing::invoices_api::invoice,
        crate::billing::invoices_api::pdf,
        crate::billing::invoices_api::cii,
        crate::billing::invoices_api::credit_note,
        crate::billing::ledger_api::record_payment,
        crate::billing::mandates_api::list,
        crate::billing::mandates_api::add,
        crate::billing::mandates_api::amend,
        crate::billing::mandates_api::revoke,
        crate::billing::mandates_api::give,
        crate::billing::ledger_api::receipt,
        crate::billing::ledger_api::record_return,
        crate::billing::ledger_api::import_returns,
        crate::billing::ledger_api::import_transfers,
        crate::billing::ledger_api::balance,
        crate::billing::ledger_api::statement,
        crate::billing::ledger_api::reminder,
        crate::billing::ledger_api::file_fsl,
        crate::billing::ledger_api::decide_fsl,
        crate::billing::ledger_api::dunning,
        crate::billing::ledger_api::export,
        crate::social::privacy_api::upload_scan,
        crate::social::privacy_api::download_scan,
        crate::social::privacy_api::my_data,
        crate::social::privacy_api::deletions,
        crate::social::privacy_api::indicators,
        crate::social::grants_api::add_device,
        crate::social::grants_api::devices,
        crate::social::grants_api::set_budget,
        crate::social::grants_api::budget,
        crate::social::grants_api::request,
        crate::social::grants_api::grants,
        crate::social::grants_api::hand_over,
        crate::social::grants_api::cancel,
    ),
    tags(
        (name = "system", description = "Health and description of the service"),
        (name = "auth", description = "Tokens and identity"),
        (name = "users", description = "User administration (admin)"),
        (name = "audit", description = "The append-only audit journal (admin)"),
        (name = "households", description = "Households of the social tariff"),
        (name = "inventory", description = "The fibre plant: GraceTHD import, path tracing"),
        (name = "provisioning", description = "Subscriber lines: orders, lifecycle, addresses, attribution"),
        (name = "monitoring", description = "Alarms and the lines they cut off"),
        (name = "social-tariff", description = "The social tariff: rules, applications, decisions, appeals, entitlements, equipment grants, personal data"),
        (name = "billing", description = "Offers, accounts, subscriptions, monthly runs, invoices and credit notes"),
    )
)]
struct ApiDoc;

fn operation_mut<'a>(
    item: &'a mut PathItem,
    method: &Method,
) -> Option<&'a mut utoipa::openapi::path::Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        _ => None,
    }
}

/// The document served at `/api/v1/openapi.json`.
pub fn document(routes: &[RouteSpec]) -> Doc {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for spec in routes.iter().filter(|r| r.surface != Surface::Page) {
        let Some(op) = doc
            .paths
            .paths
            .get_mut(spec.path)
            .and_then(|item| operation_mut(item, &spec.method))
        else {
            continue;
        };
        let who = match spec.access {
            Access::Public => "Access: public.".to_owned(),
            Access::AnyUser => "Access: any logged-in user.".to_owned(),
            Access::Roles(roles) => format!(
                "Access: roles {}.",
                roles
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        op.description = Some(match op.description.take() {
            Some(d) if !d.is_empty() => format!("{d}\n\n{who}"),
            _ => who,
        });
    }
    doc
}
