//! The errors of the binary, and their mapping to HTTP.
//!
//! Domain and storage errors are converted once into [`Error`]; [`ApiError`]
//! renders it as JSON and `web::PageError` as a French page. A 5xx never
//! shows its cause: the log has it, with the request id the response carries.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Errors of the application.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Startup(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("this role may not do that")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// Every resource of a kind is in use (a pool, a PON port).
    #[error("{0}")]
    Exhausted(String),
    /// A network element (an OLT) refused, failed or did not answer.
    #[error("{0}")]
    Upstream(String),
    /// An upload larger than its limit (413).
    #[error("{0}")]
    TooLarge(String),
    #[error("too many failed logins; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("invalid or missing form token")]
    Csrf,
    /// The password was right; the account's second-factor code is needed.
    #[error("second-factor code required")]
    CodeRequired { user_id: i64 },
    #[error(transparent)]
    Core(#[from] regie_core::CoreError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Exit status of the command line: 2 for bad configuration or input,
    /// 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Invalid(_) => 2,
            Error::Core(regie_core::CoreError::InvalidUrl(_)) => 2,
            _ => 1,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated | Error::CodeRequired { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::Csrf => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) | Error::Exhausted(_) => StatusCode::CONFLICT,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Config(_) | Error::Startup(_) | Error::Core(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "unauthenticated",
            Error::CodeRequired { .. } => "code_required",
            Error::Forbidden => "forbidden",
            Error::Csrf => "csrf",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::Conflict(_) => "conflict",
            Error::Exhausted(_) => "exhausted",
            Error::Upstream(_) => "upstream",
            Error::TooLarge(_) => "too_large",
            Error::RateLimited { .. } => "rate_limited",
            _ => "internal",
        }
    }

    /// The message a person can act on (in English for the API; the pages
    /// have their own French wording).
    pub fn public_message(&self) -> String {
        match self {
            Error::Unauthenticated => {
                "Authentication required: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token)".into()
            }
            Error::Forbidden => "Your role does not allow this action.".into(),
            Error::CodeRequired { .. } => {
                "code de double authentification requis : ajoutez « code » (les six chiffres de votre application)".into()
            }
            Error::Csrf => "The form token is missing or invalid; reload the page and try again.".into(),
            Error::NotFound(m)
            | Error::Invalid(m)
            | Error::Conflict(m)
            | Error::Exhausted(m)
            | Error::TooLarge(m)
            | Error::Upstream(m) => m.clone(),
            Error::RateLimited { retry_after_s } => {
                format!("Too many failed login attempts; retry in {retry_after_s} seconds.")
            }
            _ => "An internal error occurred; quote the request id to the administrator.".into(),
        }
    }

    /// Logs a server-side failure with everything an operator needs.
    pub fn log_if_internal(&self) {
        if self.status().is_server_error() {
            tracing::error!(
                request_id = %crate::platform::telemetry::current_request_id().unwrap_or_default(),
                error = %self,
                "request failed"
            );
        }
    }
}

impl From<social_tariff::Error> for Error {
    fn from(e: social_tariff::Error) -> Self {
        match e {
            e @ social_tariff::Error::NotFound(_) => Error::NotFound(e.to_string()),
            social_tariff::Error::Missing(m) => Error::NotFound(m),
            social_tariff::Error::Invalid(m) => Error::Invalid(m),
            social_tariff::Error::Storage(c) => Error::Core(c),
        }
    }
}

impl From<inventory::Error> for Error {
    fn from(e: inventory::Error) -> Self {
        match e {
            inventory::Error::NotFound(m) => Error::NotFound(m),
            inventory::Error::Invalid(m) => Error::Invalid(m),
            e @ inventory::Error::Fields(_) => Error::Invalid(e.to_string()),
            e @ inventory::Error::Unreadable { .. } => Error::Invalid(e.to_string()),
            inventory::Error::Busy(m) => Error::Conflict(m),
            inventory::Error::Storage(c) => Error::Core(c),
        }
    }
}

impl From<billing::Error> for Error {
    fn from(e: billing::Error) -> Self {
        match e {
            billing::Error::NotFound(m) => Error::NotFound(m),
            e @ (billing::Error::Invalid(_) | billing::Error::Overflow) => {
                Error::Invalid(e.to_string())
            }
            billing::Error::Upstream(m) => Error::Internal(m),
            billing::Error::Storage(c) => Error::Core(c),
        }
    }
}

impl From<provisioning::Error> for Error {
    fn from(e: provisioning::Error) -> Self {
        use provisioning::Error as P;
        match e {
            P::NotFound(m) => Error::NotFound(m),
            e @ (P::Invalid(_) | P::NotConnectable(_) | P::OverBudget(_)) => {
                Error::Invalid(e.to_string())
            }
            e @ (P::Illegal(_) | P::Taken(_) | P::Busy(_)) => Error::Conflict(e.to_string()),
            P::Exhausted(m) => Error::Exhausted(m),
            e @ P::Olt(_) => {
                // The OLT's own words help the technician; they are not
                // internals of Régie. The log keeps them too.
                tracing::warn!(error = %e, "OLT call failed");
                Error::Upstream(e.to_string())
            }
            P::Storage(c) => Error::Core(c),
        }
    }
}

impl From<monitoring::Error> for Error {
    fn from(e: monitoring::Error) -> Self {
        match e {
            monitoring::Error::NotFound(m) => Error::NotFound(m),
            monitoring::Error::Invalid(m) => Error::Invalid(m),
            monitoring::Error::Conflict(m) => Error::Conflict(m),
            e @ monitoring::Error::Device { .. } => Error::Upstream(e.to_string()),
            monitoring::Error::Storage(c) => Error::Core(c),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for Error {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        Error::Invalid(e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for Error {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        Error::Invalid(e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for Error {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        Error::Invalid(e.body_text())
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Core(e.into())
    }
}

/// JSON body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: String,
    /// What happened and what to do about it.
    pub message: String,
    /// Id of the request, also in the `x-request-id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An [`Error`] answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_if_internal();
        let status = e.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: e.code().into(),
                message: e.public_message(),
                request_id: crate::platform::telemetry::current_request_id(),
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Error::RateLimited { retry_after_s } = e {
            if let Ok(v) = retry_after_s.to_string().parse() {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
