//! `Idempotency-Key` on mutating API calls.
//!
//! A client that cannot tell whether its request landed (a timeout, a lost
//! connection) sends it again with the same key: the first answer is
//! replayed instead of the request running twice. The same key with another
//! method, path or body is a client error (422). A request that failed on
//! the server's side (5xx) frees its key, so that the retry runs again: the
//! domain steps themselves are written to end in the same state when
//! repeated.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::storage::{self, KeyUse};
use crate::{AppState, Error};

pub const HEADER: &str = "idempotency-key";

/// Largest request or response body kept for a replay.
const BODY_LIMIT_BYTES: usize = 1 << 20;

/// Answers a replayed request, or runs a new one and keeps its answer.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(raw_key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    if !mutating || !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= 255 => k.trim().to_owned(),
        _ => {
            return ApiError(Error::Invalid(
                "Idempotency-Key : 1 à 255 caractères ASCII visibles".into(),
            ))
            .into_response()
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError(Error::Invalid(format!(
                "une requête avec Idempotency-Key porte au plus {BODY_LIMIT_BYTES} octets"
            )))
            .into_response()
        }
    };
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str().as_bytes());
    hash.update(b" ");
    hash.update(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("")
            .as_bytes(),
    );
    hash.update(b"\n");
    hash.update(&bytes);
    let fingerprint: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();

    match storage::reserve_key(&state.db, principal.user_id, &key, &fingerprint).await {
        Err(e) => return ApiError(e).into_response(),
        Ok(KeyUse::OtherRequest) => {
            return ApiError(Error::Invalid(format!(
                "Idempotency-Key « {key} » : déjà utilisée pour une autre requête (méthode, chemin ou corps différents)"
            )))
            .into_response()
        }
        Ok(KeyUse::InProgress) => {
            return ApiError(Error::Conflict(format!(
                "une requête avec l'Idempotency-Key « {key} » est encore en cours : réessayez dans un instant"
            )))
            .into_response()
        }
        Ok(KeyUse::Answered {
            status,
            content_type,
            body,
        }) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return resp;
        }
        Ok(KeyUse::Reserved) => {}
    }

    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = resp.status();
    if status.is_server_error() {
        if let Err(e) = storage::forget_key(&state.db, principal.user_id, &key).await {
            tracing::error!(error = %e, "could not free an idempotency key");
        }
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "response too large to keep for idempotent replay");
            let _ = storage::forget_key(&state.db, principal.user_id, &key).await;
            return ApiError(Error::Internal("response body unreadable".into())).into_response();
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let text = String::from_utf8_lossy(&bytes);
    if let Err(e) = storage::answer_key(
        &state.db,
        principal.user_id,
        &key,
        status.as_u16(),
        content_type,
        &text,
    )
    .await
    {
        tracing::error!(error = %e, "could not keep the answer of an idempotent request");
    }
    Response::from_parts(parts, Body::from(bytes))
}
