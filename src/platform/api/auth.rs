//! Tokens: issue, list, revoke; and who am I.

use axum::extract::State;

use crate::platform::api::extract::{Json, Path};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::platform::auth::{self, Principal, Role, TokenKind};
use crate::platform::error::{ApiError, ErrorBody};
use crate::platform::routes;
use crate::platform::storage::{self, TokenInfo};
use crate::AppState;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    pub username: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// The six digits of the authenticator application, for an account
    /// with a second factor.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub code: Option<SecretString>,
}

/// A secret written once into an answer: serialized as its text, never
/// shown by `Debug` (a logged answer keeps it out of the logs).
#[derive(Serialize)]
#[serde(transparent)]
pub struct ShownOnce(String);

impl std::fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShownOnce([REDACTED])")
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    #[schema(value_type = String)]
    pub token: ShownOnce,
    /// UTC, RFC 3339.
    pub expires_at: String,
    /// Id of the token, to revoke it.
    pub id: i64,
}

/// Issues an API token for a username and password.
///
/// Fifty failed attempts from one address within fifteen minutes, or ten
/// for one account, block further attempts with 429 and `Retry-After`; past
/// ten, an account waits twice as long after each failure (an hour at
/// most). An account with a second factor also needs `code`: without it,
/// 401 with the code `code_required`.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, body = ErrorBody, description = "wrong username or password"),
    (status = 429, body = ErrorBody, description = "too many failures; see Retry-After"),
))]
pub async fn create_token(
    State(state): State<AppState>,
    peer: routes::Peer,
    headers: HeaderMap,
    Json(req): Json<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let address = routes::client_address(&headers, peer.0, state.config.trust_proxy);
    let key = || state.secret_key();
    let (_, issued) = auth::login(
        &state.db,
        &req.username,
        req.password.expose_secret(),
        req.code.as_ref().map(|c| c.expose_secret()),
        &key,
        &address,
        TokenKind::Api,
        state.token_ttl(),
        state.login_policy(),
    )
    .await?;
    Ok(Json(TokenResponse {
        token: ShownOnce(issued.secret),
        expires_at: regie_core::time::to_db(issued.expires_at),
        id: issued.id,
    }))
}

/// Revokes the token that authenticates this request.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "revoked"),
    (status = 401, body = ErrorBody),
))]
pub async fn revoke_current(
    State(state): State<AppState>,
    me: Principal,
) -> Result<StatusCode, ApiError> {
    auth::revoke(&state.db, &me, me.token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the caller's tokens and sessions (never their secrets).
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = [TokenInfo]),
))]
pub async fn list_tokens(
    State(state): State<AppState>,
    me: Principal,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(storage::list_tokens(&state.db, me.user_id).await?))
}

/// Revokes one of the caller's tokens; an admin may revoke anyone's.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "token id")),
    responses(
        (status = 204, description = "revoked (or already revoked)"),
        (status = 404, body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth::revoke(&state.db, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Me)))]
pub async fn me(me: Principal) -> Json<Me> {
    Json(Me {
        username: me.username,
        display_name: me.display_name,
        roles: me.roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug() {
        let req: TokenRequest = serde_json::from_str(
            r#"{"username": "karim", "password": "mot de passe secret", "code": "123456"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{req:?}");
        assert!(shown.contains("karim"), "{shown}");
        assert!(
            !shown.contains("secret") && !shown.contains("123456"),
            "{shown}"
        );
        let res = TokenResponse {
            token: ShownOnce("rga_abcdef".into()),
            expires_at: "2026-12-08T00:00:00Z".into(),
            id: 1,
        };
        assert!(!format!("{res:?}").contains("rga_abcdef"));
        // The answer itself carries it, once.
        let json = serde_json::to_string(&res).unwrap_or_default();
        assert!(json.contains(r#""token":"rga_abcdef""#), "{json}");
        let p = crate::platform::auth::Principal {
            user_id: 1,
            username: "karim".into(),
            display_name: "Karim".into(),
            roles: vec![],
            token_id: 1,
            kind: crate::platform::auth::TokenKind::Session,
            csrf_token: Some("jeton-csrf-de-session".to_owned().into()),
        };
        assert!(!format!("{p:?}").contains("jeton-csrf"));
        assert_eq!(p.csrf(), "jeton-csrf-de-session");
    }
}
