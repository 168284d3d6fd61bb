//! The GraceTHD demo01 fixture (third-party data in ../shared, read in
//! place, never copied into the repository), and broken deliveries made
//! from it in temporary directories to exercise every validation rule.

use std::path::{Path, PathBuf};

use inventory::budget::{OpticalClass, PlanningLosses, Verdict};
use inventory::gracethd::{self, Issue, Severity};
use inventory::plant::Xy;
use inventory::trace::{self, JointKind, RouteCheck, Step};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/gracethd-demo01")
}

#[test]
fn the_fixture_loads_with_warnings_only() {
    let d = gracethd::load(&fixture()).expect("readable");
    let errors: Vec<&Issue> = d.report.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(d.counts["t_fibre.csv"], 1051);
    assert_eq!(d.counts["t_position.csv"], 43);
    assert_eq!(d.plant.outlets().count(), 21);
    assert_eq!(d.plant.sites.len(), 2);

    // Known defect 1: duplicate positions in drawers, ignored with a warning.
    let dup = d
        .report
        .warnings()
        .filter(|w| {
            w.file == "t_position.csv"
                && w.field == "ps_code"
                && w.reason.starts_with("position en double")
        })
        .count();
    assert_eq!(dup, 18);
    assert_eq!(d.plant.positions.len(), 43 - 18);

    // Known defect 2: the stored route 1 lacks one fibre.
    let gap: Vec<&Issue> = d
        .report
        .warnings()
        .filter(|w| w.file == "t_ropt.csv")
        .collect();
    assert_eq!(gap.len(), 1, "{gap:#?}");
    assert_eq!(gap[0].line, 8);
    assert_eq!(gap[0].field, "rt_fo_code");
    assert!(
        gap[0].reason.contains("RT000000000001") && gap[0].reason.contains("FO180030001001"),
        "{}",
        gap[0].reason
    );
}

#[test]
fn every_outlet_is_traced_and_routes_are_compared() {
    let d = gracethd::load(&fixture()).expect("readable");
    let losses = PlanningLosses::default();
    let mut agree = Vec::new();
    let mut differ = Vec::new();
    let mut without_path = 0;
    for pto in d.plant.outlets() {
        let t =
            trace::upstream(&d.plant, &pto.code, &losses, OpticalClass::GponBPlus).expect("trace");
        match &t.route {
            RouteCheck::Agrees { route } => {
                assert_eq!(
                    &d.plant.routes[route], &t.fibres,
                    "agreeing route lists exactly the traced fibres"
                );
                agree.push(route.clone());
            }
            RouteCheck::Differs {
                route,
                missing_from_route,
                not_on_path,
            } => {
                differ.push((
                    route.clone(),
                    missing_from_route.clone(),
                    not_on_path.clone(),
                ));
            }
            RouteCheck::NoStoredRoute => {
                assert!(t.fibres.is_empty());
                assert!(t
                    .no_path_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("raccordement à construire")));
                without_path += 1;
            }
        }
        if !t.fibres.is_empty() {
            assert_eq!(t.origin.as_deref(), Some("NRO (tiroir TI000180030502)"));
            let splitters: Vec<_> = t
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Joint {
                        position,
                        element: JointKind::Splitter { outputs },
                        ..
                    } => Some((position.clone(), *outputs)),
                    _ => None,
                })
                .collect();
            assert_eq!(splitters.len(), 1, "one splitter at the PM");
            assert!(splitters[0].0.starts_with("PS18003051500"), "{splitters:?}");
            assert_eq!(splitters[0].1, 4, "four outputs used at the PM splitter");
            assert_eq!(t.hops.len(), t.steps.len());
            // Short demo cables: the loss is joints and the 1:4 splitter.
            assert!(
                matches!(t.verdict, Some(Verdict::Pass { .. })),
                "{:?}",
                t.verdict
            );
            assert_eq!(t.total, t.hops.iter().map(|h| h.loss).sum());
        }
    }
    agree.sort();
    assert_eq!(
        agree,
        vec!["RT000000000002", "RT000000000003", "RT000000000004"]
    );
    assert_eq!(
        differ,
        vec![(
            "RT000000000001".to_owned(),
            vec!["FO180030001001".to_owned()],
            vec![]
        )]
    );
    assert_eq!(without_path, 17);
}

#[test]
fn drop_cable_length_comes_from_the_cable_lines() {
    let d = gracethd::load(&fixture()).expect("readable");
    let drop = &d.plant.cables["CB000180034417"];
    let m = drop.length_m.expect("length from t_cableline");
    assert!((m - 6.989974).abs() < 1e-3, "{m}: kept to the millimetre");
    assert_eq!(
        d.plant.cables["CB001800300071"].length_m, None,
        "patch cords have no length"
    );
}

/// A copy of the fixture in a temporary directory, with `edit` applied to
/// the decoded text of one file.
fn broken(file: &str, edit: impl FnOnce(&mut Vec<String>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(fixture()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    let path = dir.path().join(file);
    let bytes = std::fs::read(&path).expect("read");
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let text = lines.join("\n") + "\n";
    let (out, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    std::fs::write(&path, &out).expect("write");
    dir
}

/// Sets column `col` of line `line` (1-based, header is 1).
fn set(lines: &mut [String], line: usize, col: &str, value: &str) {
    let header: Vec<&str> = lines[0].split(';').collect();
    let i = header.iter().position(|h| *h == col).expect("column");
    let mut fields: Vec<String> = lines[line - 1].split(';').map(str::to_owned).collect();
    fields[i] = value.to_owned();
    lines[line - 1] = fields.join(";");
}

fn only_error(dir: &Path) -> Issue {
    let d = gracethd::load(dir).expect("readable");
    let errors: Vec<Issue> = d.report.errors().cloned().collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].severity, Severity::Error);
    errors[0].clone()
}

#[test]
fn unknown_code_in_a_value_list() {
    let dir = broken("t_position.csv", |l| set(l, 5, "ps_type", "XYZ"));
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_position.csv", 5, "ps_type")
    );
    assert!(
        e.reason.contains("XYZ") && e.reason.contains("l_position_type"),
        "{}",
        e.reason
    );
}

#[test]
fn dangling_reference() {
    let dir = broken("t_fibre.csv", |l| set(l, 3, "fo_cb_code", "CB999999999999"));
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_fibre.csv", 3, "fo_cb_code")
    );
    assert!(
        e.reason.contains("CB999999999999") && e.reason.contains("t_cable"),
        "{}",
        e.reason
    );
}

#[test]
fn duplicate_code() {
    let dir = broken("t_cable.csv", |l| {
        let copy = l[2].clone();
        l.push(copy);
    });
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_cable.csv", 51, "cb_code")
    );
    assert!(
        e.reason.contains("en double (déjà ligne 3)"),
        "{}",
        e.reason
    );
}

#[test]
fn position_joining_a_fibre_to_itself() {
    let dir = broken("t_position.csv", |l| set(l, 2, "ps_2", "FO180030329001"));
    let d = gracethd::load(dir.path()).expect("readable");
    let e = d
        .report
        .errors()
        .find(|e| e.reason.contains("elle-même"))
        .expect("reported")
        .clone();
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_position.csv", 2, "ps_2")
    );
}

#[test]
fn fibre_used_twice_as_an_output() {
    // Line 3 feeds FO180034417002 from FO180030329002; make line 4's output
    // that same fibre, from another input.
    let dir = broken("t_position.csv", |l| set(l, 4, "ps_2", "FO180034417002"));
    let d = gracethd::load(dir.path()).expect("readable");
    let e = d
        .report
        .errors()
        .find(|e| e.reason.contains("déjà une sortie"))
        .expect("reported")
        .clone();
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_position.csv", 4, "ps_2")
    );
    assert!(e.reason.contains("ligne 3"), "{}", e.reason);
}

#[test]
fn missing_file_and_missing_column() {
    let dir = broken("t_fibre.csv", |_| {});
    std::fs::remove_file(dir.path().join("t_fibre.csv")).expect("remove");
    let e = only_error(dir.path());
    assert_eq!((e.file.as_str(), e.line), ("t_fibre.csv", 0));
    assert!(e.reason.contains("absent"));

    let dir = broken("t_cassette.csv", |l| {
        l[0] = l[0].replace("cs_bp_code", "cs_bp")
    });
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_cassette.csv", 1, "cs_bp_code")
    );
}

#[test]
fn wrong_number_of_fields_and_bad_numbers() {
    let dir = broken("t_cable.csv", |l| l[4].push_str(";extra"));
    let d = gracethd::load(dir.path()).expect("readable");
    // The malformed row is left out, so references to its cable are
    // reported too; the first error names the cause.
    let e = d.report.errors().next().expect("an error").clone();
    assert_eq!((e.file.as_str(), e.line), ("t_cable.csv", 5));
    assert!(e.reason.contains("champs"), "{}", e.reason);

    let dir = broken("t_cable.csv", |l| set(l, 2, "cb_capafo", "beaucoup"));
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_cable.csv", 2, "cb_capafo")
    );

    let dir = broken("t_cable.csv", |l| set(l, 2, "cb_lgreel", "-3"));
    let e = only_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        ("t_cable.csv", 2, "cb_lgreel")
    );
}

#[test]
fn not_a_directory() {
    assert!(gracethd::load(Path::new("/nonexistent/livraison")).is_err());
}

fn with_extension(pon: &str, splitter: &str) -> tempfile::TempDir {
    let dir = broken("t_cable.csv", |_| {});
    std::fs::write(
        dir.path().join("x_pon.csv"),
        format!(
            "pon_code;olt_code;olt_model;st_code;slot;port;optical_class;max_onts;fo_code\n{pon}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("x_splitter.csv"),
        format!("fo_code_in;ratio;loss_db\n{splitter}\n"),
    )
    .expect("write");
    dir
}

#[test]
fn the_extension_gives_the_pon_port_class_and_measured_splitter_loss() {
    let dir = with_extension(
        "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;C+;128;FO180030257101",
        "FO180030227101;8;10,2",
    );
    let d = gracethd::load(dir.path()).expect("readable");
    assert!(!d.report.has_errors(), "{:#?}", d.report.issues);
    let t = trace::upstream(
        &d.plant,
        "BP000180031092",
        &PlanningLosses::default(),
        OpticalClass::GponBPlus,
    )
    .expect("trace");
    assert_eq!(t.pon_port.as_deref(), Some("OLT1-1/0"));
    assert_eq!(t.class, OpticalClass::GponCPlus);
    assert!(!t.class_assumed);
    let splitter = t
        .steps
        .iter()
        .zip(&t.hops)
        .find(|(s, _)| {
            matches!(
                s,
                Step::Joint {
                    element: JointKind::Splitter { .. },
                    ..
                }
            )
        })
        .expect("a splitter");
    assert_eq!(
        splitter.0,
        &Step::Joint {
            position: "PS180030515003".into(),
            place: "SRO PM7 (tiroir TI000180030515)".into(),
            element: JointKind::Splitter { outputs: 8 },
        }
    );
    assert!(splitter.1.measured);
    assert_eq!(splitter.1.loss, inventory::budget::MilliDb(10_200));
}

#[test]
fn extension_errors_name_file_line_and_field() {
    let cases = [
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;D+;128;FO180030257101",
            "FO180030227101;8;",
            "x_pon.csv",
            "optical_class",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;B+;128;FO999",
            "FO180030227101;8;",
            "x_pon.csv",
            "fo_code",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST999;1;0;B+;128;FO180030257101",
            "FO180030227101;8;",
            "x_pon.csv",
            "st_code",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;B+;999;FO180030257101",
            "FO180030227101;8;",
            "x_pon.csv",
            "max_onts",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;B+;128;FO180030257101",
            "FO180030227101;2;",
            "x_splitter.csv",
            "ratio",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;B+;128;FO180030257101",
            "FO180030227101;12;",
            "x_splitter.csv",
            "ratio",
        ),
        (
            "OLT1-1/0;OLT1;MA5800;ST200180030001;1;0;B+;128;FO180030257101",
            "FO180030227101;8;beaucoup",
            "x_splitter.csv",
            "loss_db",
        ),
    ];
    for (pon, splitter, file, field) in cases {
        let dir = with_extension(pon, splitter);
        let e = only_error(dir.path());
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_str()),
            (file, 2, field),
            "{pon} / {splitter}: {e}"
        );
    }
}

#[test]
fn downstream_of_the_pm_splitter_and_of_a_feeder_cable() {
    let d = gracethd::load(&fixture()).expect("readable");
    let s =
        trace::downstream(&d.plant, trace::From::Splitter("FO180030227101".into())).expect("walks");
    assert_eq!(
        s.outlets,
        vec![
            "BP000180031092",
            "BP000180031284",
            "BP000180031330",
            "BP001180031330"
        ]
    );
    assert_eq!(s.premises.len(), 4);
    // The NRO-side cable carries everything the splitter serves.
    let c =
        trace::downstream(&d.plant, trace::From::Cable("CB000180030003".into())).expect("walks");
    assert_eq!(c.outlets, s.outlets);
    // A drop cable: the outlets its fibres serve, and no other.
    let drop =
        trace::downstream(&d.plant, trace::From::Cable("CB000180034417".into())).expect("walks");
    assert_eq!(drop.outlets, vec!["BP000180031330", "BP001180031330"]);
    assert!(
        trace::downstream(&d.plant, trace::From::Splitter("FO180030329001".into())).is_err(),
        "not a splitter"
    );
}

#[test]
fn addresses_load_with_hexacle_and_coordinates() {
    use inventory::capacity::{self, Eligibility};
    let d = gracethd::load(&fixture()).expect("readable");
    assert_eq!(d.plant.addresses.len(), 16);
    let a = &d.plant.addresses["AD000180031091"];
    assert_eq!(a.hexacle.as_ref().map(|h| h.as_str()), Some("18003222V4"));
    assert_eq!(
        a.label(),
        "4 RUE DU VOEU DE VILLE, 18220 LES AIX D ANGILLON"
    );
    let (lon, lat) = a.wgs84().expect("position");
    assert!(
        (lon - 2.565).abs() < 0.01 && (lat - 47.197).abs() < 0.01,
        "{lon} {lat}"
    );

    let at = capacity::eligibility_at(&d.plant, "18003222v4").expect("found");
    assert_eq!(at.len(), 1);
    assert!(matches!(at[0].1, Eligibility::NotCovered { .. }));
    let connectable = d.plant.sufs["SF000180031330"]
        .address
        .clone()
        .expect("address");
    let at = capacity::eligibility_at(&d.plant, &connectable).expect("found");
    assert!(at
        .iter()
        .any(|(s, e)| s == "SF000180031330" && matches!(e, Eligibility::Connectable { .. })));
    assert!(capacity::eligibility_at(&d.plant, "AD_NOPE").is_err());

    let by_commune = capacity::eligibility_by_commune(&d.plant);
    let aix = &by_commune["18003 LES AIX D ANGILLON"];
    assert_eq!(
        (aix.connectable, aix.drop_to_build, aix.not_covered),
        (4, 0, 17)
    );
}

#[test]
fn ipe_and_geojson_exports() {
    let d = gracethd::load(&fixture()).expect("readable");
    let csv = inventory::export::ipe_csv(&d.plant).expect("exports");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().map(|h| h.split(';').count()),
        Some(inventory::export::IPE_COLUMNS.len())
    );
    assert!(
        csv.starts_with("IdentifiantImmeuble;CodeAdresseImmeuble;EtatImmeuble;CodeInseeImmeuble")
    );
    assert_eq!(csv.lines().count(), 17, "a header and 16 addresses");
    let first = csv
        .lines()
        .find(|l| l.starts_with("AD000180031091;"))
        .expect("row");
    assert!(
        first.contains(";18003222V4;CI;18003;18220;LES AIX D ANGILLON;4;;RUE DU VOEU DE VILLE;"),
        "{first}"
    );
    let connectable = d.plant.sufs["SF000180031330"]
        .address
        .clone()
        .expect("address");
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("{connectable};")))
        .expect("row");
    let header: Vec<&str> = csv.lines().next().expect("header").split(';').collect();
    let field = |name: &str| {
        let i = header.iter().position(|h| *h == name).expect("column");
        row.split(';').nth(i).unwrap_or_default().to_owned()
    };
    assert_eq!(field("ReferencePM"), "PM7");
    assert_eq!(field("EtatPM"), "DEPLOYE");
    assert_eq!(field("TypePBO"), "PBO");
    assert_eq!(field("TypeEmplacementPM"), "PME");
    assert_eq!(field("TypeProjectionGeographique"), "EPSG:2154");
    // Four dwellings: a building; the PM's position is its site's node.
    assert_eq!(field("NombreLogementsAdresseIPE"), "4");
    assert_eq!(field("TypeImmeuble"), "IMMEUBLE");
    assert_eq!(
        (field("CoordonneePMX"), field("CoordonneePMY")),
        ("667533.16".to_owned(), "6677814.83".to_owned())
    );

    let geo = inventory::export::addresses_geojson(&d.plant);
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().expect("features");
    assert_eq!(features.len(), 16);
    let lon = features[0]["geometry"]["coordinates"][0]
        .as_f64()
        .expect("lon");
    let lat = features[0]["geometry"]["coordinates"][1]
        .as_f64()
        .expect("lat");
    assert!(
        (2.5..2.7).contains(&lon) && (47.1..47.3).contains(&lat),
        "{lon} {lat}"
    );
}

/// The plant's GeoJSON has every positioned site, box, cable and address,
/// each feature saying its layer.
#[test]
fn plant_geojson_has_sites_boxes_cables_and_addresses() {
    let d = gracethd::load(&fixture()).expect("readable");
    let geo = inventory::export::plant_geojson(&d.plant);
    let features = geo["features"].as_array().expect("features");
    let layer = |name: &str| {
        features
            .iter()
            .filter(|f| f["properties"]["layer"] == name)
            .collect::<Vec<_>>()
    };
    assert_eq!(layer("site").len(), 2);
    assert_eq!(layer("box").len(), 6);
    assert_eq!(layer("cable").len(), 22);
    assert_eq!(layer("address").len(), 16);
    assert_eq!(features.len(), 46);
    let nro = layer("site")
        .into_iter()
        .find(|f| f["properties"]["code"] == "ST200180030001")
        .expect("the NRO");
    assert_eq!(nro["geometry"]["type"], "Point");
    let (lon, lat) = Xy {
        x_cm: 66_765_737,
        y_cm: 667_774_136,
    }
    .wgs84();
    assert_eq!(
        nro["geometry"]["coordinates"],
        serde_json::json!([(lon * 1e6).round() / 1e6, (lat * 1e6).round() / 1e6])
    );
    let cable = layer("cable")
        .into_iter()
        .find(|f| f["properties"]["code"] == "CB000180030001")
        .expect("a cable");
    assert_eq!(cable["geometry"]["type"], "LineString");
    assert_eq!(
        cable["geometry"]["coordinates"].as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn export_then_import_gives_the_same_plant() {
    let d = gracethd::load(&fixture()).expect("readable");
    let out = tempfile::tempdir().expect("dir");
    inventory::export::gracethd(&d.plant, out.path()).expect("exports");
    // The layout of a shpcsv delivery: geometry tables as shapefiles.
    for file in [
        "t_adresse.shp",
        "t_adresse.dbf",
        "t_noeud.shp",
        "t_noeud.prj",
        "t_cableline.shp",
        "t_ptech.csv",
    ] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    assert!(!out.path().join("t_adresse.csv").exists());
    let back = gracethd::load(out.path()).expect("readable");
    assert!(!back.report.has_errors(), "{:#?}", back.report.issues);
    let (a, b) = (&d.plant, &back.plant);
    assert_eq!(a.sites, b.sites);
    assert_eq!(a.rooms, b.rooms);
    assert_eq!(a.racks, b.racks);
    assert_eq!(a.drawers, b.drawers);
    assert_eq!(a.enclosures, b.enclosures);
    assert_eq!(a.cassettes, b.cassettes);
    assert_eq!(a.fibres, b.fibres);
    assert_eq!(a.positions, b.positions);
    assert_eq!(a.sufs, b.sufs);
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.addresses, b.addresses);
    assert_eq!(a.cables.len(), b.cables.len());
    for (code, c) in a.cables.iter() {
        let m = |x: Option<f64>| x.map(|v| (v * 1000.0).round() as i64);
        assert_eq!(m(c.length_m), m(b.cables[code].length_m), "{code}");
        assert_eq!(
            (&c.label, c.capacity, &c.path),
            (
                &b.cables[code].label,
                b.cables[code].capacity,
                &b.cables[code].path
            )
        );
    }
    // The traces are the same too.
    for pto in a.outlets() {
        let x = trace::upstream(
            a,
            &pto.code,
            &PlanningLosses::default(),
            OpticalClass::GponBPlus,
        )
        .expect("trace");
        let y = trace::upstream(
            b,
            &pto.code,
            &PlanningLosses::default(),
            OpticalClass::GponBPlus,
        )
        .expect("trace");
        // Lengths come back rounded to the millimetre; everything the trace
        // concludes is the same.
        assert_eq!(
            (&x.fibres, &x.hops, &x.verdict, &x.route, &x.origin),
            (&y.fibres, &y.hops, &y.verdict, &y.route, &y.origin)
        );
    }
}

#[test]
fn generated_network_round_trips_with_its_extension() {
    let src = tempfile::tempdir().expect("dir");
    inventory::generate::generate(800, 3, src.path()).expect("generates");
    let d = gracethd::load(src.path()).expect("readable");
    let out = tempfile::tempdir().expect("dir");
    inventory::export::gracethd(&d.plant, out.path()).expect("exports");
    let back = gracethd::load(out.path()).expect("readable");
    assert!(back.report.issues.is_empty(), "{:#?}", back.report.issues);
    assert_eq!(d.plant.pon_ports, back.plant.pon_ports);
    assert_eq!(d.plant.splitters, back.plant.splitters);
    assert_eq!(d.plant.positions, back.plant.positions);
}

/// Sites stand on their node (`st_nd_code`), boxes on their technical
/// point's node (`bp_pt_code` → `t_ptech`), cables follow their cable lines.
#[test]
fn sites_boxes_and_cables_have_their_positions() {
    let d = gracethd::load(&fixture()).expect("readable");
    let p = &d.plant;
    let nro = p.sites["ST200180030001"].point.expect("the NRO has a node");
    assert_eq!(
        nro,
        Xy {
            x_cm: 66_765_737,
            y_cm: 667_774_136
        }
    );
    // In the Cher, where the sample network lies.
    let (lon, lat) = nro.wgs84();
    assert!(
        (2.57..2.58).contains(&lon) && (47.19..47.20).contains(&lat),
        "{lon} {lat}"
    );
    assert_eq!(p.sites.values().filter(|s| s.point.is_some()).count(), 2);
    // Only the boxes on one of the nine technical points have a position.
    let boxed: Vec<&str> = p
        .enclosures
        .values()
        .filter(|e| e.point.is_some())
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(boxed.len(), 6, "{boxed:?}");
    assert!(boxed.contains(&"BP000180030091"));
    // The 22 cable lines give 22 cables a path; their first one, three
    // vertices.
    assert_eq!(p.cables.values().filter(|c| c.path.len() >= 2).count(), 22);
    assert_eq!(p.cables["CB000180030001"].path.len(), 3);
    assert_eq!(
        p.cables["CB000180030001"].path[0],
        Xy {
            x_cm: 66_753_125,
            y_cm: 667_781_045
        }
    );
}

/// A site on an unknown node is imported without a position, with a
/// warning naming the row; a broken geometry never refuses a delivery.
#[test]
fn a_missing_node_is_a_warning() {
    let dir = broken("t_sitetech.csv", |l| set(l, 2, "st_nd_code", "ND_NOPE"));
    let d = gracethd::load(dir.path()).expect("readable");
    assert!(!d.report.has_errors(), "{:#?}", d.report);
    let w = d
        .report
        .warnings()
        .find(|w| w.file == "t_sitetech.csv")
        .expect("a warning");
    assert_eq!((w.line, w.field.as_str()), (2, "st_nd_code"));
    assert!(w.reason.contains("ND_NOPE"), "{}", w.reason);
    assert_eq!(d.plant.sites["ST200180030001"].point, None);
}
