//! The route table: every route, the roles it admits, and the middleware
//! that enforces it.
//!
//! Access is declared here, next to the handler, and nowhere else: the
//! router is built from this table, the access middleware reads it, and the
//! route × role test walks it.

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum_extra::extract::CookieJar;
use secrecy::ExposeSecret;

use crate::platform::auth::{self, token, Principal, Role, TokenKind};
use crate::platform::error::ApiError;
use crate::platform::web::{PageError, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::{AppState, Error};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in user.
    AnyUser,
    /// Logged-in users with at least one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a caller with these roles (`None`: not logged in) passes.
    pub fn admits(self, roles: Option<&[Role]>) -> bool {
        match (self, roles) {
            (Access::Public, _) => true,
            (_, None) => false,
            (Access::AnyUser, Some(_)) => true,
            (Access::Roles(allowed), Some(have)) => allowed.iter().any(|r| have.contains(r)),
        }
    }
}

/// Which kind of client a route serves; it decides how callers authenticate
/// and how errors are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON under `/api/v1`, bearer tokens, JSON errors.
    Api,
    /// HTML pages, session cookie, CSRF token on every change, French errors.
    Page,
    /// Health, metrics, static assets, the API description.
    Infra,
}

/// One route of the application.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub surface: Surface,
}

/// A route and its handler.
pub struct Route {
    pub spec: RouteSpec,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    fn new(
        method: Method,
        path: &'static str,
        access: Access,
        surface: Surface,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Route {
            spec: RouteSpec {
                method,
                path,
                access,
                surface,
            },
            handler,
        }
    }

    /// The same route with another limit on its body (uploads).
    pub fn body_limit(mut self, limit: axum::extract::DefaultBodyLimit) -> Self {
        self.handler = self.handler.layer(limit);
        self
    }
}

macro_rules! method_route {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        pub fn $name<H, T>(path: &'static str, access: Access, surface: Surface, handler: H) -> Route
        where
            H: axum::handler::Handler<T, AppState>,
            T: 'static,
        {
            Route::new(Method::$method, path, access, surface, axum::routing::$name(handler))
        }
    };
}

method_route!(
    /// A `GET` route (`HEAD` is served by it too).
    get, GET
);
method_route!(
    /// A `POST` route.
    post, POST
);
method_route!(
    /// A `PUT` route.
    put, PUT
);
method_route!(
    /// A `PATCH` route.
    patch, PATCH
);
method_route!(
    /// A `DELETE` route.
    delete, DELETE
);

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.spec.fmt(f)
    }
}

pub const ADMIN: &[Role] = &[Role::Admin];
pub const TECHNICIAN: &[Role] = &[Role::Technician];
pub const ACCOUNTANT: &[Role] = &[Role::Accountant];
pub const SOCIAL_AGENT: &[Role] = &[Role::SocialAgent];
pub const HOUSEHOLD: &[Role] = &[Role::Household];
/// Staff who work on the network.
pub const NETWORK_STAFF: &[Role] = &[Role::Admin, Role::Technician];
/// Readers of the lines' state changes: network staff and billing.
pub const LINE_FEED: &[Role] = &[Role::Admin, Role::Technician, Role::Accountant];
/// Staff who handle households' files.
pub const SOCIAL_STAFF: &[Role] = &[Role::Admin, Role::SocialAgent];
/// Billing staff: the accountants, and admins.
pub const BILLING_STAFF: &[Role] = &[Role::Admin, Role::Accountant];
/// Invoices: billing staff, and a household for its own.
pub const INVOICE_READERS: &[Role] = &[Role::Admin, Role::Accountant, Role::Household];
/// Readers of social-tariff entitlements (level and dates only): billing,
/// and the staff who decide them.
pub const ENTITLEMENT_READERS: &[Role] = &[Role::Admin, Role::Accountant, Role::SocialAgent];
/// Staff, and the household itself for its own records.
pub const HOUSEHOLD_RECORD: &[Role] = &[Role::Admin, Role::SocialAgent, Role::Household];

fn find<'a>(routes: &'a [RouteSpec], method: &Method, path: &str) -> Option<&'a RouteSpec> {
    // HEAD is served by GET handlers.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    routes.iter().find(|r| r.path == path && r.method == method)
}

/// The client address, for login limits: the peer, or with `trust_proxy`
/// the last address a reverse proxy appended to `X-Forwarded-For`.
pub fn client_address(
    req_headers: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trust_proxy: bool,
) -> String {
    if trust_proxy {
        if let Some(last) = req_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
        {
            return last.trim().to_owned();
        }
    }
    peer.map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Authenticates the caller, enforces the route's access rule, and checks
/// the CSRF token of page forms.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let Some(spec) = find(&state.routes, req.method(), &path).cloned() else {
        if state.routes.iter().any(|r| r.path == path) {
            // A known path with another method: let the router answer 405.
            return next.run(req).await;
        }
        // Every routed handler is in the table (tested); reaching this is a
        // programming error, and failing closed is the safe answer.
        tracing::error!(route = %path, "route without an access declaration");
        return ApiError(Error::Forbidden).into_response();
    };

    let (method, uri) = (req.method().clone(), req.uri().clone());
    let principal = match authenticate(&state, req.headers(), spec.surface).await {
        Ok(p) => p,
        Err(e) => return reject(spec.surface, e, &method, &uri),
    };
    let roles = principal.as_ref().map(|p| p.roles.as_slice());
    if !spec.access.admits(roles) {
        let e = if principal.is_none() {
            Error::Unauthenticated
        } else {
            Error::Forbidden
        };
        return reject(spec.surface, e, &method, &uri);
    }

    if let Some(p) = &principal {
        match second_factor_missing(&state, p).await {
            Ok(false) => {}
            Ok(true) if spec.surface == Surface::Page => {
                if !path.starts_with("/compte/double-authentification") && path != "/deconnexion" {
                    return Redirect::to("/compte/double-authentification").into_response();
                }
            }
            Ok(true) => {
                return reject(
                    spec.surface,
                    Error::Invalid(
                        "votre rôle exige la double authentification : activez-la d'abord sur /compte/double-authentification".into(),
                    ),
                    &method,
                    &uri,
                )
            }
            Err(e) => return reject(spec.surface, e, &method, &uri),
        }
    }

    let mut req = req;
    if spec.surface == Surface::Page && !matches!(*req.method(), Method::GET | Method::HEAD) {
        req = match check_csrf(req, principal.as_ref()).await {
            Ok(req) => req,
            Err(e) => return reject(spec.surface, e, &method, &uri),
        };
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

/// Whether the configuration asks a second factor of one of the caller's
/// roles and the account has none yet.
async fn second_factor_missing(state: &AppState, p: &Principal) -> Result<bool, Error> {
    let required = &state.config.totp_required_roles;
    if required.is_empty() || !p.roles.iter().any(|r| required.contains(r)) {
        return Ok(false);
    }
    Ok(!auth::totp::enrolled(&state.db, p.user_id).await?)
}

async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    surface: Surface,
) -> Result<Option<Principal>, Error> {
    match surface {
        Surface::Infra => Ok(None),
        Surface::Api => {
            let Some(value) = headers.get(header::AUTHORIZATION) else {
                return Ok(None);
            };
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(Error::Unauthenticated)?;
            // A token that was presented but is unknown, expired or revoked is
            // an authentication failure, even on public routes.
            auth::authenticate(&state.db, secret.trim(), TokenKind::Api)
                .await?
                .map(Some)
                .ok_or(Error::Unauthenticated)
        }
        Surface::Page => {
            let jar = CookieJar::from_headers(headers);
            match jar.get(SESSION_COOKIE) {
                // A stale cookie on a page just means "not logged in".
                Some(c) => auth::authenticate(&state.db, c.value(), TokenKind::Session).await,
                None => Ok(None),
            }
        }
    }
}

fn reject(surface: Surface, e: Error, method: &Method, uri: &axum::http::Uri) -> Response {
    match surface {
        Surface::Page => {
            if matches!(e, Error::Unauthenticated) && *method == Method::GET {
                let back = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let target = format!(
                    "/connexion?suite={}",
                    url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
                );
                return Redirect::to(&target).into_response();
            }
            PageError(e).into_response()
        }
        _ => ApiError(e).into_response(),
    }
}

/// Largest form body accepted by the CSRF check (uploads use their own
/// routes and limits).
const FORM_LIMIT_BYTES: usize = 256 * 1024;

async fn check_csrf(req: Request, principal: Option<&Principal>) -> Result<Request, Error> {
    let jar = CookieJar::from_headers(req.headers());
    // Logged in: the token bound to the session. Not logged in (the login
    // form): the double-submit cookie set with the form.
    let expected = match principal {
        Some(p) => p.csrf_token.as_ref().map(|t| t.expose_secret().to_owned()),
        None => jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned()),
    }
    .ok_or(Error::Csrf)?;
    let header_token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A file upload (multipart) carries its token in its first field, read
    // from the start of the body without buffering the rest (a token in the
    // URL would land in proxy logs).
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .map(|v| multer::parse_boundary(v).map_err(|_| Error::Csrf))
        .transpose()?;
    if let Some(boundary) = boundary {
        if let Some(t) = header_token {
            return if token::constant_time_eq(&t, &expected) {
                Ok(req)
            } else {
                Err(Error::Csrf)
            };
        }
        let (parts, body) = req.into_parts();
        let (presented, body) = multipart_first_field(body, boundary).await;
        return match presented {
            Some(t) if token::constant_time_eq(&t, &expected) => {
                Ok(Request::from_parts(parts, body))
            }
            _ => Err(Error::Csrf),
        };
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT_BYTES)
        .await
        .map_err(|_| {
            Error::TooLarge(
                "le formulaire dépasse 256 Kio : raccourcissez le texte saisi, puis envoyez-le de nouveau".into(),
            )
        })?;
    let presented = header_token.or_else(|| {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned())
    });
    match presented {
        Some(t) if token::constant_time_eq(&t, &expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(Error::Csrf),
    }
}

/// How much of a multipart body is read to find its first field.
const MULTIPART_PREFIX_BYTES: usize = 16 * 1024;

/// The value of a multipart body's first field when it is `csrf_token`,
/// and the body whole again (the bytes read first, then the rest as it
/// comes).
async fn multipart_first_field(body: Body, boundary: String) -> (Option<String>, Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut prefix: Vec<axum::body::Bytes> = Vec::new();
    let mut len = 0;
    let mut failed = None;
    while len < MULTIPART_PREFIX_BYTES {
        match stream.next().await {
            Some(Ok(b)) => {
                len += b.len();
                prefix.push(b);
            }
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => break,
        }
    }
    let head = prefix.clone();
    let mut form = multer::Multipart::new(
        futures::stream::iter(head.into_iter().map(Ok::<_, std::io::Error>)),
        boundary,
    );
    let token = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("csrf_token") => f.text().await.ok(),
        _ => None,
    };
    let rest = futures::stream::iter(
        prefix
            .into_iter()
            .map(Ok)
            .chain(failed.map(Err))
            .collect::<Vec<Result<axum::body::Bytes, axum::Error>>>(),
    )
    .chain(stream);
    (token, Body::from_stream(rest))
}

/// The peer address of a request, when the server recorded it (not in
/// in-process tests, which have no socket).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// A 404 for anything that matches no route.
pub async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError(Error::NotFound(format!(
            "no route {} {}",
            req.method(),
            req.uri().path()
        )))
        .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            PageError(Error::NotFound(String::new())),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        assert!(Access::Public.admits(None));
        assert!(!Access::AnyUser.admits(None));
        assert!(Access::AnyUser.admits(Some(&[Role::Household])));
        assert!(Access::Roles(ADMIN).admits(Some(&[Role::Technician, Role::Admin])));
        assert!(!Access::Roles(ADMIN).admits(Some(&[Role::Technician])));
        assert!(!Access::Roles(ADMIN).admits(None));
    }

    #[test]
    fn client_address_respects_trust() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.2".parse().expect("header"),
        );
        let peer = Some("127.0.0.1:4000".parse().expect("addr"));
        assert_eq!(client_address(&h, peer, false), "127.0.0.1");
        assert_eq!(client_address(&h, peer, true), "10.0.0.2");
        assert_eq!(
            client_address(&axum::http::HeaderMap::new(), None, false),
            "unknown"
        );
    }
}
