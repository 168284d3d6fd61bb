//! Monitoring, as the binary serves it: the API and pages of alarms and
//! devices, the poll → alarm job, and the `regie monitoring` commands.
//! The rules (profiles, polling, alarms) live in the `monitoring` crate.

pub mod alarms;
pub mod api;
pub mod cli;
pub mod device_page;
pub mod devices;
pub mod poll;
pub mod views;

use crate::platform::routes::{
    delete, get, post,
    Access::Roles,
    Route,
    Surface::{Api, Page},
    ADMIN, NETWORK_STAFF,
};

/// The routes of monitoring, each with who may call it: one line each
/// (method, path, access, surface, handler).
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        // API.
        get("/api/v1/monitoring/alarms", Roles(NETWORK_STAFF), Api, api::list),
        post("/api/v1/monitoring/alarms/{id}/ack", Roles(NETWORK_STAFF), Api, api::acknowledge),
        get("/api/v1/monitoring/devices", Roles(NETWORK_STAFF), Api, api::devices),
        get("/api/v1/monitoring/devices/{name}", Roles(NETWORK_STAFF), Api, api::device),
        post("/api/v1/monitoring/devices", Roles(ADMIN), Api, api::create_device),
        delete("/api/v1/monitoring/devices/{name}", Roles(ADMIN), Api, api::delete_device),
        // Pages.
        get("/technicien/alarmes", Roles(NETWORK_STAFF), Page, alarms::alarms),
        post("/technicien/alarmes/{id}/prise-en-compte", Roles(NETWORK_STAFF), Page, alarms::acknowledge),
        get("/technicien/equipements", Roles(NETWORK_STAFF), Page, devices::devices),
        post("/technicien/equipements", Roles(ADMIN), Page, devices::add),
        get("/technicien/equipements/{name}", Roles(NETWORK_STAFF), Page, device_page::device),
        post("/technicien/equipements/{name}/retrait", Roles(ADMIN), Page, devices::remove),
    ]
}
