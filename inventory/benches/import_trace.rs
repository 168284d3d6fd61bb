//! Benchmark of the inventory: generation, import (rows per second, peak
//! memory) and trace latency (upstream p50/p99 over random outlets,
//! downstream p99 over PON ports). Prints figures; asserts nothing.
//!
//! cargo bench -p inventory --bench import_trace -- [--premises N] [--database URL] [--traces N]
//!
//! Without `--database`, a SQLite file in a temporary directory.

use std::path::Path;
use std::time::{Duration, Instant};

use inventory::budget::{OpticalClass, PlanningLosses};
use inventory::{generate, gracethd, service, trace};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use regie_core::audit::Actor;
use regie_core::{DatabaseUrl, Db};

// The allocator of the `regie` binary, so that the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resets the peak resident set size, so that the import's peak is not
/// the generator's (Linux: writing 5 to `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rows_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".csv"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64 - 1)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let premises: u32 = arg("--premises")
        .and_then(|s| s.parse().ok())
        .unwrap_or(30_000);
    let traces: usize = arg("--traces")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let delivery = match arg("--delivery") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => tmp.path().join("delivery"),
    };
    if !delivery.join("t_cable.csv").is_file() {
        let t = Instant::now();
        let g = generate::generate(premises, 1, &delivery).expect("generates");
        println!(
            "generate: {} premises, {} fibres, {} positions in {:.2} s",
            g.premises,
            g.fibres,
            g.positions,
            t.elapsed().as_secs_f64()
        );
    }
    let rows = rows_in(&delivery);
    reset_peak_rss();

    let url = match arg("--database") {
        Some(u) => DatabaseUrl::parse(&u).expect("database URL"),
        None => DatabaseUrl::sqlite_file(&tmp.path().join("bench.db")),
    };
    let db = Db::connect(&url, 4).await.expect("connects");
    regie_core::migrate::run(&db, &[regie_core::audit::COMPONENT, inventory::COMPONENT])
        .await
        .expect("migrates");

    // The import in its two phases, so that the figures say where the time
    // goes; together they are what `service::import` does.
    let t = Instant::now();
    let checked = gracethd::load(&delivery).expect("reads");
    let read_secs = t.elapsed().as_secs_f64();
    assert!(!checked.report.has_errors(), "generated delivery refused");
    println!(
        "read and check: {read_secs:.2} s; peak RSS {:.0} MiB",
        peak_rss_mib()
    );
    let t = Instant::now();
    inventory::storage::store(
        &db,
        &Actor::system("bench"),
        &checked.plant,
        "bench",
        0,
        &service::NoProgress,
    )
    .await
    .expect("stores");
    let store_secs = t.elapsed().as_secs_f64();
    drop(checked);
    let secs = read_secs + store_secs;
    println!(
        "store ({}): {store_secs:.2} s; import total {rows} rows in {secs:.2} s = {:.0} rows/s; peak RSS {:.0} MiB",
        url.backend().as_str(),
        rows as f64 / secs,
        peak_rss_mib()
    );

    let t = Instant::now();
    let again = service::import(&db, &Actor::system("bench"), &delivery, false)
        .await
        .expect("re-imports");
    println!(
        "re-import of the same delivery: {:.2} s, no-op = {}",
        t.elapsed().as_secs_f64(),
        again.summary.as_ref().is_some_and(|s| s.is_noop())
    );

    let t = Instant::now();
    let plant = inventory::storage::load(&db).await.expect("loads");
    println!(
        "load plant from the database: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let losses = PlanningLosses::default();
    let mut outlets: Vec<&str> = plant.outlets().map(|e| e.code.as_str()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    outlets.shuffle(&mut rng);
    let mut up: Vec<Duration> = Vec::with_capacity(traces);
    for code in outlets.iter().cycle().take(traces) {
        let t = Instant::now();
        let r = trace::upstream(&plant, code, &losses, OpticalClass::GponBPlus).expect("traces");
        up.push(t.elapsed());
        std::hint::black_box(r);
    }
    up.sort();
    println!(
        "upstream trace over {traces} random outlets: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&up, 0.5),
        percentile(&up, 0.99),
        up.last().copied().unwrap_or_default()
    );

    let mut down: Vec<Duration> = Vec::new();
    for code in plant.pon_ports.keys() {
        let t = Instant::now();
        let r = trace::downstream(&plant, trace::From::PonPort(code.clone())).expect("walks");
        down.push(t.elapsed());
        std::hint::black_box(r);
    }
    down.sort();
    println!(
        "downstream from each of {} PON ports: p50 {:?}, p99 {:?}",
        down.len(),
        percentile(&down, 0.5),
        percentile(&down, 0.99)
    );
    let _ = gracethd::Severity::Error;
    println!("peak RSS: {:.0} MiB", peak_rss_mib());
}
