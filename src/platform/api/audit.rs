//! Reading the audit journal. There is deliberately no route that changes it.

use axum::extract::State;

use crate::platform::api::extract::{Json, Query};
use regie_core::audit::{self, AuditEntry, AuditFilter};

use crate::platform::error::{ApiError, ErrorBody};
use crate::AppState;

/// Lists audit entries, newest first, with optional filters.
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "list_audit", tag = "audit", security(("bearer" = [])), params(AuditFilter),
    responses((status = 200, body = [AuditEntry]), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(audit::list(&state.db, &filter).await?))
}
