//! Synthetic networks: valid, deterministic, and with real budget failures.

use inventory::budget::{OpticalClass, PlanningLosses, Verdict};
use inventory::{generate, gracethd, trace};

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_seed_same_network_other_seed_other_network() {
    let (a, b, c) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
        tempfile::tempdir().expect("c"),
    );
    let ga = generate::generate(1500, 42, a.path()).expect("generates");
    let gb = generate::generate(1500, 42, b.path()).expect("generates");
    generate::generate(1500, 43, c.path()).expect("generates");
    assert_eq!(ga, gb);
    assert_eq!(files(a.path()), files(b.path()));
    assert_ne!(files(a.path()), files(c.path()));
    assert_eq!(ga.premises, 1500);
    assert_eq!(ga.outlets + ga.drops_to_build, 1500);
    assert!(ga.drops_to_build > 0);
}

#[test]
fn a_generated_network_is_a_valid_delivery_with_paths_that_fail_b_plus() {
    let dir = tempfile::tempdir().expect("dir");
    let g = generate::generate(4000, 7, dir.path()).expect("generates");
    let d = gracethd::load(dir.path()).expect("readable");
    let errors: Vec<_> = d.report.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(d.report.issues.len(), 0, "no warnings either");
    assert_eq!(d.plant.outlets().count() as u32, g.outlets);
    assert_eq!(d.plant.pon_ports.len() as u32, g.pon_ports);
    assert!(g.pms >= 4, "PMs of 300 to 1000 premises");

    let losses = PlanningLosses::default();
    let (mut pass, mut fail, mut agree) = (0, 0, 0);
    for pto in d.plant.outlets() {
        let t =
            trace::upstream(&d.plant, &pto.code, &losses, OpticalClass::GponBPlus).expect("traces");
        assert!(
            t.no_path_reason.is_none(),
            "{}: {:?}",
            pto.code,
            t.no_path_reason
        );
        assert!(
            t.pon_port.is_some() && !t.class_assumed,
            "every path reaches a PON port"
        );
        assert_eq!(
            t.fibres.len(),
            6,
            "drop, branch, distribution, splitter out, splitter in, feeder"
        );
        match t.verdict {
            Some(Verdict::Pass { .. }) => pass += 1,
            Some(Verdict::Fail { worst_hop, .. }) => {
                fail += 1;
                assert!(
                    t.hops[worst_hop].label.contains("PS"),
                    "the splitter costs most"
                );
            }
            None => panic!("no verdict"),
        }
        if matches!(t.route, trace::RouteCheck::Agrees { .. }) {
            agree += 1;
        }
    }
    assert!(fail > 0, "some paths must exceed their budget");
    assert!(pass > fail);
    assert_eq!(agree, 50, "the stored sample routes match the traces");
}

#[test]
fn zero_premises_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(generate::generate(0, 1, dir.path()).is_err());
}

#[test]
fn downstream_of_a_pon_port_is_exactly_the_outlets_whose_trace_ends_there() {
    let dir = tempfile::tempdir().expect("dir");
    generate::generate(2000, 11, dir.path()).expect("generates");
    let d = gracethd::load(dir.path()).expect("readable");
    let losses = PlanningLosses::default();
    let mut by_port: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for pto in d.plant.outlets() {
        let t =
            trace::upstream(&d.plant, &pto.code, &losses, OpticalClass::GponBPlus).expect("traces");
        by_port
            .entry(t.pon_port.expect("port"))
            .or_default()
            .push(pto.code.to_string());
    }
    for (port, mut expected) in by_port {
        expected.sort();
        let down = trace::downstream(&d.plant, trace::From::PonPort(port.clone())).expect("walks");
        assert_eq!(down.outlets, expected, "{port}");
        assert!(
            down.premises.len() >= down.outlets.len(),
            "premises include drops to build"
        );
        assert!(
            down.premises.len() <= 64,
            "no more than a splitter's outputs"
        );
    }
    assert!(trace::downstream(&d.plant, trace::From::PonPort("nope".into())).is_err());
    assert!(trace::downstream(&d.plant, trace::From::Cable("nope".into())).is_err());
}

#[test]
fn eligibility_and_capacity_of_a_generated_network() {
    use inventory::capacity::{self, Eligibility};
    let dir = tempfile::tempdir().expect("dir");
    let g = generate::generate(2500, 5, dir.path()).expect("generates");
    let d = gracethd::load(dir.path()).expect("readable");
    let by_pm = capacity::eligibility_by_pm(&d.plant);
    let connectable: u64 = by_pm.values().map(|c| c.connectable).sum();
    let to_build: u64 = by_pm.values().map(|c| c.drop_to_build).sum();
    assert_eq!(connectable, u64::from(g.outlets));
    assert_eq!(to_build, u64::from(g.drops_to_build));
    assert!(
        !by_pm.contains_key("—"),
        "every premises has a PM: {by_pm:?}"
    );
    assert_eq!(by_pm.len() as u32, g.pms);

    let some_to_build = d
        .plant
        .sufs
        .keys()
        .find(|s| d.plant.outlet_of(s).is_none())
        .expect("a drop to build");
    assert!(matches!(
        capacity::eligibility(&d.plant, some_to_build),
        Ok(Eligibility::DropToBuild { pm: Some(_), .. })
    ));
    assert!(capacity::eligibility(&d.plant, "SF_NOPE").is_err());

    let cap = capacity::capacity(&d.plant, &capacity::InUse::default());
    assert_eq!(cap.pon_ports.len() as u32, g.pon_ports);
    assert_eq!(
        cap.splitters.len() as u32,
        g.pon_ports,
        "one splitter per PON port"
    );
    for u in cap.splitters.iter().chain(&cap.pon_ports) {
        assert!(u.used <= u.capacity, "{u:?}");
        assert_eq!(u.flagged, u.percent >= 80);
    }
    // Splitters are wired in order: all but the last of each PM have
    // every output spliced onward; no line holds any yet.
    assert!(
        cap.splitters
            .iter()
            .filter(|u| u.wired == u.capacity)
            .count()
            > cap.splitters.len() / 2
    );
    assert!(cap.splitters.iter().all(|u| u.used == 0 && !u.flagged));
    assert!(cap
        .pon_ports
        .iter()
        .all(|p| p.capacity == 32 || p.capacity == 64));
}

#[test]
fn generated_addresses_have_hexacles_and_positions() {
    use inventory::capacity;
    let dir = tempfile::tempdir().expect("dir");
    let g = generate::generate(1200, 9, dir.path()).expect("generates");
    let d = gracethd::load(dir.path()).expect("readable");
    assert!(d.report.issues.is_empty(), "{:#?}", d.report.issues);
    assert_eq!(d.plant.addresses.len() as u32, g.premises);
    for a in d.plant.addresses.values() {
        assert!(a.hexacle.as_ref().is_some_and(|h| h.insee() == "99001"));
        let (lon, lat) = a.wgs84().expect("position");
        assert!(
            (-5.0..9.6).contains(&lon) && (41.0..51.2).contains(&lat),
            "{lon} {lat}"
        );
    }
    let by_commune = capacity::eligibility_by_commune(&d.plant);
    let c = &by_commune["99001 REGIE-SUR-FIBRE"];
    assert_eq!(c.connectable + c.drop_to_build, u64::from(g.premises));
}

#[test]
fn an_address_is_found_as_people_type_it() {
    use inventory::search;
    let dir = tempfile::tempdir().expect("dir");
    generate::generate(300, 9, dir.path()).expect("generates");
    let d = gracethd::load(dir.path()).expect("readable");
    let a = d
        .plant
        .addresses
        .values()
        .find(|a| a.number.is_some())
        .expect("an address with a number");
    let number = a.number.as_deref().unwrap_or_default().to_owned();
    // « 2 rue des écoles », as typed: lower case, an accent or not, the
    // street's type abbreviated.
    let street = a.street.to_lowercase().replacen("rue ", "r. ", 1);
    let found = search::addresses(&d.plant, &format!("{number} {street}"));
    assert_eq!(
        found.first().map(|f| f.code.as_str()),
        Some(a.code.as_str()),
        "{number} {street}: {found:?}"
    );
    assert!(found
        .iter()
        .all(|f| f.number.as_deref() == Some(number.as_str())));
    // By its hexaclé or its code, in any case.
    let hexacle = a
        .hexacle
        .as_ref()
        .expect("a hexaclé")
        .as_str()
        .to_lowercase();
    assert_eq!(search::addresses(&d.plant, &hexacle)[0].code, a.code);
    assert_eq!(
        search::addresses(&d.plant, &a.code.to_lowercase())[0].code,
        a.code
    );
    // Without a number, the street's houses, at most ten.
    let street_only = search::addresses(&d.plant, &street);
    assert!(!street_only.is_empty() && street_only.len() <= search::PROPOSED);
    // Nothing for words no street has, nor for nothing.
    assert!(search::addresses(&d.plant, "12 avenue introuvable").is_empty());
    assert!(search::addresses(&d.plant, "   ").is_empty());
    assert!(search::postal(a).contains(a.street.as_str()));
}
