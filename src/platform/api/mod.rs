//! The platform's part of the JSON API under `/api/v1` (system, tokens,
//! users, audit) and what every domain's handlers share (extractors,
//! pagination). Each domain's handlers live in its folder (`network/`,
//! `monitoring/`, `billing/`, `social/`); access rules live in the route
//! table (`app::route_table`).

pub mod audit;
pub mod auth;
pub mod system;
pub mod users;

/// Extractors whose rejections are answered in the API's JSON error shape
/// rather than axum's plain text.
pub mod extract {
    use axum::extract::FromRequest;
    use axum::extract::FromRequestParts;

    use crate::platform::error::ApiError;

    /// A JSON body.
    #[derive(Debug, FromRequest)]
    #[from_request(via(axum::Json), rejection(ApiError))]
    pub struct Json<T>(pub T);

    impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
        fn into_response(self) -> axum::response::Response {
            axum::Json(self.0).into_response()
        }
    }

    /// Path parameters.
    #[derive(Debug, FromRequestParts)]
    #[from_request(via(axum::extract::Path), rejection(ApiError))]
    pub struct Path<T>(pub T);

    /// Query parameters.
    #[derive(Debug, FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(ApiError))]
    pub struct Query<T>(pub T);
}
