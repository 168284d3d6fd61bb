//! The OpenAPI 3 document, generated from the handlers' annotations and
//! completed from the route table with each operation's allowed roles.

use axum::http::Method;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Doc, PathItem};
use utoipa::OpenApi;

use crate::api;
use crate::routes::{Access, RouteSpec, Surface};

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
        crate::metrics::expose,
        crate::web::apidoc::page,
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
        api::households::list,
        api::households::create,
        api::households::show,
        api::inventory::trace,
        api::inventory::downstream,
        api::inventory::eligibility,
        api::inventory::capacity,
        api::inventory::import,
        api::inventory::export_ipe,
        api::inventory::export_geojson,
        api::inventory::export_plant_geojson,
        api::inventory::pon_ports,
        api::inventory::save_pon_port,
        api::inventory::delete_pon_port,
        api::provisioning::order,
        api::provisioning::list,
        api::provisioning::show,
        api::provisioning::reserve_path,
        api::provisioning::install_ont,
        api::provisioning::activate,
        api::provisioning::suspend,
        api::provisioning::resume,
        api::provisioning::terminate,
        api::provisioning::cancel,
        api::provisioning::pools,
        api::provisioning::create_pool,
        api::provisioning::attribution,
        api::provisioning::events,
        api::provisioning::drift,
        api::provisioning::ont_status,
        api::provisioning::unprovisioned,
        api::monitoring::list,
        api::monitoring::acknowledge,
        api::monitoring::devices,
        api::monitoring::device,
        api::monitoring::create_device,
        api::monitoring::delete_device,
        api::social_tariff::list,
        api::social_tariff::show,
        api::social_tariff::preview,
        api::social_tariff::publish,
        api::applications::file,
        api::applications::list,
        api::applications::show,
        api::applications::update,
        api::applications::verify,
        api::applications::document,
        api::applications::area,
        api::applications::decide,
        api::applications::decision,
        api::applications::letter_pdf,
        api::applications::appeal,
        api::applications::appeals,
        api::applications::review,
        api::applications::entitlement,
        api::applications::entitlements_changing,
        api::billing::create_offer,
        api::billing::offers,
        api::billing::create_account,
        api::billing::accounts,
        api::billing::subscribe,
        api::billing::change,
        api::billing::preview,
        api::billing::issue,
        api::billing::run_state,
        api::billing::invoices,
        api::billing::invoice,
        api::billing::pdf,
        api::billing::cii,
        api::billing::credit_note,
        api::ledger::record_payment,
        api::mandates::list,
        api::mandates::add,
        api::mandates::amend,
        api::mandates::revoke,
        api::mandates::give,
        api::ledger::receipt,
        api::ledger::record_return,
        api::ledger::import_returns,
        api::ledger::import_transfers,
        api::ledger::balance,
        api::ledger::statement,
        api::ledger::reminder,
        api::ledger::file_fsl,
        api::ledger::decide_fsl,
        api::ledger::dunning,
        api::ledger::export,
        api::privacy::upload_scan,
        api::privacy::download_scan,
        api::privacy::my_data,
        api::privacy::deletions,
        api::privacy::indicators,
        api::grants::add_device,
        api::grants::devices,
        api::grants::set_budget,
        api::grants::budget,
        api::grants::request,
        api::grants::grants,
        api::grants::hand_over,
        api::grants::cancel,
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
