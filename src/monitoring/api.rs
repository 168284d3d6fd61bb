//! Alarms and what they cut off; the devices polled.

use crate::monitoring::views::{
    add, device_detail, device_views, open_alarms, AlarmView, DeviceDetail, DeviceView,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use monitoring::alarms::{self, Alarm};
use monitoring::devices::{DeviceForm, DeviceSummary};
use serde::Deserialize;

use crate::platform::api::extract::{Json, Path};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::AppState;

/// Open alarms, most severe first; an alarm on a PON port lists the lines
/// and premises behind it, and the protected households among them.
#[utoipa::path(get, path = "/api/v1/monitoring/alarms", operation_id = "list_alarms", tag = "monitoring",
    security(("bearer" = [])),
    responses((status = 200, description = "the open alarms with their impact", content_type = "application/json")))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<AlarmView>>, ApiError> {
    Ok(Json(open_alarms(&state).await?))
}

/// Acknowledges an alarm (it stays open until its cause clears).
#[utoipa::path(post, path = "/api/v1/monitoring/alarms/{id}/ack", operation_id = "acknowledge_alarm", tag = "monitoring",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the alarm", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such alarm"),
        (status = 422, body = ErrorBody, description = "already acknowledged")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> Result<Json<Alarm>, ApiError> {
    Ok(Json(alarms::acknowledge(&state.db, &me.actor(), id).await?))
}

/// One device: when it last answered, the last error, its interfaces
/// (ifIndex, name, alias, type, states, speed, counters) and, for an OLT,
/// its PON ports (with the inventory's port behind each, or none) and
/// their ONTs' optical levels.
#[utoipa::path(get, path = "/api/v1/monitoring/devices/{name}", operation_id = "get_device", tag = "monitoring",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, description = "the device", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such device polled")))]
pub async fn device(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DeviceDetail>, ApiError> {
    match device_detail(&state, &name).await? {
        Some(d) => Ok(Json(d)),
        None => Err(crate::Error::NotFound(format!("aucun équipement « {name} »")).into()),
    }
}

/// The devices polled over SNMP (without their secrets) and the
/// inventory's OLTs not polled yet.
#[utoipa::path(get, path = "/api/v1/monitoring/devices", operation_id = "list_devices", tag = "monitoring",
    security(("bearer" = [])),
    responses((status = 200, description = "the devices", content_type = "application/json")))]
pub async fn devices(State(state): State<AppState>) -> Result<Json<Vec<DeviceView>>, ApiError> {
    Ok(Json(device_views(&state).await?))
}

/// A device to poll, as an admin gives it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceBody {
    /// Letters, digits, `.`, `-`, `_`; an OLT as in the inventory.
    pub name: String,
    /// An IP address, with `:port` when not 161.
    pub address: String,
    /// `v2c` or `v3`.
    pub version: String,
    pub community: Option<String>,
    pub user: Option<String>,
    /// `sha1` or `sha256` (default).
    pub auth: Option<String>,
    pub auth_key: Option<String>,
    pub priv_key: Option<String>,
    /// SNMPv3 context name (at most 32 characters; absent: the default).
    pub context: Option<String>,
    pub timeout_ms: Option<u64>,
    pub retries: Option<u32>,
}

/// Adds a device to poll (admin). Its community or keys are stored
/// encrypted with the régie's key and never shown again.
#[utoipa::path(post, path = "/api/v1/monitoring/devices", operation_id = "add_device", tag = "monitoring",
    security(("bearer" = [])), request_body = DeviceBody,
    responses((status = 201, description = "the device, without its secrets", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "a device of that name exists"),
        (status = 422, body = ErrorBody, description = "a field is invalid; the message names it")))]
pub async fn create_device(
    State(state): State<AppState>,
    me: Principal,
    Json(body): Json<DeviceBody>,
) -> Result<Response, ApiError> {
    let form = DeviceForm {
        name: body.name,
        address: body.address,
        version: body.version,
        community: body.community,
        user: body.user,
        auth: body.auth,
        auth_key: body.auth_key,
        priv_key: body.priv_key,
        context: body.context,
        timeout_ms: body.timeout_ms,
        retries: body.retries,
    };
    let added = add(&state, &me, &form).await.map_err(|(_, e)| e)?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

/// Stops polling a device an admin added.
#[utoipa::path(delete, path = "/api/v1/monitoring/devices/{name}", operation_id = "remove_device", tag = "monitoring",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, description = "the device removed", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such device added")))]
pub async fn delete_device(
    State(state): State<AppState>,
    me: Principal,
    Path(name): Path<String>,
) -> Result<Json<DeviceSummary>, ApiError> {
    Ok(Json(
        monitoring::storage::remove_device(&state.db, &me.actor(), &name).await?,
    ))
}
