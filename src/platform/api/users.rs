//! User administration.

use axum::extract::State;

use crate::platform::api::extract::{Json, Path};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::platform::auth::{Password, Principal, Role, Username};
use crate::platform::error::{ApiError, ErrorBody};
use crate::platform::storage::{self, User};
use crate::{AppState, Error};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    /// At least 12 characters, not among the 100,000 most common.
    pub password: String,
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    /// At most 100 characters; empty: the username.
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// Disabling a user also revokes its sessions and tokens.
    pub disabled: Option<bool>,
}

/// Lists users.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "list_users", tag = "users", security(("bearer" = [])), responses((status = 200, body = [User])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(storage::list_users(&state.db).await?))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "create_user", tag = "users", security(("bearer" = [])), request_body = NewUser, responses(
    (status = 201, body = User),
    (status = 409, body = ErrorBody, description = "username taken"),
    (status = 422, body = ErrorBody, description = "invalid username, password or roles"),
))]
pub async fn create(
    State(state): State<AppState>,
    me: Principal,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = create_user(
        &state,
        &me,
        &new.username,
        &new.display_name,
        &new.password,
        &new.roles,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Validates and creates a user; shared by the API and the admin page.
pub async fn create_user(
    state: &AppState,
    me: &Principal,
    username: &str,
    display_name: &str,
    password: &str,
    roles: &[Role],
) -> Result<User, Error> {
    let username = Username::parse(username)?;
    let display_name = crate::platform::auth::DisplayName::parse(display_name, &username)?;
    let hash = Password::parse(password)?.hash()?;
    storage::create_user(
        &state.db,
        &me.actor(),
        &username,
        &display_name,
        &hash,
        roles,
    )
    .await
}

/// Shows a user.
#[utoipa::path(get, path = "/api/v1/users/{username}", operation_id = "show_user", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<User>, ApiError> {
    storage::get_user(&state.db, &username)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(Error::NotFound(format!("aucun compte « {username} »"))))
}

/// Changes the roles of a user, or disables / re-enables it.
#[utoipa::path(patch, path = "/api/v1/users/{username}", operation_id = "update_user", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = UserUpdate,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
    Json(change): Json<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let user = crate::platform::auth::accounts::change_account(
        &state.db,
        &me,
        &username,
        crate::platform::auth::accounts::AccountChange {
            display_name: change.display_name,
            roles: change.roles,
            disabled: change.disabled,
        },
    )
    .await?;
    Ok(Json(user))
}

/// What unlocking an account did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    /// Failed attempts forgotten.
    pub failures_cleared: u64,
}

/// Lifts the login delay of an account after failed attempts.
#[utoipa::path(post, path = "/api/v1/users/{username}/unlock", operation_id = "unlock_user", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = Unlocked), (status = 404, body = ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> Result<Json<Unlocked>, ApiError> {
    let failures_cleared =
        crate::platform::auth::accounts::unlock(&state.db, &me, &username).await?;
    Ok(Json(Unlocked { failures_cleared }))
}
