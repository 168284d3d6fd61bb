//! ONT optics at a department's scale: many OLTs of many ONTs each, read
//! as the optics cycle reads them (the device's profile, paced walks, OLTs
//! side by side). The OLTs are snmpsim contexts of a recording this bench
//! writes: a Huawei SmartAX (as its profile reads it) with `--onts` ONTs
//! over 16 PON ports. Prints the cycle's wall time, the slowest OLT, the
//! ONTs read, the poller's CPU and memory; asserts nothing.
//!
//! cargo bench -p monitoring --bench olt_optics -- [--olts 20] [--onts 1000]
//!     [--pause-ms 200] [--agents 2]
//!
//! Needs snmpsim (`REGIE_SNMPSIM`, default /opt/snmpsim/bin/…). Linux only
//! (CPU and memory from /proc).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark stops loudly.

mod common;
use common::{arg, target};

use std::time::{Duration, Instant};

use monitoring::poller::{Device, Metrics, Poller};

/// This process's CPU seconds (user + system) and resident memory (MiB).
fn usage() -> (f64, f64) {
    (common::cpu("self").0, common::rss_mib())
}

/// A SmartAX with `onts` ONTs over 16 PON ports, in snmpsim's format
/// (OIDs in order). Levels vary by ONT so that nothing is constant.
fn recording(onts: usize) -> String {
    let port_if_index = |p: usize| 4_194_304_000u64 + (p as u64) * 256;
    let mut lines: Vec<(Vec<u64>, String)> = Vec::new();
    let mut put = |oid: &str, kind: u8, value: String| {
        let key = oid.split('.').map(|x| x.parse().unwrap()).collect();
        lines.push((key, format!("{oid}|{kind}|{value}")));
    };
    put(
        "1.3.6.1.2.1.1.1.0",
        4,
        "Huawei Integrated Access Software".into(),
    );
    put("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.2011.2.123".into());
    put("1.3.6.1.2.1.1.3.0", 67, "123456".into());
    const X: &str = "1.3.6.1.4.1.2011.6.128.1.1.2";
    for p in 0..16 {
        put(
            &format!("{X}.23.1.4.{}", port_if_index(p)),
            2,
            format!("{}", 250 + p),
        );
    }
    for n in 0..onts {
        let (p, id) = (n % 16, n / 16);
        let idx = format!("{}.{id}", port_if_index(p));
        put(&format!("{X}.43.1.3.{idx}"), 4, format!("HWTC{n:08X}"));
        put(&format!("{X}.46.1.15.{idx}"), 2, "1".into());
        put(
            &format!("{X}.46.1.20.{idx}"),
            2,
            format!("{}", 800 + n % 9000),
        );
        put(
            &format!("{X}.51.1.3.{idx}"),
            2,
            format!("{}", 200 + (n % 50) as i64),
        );
        put(
            &format!("{X}.51.1.4.{idx}"),
            2,
            format!("{}", -1800 - (n % 900) as i64),
        );
        put(
            &format!("{X}.51.1.6.{idx}"),
            2,
            format!("{}", 7600 - (n % 700) as i64),
        );
    }
    lines.sort();
    lines.into_iter().map(|(_, l)| l + "\n").collect()
}

#[tokio::main]
async fn main() {
    let (olts, onts) = (arg("--olts", 20), arg("--onts", 1000));
    let pause = Duration::from_millis(arg("--pause-ms", 200) as u64);
    let agents = arg("--agents", 2).max(1);
    let Some(responder) = common::responder() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = recording(onts);
    let mut children = Vec::new();
    let mut devices = Vec::new();
    for a in 0..agents {
        let (data, cache) = (
            dir.path().join(format!("d{a}")),
            dir.path().join(format!("c{a}")),
        );
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let port = common::free_port();
        for o in (0..olts).filter(|o| o % agents == a) {
            let community = format!("olt{o:03}");
            std::fs::write(data.join(format!("{community}.snmprec")), &text).unwrap();
            devices.push(Device {
                name: format!("OLT{o:03}"),
                target: target(port, &community),
            });
        }
        children.push(common::snmpsim(&responder, dir.path(), &data, &cache, port));
    }
    let _agents = common::Processes(children);
    for d in &devices {
        assert!(
            common::answers(&d.target, Duration::from_secs(180)).await,
            "{} never answered",
            d.name
        );
    }
    let registry = prometheus::Registry::new();
    let poller = Poller::new(Metrics::register(&registry).unwrap());
    let (cpu0, rss0) = usage();
    let started = Instant::now();
    let read = poller
        .optics_cycle(&devices, pause, Duration::from_secs(3600))
        .await;
    let wall = started.elapsed();
    let (cpu1, rss1) = usage();
    // One OLT alone, for the per-OLT pacing.
    let one = Instant::now();
    poller
        .optics_cycle(&devices[..1], pause, Duration::from_secs(3600))
        .await;
    let alone = one.elapsed();
    println!(
        "OLTs: {olts}, ONTs per OLT: {onts}, pause between requests to one OLT: {} ms",
        pause.as_millis()
    );
    println!("ONTs read: {read} of {}", olts * onts);
    println!(
        "optics cycle wall time: {:.1} s (one OLT alone: {:.1} s)",
        wall.as_secs_f64(),
        alone.as_secs_f64()
    );
    println!(
        "poller CPU: {:.2} s; resident memory {rss0:.0} MiB before, {rss1:.0} MiB after",
        cpu1 - cpu0
    );
}
