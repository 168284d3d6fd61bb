//! The HTTP surface: health, readiness, metrics, the OpenAPI document, the
//! API reference, assets, error bodies, each demo role's home page, the
//! security headers, and slow clients cut off.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie::platform::routes::Surface;
use regie_tests::{hidden_field, set_cookie, Session, TestApp};
use serde_json::json;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let t = TestApp::new().await;
    let h = t.api(Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(h.header("x-request-id").is_some_and(|s| !s.is_empty()));
    assert_eq!(
        t.api(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );

    // A request to count, then the exposition.
    t.api(Method::GET, "/api/v1/me", None, None).await;
    let m = t.api(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    assert!(
        m.text.contains(
            r#"regie_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1"#
        ),
        "{}",
        m.text
    );
    assert!(m
        .text
        .contains("regie_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\""));
    assert!(m.text.contains("regie_db_pool_connections{state=\"open\"}"));
    assert!(m
        .text
        .contains("regie_db_pool_connections{state=\"max\"} 10"));

    t.db().close().await;
    let down = t.api(Method::GET, "/readyz", None, None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_server_error_never_shows_internals() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let tok = t.token_for(&admin).await;
    let s = t.session_for(&admin).await;
    // Break the storage under the running application. PostgreSQL keeps
    // the tables that reference households from losing their target
    // unless told to drop the constraints too.
    let drop = match t.tdb.db.backend() {
        regie_core::Backend::Postgres => "DROP TABLE households CASCADE",
        regie_core::Backend::Sqlite => "DROP TABLE households",
    };
    sqlx::query(drop)
        .execute(t.db().pool())
        .await
        .expect("drop");
    let a = t
        .api(Method::GET, "/api/v1/households", Some(&tok), None)
        .await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = a.json();
    assert_eq!(body["error"]["code"], "internal");
    let id = a.header("x-request-id").expect("request id").to_owned();
    assert_eq!(
        body["error"]["request_id"],
        json!(id),
        "the body quotes the request id"
    );
    let lower = a.text.to_lowercase();
    for leak in [
        "households",
        "sqlite",
        "postgres",
        "relation",
        "table",
        "sqlx",
    ] {
        assert!(!lower.contains(leak), "5xx body leaks {leak:?}: {}", a.text);
    }
    let p = t
        .page(Method::GET, "/instruction/foyers", Some(&s), None)
        .await;
    assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(p.text.contains("Erreur interne"));
    assert!(!p.text.to_lowercase().contains("households"));
}

#[tokio::test]
async fn openapi_document_is_valid_and_lists_every_api_route() {
    let t = TestApp::new().await;
    let a = t.api(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let spec = oas3::from_json(&a.text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    let doc = a.json();
    let paths = doc["paths"].as_object().expect("paths");

    let mut declared = Vec::new();
    for r in regie::app::route_table() {
        if r.spec.surface == Surface::Page || r.spec.path.starts_with("/static/") {
            continue;
        }
        let m = r.spec.method.as_str().to_lowercase();
        let op = paths.get(r.spec.path).and_then(|p| p.get(&m));
        assert!(
            op.is_some(),
            "{} {} missing from the OpenAPI document",
            r.spec.method,
            r.spec.path
        );
        assert!(
            op.and_then(|o| o["description"].as_str())
                .is_some_and(|d| d.contains("Access:")),
            "{} {} does not state who may call it",
            r.spec.method,
            r.spec.path
        );
        declared.push((m, r.spec.path.to_owned()));
    }
    // And nothing documented that the router does not serve; operation ids
    // unique, as the specification requires.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let id = op["operationId"].as_str().expect("operationId").to_owned();
                assert!(ids.insert(id.clone()), "operationId {id} used twice");
                // A path parameter names a segment of the path (a query
                // struct documented as path parameters breaks clients).
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" {
                        let name = p["name"].as_str().expect("parameter name");
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: path parameter {name} is not in the path"
                        );
                    }
                }
                assert!(
                    declared.contains(&(method.clone(), path.clone())),
                    "{method} {path} documented but not routed"
                );
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn api_reference_and_assets_are_served_locally() {
    let t = TestApp::new().await;
    let docs = t.page(Method::GET, "/api/v1/docs", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("/api/v1/auth/token"));
    assert!(docs.text.contains("lang=\"fr\""));
    let css = t.page(Method::GET, "/static/regie.css", None, None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/css")));
    assert!(css.text.contains(":focus-visible"), "visible focus");
    // No page refers to anything outside the binary.
    for page in [
        &docs.text,
        &t.page(Method::GET, "/connexion", None, None).await.text,
    ] {
        for external in ["http://", "https://", "//cdn", "<script"] {
            assert!(!page.contains(external), "page refers to {external}");
        }
    }
}

#[tokio::test]
async fn every_demo_user_logs_in_and_sees_its_french_home_page() {
    let t = TestApp::new().await;
    let accounts = regie::demo::load(t.db(), t.tdb.dir.path(), 400, &t.state.provisioning)
        .await
        .expect("demo")
        .expect("empty database");
    assert_eq!(accounts.len(), Role::ALL.len());
    let credentials = std::fs::read_to_string(t.tdb.dir.path().join("demo-credentials.txt"))
        .expect("file written");
    // The social tariff's rules are published, for anyone to read.
    let rules = t
        .page(Method::GET, "/tarif-social/regles", None, None)
        .await;
    assert!(
        rules.text.contains("délibération n° 2026-045"),
        "{}",
        rules.text
    );
    let expected_heading = |r: Role| match r {
        Role::Admin => "<h1>Administration</h1>",
        Role::Technician => "<h1>Espace technicien</h1>",
        Role::Accountant => "<h1>Comptabilité</h1>",
        Role::SocialAgent => "<h1>Instruction sociale</h1>",
        Role::Household => "<h1>Mon espace</h1>",
    };
    for account in &accounts {
        assert!(credentials.contains(account.password.expose()));
        let form = t.page(Method::GET, "/connexion", None, None).await;
        let csrf = hidden_field(&form.text, "csrf_token").expect("csrf");
        let pre = Session {
            cookie: set_cookie(&form, regie::platform::web::LOGIN_CSRF_COOKIE)
                .and_then(|c| c.split(';').next())
                .expect("cookie")
                .to_owned(),
            csrf: csrf.clone(),
        };
        let login = t
            .page(
                Method::POST,
                "/connexion",
                Some(&pre),
                Some(&[
                    ("csrf_token", &csrf),
                    ("identifiant", &account.username),
                    ("mot_de_passe", account.password.expose()),
                ]),
            )
            .await;
        assert_eq!(
            login.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            account.username,
            login.text
        );
        let home = login.header("location").expect("redirect").to_owned();
        assert_eq!(home, account.role.home());
        let cookie = set_cookie(&login, regie::platform::web::SESSION_COOKIE)
            .and_then(|c| c.split(';').next())
            .expect("session")
            .to_owned();
        let page = t
            .page(
                Method::GET,
                &home,
                Some(&Session {
                    cookie,
                    csrf: String::new(),
                }),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.starts_with("<!DOCTYPE html><html lang=\"fr\">"));
        assert!(
            page.text.contains(expected_heading(account.role)),
            "{}: {}",
            account.username,
            page.text
        );
        assert!(
            page.text.contains("aria-current=\"page\""),
            "navigation marks the current page"
        );
        assert!(page.text.contains("Se déconnecter"));
    }

    // The demo network is there for the technician.
    let counts = inventory::storage::counts(t.db()).await.expect("counts");
    assert!(counts["outlets"] > 300, "{counts:?}");
    assert!(counts["pon_ports"] > 0);
    // Lines in every state, the active ones on the simulated OLT.
    let states: std::collections::HashSet<_> = t
        .state
        .provisioning
        .counts()
        .await
        .expect("counts")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        states.len(),
        provisioning::lifecycle::State::ALL.len(),
        "{states:?}"
    );

    // The social tariff in use: applications submitted, granted and
    // refused, an appeal waiting, a device set aside.
    let all = social_tariff::Scope::All;
    let statuses: std::collections::HashSet<_> =
        social_tariff::list_applications(t.db(), all, None, None)
            .await
            .expect("applications")
            .into_iter()
            .map(|a| a.status.label())
            .collect();
    assert!(statuses.len() >= 2, "{statuses:?}");
    let appeals = social_tariff::appeals(t.db(), all, None)
        .await
        .expect("appeals");
    assert_eq!(appeals.len(), 1);
    let grants = social_tariff::grants(t.db(), all).await.expect("grants");
    assert_eq!(
        grants.first().map(|g| g.status),
        Some(social_tariff::grants::GrantStatus::Allocated)
    );

    // Billing in use: last month issued, one invoice per line that ran,
    // one of them reduced by a credit note; the household sees its own.
    let docs = billing::storage::invoices(t.db(), None)
        .await
        .expect("invoices");
    let credit_notes: Vec<_> = docs
        .iter()
        .filter(|d| d.kind == billing::model::DocumentKind::CreditNote)
        .collect();
    assert_eq!(credit_notes.len(), 1, "{docs:?}");
    assert!(docs.len() >= 8, "{}", docs.len());
    let corrected = credit_notes[0].corrects.clone().expect("corrects");
    assert!(docs
        .iter()
        .any(|d| d.number == corrected && d.buyer.name == "Famille Martin"));
    // An open alarm on the PON port of a live line.
    let open = monitoring::alarms::open(t.db()).await.expect("alarms");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].kind, "pon_port_down");

    // A second --demo run changes nothing.
    let again = regie::demo::load(t.db(), t.tdb.dir.path(), 400, &t.state.provisioning)
        .await
        .expect("second run");
    assert!(again.is_none());
    assert_eq!(
        regie::platform::storage::list_users(t.db())
            .await
            .expect("users")
            .len(),
        accounts.len()
    );
}

#[tokio::test]
async fn pages_validate_forms_with_errors_next_to_fields() {
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let s = t.session_for(&admin).await;
    let a = t
        .page(
            Method::POST,
            "/admin/utilisateurs",
            Some(&s),
            Some(&[
                ("csrf_token", &s.csrf),
                ("identifiant", "X Y"),
                ("mot_de_passe", "court"),
            ]),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text.contains("Le formulaire contient 3 erreurs"),
        "{}",
        a.text
    );
    assert!(a.text.contains("id=\"identifiant-erreur\""));
    assert!(a.text.contains("aria-describedby=\"identifiant-erreur\""));
    assert!(a.text.contains("aria-invalid=\"true\""));
    assert!(a.text.contains("Choisissez au moins un rôle"));
    assert!(a.text.contains("value=\"X Y\""), "input kept");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let t = regie_tests::TestApp::new().await;
    for path in [
        "/connexion",
        "/api/v1/healthz",
        "/nulle-part",
        "/api/v1/billing/offers",
    ] {
        let r = t.page(axum::http::Method::GET, path, None, None).await;
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("style-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe"),
            "{path}: {csp}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
    // The stylesheet may be kept a while: it holds nothing personal.
    let css = t
        .page(axum::http::Method::GET, "/static/regie.css", None, None)
        .await;
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));
    // No page asks for anything the policy refuses: no inline script or
    // style, no other origin (the browser tests watch the console too).
    let login = t
        .page(axum::http::Method::GET, "/connexion", None, None)
        .await;
    assert!(
        !login.text.contains("<script") && !login.text.contains("style="),
        "{}",
        login.text
    );
}

/// Serves `t` on a free port until the returned sender is dropped.
async fn served(
    t: &regie_tests::TestApp,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(regie::platform::server::serve(
        listener,
        t.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// Reads until the peer closes; answers what came.
async fn read_to_close(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    // A safety net only: the events awaited come within a few seconds.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_capped() {
    use tokio::io::AsyncWriteExt;
    let t = regie_tests::TestApp::with_config(|c| {
        c.http_header_timeout_s = 1;
        c.http_body_timeout_s = 1;
        c.http_max_connections = 1;
    })
    .await;
    let (addr, _stop) = served(&t).await;

    // Headers that never end: the connection is closed.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Lent: ")
        .await
        .unwrap();
    // Meanwhile a second connection waits: only one is served at a time.
    let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
    next.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let cut = read_to_close(&mut slow).await;
    assert!(!cut.contains("200 OK"), "{cut}");
    // The waiting one is served once the slow one is gone.
    let answer = read_to_close(&mut next).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body announced and never sent: answered, not awaited for ever.
    let mut body = tokio::net::TcpStream::connect(addr).await.unwrap();
    body.write_all(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{").await.unwrap();
    let answer = read_to_close(&mut body).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_prometheus_only() {
    use tokio::io::AsyncWriteExt;
    // With a token: only a caller presenting it, from anywhere.
    let t = TestApp::with_config(|c| c.metrics_token = Some("s3cret-prometheus".into())).await;
    let none = t.api(Method::GET, "/metrics", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none
        .header("www-authenticate")
        .is_some_and(|w| w.starts_with("Bearer")));
    let wrong = t
        .api(Method::GET, "/metrics", Some("s3cret-prometheuX"), None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = t
        .api(Method::GET, "/metrics", Some("s3cret-prometheus"), None)
        .await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(
        right.text.contains("regie_http_requests_total") || right.text.contains("regie_"),
        "{}",
        right.text
    );
    // The token never shows in `config show`.
    assert!(!t
        .state
        .config
        .to_masked_toml()
        .contains("s3cret-prometheus"));

    // Without a token: this machine only. Served on a real socket, a
    // loopback caller is answered; the rule for others is the same
    // function, checked through an address that is not loopback.
    let t = TestApp::new().await;
    let (addr, _stop) = served(&t).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_to_close(&mut s).await.starts_with("HTTP/1.1 200"));
    let far = axum::http::Request::builder()
        .uri("/metrics")
        .extension(axum::extract::ConnectInfo::<std::net::SocketAddr>(
            "203.0.113.7:40000".parse().unwrap(),
        ))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(t.send(far).await.status, StatusCode::UNAUTHORIZED);
}
