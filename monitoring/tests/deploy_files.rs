//! The Prometheus configuration, alerting rules and Grafana dashboard
//! shipped in `deploy/`: checked by Prometheus's own `promtool`, and every
//! metric they name is one Régie exposes.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The metric names Régie's monitoring exposes.
fn exposed() -> Vec<String> {
    let registry = prometheus::Registry::new_custom(Some("regie".into()), None).unwrap();
    let poller = monitoring::poller::Metrics::register(&registry).unwrap();
    let traps = monitoring::traps::TrapMetrics::register(&registry).unwrap();
    poller
        .names()
        .into_iter()
        .chain(traps.names())
        .map(|n| format!("regie_{n}"))
        .collect()
}

#[test]
fn promtool_accepts_the_configuration_and_the_rules_fire_as_tested() {
    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("skipped: promtool is not installed");
        return;
    }
    // The configuration as shipped, beside the token file an operator
    // writes (never shipped: it is a secret).
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(deploy().join("prometheus")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(copy.path().join("regie-metrics.token"), "jeton-de-test\n").unwrap();
    let dir = copy.path().to_path_buf();
    for args in [
        vec!["check", "rules", "regie-alerts.yml"],
        vec!["check", "config", "prometheus.yml"],
        vec!["test", "rules", "regie-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `regie_*` metric names in a text.
fn named_metrics(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((_, from)) = rest.split_once("regie_") {
        let tail: String = from
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = from.strip_prefix(tail.as_str()).unwrap_or(from);
        out.push(format!("regie_{tail}"));
    }
    out
}

#[test]
fn the_rules_and_the_dashboard_name_only_metrics_regie_exposes() {
    let declared = exposed();
    let rules = std::fs::read_to_string(deploy().join("prometheus/regie-alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(deploy().join("grafana/regie-network.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(parsed["panels"].as_array().unwrap().len() >= 8);
    for name in named_metrics(&rules)
        .into_iter()
        .chain(named_metrics(&dashboard))
    {
        assert!(
            declared.contains(&name),
            "{name} is not a metric Régie exposes ({declared:?})"
        );
    }
}
