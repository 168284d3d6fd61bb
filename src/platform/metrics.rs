//! Prometheus metrics of the HTTP server and the database pool.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::AppState;

/// The registry and the metrics the server updates.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool: IntGaugeVec,
    address_pools: IntGaugeVec,
    lines: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("regie".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections, by state"),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        let address_pools = IntGaugeVec::new(
            Opts::new(
                "provisioning_pool_addresses",
                "Addresses or prefixes of each provisioning pool, by state (size, used, free)",
            ),
            &["pool", "kind", "state"],
        )?;
        let lines = IntGaugeVec::new(
            Opts::new("provisioning_lines", "Subscriber lines, by state"),
            &["state"],
        )?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(address_pools.clone()))?;
        registry.register(Box::new(lines.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            pool,
            address_pools,
            lines,
        })
    }
}

/// Counts and times every request under its route pattern (never the raw
/// path, which would explode the label set).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let m = &state.metrics;
    m.duration
        .with_label_values(&[&method, &route])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[&method, &route, resp.status().as_str()])
        .inc();
    resp
}

/// Whether the caller may read the metrics: with `metrics_token`
/// configured, the bearer token (compared in constant time); without, a
/// caller on this machine only.
fn may_read(state: &AppState, peer: Option<std::net::SocketAddr>, headers: &HeaderMap) -> bool {
    match &state.config.metrics_token {
        Some(expected) => headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                crate::platform::auth::token::constant_time_eq(given.trim(), expected)
            }),
        // In-process calls (tests) have no peer.
        None => peer.is_none_or(|p| p.ip().is_loopback()),
    }
}

/// Prometheus metrics (text exposition format), for Prometheus only: its
/// bearer token when `metrics_token` is set, else this machine.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text format"),
    (status = 401, body = crate::platform::error::ErrorBody, description = "no or a wrong bearer token")))]
pub async fn expose(
    State(state): State<AppState>,
    peer: crate::platform::routes::Peer,
    headers: HeaderMap,
) -> Response {
    if !may_read(&state, peer.0, &headers) {
        let mut r = crate::platform::error::ApiError(crate::Error::Unauthenticated).into_response();
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return r;
    }
    let (open, idle) = state.db.pool_stats();
    state
        .metrics
        .pool
        .with_label_values(&["open"])
        .set(i64::from(open));
    state
        .metrics
        .pool
        .with_label_values(&["idle"])
        .set(idle as i64);
    state
        .metrics
        .pool
        .with_label_values(&["max"])
        .set(i64::from(state.config.db_max_connections));
    // Pool use is read at scrape time: the database is the truth, shared
    // by every instance, and one query per scrape costs nothing.
    match state.provisioning.pools().await {
        Ok(pools) => {
            for p in pools {
                let kind = p.pool.kind.as_str();
                let g = &state.metrics.address_pools;
                g.with_label_values(&[&p.pool.name, kind, "size"])
                    .set(p.size);
                g.with_label_values(&[&p.pool.name, kind, "used"])
                    .set(p.used);
                g.with_label_values(&[&p.pool.name, kind, "free"])
                    .set(p.size - p.used);
            }
        }
        Err(e) => tracing::warn!(error = %e, "pool use unavailable for the metrics"),
    }
    match state.provisioning.counts().await {
        Ok(counts) => {
            for st in provisioning::lifecycle::State::ALL {
                let n = counts.iter().find(|(s, _)| *s == st).map_or(0, |c| c.1);
                state.metrics.lines.with_label_values(&[st.as_str()]).set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "line counts unavailable for the metrics"),
    }
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&state.metrics.registry.gather(), &mut buf) {
        return crate::platform::error::ApiError(crate::Error::Internal(format!(
            "metrics encoding: {e}"
        )))
        .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        buf,
    )
        .into_response()
}
