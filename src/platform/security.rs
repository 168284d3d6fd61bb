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

/// Puts into French the plain-text refusals the HTTP layer writes itself
/// (a body over the limit, an unreadable body, a wrong content type): as
/// an API error for `/api/…`, as a French page elsewhere.
pub async fn french_rejections(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = res.status();
    // The router's own refusal of a method (an address of a form's action
    // opened in the address bar) comes with no body at all.
    let bare = status == axum::http::StatusCode::METHOD_NOT_ALLOWED
        && !res.headers().contains_key(header::CONTENT_TYPE);
    if !(plain || bare) || !status.is_client_error() {
        return res;
    }
    let message = match status.as_u16() {
        405 => "cette adresse reçoit un formulaire envoyé depuis sa page ; elle ne s'ouvre pas directement",
        413 => "envoi trop volumineux : réduisez le fichier ou le formulaire",
        415 => "type de contenu non accepté ici",
        408 => "envoi trop lent, interrompu",
        _ => "requête illisible : vérifiez ce qui est envoyé",
    };
    let mut out = if api {
        axum::response::IntoResponse::into_response(crate::platform::error::ApiError(
            crate::Error::Invalid(message.to_owned()),
        ))
    } else {
        axum::response::IntoResponse::into_response(crate::platform::web::PageError(
            crate::Error::Invalid(message.to_owned()),
        ))
    };
    *out.status_mut() = status;
    out
}

/// Forgets an `X-Request-Id` the client sent unless it is a plain token
/// (letters, digits, `-`, `_`, `.`, 64 at most): it is written into the
/// logs and the audit journal, and a fresh one is made instead.
pub async fn request_id_guard(mut req: Request, next: Next) -> Response {
    let plain = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !plain {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Bodies the guard reads whole to check them: JSON and form bodies of
/// this size at most (uploads travel as multipart or raw bytes and are
/// checked by their own parsers).
const CHECKED_BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// A character no field of this application may hold: a NUL (which
/// PostgreSQL cannot store), or any other control character but the tab
/// and the line breaks of a text area.
fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The longest text any single field may hold, in characters: the longest
/// legitimate one (a comment, an address block) is far shorter, and a
/// 100,000-character name broke the pages that list it.
pub const MAX_FIELD_CHARS: usize = 10_000;

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Control,
    TooLong,
}

/// Whether a text may be taken: no forbidden character, not too long.
fn text_fault(s: &str) -> Option<Fault> {
    if s.chars().any(forbidden) {
        Some(Fault::Control)
    } else if s.chars().nth(MAX_FIELD_CHARS).is_some() {
        Some(Fault::TooLong)
    } else {
        None
    }
}

/// The first JSON string (key or value) holding a forbidden character or
/// longer than [`MAX_FIELD_CHARS`], named by its path
/// (`lines[0].description`).
fn json_fault(v: &serde_json::Value, path: &str) -> Option<(String, Fault)> {
    match v {
        serde_json::Value::String(s) => text_fault(s).map(|f| (path.to_owned(), f)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| json_fault(x, &format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if let Some(f) = text_fault(k) {
                Some((
                    here.chars().filter(|c| !forbidden(*c)).take(64).collect(),
                    f,
                ))
            } else {
                json_fault(x, &here)
            }
        }),
        _ => None,
    }
}

/// Whether a path, percent-decoded, holds a control character (any byte
/// below 0x20, or DEL: a path has no tabs or line breaks).
fn path_has_control(path: &str) -> bool {
    let bytes = path.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = 0;
    while i < bytes.len() {
        let b = match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                i += 3;
                u8::try_from(h * 16 + l).unwrap_or(0)
            }
            (b, _, _) => {
                i += 1;
                b
            }
        };
        if b < 0x20 || b == 0x7f {
            return true;
        }
    }
    false
}

/// The first form or query field holding a forbidden character or too
/// long a text.
fn form_fault(bytes: &[u8]) -> Option<(String, Fault)> {
    url::form_urlencoded::parse(bytes).find_map(|(k, v)| {
        text_fault(&k)
            .or_else(|| text_fault(&v))
            .map(|f| (k.chars().filter(|c| !forbidden(*c)).take(64).collect(), f))
    })
}

fn refused(api: bool, field: &str) -> Response {
    refused_for(api, field, Fault::Control)
}

fn refused_for(api: bool, field: &str, fault: Fault) -> Response {
    let e = crate::Error::Invalid(match fault {
        Fault::Control => format!(
            "{field} : caractère de contrôle refusé (un caractère invisible s'est glissé dans la saisie)"
        ),
        Fault::TooLong => format!("{field} : texte trop long ({MAX_FIELD_CHARS} caractères au plus)"),
    });
    if api {
        axum::response::IntoResponse::into_response(crate::platform::error::ApiError(e))
    } else {
        axum::response::IntoResponse::into_response(crate::platform::web::PageError(e))
    }
}

/// Refuses, before any handler or storage sees it, a request whose path,
/// query, JSON or form body holds a NUL or another control character,
/// naming the field (the same answer on SQLite and PostgreSQL, which
/// cannot store a NUL).
pub async fn control_characters(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    if path_has_control(req.uri().path()) {
        return refused(api, "chemin");
    }
    if let Some((field, fault)) = req.uri().query().and_then(|q| form_fault(q.as_bytes())) {
        return refused_for(api, &field, fault);
    }
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let json = kind.starts_with("application/json");
    let form = kind.starts_with("application/x-www-form-urlencoded");
    if !json && !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, CHECKED_BODY_LIMIT_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return refused(api, "corps de la requête trop long ou interrompu").map_status();
        }
    };
    let fault = if json {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| json_fault(&v, ""))
    } else {
        form_fault(&bytes)
    };
    if let Some((field, fault)) = fault {
        return refused_for(api, if field.is_empty() { "corps" } else { &field }, fault);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

trait MapStatus {
    fn map_status(self) -> Self;
}

impl MapStatus for Response {
    /// A body too long or cut off: 413.
    fn map_status(mut self) -> Self {
        *self.status_mut() = axum::http::StatusCode::PAYLOAD_TOO_LARGE;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_named_by_their_field() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": "ok", "lines": [{"description": "x\u0000y"}]}"#)
                .unwrap_or_default();
        assert_eq!(
            json_fault(&v, ""),
            Some(("lines[0].description".into(), Fault::Control))
        );
        let ok: serde_json::Value =
            serde_json::from_str(r#"{"text": "deux\nlignes\tet une tabulation"}"#)
                .unwrap_or_default();
        assert_eq!(json_fault(&ok, ""), None);
        assert_eq!(
            form_fault(b"nom=Martin&adresse=3%00rue"),
            Some(("adresse".into(), Fault::Control))
        );
        assert_eq!(form_fault(b"nom=Martin&note=a%0D%0Ab"), None);
        assert_eq!(
            form_fault(b"q=%1B%5B31m"),
            Some(("q".into(), Fault::Control))
        );
        let long = format!("nom={}", "a".repeat(MAX_FIELD_CHARS + 1));
        assert_eq!(
            form_fault(long.as_bytes()),
            Some(("nom".into(), Fault::TooLong))
        );
        let just = format!("nom={}", "é".repeat(MAX_FIELD_CHARS));
        assert_eq!(form_fault(just.as_bytes()), None);
        assert!(path_has_control("/api/v1/billing/invoices/FA%00"));
        assert!(path_has_control("/a%0Ab"));
        assert!(!path_has_control("/comptabilite/comptes/CPT-AB%20CD"));
        assert!(!path_has_control("/%E2%82%AC"));
    }
}
