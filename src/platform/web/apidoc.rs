//! A readable API reference, rendered on the server from the OpenAPI
//! document: no JavaScript and no external asset.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use utoipa::openapi::path::Operation;

use crate::platform::web::{layout, render};
use crate::AppState;

/// This API reference, as an HTML page.
#[utoipa::path(get, path = "/api/v1/docs", tag = "system", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn page(State(state): State<AppState>) -> Response {
    let doc = crate::platform::openapi::document(&state.routes);
    let mut ops: Vec<(&str, &str, &Operation)> = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if let Some(op) = op {
                ops.push((method, path.as_str(), op));
            }
        }
    }
    let body = html! {
        h1 { "Référence de l'API" }
        p { "Le document OpenAPI 3 complet est servi à " a href="/api/v1/openapi.json" { code { "/api/v1/openapi.json" } } "." }
        p { "Authentification : " code { "POST /api/v1/auth/token" } " avec " code { "{\"username\", \"password\"}" } ", puis l'en-tête " code { "Authorization: Bearer <jeton>" } "." }
        table tabindex="0" {
            caption class="visually-hidden" { "Opérations de l'API" }
            thead { tr { th scope="col" { "Méthode" } th scope="col" { "Chemin" } th scope="col" { "Description" } } }
            tbody {
                @for (method, path, op) in &ops {
                    tr {
                        td class="methode" { (method) }
                        td { code { (path) } }
                        td {
                            @if let Some(s) = &op.summary { strong { (s) } br; }
                            @if let Some(d) = &op.description { (d) }
                        }
                    }
                }
            }
        }
    };
    render(
        StatusCode::OK,
        layout("Référence de l'API", None, "/api/v1/docs", body),
    )
}
