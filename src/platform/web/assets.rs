//! Static assets, compiled into the binary so that no page depends on a
//! network or a CDN.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../../assets/regie.css");

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

const FAVICON: &str = include_str!("../../../assets/favicon.svg");

/// `GET /static/favicon.svg`, which every page links as its icon: the
/// régie's mark (a fibre reaching a home), drawn for the purpose.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}
