//! Alarms and what they cut off.

use axum::extract::State;
use monitoring::alarms::{self, Alarm, Impact};
use serde::Serialize;

use crate::api::extract::{Json, Path};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// An open alarm and, for a PON port, the lines and premises behind it.
#[derive(Debug, Serialize)]
pub struct AlarmView {
    #[serde(flatten)]
    pub alarm: Alarm,
    pub impact: Option<Impact>,
}

/// The open alarms, most severe first, each with its impact.
pub async fn open_alarms(state: &AppState) -> Result<Vec<AlarmView>, crate::Error> {
    let mut out = Vec::new();
    for alarm in alarms::open(&state.db).await? {
        let impact = match alarm.kind.as_str() {
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
