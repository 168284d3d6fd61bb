//! The fibre plant.

use axum::extract::State;
use inventory::trace::{Downstream, From, Upstream};
use serde::Deserialize;

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::error::{ApiError, ErrorBody};
use crate::{AppState, Error};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// Code of the outlet (PTO), `t_ebp.bp_code`.
    pub pto: String,
}

/// Traces the optical path upstream from an outlet: every hop (fibre with
/// cable, tube and colour; splice, connector or splitter with its place),
/// the loss of each and in total, the verdict against the optical class,
/// and whether the stored route (`t_ropt`) agrees.
#[utoipa::path(get, path = "/api/v1/inventory/trace", operation_id = "trace_upstream", tag = "inventory",
    security(("bearer" = [])), params(TraceQuery),
    responses(
        (status = 200, description = "the trace, outlet first", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such outlet"),
    ))]
pub async fn trace(
    State(state): State<AppState>,
    Query(q): Query<TraceQuery>,
) -> Result<Json<Upstream>, ApiError> {
    Ok(Json(
        inventory::service::trace_outlet(&state.db, &state.plant, &q.pto).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownstreamQuery {
    /// A PON port code (Régie extension).
    pub pon: Option<String>,
    /// A splitter, by its input fibre code.
    pub splitter: Option<String>,
    /// A cable code (`t_cable.cb_code`).
    pub cable: Option<String>,
}

/// Everything behind a PON port, a splitter or a cable: the outlets and
/// premises a fault there cuts off. Exactly one of the parameters.
#[utoipa::path(get, path = "/api/v1/inventory/downstream", operation_id = "trace_downstream", tag = "inventory",
    security(("bearer" = [])), params(DownstreamQuery),
    responses(
        (status = 200, description = "outlets and premises behind the point", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such port, splitter or cable"),
        (status = 422, body = ErrorBody, description = "not exactly one of pon, splitter, cable"),
    ))]
pub async fn downstream(
    State(state): State<AppState>,
    Query(q): Query<DownstreamQuery>,
) -> Result<Json<Downstream>, ApiError> {
    let from = match (q.pon, q.splitter, q.cable) {
        (Some(p), None, None) => From::PonPort(p),
        (None, Some(s), None) => From::Splitter(s),
        (None, None, Some(c)) => From::Cable(c),
        _ => {
            return Err(ApiError(Error::Invalid(
                "give exactly one of pon, splitter, cable".into(),
            )))
        }
    };
    Ok(Json(
        inventory::service::downstream(&state.db, &state.plant, from).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EligibilityQuery {
    /// Premises code (`t_suf.sf_code`).
    pub suf: Option<String>,
    /// An address: its hexaclé or its `t_adresse` code.
    pub address: Option<String>,
}

/// Whether a premises can be connected now, needs its drop built, or is not
/// covered, with the reason and the PM.
#[utoipa::path(get, path = "/api/v1/inventory/eligibility", operation_id = "eligibility", tag = "inventory",
    security(("bearer" = [])), params(EligibilityQuery),
    responses(
        (status = 200, description = "the eligibility", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such premises"),
    ))]
pub async fn eligibility(
    State(state): State<AppState>,
    Query(q): Query<EligibilityQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let json = |v| serde_json::to_value(v).map_err(|e| ApiError(Error::Internal(e.to_string())));
    match (q.suf, q.address) {
        (Some(suf), None) => Ok(Json(json(
            inventory::service::eligibility(&state.db, &state.plant, &suf).await?,
        )?)),
        (None, Some(address)) => {
            let premises =
                inventory::service::eligibility_at(&state.db, &state.plant, &address).await?;
            let premises: Vec<serde_json::Value> = premises
                .into_iter()
                .map(|(suf, e)| Ok(serde_json::json!({ "suf": suf, "eligibility": json(e)? })))
                .collect::<Result<_, ApiError>>()?;
            Ok(Json(
                serde_json::json!({ "address": address, "premises": premises }),
            ))
        }
        _ => Err(ApiError(Error::Invalid(
            "give exactly one of suf, address".into(),
        ))),
    }
}

/// Splitter outputs used per splitter, premises per PON port against its
/// split ratio (flagged at 80 % and above), and eligibility counts per PM.
#[utoipa::path(get, path = "/api/v1/inventory/capacity", operation_id = "capacity", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "the capacity report", content_type = "application/json")))]
pub async fn capacity(
    State(state): State<AppState>,
) -> Result<Json<inventory::service::CapacityReport>, ApiError> {
    Ok(Json(
        inventory::service::capacity(&state.db, &state.plant, state.provisioning.in_use().await?)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check and report only; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports a GraceTHD v2.0.1 "shpcsv" delivery sent as a zip archive (body
/// `application/zip`; the files at the root or in one folder). The answer
/// lists every problem with file, line and field; with any error nothing is
/// written (422).
#[utoipa::path(post, path = "/api/v1/inventory/imports", operation_id = "import_delivery", tag = "inventory",
    security(("bearer" = [])), params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "the delivery as a zip archive"),
    responses(
        (status = 200, description = "imported (or checked, with dry_run): report and summary", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "another import is running"),
        (status = 422, description = "the delivery has errors; nothing was written", content_type = "application/json"),
    ))]
pub async fn import(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Query(q): Query<ImportQuery>,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let uploads = &state.config.uploads;
    let scratch = state.config.scratch_dir();
    // Written to disk as it arrives: never held in memory.
    let zip = crate::platform::upload::spool(
        body.into_data_stream(),
        &scratch,
        uploads.delivery_max_bytes(),
    )
    .await?
    .ok_or_else(|| {
        Error::Invalid("envoyez la livraison comme archive zip dans le corps de la requête".into())
    })?;
    let outcome = inventory::service::import_zip(
        &state.db,
        &state.plant,
        &me.actor(),
        &zip,
        q.dry_run,
        &scratch,
        &uploads.delivery_limits(),
    )
    .await?;
    let status = if outcome.refused() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

/// The addresses with IPE column names (`;`-separated UTF-8): building
/// state, PM reference, PBO type, dwellings.
#[utoipa::path(get, path = "/api/v1/inventory/export/ipe.csv", operation_id = "export_ipe", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "the address file", content_type = "text/csv")))]
pub async fn export_ipe(
    State(state): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let csv = inventory::service::export_ipe(&state.db, &state.plant).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"adresses-ipe.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// The addresses as a GeoJSON FeatureCollection (WGS84) with the
/// eligibility of their premises.
#[utoipa::path(get, path = "/api/v1/inventory/export/addresses.geojson", operation_id = "export_geojson", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "the addresses", content_type = "application/geo+json")))]
pub async fn export_geojson(
    State(state): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let geo = inventory::service::export_geojson(&state.db, &state.plant).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        geo.to_string(),
    )
        .into_response())
}

/// The whole plant as a GeoJSON FeatureCollection (WGS84): sites and boxes
/// as points, cables as lines, addresses with the eligibility of their
/// premises; the `layer` property of each feature says which.
#[utoipa::path(get, path = "/api/v1/inventory/export/plant.geojson", operation_id = "export_plant_geojson", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "sites, boxes, cables and addresses", content_type = "application/geo+json")))]
pub async fn export_plant_geojson(
    State(state): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let geo = inventory::service::export_plant_geojson(&state.db, &state.plant).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        geo.to_string(),
    )
        .into_response())
}

/// The PON ports of the plant.
#[utoipa::path(get, path = "/api/v1/inventory/pon-ports", operation_id = "list_pon_ports", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "the PON ports, by code", content_type = "application/json")))]
pub async fn pon_ports(
    State(state): State<AppState>,
) -> Result<Json<Vec<inventory::extension::PonPort>>, ApiError> {
    Ok(Json(
        inventory::service::pon_ports(&state.db, &state.plant).await?,
    ))
}

/// A PON port as entered: the columns of `x_pon.csv` but its code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PonPortBody {
    /// The OLT the port belongs to.
    pub olt_code: String,
    /// The OLT's model (may be empty).
    #[serde(default)]
    pub olt_model: String,
    /// The site of the OLT (`t_sitetech.st_code`).
    pub st_code: String,
    pub slot: u32,
    pub port: u32,
    /// `B+`, `C+`, `N1`, `N2`, `E1` or `E2`.
    pub optical_class: String,
    /// ONTs the port serves at most (1 to 256).
    pub max_onts: u32,
    /// The feeder fibre the port is patched to at the NRO (`t_fibre.fo_code`).
    pub fo_code: String,
}

/// Adds a PON port, or replaces the port of that code. The port is checked
/// against the plant: its site and fibre exist, no other port is patched to
/// the fibre. A later delivery carrying `x_pon.csv` replaces the ports
/// entered by hand; one without it keeps them.
#[utoipa::path(put, path = "/api/v1/inventory/pon-ports/{code}", operation_id = "save_pon_port", tag = "inventory",
    security(("bearer" = [])), params(("code" = String, Path, example = "OLT01-1/0")), request_body = PonPortBody,
    responses(
        (status = 200, description = "the port, replaced", content_type = "application/json"),
        (status = 201, description = "the port, added", content_type = "application/json"),
        (status = 409, body = ErrorBody, description = "an import runs or landed meanwhile"),
        (status = 422, body = ErrorBody, description = "a field breaks a rule; the message names it"),
    ))]
pub async fn save_pon_port(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Path(code): Path<String>,
    Json(body): Json<PonPortBody>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let numbers = [
        body.slot.to_string(),
        body.port.to_string(),
        body.max_onts.to_string(),
    ];
    let field = |column: &'static str| -> &str {
        match column {
            "pon_code" => &code,
            "olt_code" => &body.olt_code,
            "olt_model" => &body.olt_model,
            "st_code" => &body.st_code,
            "slot" => &numbers[0],
            "port" => &numbers[1],
            "optical_class" => &body.optical_class,
            "max_onts" => &numbers[2],
            "fo_code" => &body.fo_code,
            _ => "",
        }
    };
    let (port, edit) =
        inventory::service::save_pon_port(&state.db, &state.plant, &me.actor(), field).await?;
    let status = match edit {
        inventory::storage::Edit::Added => axum::http::StatusCode::CREATED,
        _ => axum::http::StatusCode::OK,
    };
    Ok((status, Json(port)).into_response())
}

/// Removes a PON port.
#[utoipa::path(delete, path = "/api/v1/inventory/pon-ports/{code}", operation_id = "delete_pon_port", tag = "inventory",
    security(("bearer" = [])), params(("code" = String, Path)),
    responses(
        (status = 204, description = "removed"),
        (status = 404, body = ErrorBody, description = "no such port"),
        (status = 409, body = ErrorBody, description = "lines use the port, or an import runs or landed meanwhile"),
    ))]
pub async fn delete_pon_port(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Path(code): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    crate::network::ensure_unused(&state, &code).await?;
    inventory::service::delete_pon_port(&state.db, &state.plant, &me.actor(), &code).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
