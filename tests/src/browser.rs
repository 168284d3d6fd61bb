//! Driving the pages in headless Chromium: whether the browser, node and
//! the npm packages are here, and running one of `tests/browser`'s scripts
//! against a server on the test's database.

use std::path::PathBuf;
use std::process::Command;

use crate::TestApp;

pub fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Whether node, the npm packages and Chromium are all here (skipped where
/// not, except under `REGIE_REQUIRE_PEERS`, where it fails).
pub fn browser_ready() -> bool {
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

/// Serves the test's application on a free port and runs `script` with
/// that base URL and `args`; the script's JSON report, once it succeeded.
pub async fn run_script(t: &TestApp, script: &str, args: Vec<String>) -> serde_json::Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(regie::platform::server::serve(
        listener,
        t.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let script = script.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(browser_dir())
            .arg(script)
            .arg(base)
            .args(args)
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
    serde_json::from_str(&report).unwrap()
}
