//! The inventory through storage and HTTP, on SQLite and PostgreSQL.

use axum::http::{Method, StatusCode};
use inventory::service;
use regie::platform::auth::Role;
use regie_core::audit::Actor;
use regie_tests::{gracethd_fixture, modified_fixture, TestApp};

/// An app whose inventory holds the fixture network.
async fn app_with_fixture() -> TestApp {
    let t = TestApp::new().await;
    service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect("imports");
    t
}

fn actor() -> Actor {
    Actor::system("test")
}

#[tokio::test]
async fn import_is_whole_then_idempotent() {
    let t = TestApp::new().await;
    let first = service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect("imports");
    assert!(!first.refused());
    let s = first.summary.clone().expect("written");
    assert_eq!(s.tables["fibres"].added, 1051);
    assert_eq!(s.tables["positions"].added, 25, "duplicates are not stored");
    assert_eq!(s.tables["enclosures"].added, 27);
    assert_eq!(s.total().changed + s.total().removed, 0);

    let again = service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect("imports");
    let s = again.summary.expect("written");
    assert!(s.is_noop(), "{s:?}");
    assert_eq!(
        s.total().unchanged,
        first.summary.as_ref().map(|f| f.total().added).unwrap_or(0)
    );

    let journal = regie_core::audit::list(
        t.db(),
        &regie_core::audit::AuditFilter {
            action: Some("inventory.import".into()),
            ..Default::default()
        },
    )
    .await
    .expect("journal");
    assert_eq!(journal.len(), 2);
}

#[tokio::test]
async fn a_newer_delivery_updates_by_code() {
    let t = app_with_fixture().await;
    // Drop an outlet without a path, and give a cable a declared length.
    let newer = modified_fixture("t_ebp.csv", |l| {
        l.retain(|line| !line.starts_with("BP000180031091;"))
    });
    let cables = std::fs::read(newer.path().join("t_cable.csv")).expect("read");
    let cables: String = cables.iter().map(|b| char::from(*b)).collect();
    let cables = cables.replacen(
        "CB000180030001;;CB000180030001;;;DSPE;A001;B001;;OR900000000002;OR900000000002;OR900000000002;CST;AVP;OK;;;;OPT;C;;RF000000000002;96;;;6;5;;;",
        "CB000180030001;;CB000180030001;;;DSPE;A001;B001;;OR900000000002;OR900000000002;OR900000000002;CST;AVP;OK;;;;OPT;C;;RF000000000002;96;;;6;5;;1250;",
        1,
    );
    std::fs::write(
        newer.path().join("t_cable.csv"),
        cables.chars().map(|c| c as u8).collect::<Vec<u8>>(),
    )
    .expect("write");
    // The removed outlet's premises loses its outlet; keep the SUF (other
    // data may point at it).
    let o = service::import(t.db(), &actor(), newer.path(), false)
        .await
        .expect("imports");
    assert!(!o.refused(), "{:#?}", o.report.errors().collect::<Vec<_>>());
    let s = o.summary.expect("written");
    assert_eq!(s.tables["enclosures"].removed, 1);
    assert_eq!(s.tables["cables"].changed, 1);
    assert_eq!(s.total().added, 0);
    let plant = inventory::storage::load(t.db()).await.expect("loads");
    assert_eq!(plant.cables["CB000180030001"].length_m, Some(1250.0));
    assert!(!plant.enclosures.contains_key("BP000180031091"));
}

#[tokio::test]
async fn a_delivery_with_errors_writes_nothing() {
    let t = TestApp::new().await;
    let broken = modified_fixture("t_fibre.csv", |l| {
        let fields: Vec<&str> = l[2].split(';').collect();
        let mut f: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
        f[2] = "CB999999999999".into();
        l[2] = f.join(";");
    });
    let o = service::import(t.db(), &actor(), broken.path(), false)
        .await
        .expect("runs");
    assert!(o.refused());
    assert!(o.summary.is_none());
    let e = o.report.errors().next().expect("an error");
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_fibre.csv", 3, "fo_cb_code")
    );
    let counts = inventory::storage::counts(t.db()).await.expect("counts");
    assert!(counts.values().all(|n| *n == 0), "{counts:?}");
    // A dry run of a good delivery writes nothing either.
    let dry = service::import(t.db(), &actor(), &gracethd_fixture(), true)
        .await
        .expect("runs");
    assert!(dry.summary.is_none() && !dry.refused());
    assert!(inventory::storage::counts(t.db())
        .await
        .expect("counts")
        .values()
        .all(|n| *n == 0));
}

#[tokio::test]
async fn imports_run_one_at_a_time() {
    let t = TestApp::new().await;
    // Another instance holds the lock.
    sqlx::query("INSERT INTO inv_import_lock (name, holder, since) VALUES ('import', 'autre', $1)")
        .bind(regie_core::time::to_db(regie_core::time::now()))
        .execute(t.db().pool())
        .await
        .expect("lock");
    let err = service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect_err("refused");
    assert!(matches!(err, inventory::Error::Busy(_)), "{err}");
    assert!(err.to_string().contains("déjà en cours"));
    assert!(inventory::storage::counts(t.db())
        .await
        .expect("counts")
        .values()
        .all(|n| *n == 0));
    // That instance died: its lease is no longer renewed, and after
    // `LOCK_LEASE_S` (not an hour) the lock is taken over.
    let dead =
        regie_core::time::now() - chrono::Duration::seconds(inventory::storage::LOCK_LEASE_S + 5);
    sqlx::query("UPDATE inv_import_lock SET since = $1")
        .bind(regie_core::time::to_db(dead))
        .execute(t.db().pool())
        .await
        .expect("age the lock");
    let taken_over = service::import(t.db(), &actor(), &gracethd_fixture(), false).await;
    assert!(taken_over.is_ok(), "{taken_over:?}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inv_import_lock")
        .fetch_one(t.db().pool())
        .await
        .expect("count");
    assert_eq!(left, 0, "released once done");

    // Two at once: each either lands or is refused cleanly; the plant ends whole.
    let (who, dir) = (actor(), gracethd_fixture());
    let (a, b) = tokio::join!(
        service::import(t.db(), &who, &dir, false),
        service::import(t.db(), &who, &dir, false)
    );
    for r in [&a, &b] {
        assert!(matches!(r, Ok(_) | Err(inventory::Error::Busy(_))), "{r:?}");
    }
    assert!(a.is_ok() || b.is_ok());
    assert_eq!(
        inventory::storage::counts(t.db()).await.expect("counts")["fibres"],
        1051
    );
}

#[tokio::test]
async fn trace_through_the_api_and_the_page() {
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let a = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031330",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let j = a.json();
    assert_eq!(j["fibres"].as_array().map(Vec::len), Some(11));
    assert_eq!(j["route"]["status"], "differs");
    assert_eq!(j["route"]["missing_from_route"][0], "FO180030001001");
    assert_eq!(j["verdict"]["verdict"], "pass");
    assert_eq!(j["class"], "GPON B+");

    let agrees = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031092",
            Some(&tok),
            None,
        )
        .await
        .json();
    assert_eq!(agrees["route"]["status"], "agrees");
    let none = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031091",
            Some(&tok),
            None,
        )
        .await
        .json();
    assert!(none["no_path_reason"]
        .as_str()
        .is_some_and(|r| r.contains("raccordement à construire")));
    let missing = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP999",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let no_param = t
        .api(Method::GET, "/api/v1/inventory/trace", Some(&tok), None)
        .await;
    assert_eq!(no_param.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_param.json()["error"]["code"], "invalid");

    let s = t.session_for(&tech).await;
    let page = t
        .page(
            Method::GET,
            "/technicien/trace?pto=BP000180031330",
            Some(&s),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for expected in [
        "Coupleur 1:4",
        "FO180034417001",
        "diffère du chemin tracé",
        "FO180030001001",
        "Conforme",
        "10,65 dB",
    ] {
        assert!(page.text.contains(expected), "{expected} missing");
    }
    let home = t.page(Method::GET, "/technicien", Some(&s), None).await;
    assert!(home.text.contains("21 PTO"), "{}", home.text);
    let bad = t
        .page(Method::GET, "/technicien/trace?pto=XYZ", Some(&s), None)
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    assert!(bad.text.contains("Aucune PTO « XYZ »"), "{}", bad.text);
}

#[tokio::test]
async fn downstream_through_the_api_and_the_cache_follows_imports() {
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let a = t
        .api(
            Method::GET,
            "/api/v1/inventory/downstream?splitter=FO180030227101",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["outlets"].as_array().map(Vec::len), Some(4));
    for bad in ["", "?pon=A&cable=B"] {
        let r = t
            .api(
                Method::GET,
                &format!("/api/v1/inventory/downstream{bad}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let r = t
        .api(
            Method::GET,
            "/api/v1/inventory/downstream?cable=CB0",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The trace is served from memory; a new import (here: an outlet
    // removed) is seen at once.
    let before = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031091",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(before.status, StatusCode::OK);
    let newer = modified_fixture("t_ebp.csv", |l| {
        l.retain(|line| !line.starts_with("BP000180031091;"))
    });
    service::import(t.db(), &actor(), newer.path(), false)
        .await
        .expect("imports");
    let after = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031091",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn eligibility_and_capacity_through_the_api_and_the_page() {
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let ok = t
        .api(
            Method::GET,
            "/api/v1/inventory/eligibility?suf=SF000180031330",
            Some(&tok),
            None,
        )
        .await
        .json();
    assert_eq!(ok["status"], "connectable");
    assert_eq!(ok["outlet"], "BP000180031330");
    assert_eq!(ok["pm"], "PM7");
    let no = t
        .api(
            Method::GET,
            "/api/v1/inventory/eligibility?suf=SF000180031091",
            Some(&tok),
            None,
        )
        .await
        .json();
    assert_eq!(no["status"], "not_covered");
    assert!(no["reason"]
        .as_str()
        .is_some_and(|r| r.contains("aucune fibre")));
    let missing = t
        .api(
            Method::GET,
            "/api/v1/inventory/eligibility?suf=SF0",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let at = t
        .api(
            Method::GET,
            "/api/v1/inventory/eligibility?address=18003222V4",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(at.status, StatusCode::OK, "{}", at.text);
    assert_eq!(at.json()["premises"][0]["suf"], "SF000180031091");
    assert_eq!(
        at.json()["premises"][0]["eligibility"]["status"],
        "not_covered"
    );
    let both = t
        .api(
            Method::GET,
            "/api/v1/inventory/eligibility?address=X&suf=Y",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);

    let cap = t
        .api(Method::GET, "/api/v1/inventory/capacity", Some(&tok), None)
        .await
        .json();
    let splitters = cap["splitters"].as_array().expect("splitters");
    assert_eq!(splitters.len(), 1);
    assert_eq!(splitters[0]["code"], "FO180030227101");
    assert_eq!(splitters[0]["place"], "PM7");
    // Its four outputs are wired to the boxes, none taken by a line: not
    // full.
    assert_eq!(
        (
            splitters[0]["used"].as_u64(),
            splitters[0]["wired"].as_u64(),
            splitters[0]["capacity"].as_u64()
        ),
        (Some(0), Some(4), Some(4))
    );
    assert_eq!(splitters[0]["flagged"], false);
    assert_eq!(cap["eligibility_by_pm"]["PM7"]["connectable"], 4);

    let s = t.session_for(&tech).await;
    let page = t
        .page(Method::GET, "/technicien/capacite", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("0 coupleurs sur 1"), "{}", page.text);
    assert!(!page.text.contains("(plein)"), "{}", page.text);
}

fn zip_of(dir: &std::path::Path, prefix: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for entry in std::fs::read_dir(dir).expect("dir") {
            let entry = entry.expect("entry");
            w.start_file(
                format!("{prefix}{}", entry.file_name().to_string_lossy()),
                opts,
            )
            .expect("start");
            w.write_all(&std::fs::read(entry.path()).expect("read"))
                .expect("write");
        }
        w.finish().expect("finish");
    }
    buf.into_inner()
}

async fn upload(t: &TestApp, tok: &str, uri: &str, body: Vec<u8>) -> regie_tests::Answer {
    t.send(
        axum::http::Request::post(uri)
            .header("authorization", format!("Bearer {tok}"))
            .header("content-type", "application/zip")
            .body(axum::body::Body::from(body))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn a_zipped_delivery_is_imported_through_the_api_and_the_page() {
    let t = TestApp::new().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let zipped = zip_of(&gracethd_fixture(), "gracethd-demo01/");

    let dry = upload(
        &t,
        &tok,
        "/api/v1/inventory/imports?dry_run=true",
        zipped.clone(),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    assert!(dry.json()["summary"].is_null());
    assert_eq!(
        inventory::storage::counts(t.db()).await.expect("counts")["fibres"],
        0
    );

    let real = upload(&t, &tok, "/api/v1/inventory/imports", zipped).await;
    assert_eq!(real.status, StatusCode::OK, "{}", real.text);
    assert_eq!(real.json()["summary"]["tables"]["fibres"]["added"], 1051);
    assert_eq!(
        real.json()["report"]["issues"].as_array().map(Vec::len),
        Some(19)
    );

    let broken = modified_fixture("t_position.csv", |l| {
        let mut f: Vec<String> = l[4].split(';').map(str::to_owned).collect();
        f[6] = "XYZ".into();
        l[4] = f.join(";");
    });
    let refused = upload(
        &t,
        &tok,
        "/api/v1/inventory/imports",
        zip_of(broken.path(), ""),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let issue = &refused.json()["report"]["issues"][0];
    assert_eq!(
        (
            issue["file"].as_str(),
            issue["line"].as_u64(),
            issue["field"].as_str()
        ),
        (Some("t_position.csv"), Some(5), Some("ps_type"))
    );

    let garbage = upload(
        &t,
        &tok,
        "/api/v1/inventory/imports",
        b"pas un zip".to_vec(),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(garbage.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("zip")));

    // An entry escaping the target directory is refused.
    let evil = {
        use std::io::Write;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.start_file(
                "../../etc/evil.csv",
                zip::write::SimpleFileOptions::default(),
            )
            .expect("start");
            w.write_all(b"x").expect("write");
            w.finish().expect("finish");
        }
        buf.into_inner()
    };
    let r = upload(&t, &tok, "/api/v1/inventory/imports", evil).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("refusé")),
        "{}",
        r.text
    );

    // The page: multipart, the token in the first field, never the URL.
    let s = t.session_for(&tech).await;
    let form = t
        .page(Method::GET, "/technicien/import", Some(&s), None)
        .await;
    assert!(form.text.contains("enctype=\"multipart/form-data\""));
    assert!(!form.text.contains("csrf_token="), "no token in a URL");
    let boundary = "XXregieXX";
    let body_with = |csrf: &str| {
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"livraison\"; filename=\"l.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .into_bytes();
        body.extend(zip_of(&gracethd_fixture(), ""));
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        body
    };
    let send_to = |uri: String, body: Vec<u8>| {
        axum::http::Request::post(uri)
            .header("cookie", &s.cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(axum::body::Body::from(body))
            .expect("request")
    };
    let forged = t
        .send(send_to("/technicien/import".into(), body_with("faux")))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The token in the URL (where proxies log it) is no longer taken.
    let in_url = t
        .send(send_to(
            format!("/technicien/import?csrf_token={}", s.csrf),
            body_with(""),
        ))
        .await;
    assert_eq!(in_url.status, StatusCode::FORBIDDEN);
    let ok = t
        .send(send_to("/technicien/import".into(), body_with(&s.csrf)))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.text.contains("Import terminé"), "{}", ok.text);
    assert!(
        ok.text.contains("1232 inchangés"),
        "re-import of the same delivery changes nothing"
    );
}

#[tokio::test]
async fn exports_through_the_api() {
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let csv = t
        .api(
            Method::GET,
            "/api/v1/inventory/export/ipe.csv",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/csv")));
    assert!(csv
        .text
        .starts_with("IdentifiantImmeuble;CodeAdresseImmeuble;EtatImmeuble"));
    assert_eq!(csv.text.lines().count(), 17);
    let geo = t
        .api(
            Method::GET,
            "/api/v1/inventory/export/addresses.geojson",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(geo.status, StatusCode::OK);
    assert_eq!(geo.header("content-type"), Some("application/geo+json"));
    assert_eq!(geo.json()["features"].as_array().map(Vec::len), Some(16));
    let plant = t
        .api(
            Method::GET,
            "/api/v1/inventory/export/plant.geojson",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(plant.status, StatusCode::OK);
    assert_eq!(plant.header("content-type"), Some("application/geo+json"));
    assert_eq!(plant.json()["features"].as_array().map(Vec::len), Some(46));
    let household = t.user("foyer", &[Role::Household]).await;
    let htok = t.token_for(&household).await;
    assert_eq!(
        t.api(
            Method::GET,
            "/api/v1/inventory/export/ipe.csv",
            Some(&htok),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_map_page_draws_the_network() {
    let t = TestApp::new().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let empty = t
        .page(Method::GET, "/technicien/carte", Some(&s), None)
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text.contains("Aucune adresse"));
    service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect("imports");
    let map = t
        .page(Method::GET, "/technicien/carte", Some(&s), None)
        .await;
    assert_eq!(map.status, StatusCode::OK);
    // 16 addresses, 6 boxes (circles), 2 sites (squares), 22 cables.
    assert_eq!(
        map.text.matches("<circle").count() + map.text.matches("<rect").count(),
        16 + 6 + 2
    );
    assert_eq!(map.text.matches("<polyline").count(), 22);
    assert!(map.text.contains("role=\"img\"") && map.text.contains("<title id=\"carte-titre\">"));
    assert!(map.text.contains("16 adresses"), "{}", map.text);
    assert!(
        map.text.contains("2 sites")
            && map.text.contains("6 boîtiers")
            && map.text.contains("22 câbles"),
        "{}",
        map.text
    );
    assert!(!map.text.contains("<script"), "no script");
    // Zoomed on a PM: only its addresses, and the choice kept.
    let zoomed = t
        .page(Method::GET, "/technicien/carte?pm=PM7", Some(&s), None)
        .await;
    assert_eq!(zoomed.status, StatusCode::OK);
    let shown: usize = zoomed
        .text
        .split(" adresses : ")
        .next()
        .and_then(|head| head.rsplit('>').next())
        .and_then(|n| n.trim().parse().ok())
        .expect("a count of addresses");
    assert!((1..16).contains(&shown), "{shown}");
    assert!(
        zoomed.text.contains(r#"<option value="PM7" selected>"#),
        "{}",
        zoomed.text
    );
    assert!(zoomed.text.contains("Tout le réseau"));
    // Its exports, downloaded with the session (no token), as the API
    // answers them; a household gets none.
    assert!(map
        .text
        .contains(r#"href="/technicien/exports/adresses.geojson""#));
    for (file, kind) in [
        ("adresses.geojson", "application/geo+json"),
        ("reseau.geojson", "application/geo+json"),
        ("adresses-ipe.csv", "text/csv; charset=utf-8"),
    ] {
        let got = t
            .page(
                Method::GET,
                &format!("/technicien/exports/{file}"),
                Some(&s),
                None,
            )
            .await;
        assert_eq!(got.status, StatusCode::OK, "{file}: {}", got.text);
        assert_eq!(got.header("content-type"), Some(kind));
        assert!(got
            .header("content-disposition")
            .is_some_and(|d| d.contains(file)));
    }
    let addresses = t
        .page(
            Method::GET,
            "/technicien/exports/adresses.geojson",
            Some(&s),
            None,
        )
        .await;
    let geo: serde_json::Value = serde_json::from_str(&addresses.text).unwrap();
    assert_eq!(geo["features"].as_array().map(Vec::len), Some(16));
    let none = t
        .page(Method::GET, "/technicien/exports/autre.txt", Some(&s), None)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(none.text.contains("introuvable"), "{}", none.text);
    let family = t.user("famille", &[Role::Household]).await;
    let fs = t.session_for(&family).await;
    let refused = t
        .page(
            Method::GET,
            "/technicien/exports/adresses.geojson",
            Some(&fs),
            None,
        )
        .await;
    assert!(
        matches!(
            refused.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{}",
        refused.status
    );
}

/// Sets column `col` of line `line` (1-based, the header is line 1).
fn set_field(lines: &mut [String], line: usize, col: &str, value: &str) {
    let i = lines[0].split(';').position(|h| h == col).expect("column");
    let mut fields: Vec<String> = lines[line - 1].split(';').map(str::to_owned).collect();
    fields[i] = value.to_owned();
    lines[line - 1] = fields.join(";");
}

#[tokio::test]
async fn no_validation_error_ever_writes_anything() {
    let t = TestApp::new().await;
    type Edit = Box<dyn FnOnce(&mut Vec<String>)>;
    let cases: Vec<(&str, Edit, (&str, u64, &str))> = vec![
        (
            "t_position.csv",
            Box::new(|l| set_field(l, 5, "ps_type", "XYZ")),
            ("t_position.csv", 5, "ps_type"),
        ),
        (
            "t_fibre.csv",
            Box::new(|l| set_field(l, 3, "fo_cb_code", "CB9")),
            ("t_fibre.csv", 3, "fo_cb_code"),
        ),
        (
            "t_cable.csv",
            Box::new(|l| {
                let c = l[2].clone();
                l.push(c)
            }),
            ("t_cable.csv", 51, "cb_code"),
        ),
        (
            "t_position.csv",
            Box::new(|l| set_field(l, 2, "ps_2", "FO180030329001")),
            ("t_position.csv", 2, "ps_2"),
        ),
        (
            "t_position.csv",
            Box::new(|l| set_field(l, 4, "ps_2", "FO180034417002")),
            ("t_position.csv", 4, "ps_2"),
        ),
        (
            "t_cassette.csv",
            Box::new(|l| l[0] = l[0].replace("cs_bp_code", "cs_bp")),
            ("t_cassette.csv", 1, "cs_bp_code"),
        ),
        (
            "t_cable.csv",
            Box::new(|l| set_field(l, 2, "cb_capafo", "beaucoup")),
            ("t_cable.csv", 2, "cb_capafo"),
        ),
    ];
    for (file, edit, (efile, eline, efield)) in cases {
        let dir = modified_fixture(file, edit);
        let o = service::import(t.db(), &actor(), dir.path(), false)
            .await
            .expect("runs");
        assert!(o.refused() && o.summary.is_none(), "{file}");
        assert!(
            o.report
                .errors()
                .any(|e| (e.file.as_str(), e.line, e.field.as_str()) == (efile, eline, efield)),
            "{efile}:{eline} [{efield}] not reported: {:#?}",
            o.report.errors().collect::<Vec<_>>()
        );
        let counts = inventory::storage::counts(t.db()).await.expect("counts");
        assert!(counts.values().all(|n| *n == 0), "{file}: {counts:?}");
        assert_eq!(
            inventory::storage::version(t.db()).await.expect("version"),
            0,
            "no import recorded"
        );
    }
}

#[tokio::test]
async fn a_delivery_without_extension_files_keeps_the_stored_pon_ports() {
    let t = TestApp::new().await;
    let src = tempfile::tempdir().expect("dir");
    inventory::generate::generate(400, 4, src.path()).expect("generates");
    service::import(t.db(), &actor(), src.path(), false)
        .await
        .expect("imports");
    let ports = inventory::storage::counts(t.db()).await.expect("counts")["pon_ports"];
    assert!(ports > 0);

    // The design office's next delivery: GraceTHD only.
    let copy = |rename: Option<(&str, &str)>| {
        let dir = tempfile::tempdir().expect("dir");
        for entry in std::fs::read_dir(src.path()).expect("dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("x_") {
                continue;
            }
            if !name.ends_with(".csv") {
                // The shapefiles, as they are.
                std::fs::copy(entry.path(), dir.path().join(&name)).expect("copy");
                continue;
            }
            let mut text = std::fs::read_to_string(entry.path()).expect("read");
            if let Some((from, to)) = rename {
                text = text.replace(from, to);
            }
            std::fs::write(dir.path().join(&name), text).expect("write");
        }
        dir
    };
    let plain = copy(None);
    let o = service::import(t.db(), &actor(), plain.path(), false)
        .await
        .expect("imports");
    assert!(!o.refused(), "{:#?}", o.report.issues);
    assert!(o
        .summary
        .as_ref()
        .is_some_and(|s| s.is_noop() && !s.tables.contains_key("pon_ports")));
    assert_eq!(
        inventory::storage::counts(t.db()).await.expect("counts")["pon_ports"],
        ports
    );

    // A delivery that no longer has a stored port's fibre is refused.
    let renamed = copy(Some(("FO000000000001;", "FO999999999999;")));
    let o = service::import(t.db(), &actor(), renamed.path(), false)
        .await
        .expect("runs");
    assert!(o.refused());
    let e = o.report.errors().next().expect("error");
    assert_eq!(
        (e.file.as_str(), e.field.as_str()),
        ("x_pon.csv", "fo_code")
    );
    assert!(e.reason.contains("FO000000000001"), "{}", e.reason);
    assert_eq!(
        inventory::storage::counts(t.db()).await.expect("counts")["pon_ports"],
        ports
    );
}

#[tokio::test]
async fn the_plant_read_back_equals_the_plant_imported() {
    // Imports through the API hand their plant to the cache instead of
    // reloading it; that is only right if both are the same.
    let t = TestApp::new().await;
    let src = tempfile::tempdir().expect("dir");
    inventory::generate::generate(500, 8, src.path()).expect("generates");
    for dir in [gracethd_fixture(), src.path().to_owned()] {
        service::import(t.db(), &actor(), &dir, false)
            .await
            .expect("imports");
        let delivered = inventory::gracethd::load(&dir).expect("readable").plant;
        let stored = inventory::storage::load(t.db()).await.expect("loads");
        assert_eq!(delivered.sites, stored.sites);
        assert_eq!(delivered.enclosures, stored.enclosures);
        assert_eq!(delivered.cables, stored.cables);
        assert_eq!(delivered.fibres, stored.fibres);
        assert_eq!(delivered.positions, stored.positions);
        assert_eq!(delivered.sufs, stored.sufs);
        assert_eq!(delivered.routes, stored.routes);
        assert_eq!(delivered.addresses, stored.addresses);
        if delivered.has_pon_file {
            assert_eq!(delivered.pon_ports, stored.pon_ports);
            assert_eq!(delivered.splitters, stored.splitters);
        }
    }
}

async fn pon_count(t: &TestApp, tok: &str) -> Option<usize> {
    t.api(Method::GET, "/api/v1/inventory/pon-ports", Some(tok), None)
        .await
        .json()
        .as_array()
        .map(Vec::len)
}

/// A PON port body for the API, on a site and a fibre.
fn pon_body(site: &str, fibre: &str, class: &str) -> serde_json::Value {
    serde_json::json!({
        "olt_code": "OLT01", "olt_model": "MA5800", "st_code": site,
        "slot": 1, "port": 0, "optical_class": class, "max_onts": 64, "fo_code": fibre,
    })
}

#[tokio::test]
async fn pon_ports_entered_through_the_api() {
    use inventory::budget::{OpticalClass, PlanningLosses};
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let plant = inventory::storage::load(t.db()).await.expect("loads");
    let site = plant.sites.keys().next().expect("a site").to_string();
    let traced = inventory::trace::upstream(
        &plant,
        "BP000180031330",
        &PlanningLosses::default(),
        OpticalClass::GponBPlus,
    )
    .expect("traces");
    let feeder = traced.fibres.last().expect("a fibre").clone();
    let other_fibre = plant
        .fibres
        .keys()
        .find(|f| *f != feeder)
        .expect("another fibre")
        .to_string();
    let uri = "/api/v1/inventory/pon-ports/OLT01-1%2F0";
    assert_eq!(pon_count(&t, &tok).await, Some(0));

    // Bad input: each answer names the field, and nothing is written.
    let bad = [
        (pon_body("ST_NOPE", &feeder, "C+"), "st_code"),
        (pon_body(&site, "FO_NOPE", "C+"), "fo_code"),
        (pon_body(&site, &feeder, "Z+"), "optical_class"),
        (
            {
                let mut b = pon_body(&site, &feeder, "C+");
                b["max_onts"] = 0.into();
                b
            },
            "max_onts",
        ),
        (
            {
                let mut b = pon_body(&site, &feeder, "C+");
                b["olt_code"] = " ".into();
                b
            },
            "olt_code",
        ),
    ];
    for (body, field) in bad {
        let a = t.api(Method::PUT, uri, Some(&tok), Some(body)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        let message = a.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(message.starts_with(&format!("{field} : ")), "{message}");
    }
    let mut missing = pon_body(&site, &feeder, "C+");
    missing.as_object_mut().expect("object").remove("fo_code");
    let a = t.api(Method::PUT, uri, Some(&tok), Some(missing)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(pon_count(&t, &tok).await, Some(0));

    // Added, then replaced; the trace now judges against the port's class.
    let a = t
        .api(
            Method::PUT,
            uri,
            Some(&tok),
            Some(pon_body(&site, &feeder, "C+")),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json()["code"], "OLT01-1/0");
    let trace = t
        .api(
            Method::GET,
            "/api/v1/inventory/trace?pto=BP000180031330",
            Some(&tok),
            None,
        )
        .await
        .json();
    assert_eq!(trace["class"], "GPON C+");
    assert_eq!(trace["pon_port"], "OLT01-1/0");
    let behind = t
        .api(
            Method::GET,
            "/api/v1/inventory/downstream?pon=OLT01-1%2F0",
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(behind.status, StatusCode::OK, "{}", behind.text);
    assert!(behind.text.contains("BP000180031330"), "{}", behind.text);
    let a = t
        .api(
            Method::PUT,
            uri,
            Some(&tok),
            Some(pon_body(&site, &feeder, "B+")),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["class"], "GPON B+");

    // A second port cannot take the same fibre.
    let a = t
        .api(
            Method::PUT,
            "/api/v1/inventory/pon-ports/OLT01-1%2F1",
            Some(&tok),
            Some(pon_body(&site, &feeder, "B+")),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(
        a.text.contains("déjà raccordée au port OLT01-1/0"),
        "{}",
        a.text
    );
    let a = t
        .api(
            Method::PUT,
            "/api/v1/inventory/pon-ports/OLT01-1%2F1",
            Some(&tok),
            Some(pon_body(&site, &other_fibre, "B+")),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(pon_count(&t, &tok).await, Some(2));

    // Every change is in the audit journal with who made it.
    let changes = regie_core::audit::list(
        t.db(),
        &regie_core::audit::AuditFilter {
            entity: Some("pon_port".into()),
            ..Default::default()
        },
    )
    .await
    .expect("lists");
    let actions: Vec<&str> = changes.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(
        actions.contains(&"inventory.pon_port.change"),
        "{actions:?}"
    );
    assert!(changes.iter().all(|e| e.actor == "karim"));

    // A GraceTHD re-delivery without x_pon.csv keeps them.
    service::import(t.db(), &actor(), &gracethd_fixture(), false)
        .await
        .expect("re-imports");
    assert_eq!(pon_count(&t, &tok).await, Some(2));

    let a = t.api(Method::DELETE, uri, Some(&tok), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = t.api(Method::DELETE, uri, Some(&tok), None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(pon_count(&t, &tok).await, Some(1));
}

#[tokio::test]
async fn pon_ports_entered_through_the_page() {
    let t = app_with_fixture().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let plant = inventory::storage::load(t.db()).await.expect("loads");
    let site = plant.sites.keys().next().expect("a site").to_string();
    let fibre = plant.fibres.keys().next().expect("a fibre").to_string();
    let home = t.page(Method::GET, "/technicien/pon", Some(&s), None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains("Aucun port PON."), "{}", home.text);
    let mut fields = vec![
        ("csrf_token", s.csrf.as_str()),
        ("pon_code", "OLT02-0/3"),
        ("olt_code", "OLT02"),
        ("olt_model", ""),
        ("st_code", "ST_NOPE"),
        ("slot", "zéro"),
        ("port", "3"),
        ("optical_class", "C+"),
        ("max_onts", "128"),
        ("fo_code", fibre.as_str()),
    ];
    let bad = t
        .page(Method::POST, "/technicien/pon", Some(&s), Some(&fields))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("Le formulaire contient 2 erreurs"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains(r#"id="st_code-erreur""#), "{}", bad.text);
    assert!(bad.text.contains(r#"id="slot-erreur""#), "{}", bad.text);
    // What was typed is kept.
    assert!(bad.text.contains(r#"value="OLT02-0/3""#), "{}", bad.text);
    fields[4].1 = &site;
    fields[5].1 = "0";
    let ok = t
        .page(Method::POST, "/technicien/pon", Some(&s), Some(&fields))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let list = t
        .page(
            Method::GET,
            "/technicien/pon?enregistre=OLT02-0%2F3",
            Some(&s),
            None,
        )
        .await;
    assert!(list.text.contains("est enregistré"), "{}", list.text);
    assert!(
        list.text.contains("<strong>OLT02-0/3</strong></td>"),
        "{}",
        list.text
    );
    let edit = t
        .page(
            Method::GET,
            "/technicien/pon?code=OLT02-0%2F3",
            Some(&s),
            None,
        )
        .await;
    assert!(edit.text.contains(r#"value="OLT02""#), "{}", edit.text);
    // Irreversible: a page says what goes first; nothing is removed yet.
    let ask = t
        .page(
            Method::POST,
            "/technicien/pon/supprimer",
            Some(&s),
            Some(&[("csrf_token", s.csrf.as_str()), ("pon_code", "OLT02-0/3")]),
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.text);
    assert!(
        ask.text.contains("ne peut pas être défaite")
            && ask
                .text
                .contains("Supprimer définitivement le port OLT02-0/3"),
        "{}",
        ask.text
    );
    let still = t.page(Method::GET, "/technicien/pon", Some(&s), None).await;
    assert!(still.text.contains("<strong>OLT02-0/3</strong></td>"));
    let gone = t
        .page(
            Method::POST,
            "/technicien/pon/supprimer",
            Some(&s),
            Some(&[
                ("csrf_token", s.csrf.as_str()),
                ("pon_code", "OLT02-0/3"),
                ("confirme", "oui"),
            ]),
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.text);
    let list = t.page(Method::GET, "/technicien/pon", Some(&s), None).await;
    assert!(list.text.contains("Aucun port PON."), "{}", list.text);
}
