//! Subscriber lines: orders, lifecycle steps, address pools, attribution.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use provisioning::lifecycle::{State as LineState, SuspendReason};
use provisioning::line::{Event, Ipv4Kind, Line};
use provisioning::service::{Attribution, Drift, Installation, NewPool, Order, PoolUsage};
use provisioning::storage::Assignment;
use serde::{Deserialize, Serialize};

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::{AppState, Error};

/// An order for a premises.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderBody {
    /// The premises (`t_suf.sf_code`).
    pub premises: String,
    /// `public` or `cgnat` (default).
    pub ipv4: Option<String>,
    /// Bandwidth profile, e.g. `1G` (default: the first offered).
    pub profile: Option<String>,
}

/// Orders a line for a premises. Refused with the inventory's reason when
/// the premises cannot be connected, and when it already has a live line.
#[utoipa::path(post, path = "/api/v1/provisioning/lines", operation_id = "order_line", tag = "provisioning",
    security(("bearer" = [])), request_body = OrderBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body")),
    responses(
        (status = 201, description = "the line, ordered", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such premises"),
        (status = 409, body = ErrorBody, description = "the premises already has a live line"),
        (status = 422, body = ErrorBody, description = "the premises cannot be connected, or a field is wrong"),
    ))]
pub async fn order(
    State(state): State<AppState>,
    me: Principal,
    Json(body): Json<OrderBody>,
) -> Result<Response, ApiError> {
    let ipv4 =
        match body.ipv4.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(k) => Some(Ipv4Kind::parse(k).ok_or_else(|| {
                Error::Invalid(format!("ipv4: « {k} » is neither public nor cgnat"))
            })?),
        };
    let order = Order {
        premises: body.premises,
        ipv4,
        profile: body.profile,
    };
    let line = state.provisioning.order(&me.actor(), &order).await?;
    Ok((StatusCode::CREATED, Json(line)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinesQuery {
    /// Only lines in this state (`ordered`, `path_reserved`, `ont_installed`,
    /// `active`, `suspended`, `terminated`, `cancelled`).
    pub state: Option<String>,
    /// Only lines on this PON port.
    pub pon_port: Option<String>,
    /// At most this many (default 200).
    pub limit: Option<i64>,
}

/// Lines, most recently changed first.
#[utoipa::path(get, path = "/api/v1/provisioning/lines", operation_id = "list_lines", tag = "provisioning",
    security(("bearer" = [])), params(LinesQuery),
    responses((status = 200, description = "the lines", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "unknown state")))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<LinesQuery>,
) -> Result<Json<Vec<Line>>, ApiError> {
    let st = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            LineState::parse(s)
                .ok_or_else(|| Error::Invalid(format!("state: unknown state « {s} »")))?,
        ),
    };
    Ok(Json(
        state
            .provisioning
            .lines(st, q.pon_port.as_deref(), q.limit.unwrap_or(200))
            .await?,
    ))
}

/// A line with its history and address ranges.
#[derive(Debug, Serialize)]
pub struct LineDetail {
    #[serde(flatten)]
    pub line: Line,
    /// Steps allowed from the current state.
    pub allowed_steps: Vec<&'static str>,
    pub history: Vec<Event>,
    pub assignments: Vec<Assignment>,
}

/// One line: path, budget, ONT, service, history.
#[utoipa::path(get, path = "/api/v1/provisioning/lines/{id}", operation_id = "show_line", tag = "provisioning",
    security(("bearer" = [])), params(("id" = String, Path, example = "RGE-7K2M-9QXD")),
    responses((status = 200, description = "the line", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such line")))]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LineDetail>, ApiError> {
    let p = &state.provisioning;
    let line = p.line(&id).await?;
    Ok(Json(LineDetail {
        allowed_steps: line.state.next().iter().map(|(s, _)| s.as_str()).collect(),
        history: p.history(&line.id).await?,
        assignments: p.assignments(&line.id).await?,
        line,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReserveBody {
    /// Why a path over its optical budget is reserved anyway.
    pub override_reason: Option<String>,
}

/// Reserves the path: outlet, PBO port, PM splitter output, the PON port
/// behind them and an ONT id on it. A path over its optical budget needs
/// `override_reason`.
#[utoipa::path(post, path = "/api/v1/provisioning/lines/{id}/reserve-path", operation_id = "reserve_path", tag = "provisioning",
    security(("bearer" = [])), params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body"), ("id" = String, Path)), request_body(content = Option<ReserveBody>),
    responses((status = 200, description = "the line", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "illegal step, resource taken or PON port full"),
        (status = 422, body = ErrorBody, description = "over budget without a reason, or no path")))]
pub async fn reserve_path(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Line>, ApiError> {
    // The body is optional: a path within budget needs none.
    let body: ReserveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReserveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("body: {e}")))?
    };
    Ok(Json(
        state
            .provisioning
            .reserve_path(&me.actor(), &id, body.override_reason.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InstallBody {
    /// ONT serial: 4 vendor letters and 8 hex digits (`HWTC1A2B3C4D`).
    pub serial: String,
    /// Optical power received by the ONT, in dBm.
    pub rx_dbm: f64,
    pub notes: Option<String>,
}

/// Records the ONT installed at the premises and its optical reading.
#[utoipa::path(post, path = "/api/v1/provisioning/lines/{id}/install-ont", operation_id = "install_ont", tag = "provisioning",
    security(("bearer" = [])), params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body"), ("id" = String, Path)), request_body = InstallBody,
    responses((status = 200, description = "the line", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "illegal step or serial already installed"),
        (status = 422, body = ErrorBody, description = "bad serial or reading")))]
pub async fn install_ont(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    Json(body): Json<InstallBody>,
) -> Result<Json<Line>, ApiError> {
    let install = Installation {
        serial: body.serial,
        rx_dbm: body.rx_dbm,
        notes: body.notes,
    };
    Ok(Json(
        state
            .provisioning
            .install_ont(&me.actor(), &id, &install)
            .await?,
    ))
}

/// Activates the line: addresses, VLANs, the ONT and its service on the
/// OLT, and FreeRADIUS. Safe to retry after any failure.
#[utoipa::path(post, path = "/api/v1/provisioning/lines/{id}/activate", operation_id = "activate_line", tag = "provisioning",
    security(("bearer" = [])), params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body"), ("id" = String, Path)),
    responses((status = 200, description = "the line, active", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "illegal step, or a pool or VLAN range is exhausted"),
        (status = 502, body = ErrorBody, description = "the OLT refused, failed or did not answer; retry")))]
pub async fn activate(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
) -> Result<Json<Line>, ApiError> {
    Ok(Json(state.provisioning.activate(&me.actor(), &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SuspendBody {
    /// `unpaid`, `subscriber_request`, `fault` or `keep_connected`.
    pub reason: String,
}

/// Suspends the line (walled garden; slowed access for `keep_connected`).
#[utoipa::path(post, path = "/api/v1/provisioning/lines/{id}/suspend", operation_id = "suspend_line", tag = "provisioning",
    security(("bearer" = [])), params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body"), ("id" = String, Path)), request_body = SuspendBody,
    responses((status = 200, description = "the line, suspended", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "illegal step"),
        (status = 422, body = ErrorBody, description = "unknown reason")))]
pub async fn suspend(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    Json(body): Json<SuspendBody>,
) -> Result<Json<Line>, ApiError> {
    let reason = SuspendReason::parse(&body.reason).map_err(Error::Invalid)?;
    Ok(Json(
        state.provisioning.suspend(&me.actor(), &id, reason).await?,
    ))
}

macro_rules! plain_step {
    ($name:ident, $path:literal, $op:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, operation_id = $op, tag = "provisioning",
            security(("bearer" = [])), params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body")),
            responses((status = 200, description = "the line", content_type = "application/json"),
                (status = 404, body = ErrorBody, description = "no such line"),
                (status = 409, body = ErrorBody, description = "illegal step"),
                (status = 502, body = ErrorBody, description = "the OLT failed; retry")))]
        pub async fn $name(
            State(state): State<AppState>,
            me: Principal,
            Path(id): Path<String>,
        ) -> Result<Json<Line>, ApiError> {
            Ok(Json(state.provisioning.$name(&me.actor(), &id).await?))
        }
    };
}

plain_step!(
    resume,
    "/api/v1/provisioning/lines/{id}/resume",
    "resume_line",
    "Resumes a suspended line with exactly its previous service."
);
plain_step!(
    terminate,
    "/api/v1/provisioning/lines/{id}/terminate",
    "terminate_line",
    "Terminates the line: the ONT leaves the OLT, every resource is released; history is kept."
);
plain_step!(
    cancel,
    "/api/v1/provisioning/lines/{id}/cancel",
    "cancel_line",
    "Cancels an order before activation, releasing what it reserved."
);

/// Address pools with their size and use.
#[utoipa::path(get, path = "/api/v1/provisioning/pools", operation_id = "list_pools", tag = "provisioning",
    security(("bearer" = [])),
    responses((status = 200, description = "the pools", content_type = "application/json")))]
pub async fn pools(State(state): State<AppState>) -> Result<Json<Vec<PoolUsage>>, ApiError> {
    Ok(Json(state.provisioning.pools().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PoolBody {
    /// a-z, 0-9, `-` and `_`.
    pub name: String,
    /// `public_v4`, `cgnat_v4`, `delegated_v6` or `wan_v6`.
    pub kind: String,
    /// The network, e.g. `100.64.0.0/16` or `2001:db8::/40`.
    pub network: String,
    /// Length of delegated prefixes (default 56, a multiple of 4).
    pub assign_len: Option<u8>,
}

/// Defines an address pool. A pool overlapping another is refused.
#[utoipa::path(post, path = "/api/v1/provisioning/pools", operation_id = "create_pool", tag = "provisioning",
    security(("bearer" = [])), request_body = PoolBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same key and body")),
    responses((status = 201, description = "the pool", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "a pool of that name exists"),
        (status = 422, body = ErrorBody, description = "bad network, or overlap with another pool")))]
pub async fn create_pool(
    State(state): State<AppState>,
    me: Principal,
    Json(body): Json<PoolBody>,
) -> Result<Response, ApiError> {
    let pool = state
        .provisioning
        .add_pool(
            &me.actor(),
            &NewPool {
                name: body.name,
                kind: body.kind,
                network: body.network,
                assign_len: body.assign_len,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(pool)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttributionQuery {
    /// An IPv4 or IPv6 address.
    pub ip: String,
    /// The instant, RFC 3339 (default: now).
    pub at: Option<String>,
}

/// Which line held an address, or a prefix containing it, at an instant
/// (legal requisition).
#[utoipa::path(get, path = "/api/v1/provisioning/attribution", operation_id = "attribution", tag = "provisioning",
    security(("bearer" = [])), params(AttributionQuery),
    responses((status = 200, description = "the holders at that instant (empty: nobody)", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "bad address or instant")))]
pub async fn attribution(
    State(state): State<AppState>,
    Query(q): Query<AttributionQuery>,
) -> Result<Json<Attribution>, ApiError> {
    Ok(Json(
        state
            .provisioning
            .attribution(&q.ip, q.at.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this sequence number (default 0).
    pub after: Option<i64>,
    /// At most this many (default 500).
    pub limit: Option<i64>,
}

/// Every state change of every line, in order: the feed of billing.
#[utoipa::path(get, path = "/api/v1/provisioning/events", operation_id = "line_events", tag = "provisioning",
    security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, description = "the events", content_type = "application/json")))]
pub async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    Ok(Json(
        state
            .provisioning
            .events_since(q.after.unwrap_or(0), q.limit.unwrap_or(500))
            .await?,
    ))
}

/// Differences between an OLT and the database.
#[utoipa::path(get, path = "/api/v1/provisioning/olts/{olt}/drift", operation_id = "olt_drift", tag = "provisioning",
    security(("bearer" = [])), params(("olt" = String, Path)),
    responses((status = 200, description = "the drift report", content_type = "application/json"),
        (status = 502, body = ErrorBody, description = "the OLT did not answer")))]
pub async fn drift(
    State(state): State<AppState>,
    Path(olt): Path<String>,
) -> Result<Json<Drift>, ApiError> {
    Ok(Json(state.provisioning.drift(&olt).await?))
}

/// What the line's ONT reports now, read from its OLT: online, received and
/// transmitted optical power (hundredths of a dBm), ranging distance.
#[utoipa::path(get, path = "/api/v1/provisioning/lines/{id}/ont-status", operation_id = "ont_status", tag = "provisioning",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "the ONT's status", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the line has no ONT in service"),
        (status = 502, body = ErrorBody, description = "the OLT did not answer")))]
pub async fn ont_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<provisioning::driver::OntStatus>, ApiError> {
    Ok(Json(state.provisioning.ont_status(&id).await?))
}

/// ONTs plugged into an OLT but not declared on it.
#[utoipa::path(get, path = "/api/v1/provisioning/olts/{olt}/unprovisioned", operation_id = "unprovisioned_onts", tag = "provisioning",
    security(("bearer" = [])), params(("olt" = String, Path)),
    responses((status = 200, description = "the ONTs found", content_type = "application/json"),
        (status = 502, body = ErrorBody, description = "the OLT did not answer")))]
pub async fn unprovisioned(
    State(state): State<AppState>,
    Path(olt): Path<String>,
) -> Result<Json<Vec<provisioning::driver::DiscoveredOnt>>, ApiError> {
    Ok(Json(state.provisioning.unprovisioned(&olt).await?))
}
