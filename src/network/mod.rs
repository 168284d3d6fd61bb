//! The network, as the binary serves it: the fibre plant (import, trace,
//! capacity, map, exports, PON ports) and the subscriber lines (order,
//! steps, suspension, termination), their API and pages, and the
//! `regie inventory` and `regie provisioning` commands. The rules live in
//! the `inventory` and `provisioning` crates.

pub mod lines;
pub mod lines_api;
pub mod lines_cli;
pub mod map;
pub mod plant_api;
pub mod plant_cli;
pub mod plant_pages;
pub mod pon;

use axum::extract::DefaultBodyLimit;

use crate::platform::routes::{
    delete, get, post, put,
    Access::Roles,
    Route,
    Surface::{Api, Page},
    ADMIN, LINE_FEED, NETWORK_STAFF, TECHNICIAN,
};

/// The routes of the plant and the lines, each with who may call it: one line each
/// (method, path, access, surface, handler).
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        // API.
        post("/api/v1/provisioning/lines", Roles(NETWORK_STAFF), Api, lines_api::order),
        get("/api/v1/provisioning/lines", Roles(NETWORK_STAFF), Api, lines_api::list),
        get("/api/v1/provisioning/lines/{id}", Roles(NETWORK_STAFF), Api, lines_api::show),
        post("/api/v1/provisioning/lines/{id}/reserve-path", Roles(NETWORK_STAFF), Api, lines_api::reserve_path),
        post("/api/v1/provisioning/lines/{id}/install-ont", Roles(NETWORK_STAFF), Api, lines_api::install_ont),
        post("/api/v1/provisioning/lines/{id}/activate", Roles(NETWORK_STAFF), Api, lines_api::activate),
        post("/api/v1/provisioning/lines/{id}/suspend", Roles(NETWORK_STAFF), Api, lines_api::suspend),
        post("/api/v1/provisioning/lines/{id}/resume", Roles(NETWORK_STAFF), Api, lines_api::resume),
        post("/api/v1/provisioning/lines/{id}/terminate", Roles(NETWORK_STAFF), Api, lines_api::terminate),
        post("/api/v1/provisioning/lines/{id}/cancel", Roles(NETWORK_STAFF), Api, lines_api::cancel),
        get("/api/v1/provisioning/pools", Roles(NETWORK_STAFF), Api, lines_api::pools),
        post("/api/v1/provisioning/pools", Roles(ADMIN), Api, lines_api::create_pool),
        get("/api/v1/provisioning/attribution", Roles(ADMIN), Api, lines_api::attribution),
        get("/api/v1/provisioning/events", Roles(LINE_FEED), Api, lines_api::events),
        get("/api/v1/provisioning/lines/{id}/ont-status", Roles(NETWORK_STAFF), Api, lines_api::ont_status),
        get("/api/v1/provisioning/olts/{olt}/unprovisioned", Roles(NETWORK_STAFF), Api, lines_api::unprovisioned),
        get("/api/v1/provisioning/olts/{olt}/drift", Roles(NETWORK_STAFF), Api, lines_api::drift),
        get("/api/v1/inventory/trace", Roles(NETWORK_STAFF), Api, plant_api::trace),
        get("/api/v1/inventory/downstream", Roles(NETWORK_STAFF), Api, plant_api::downstream),
        get("/api/v1/inventory/eligibility", Roles(NETWORK_STAFF), Api, plant_api::eligibility),
        get("/api/v1/inventory/capacity", Roles(NETWORK_STAFF), Api, plant_api::capacity),
        // Spooled to disk within `[uploads] delivery_max_mib`.
        post("/api/v1/inventory/imports", Roles(NETWORK_STAFF), Api, plant_api::import).body_limit(DefaultBodyLimit::disable()),
        get("/api/v1/inventory/export/plant.geojson", Roles(NETWORK_STAFF), Api, plant_api::export_plant_geojson),
        get("/api/v1/inventory/pon-ports", Roles(NETWORK_STAFF), Api, plant_api::pon_ports),
        put("/api/v1/inventory/pon-ports/{code}", Roles(NETWORK_STAFF), Api, plant_api::save_pon_port),
        delete("/api/v1/inventory/pon-ports/{code}", Roles(NETWORK_STAFF), Api, plant_api::delete_pon_port),
        get("/api/v1/inventory/export/ipe.csv", Roles(NETWORK_STAFF), Api, plant_api::export_ipe),
        get("/api/v1/inventory/export/addresses.geojson", Roles(NETWORK_STAFF), Api, plant_api::export_geojson),
        // Pages.
        get("/technicien/trace", Roles(NETWORK_STAFF), Page, plant_pages::trace_page),
        get("/technicien/capacite", Roles(NETWORK_STAFF), Page, plant_pages::capacity_page),
        get("/technicien/carte", Roles(NETWORK_STAFF), Page, map::map_page),
        get("/technicien/exports/{file}", Roles(NETWORK_STAFF), Page, map::plant_export),
        get("/technicien/lignes", Roles(NETWORK_STAFF), Page, lines::lines),
        post("/technicien/lignes", Roles(NETWORK_STAFF), Page, lines::order),
        get("/technicien/lignes/{id}", Roles(NETWORK_STAFF), Page, lines::line),
        post("/technicien/lignes/{id}/{etape}", Roles(NETWORK_STAFF), Page, lines::step),
        get("/technicien/pon", Roles(NETWORK_STAFF), Page, pon::pon_ports),
        post("/technicien/pon", Roles(NETWORK_STAFF), Page, pon::pon_save),
        post("/technicien/pon/supprimer", Roles(NETWORK_STAFF), Page, pon::pon_delete),
        get("/technicien/import", Roles(NETWORK_STAFF), Page, plant_pages::import_form),
        // Spooled to disk within `[uploads] delivery_max_mib`.
        post("/technicien/import", Roles(NETWORK_STAFF), Page, plant_pages::import_submit).body_limit(DefaultBodyLimit::disable()),
        get("/technicien", Roles(TECHNICIAN), Page, plant_pages::technician_home),
    ]
}

/// A PON port serving lines stays: removing it would strand them.
pub async fn ensure_unused(state: &crate::AppState, code: &str) -> Result<(), crate::Error> {
    let lines = state.provisioning.live_lines_on(code.trim()).await?;
    if lines.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = lines.iter().take(5).map(String::as_str).collect();
    Err(crate::Error::Conflict(format!(
        "le port PON {} dessert {} ligne(s) en cours ({}{}) : résiliez-les ou déplacez-les d'abord",
        code.trim(),
        lines.len(),
        shown.join(", "),
        if lines.len() > shown.len() {
            ", …"
        } else {
            ""
        }
    )))
}
