//! The application form in headless Chromium (Debian's `chromium`, driven
//! by `playwright-core`), checked with axe-core: a household logs in and
//! fills the form with the keyboard only; no page met has a serious or
//! critical violation. Screenshots go to `tests/artifacts/`.
//!
//! Needs Node, `npm ci` in `tests/browser` and Chromium; skipped when they
//! are missing, except under `REGIE_REQUIRE_PEERS` (CI), where it fails.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::path::PathBuf;
use std::process::Command;

use regie::auth::Role;
use regie_tests::{password_of, publish_example_rules, TestApp};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Whether node, the npm packages and Chromium are all here.
fn browser_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = std::path::Path::new(&chromium).exists()
        && browser_dir().join("node_modules/playwright-core").exists()
        && browser_dir().join("node_modules/axe-core").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "Chromium, node and `npm ci --prefix tests/browser` are required"
        );
        eprintln!("skipped: Chromium, node or tests/browser/node_modules missing");
    }
    ready
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_form_works_with_the_keyboard_and_passes_axe() {
    if !browser_ready() {
        return;
    }
    let t = TestApp::new().await;
    let admin = t.user("admin", &[Role::Admin]).await;
    let admin = t.token_for(&admin).await;
    publish_example_rules(&t, &admin).await;
    t.user("famille", &[Role::Household]).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(regie::server::serve(listener, t.state.clone(), async {
        let _ = stopped.await;
    }));

    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(format!("application-form-{:?}", t.db().backend()).to_lowercase());
    let password = password_of("famille");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(browser_dir())
            .arg("application_form.mjs")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("famille")
            .arg(password)
            .arg(&artifacts)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let _ = stop.send(());
    let _ = server.await;

    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser checks failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(json["failures"], serde_json::json!([]), "{report}");
    assert_eq!(json["pages"].as_array().unwrap().len(), 6, "{report}");
    assert!(
        json["sent_to"]
            .as_str()
            .unwrap()
            .contains("/mon-espace/demandes/DEM-"),
        "{report}"
    );
}
