//! Static assets, compiled into the binary so that no page depends on a
//! network or a CDN.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../assets/regie.css");

/// `GET /static/regie.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}
