//! The capacity page counts what lines hold, on SQLite and PostgreSQL: a
//! splitter fully wired to its boxes is not full; it fills as lines take
//! its outputs, and a cancelled order gives its output back. Figures
//! counted here from the lines ordered, not from the code.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{connectable_premises, network_app};

#[tokio::test]
async fn splitters_and_pon_ports_count_the_outputs_lines_hold() {
    let t = network_app(1000, 24).await;
    let p = &t.state.provisioning;
    let actor = regie_core::audit::Actor::system("test");
    let premises = connectable_premises(&t, "PM1").await;

    // Nothing ordered: nothing used, nothing flagged, though the plant
    // wires every output of most splitters.
    let before = p.in_use().await.unwrap();
    let report = inventory::service::capacity(t.db(), &t.state.plant, before)
        .await
        .unwrap();
    assert!(report.splitters.iter().all(|u| u.used == 0 && !u.flagged));
    assert!(report.splitters.iter().any(|u| u.wired == u.capacity));

    // Twelve lines ordered and reserved, one cancelled: eleven outputs
    // held. Counted by hand from the lines: per splitter output's
    // splitter, per PON port.
    let mut lines = Vec::new();
    for suf in premises.iter().take(12) {
        let l = p
            .order(
                &actor,
                &provisioning::service::Order {
                    premises: suf.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        lines.push(p.reserve_path(&actor, &l.id, None).await.unwrap());
    }
    p.cancel(&actor, &lines[11].id).await.unwrap();
    let kept = &lines[..11];
    let plant = t.state.plant.get(t.db()).await.unwrap();
    let mut per_splitter: BTreeMap<String, u32> = BTreeMap::new();
    let mut per_port: BTreeMap<String, u32> = BTreeMap::new();
    for l in kept {
        let path = l.path.as_ref().unwrap();
        let output = plant
            .positions
            .iter()
            .find(|x| x.code.as_str() == path.splitter_output)
            .unwrap();
        *per_splitter
            .entry(output.input.as_deref().unwrap().to_owned())
            .or_default() += 1;
        *per_port.entry(path.pon_port.clone()).or_default() += 1;
    }
    let report = inventory::service::capacity(t.db(), &t.state.plant, p.in_use().await.unwrap())
        .await
        .unwrap();
    let used: BTreeMap<String, u32> = report
        .splitters
        .iter()
        .filter(|u| u.used > 0)
        .map(|u| (u.code.clone(), u.used))
        .collect();
    assert_eq!(used, per_splitter);
    let on_ports: BTreeMap<String, u32> = report
        .pon_ports
        .iter()
        .filter(|u| u.used > 0)
        .map(|u| (u.code.clone(), u.used))
        .collect();
    assert_eq!(on_ports, per_port);
    assert_eq!(used.values().sum::<u32>(), 11);

    // The page says how many splitters are nearly full, out of how many.
    let tech = t.user("tech", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let page = t
        .page(Method::GET, "/technicien/capacite", Some(&s), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let flagged = report.splitters.iter().filter(|u| u.flagged).count();
    assert!(
        page.text.contains(&format!(
            "{flagged} coupleurs sur {}",
            report.splitters.len()
        )),
        "{}",
        page.text
    );
}
