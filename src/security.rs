//! Headers every answer carries (OWASP ASVS 14.4): a Content-Security-Policy
//! allowing nothing but this site's own stylesheet (the pages need no
//! script and no other origin) and no framing; `nosniff`; the referrer kept
//! to this site; and `Cache-Control: no-store` on everything but the
//! static assets, since pages and documents hold personal data (income,
//! benefits, invoices, letters) and are opened on shared town-hall
//! computers.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy: this site's stylesheet, images and forms; nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the headers to every answer.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    // The static assets say how long they keep; everything else holds, or
    // may hold, personal data.
    set(h, header::CACHE_CONTROL, "no-store");
    res
}
