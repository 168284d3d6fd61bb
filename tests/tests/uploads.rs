//! What a hostile or careless upload can make the server hold (issue 19
//! point 1): a long line, millions of faulty rows, a zip bomb, a body past
//! its limit. Each is refused within its bound, in French, with a report of
//! bounded size; the bounds come from `[uploads]`. Same on both backends.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::io::Write;

use axum::http::StatusCode;
use regie::platform::auth::Role;
use regie_tests::{gracethd_fixture, TestApp};

/// The fixture delivery zipped, with `t_fibre.csv` replaced by `fibre`.
fn delivery_with_fibres(fibre: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for entry in std::fs::read_dir(gracethd_fixture()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        w.start_file(name.as_str(), opts).unwrap();
        if name == "t_fibre.csv" {
            w.write_all(fibre).unwrap();
        } else {
            w.write_all(&std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// Bytes that do not compress (so a ratio check does not stop them first).
fn noise(len: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(x % 36) as usize])
        })
        .collect()
}

async fn dry_run(t: &TestApp, tok: &str, body: Vec<u8>) -> regie_tests::Answer {
    t.send(
        axum::http::Request::post("/api/v1/inventory/imports?dry_run=true")
            .header("authorization", format!("Bearer {tok}"))
            .header("content-type", "application/zip")
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

fn scratch_is_empty(t: &TestApp) -> bool {
    std::fs::read_dir(t.state.config.scratch_dir())
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[tokio::test]
async fn a_line_longer_than_the_limit_is_refused_without_being_held() {
    let t = TestApp::new().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    // One line of 1 MiB (the limit is 64 KiB).
    let fibre = format!(
        "fo_code;fo_cb_code;fo_nincab;fo_numtub;fo_nintub;fo_color\nFO1;{};1;1;1;BL\n",
        noise(1 << 20)
    );
    let r = dry_run(&t, &tok, delivery_with_fibres(fibre.as_bytes())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let issue = r.json()["report"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"] == "t_fibre.csv")
        .cloned()
        .unwrap();
    assert_eq!(issue["line"], 2);
    assert!(
        issue["reason"]
            .as_str()
            .unwrap()
            .contains("ligne de plus de 65536 octets"),
        "{issue}"
    );
    assert!(scratch_is_empty(&t), "the unpacked delivery is removed");
}

#[tokio::test]
async fn millions_of_faulty_rows_give_a_report_of_bounded_size() {
    let t = TestApp::new().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    // 300,000 copies of one row: each after the first is a duplicate code
    // naming an unknown cable.
    let mut fibre = String::from("fo_code;fo_cb_code;fo_nincab;fo_numtub;fo_nintub;fo_color\n");
    for _ in 0..300_000 {
        fibre.push_str("FODUP;CBNONE;1;1;1;BL\n");
    }
    let body = delivery_with_fibres(fibre.as_bytes());
    assert!(body.len() < 200_000, "{} bytes", body.len());
    let r = dry_run(&t, &tok, body).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        r.text.chars().take(200).collect::<String>()
    );
    let report = &r.json()["report"];
    assert_eq!(report["issues"].as_array().unwrap().len(), 1000);
    assert!(
        report["error_count"].as_u64().unwrap() >= 300_000,
        "{report}"
    );
    assert_eq!(
        report["left_out"].as_u64().unwrap() + 1000,
        report["error_count"].as_u64().unwrap() + report["warning_count"].as_u64().unwrap()
    );
    assert!(r.text.len() < 1 << 20, "answer of {} bytes", r.text.len());
}

#[tokio::test]
async fn a_zip_bomb_is_refused_by_its_ratio() {
    let t = TestApp::new().await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    let zeros = vec![b'0'; 256 << 20];
    let body = delivery_with_fibres(&zeros);
    assert!(body.len() < 1 << 20, "{} bytes", body.len());
    let r = dry_run(&t, &tok, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("grossit plus de 200 fois"), "{message}");
    assert!(scratch_is_empty(&t));
}

#[tokio::test]
async fn the_limits_are_configurable_rows_and_upload_size() {
    let t = TestApp::with_config(|c| {
        c.uploads.delivery_max_rows = 1000;
        c.uploads.delivery_max_mib = 1;
    })
    .await;
    let tech = t.user("karim", &[Role::Technician]).await;
    let tok = t.token_for(&tech).await;
    // 1,051 fibres in the fixture: one table past 1,000 rows.
    let r = dry_run(
        &t,
        &tok,
        delivery_with_fibres(&std::fs::read(gracethd_fixture().join("t_fibre.csv")).unwrap()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("plus de 1000 lignes : table refusée"),
        "{}",
        r.text
    );
    // A body past 1 MiB: 413 in French, nothing left on disk.
    let r = dry_run(&t, &tok, noise(2 << 20).into_bytes()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fichier trop volumineux : 1 Mio au plus"),
        "{}",
        r.text
    );
    assert!(scratch_is_empty(&t));
}
