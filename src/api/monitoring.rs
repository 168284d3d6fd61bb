//! Alarms and what they cut off; the devices polled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use monitoring::alarms::{self, Alarm, Impact};
use monitoring::devices::{DeviceForm, DeviceSummary, NewDevice};
use serde::{Deserialize, Serialize};

use crate::api::extract::{Json, Path};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// An open alarm and, for a PON port or an OLT, the lines and premises
/// behind it.
#[derive(Debug, Serialize)]
pub struct AlarmView {
    #[serde(flatten)]
    pub alarm: Alarm,
    pub impact: Option<Impact>,
}

/// The open alarms, most severe first, each with its impact.
pub async fn open_alarms(state: &AppState) -> Result<Vec<AlarmView>, crate::Error> {
    let mut out = Vec::new();
    let mut ports = None;
    for alarm in alarms::open(&state.db).await? {
        let impact = match alarm.kind.as_str() {
            "device_unreachable" => {
                if ports.is_none() {
                    ports = Some(inventory::service::pon_ports(&state.db, &state.plant).await?);
                }
                alarms::olt_impact(
                    &state.db,
                    &state.plant,
                    &state.provisioning,
                    &alarm.subject,
                    ports.as_deref().unwrap_or_default(),
                )
                .await?
            }
            "pon_port_down" => Some(
                alarms::pon_port_impact(
                    &state.db,
                    &state.plant,
                    &state.provisioning,
                    &alarm.subject,
                )
                .await?,
            ),
            _ => None,
        };
        out.push(AlarmView { alarm, impact });
    }
    Ok(out)
}

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

/// A device as the monitoring pages and API list it: never a secret.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub name: String,
    /// Absent for an inventory OLT no device stands for.
    pub address: Option<String>,
    /// `polled`, `unmonitored` (an inventory OLT without an address or
    /// credentials) or `secret_unreadable` (added under another key).
    pub status: &'static str,
    pub origin: Option<crate::monitor::Origin>,
    pub version: Option<String>,
    pub user: Option<String>,
    pub added: Option<DeviceSummary>,
}

/// Every device: those polled, with where each comes from, then the
/// inventory's OLTs nobody polls.
pub async fn device_views(state: &AppState) -> Result<Vec<DeviceView>, crate::Error> {
    let set = crate::monitor::devices(state).await?;
    let added = monitoring::storage::devices(&state.db).await?;
    let summary = |name: &str| added.iter().find(|d| d.name == name).cloned();
    let mut out: Vec<DeviceView> = set
        .polled
        .iter()
        .map(|(d, origin)| {
            let (version, user) = match &d.target.credentials {
                monitoring::snmp::Credentials::V2c { .. } => ("v2c", None),
                monitoring::snmp::Credentials::V3 { user, .. } => ("v3", Some(user.clone())),
            };
            DeviceView {
                name: d.name.clone(),
                address: Some(d.target.address.to_string()),
                status: "polled",
                origin: Some(*origin),
                version: Some(version.into()),
                user,
                added: (*origin == crate::monitor::Origin::Added)
                    .then(|| summary(&d.name))
                    .flatten(),
            }
        })
        .collect();
    for name in &set.sealed_shut {
        let s = summary(name);
        out.push(DeviceView {
            name: name.clone(),
            address: s.as_ref().map(|s| s.address.clone()),
            status: "secret_unreadable",
            origin: Some(crate::monitor::Origin::Added),
            version: s.as_ref().map(|s| s.version.clone()),
            user: s.as_ref().and_then(|s| s.user.clone()),
            added: s,
        });
    }
    for olt in &set.unmonitored_olts {
        out.push(DeviceView {
            name: olt.clone(),
            address: None,
            status: "unmonitored",
            origin: None,
            version: None,
            user: None,
            added: None,
        });
    }
    Ok(out)
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

/// Adds a device to poll; its community or keys are stored encrypted and
/// never shown again.
pub async fn add(
    state: &AppState,
    me: &Principal,
    form: &DeviceForm,
) -> Result<DeviceSummary, (&'static str, crate::Error)> {
    let device = NewDevice::parse_fields(form).map_err(|(f, e)| (f, e.into()))?;
    if state
        .config
        .snmp_device
        .iter()
        .any(|d| d.name == device.name.as_str())
    {
        return Err((
            "name",
            crate::Error::Conflict(format!(
                "« {} » est déjà décrit dans le fichier de configuration",
                device.name.as_str()
            )),
        ));
    }
    let key = state.secret_key().map_err(|e| ("name", e))?;
    monitoring::storage::add_device(&state.db, &key, &me.actor(), &device)
        .await
        .map_err(|e| ("name", e.into()))
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
