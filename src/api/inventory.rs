//! The fibre plant.

use axum::extract::State;
use inventory::trace::Upstream;
use serde::Deserialize;

use crate::api::extract::{Json, Query};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

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
        inventory::service::trace_outlet(&state.db, &q.pto).await?,
    ))
}
