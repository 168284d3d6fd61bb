//! Unit tests of the vendor profiles (parsing, units, indexes, PON names).
use super::*;
use proptest::prelude::*;

#[test]
fn the_shipped_profiles_parse() {
    let all = Profiles::shipped().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.all().len(), SHIPPED.len());
    let found = all.find(
        ".1.3.6.1.4.1.2011.2.80.8",
        "Huawei Integrated Access Software",
    );
    assert!(found.is_some_and(|p| p.name.contains("Huawei")));
    // Whole sub-identifiers: .2011.20 is not below .2011.2.
    assert!(all.find("1.3.6.1.4.1.2011.20.1", "").is_none());
}

#[test]
fn bad_profiles_are_refused_in_french_with_the_key_named() {
    let base = "name = \"X\"\nsource = \"s\"\n[match]\nsys_object_id = [\"1.3.6\"]\n";
    let cases = [
        (
            "name = \"X\"\nsource = \"s\"\n[match]\nsys_object_id = [\"1.3.x\"]\n",
            "n'est pas un OID",
        ),
        (
            "name = \"X\"\nsource = \"s\"\n[match]\nsys_object_id = []\n",
            "au moins un préfixe",
        ),
        (&format!("{base}[onts]\nindex = \"packed\"\n"), "ont_bits"),
        (
            &format!(
                "{base}[onts]\nindex = \"port_ont\"\n[onts.state]\noid = \"1.2\"\nonline = []\n"
            ),
            "online",
        ),
        (
            &format!("{base}[port_tx]\noid = \"1.2\"\nscale = 0.0\n"),
            "[port_tx]",
        ),
        (&format!("{base}colour = 3\n"), "colour"),
    ];
    for (text, words) in cases {
        match Profile::parse("essai.toml", text) {
            Err(Error::Invalid(m)) => {
                assert!(m.contains("essai.toml") && m.contains(words), "{m}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn a_profile_names_its_pon_ports_and_nothing_else_is_one() {
    use crate::interfaces::PonPosition;
    // The UISP Fiber way: pon1…pon8 on slot 0; its internal 0/3 is no
    // PON port, though the usual names would take it for slot 0 port 3.
    let uisp = PonNames::parse(r"^pon(?P<port>\d+)$", Some(0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        uisp.position("pon3", 1),
        Some(PonPosition { slot: 0, port: 3 })
    );
    assert_eq!(uisp.position("0/3", 1), None);
    assert_eq!(
        PonPosition::guess("0/3"),
        Some(PonPosition { slot: 0, port: 3 })
    );
    let huawei = PonNames::parse(r"^GPON (?P<frame>\d+)/(?P<slot>\d+)/(?P<port>\d+)$", None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        huawei.position("GPON 0/2/7", 1),
        Some(PonPosition { slot: 2, port: 7 })
    );
    assert_eq!(huawei.position("ETH 0/9/0", 1), None);
    for (pattern, slot, words) in [
        (r"^pon(\d+)$", Some(0), "(?P<port>"),
        (r"^pon(?P<port>\d+)$", None, "(?P<slot>"),
        (r"^pon(?P<port>\d+$", Some(0), "expression régulière"),
    ] {
        match PonNames::parse(pattern, slot) {
            Err(m) => assert!(m.contains(words), "{m}"),
            Ok(_) => panic!("{pattern} accepted"),
        }
    }
    let text = "name = \"X\"\nsource = \"s\"\n[match]\nsys_object_id = [\"1.3.6\"]\n[pon_ports]\nname = \"^pon(\\\\d+)$\"\n";
    match Profile::parse("essai.toml", text) {
        Err(Error::Invalid(m)) => {
            assert!(m.contains("essai.toml") && m.contains("(?P<port>"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn measures_convert_units_and_sentinels() {
    let m = |scale: f64, offset: f64, milliwatts: bool, no_signal: Vec<i64>| Measure {
        oid: Oid("1".into()),
        scale,
        offset,
        milliwatts,
        no_signal,
        pattern: None,
    };
    // Huawei OLT Rx of an ONT: (raw - 10000) / 100.
    assert_eq!(
        m(0.01, -100.0, false, vec![]).read(&Value::Int(7600)),
        Some(-24.0)
    );
    assert_eq!(
        m(0.01, 0.0, false, vec![2147483647]).read(&Value::Int(2147483647)),
        None
    );
    // 0.1 dBm, and text values.
    assert_eq!(
        m(0.1, 0.0, false, vec![]).read(&Value::Bytes(b"-215".to_vec())),
        Some(-21.5)
    );
    // Microwatts: 10 µW is -20 dBm; nothing for 0.
    let uw = m(0.001, 0.0, true, vec![]);
    assert!((uw.read(&Value::Int(10)).unwrap_or(0.0) + 20.0).abs() < 1e-9);
    assert_eq!(uw.read(&Value::Int(0)), None);
}

#[test]
fn indexes_decode_as_the_profile_says() {
    let t = |index, ont_bits| OntTable {
        index,
        ont_bits,
        slot_at: None,
        slot: None,
        port: None,
        port_number: None,
        bits: None,
        ont_name: None,
        port_at: None,
        ont_at: None,
        serial: None,
        name: None,
        state: None,
        rx_at_ont: None,
        tx_at_ont: None,
        rx_at_olt: None,
        distance: None,
    };
    assert_eq!(
        t(IndexKind::PortOnt, None).decode("4194304000.7"),
        (Some(4194304000), Some(7))
    );
    assert_eq!(t(IndexKind::PortOnt, None).decode("1.2.3"), (None, None));
    assert_eq!(
        t(IndexKind::Packed, Some(8)).decode("513"),
        (Some(2), Some(1))
    );
    assert_eq!(t(IndexKind::Opaque, None).decode("12.85.66"), (None, None));
    // A column with more after the ONT (ZTE's levels, port.ont.1) names
    // the same ONT as the others.
    let zte = t(IndexKind::PortOnt, None);
    assert_eq!(zte.key("268501248.7.1"), "268501248.7");
    assert_eq!(zte.key("268501248.7"), "268501248.7");
    assert_eq!(t(IndexKind::Opaque, None).key("12.85.66"), "12.85.66");
}

#[test]
fn a_port_number_packs_the_slot_and_port_as_the_profile_says() {
    use crate::interfaces::PonPosition;
    let text = |number: &str| {
        format!(
            "name = \"Z\"\nsource = \"s\"\n[match]\nsys_object_id = [\"1.3.6\"]\n[onts]\nindex = \"port_ont\"\n[onts.port_number]\n{number}"
        )
    };
    // ZTE up to V2.1: 0x1001_0100 is slot 1, port 1 (bits 16-23, 8-15),
    // written here from the numbers of a C320's tables.
    let old = Profile::parse(
        "zte.toml",
        &text("slot = { shift = 16, width = 8 }\nport = { shift = 8, width = 8 }\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = &old.onts[0];
    assert_eq!(
        t.position("268501248.3"),
        Some(PonPosition { slot: 1, port: 1 })
    );
    assert_eq!(
        t.position("268502784.9"),
        Some(PonPosition { slot: 1, port: 7 })
    );
    // From V2.2: slot in bits 8-15, port in bits 0-7 (0x1101_0106 is
    // slot 1, port 6).
    let new = Profile::parse(
        "zte.toml",
        &text("slot = { shift = 8, width = 8 }\nport = { shift = 0, width = 8 }\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        new.onts[0].position("285278470.7"),
        Some(PonPosition { slot: 1, port: 6 })
    );
    // A field wider than the number is refused, in French.
    match Profile::parse(
        "zte.toml",
        &text("slot = { shift = 60, width = 8 }\nport = { shift = 0, width = 8 }\n"),
    ) {
        Err(Error::Invalid(m)) => assert!(m.contains("port_number") && m.contains("width"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_text_pattern_picks_the_number_named_v() {
    let m: Measure =
        toml::from_str("oid = \"1.2\"\npattern = '\\((?P<v>[-+]?[0-9]+(?:[.,][0-9]+)?) ?dBm\\)'\n")
            .unwrap_or_else(|e| panic!("{e}"));
    // V-SOL's texts: the milliwatts first, the dBm in brackets.
    assert_eq!(
        m.read(&Value::Bytes(b"0.03 mW (-14.61 dBm)".to_vec())),
        Some(-14.61)
    );
    assert_eq!(
        m.read(&Value::Bytes(b"2.38 mW (3.77 dBm)".to_vec())),
        Some(3.77)
    );
    assert_eq!(m.read(&Value::Bytes(b"N/A".to_vec())), None);
    // A pattern without its group is refused.
    assert!(toml::from_str::<Measure>("oid = \"1.2\"\npattern = 'dBm'\n").is_err());
}

#[test]
fn several_matches_and_exceptions() {
    let p = Profile::parse(
        "u.toml",
        "name = \"U\"\nsource = \"s\"\n[[match]]\nsys_object_id = [\"1.3.6.1.4.1.41112.1.5\"]\n[[match]]\nsys_object_id = [\"1.3.6.1.4.1.4413\"]\nsys_descr = [\"UISP Fiber\"]\nexcept = [\"1.3.6.1.4.1.4413.9\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.matches("1.3.6.1.4.1.41112.1.5", "EdgeOS v4.4.2"));
    assert!(p.matches(".1.3.6.1.4.1.4413", "UISP Fiber OLT XGS, 4.6.1"));
    // Broadcom's prefix without the words: an EdgeSwitch, not this.
    assert!(!p.matches("1.3.6.1.4.1.4413", "EdgeSwitch 24-Port"));
    assert!(!p.matches("1.3.6.1.4.1.4413.9.1", "UISP Fiber OLT"));
}

#[test]
fn a_regies_profiles_come_first_and_a_bad_one_stops_the_load() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let own = "name = \"SmartAX de la régie\"\nsource = \"essai\"\n[match]\nsys_object_id = [\"1.3.6.1.4.1.2011.2.123\"]\n";
    std::fs::write(dir.path().join("smartax.toml"), own).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("notes.txt"), "not a profile").unwrap_or_else(|e| panic!("{e}"));
    let all = Profiles::with_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.all().len(), SHIPPED.len() + 1);
    let found = all.find(
        "1.3.6.1.4.1.2011.2.123",
        "Huawei Integrated Access Software",
    );
    assert_eq!(found.map(|p| p.name.as_str()), Some("SmartAX de la régie"));
    // Other Huawei access devices keep the shipped profile.
    let other = all.find("1.3.6.1.4.1.2011.2.80", "Huawei Integrated Access Software");
    assert_eq!(
        other.map(|p| p.name.as_str()),
        Some("Huawei SmartAX (GPON)")
    );

    std::fs::write(dir.path().join("zte.toml"), "name = ").unwrap_or_else(|e| panic!("{e}"));
    match Profiles::with_dir(dir.path()) {
        Err(Error::Invalid(m)) => assert!(m.contains("zte.toml"), "{m}"),
        other => panic!("{other:?}"),
    }
    match Profiles::with_dir(&dir.path().join("absent")) {
        Err(Error::Invalid(m)) => assert!(m.starts_with("profils "), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_values_give_their_leading_number() {
    assert_eq!(leading_number("-19.55"), Some(-19.55));
    assert_eq!(leading_number(" -19.55(dBm)"), Some(-19.55));
    assert_eq!(leading_number("-19,55 dBm"), Some(-19.55));
    assert_eq!(leading_number("1234m"), Some(1234.0));
    assert_eq!(leading_number("N/A"), None);
    assert_eq!(leading_number(""), None);
    assert_eq!(leading_number("--1"), None);
}

#[test]
fn a_dotted_index_needs_its_three_positions() {
    let base = "name = \"X\"\nsource = \"s\"\n[match]\nsys_object_id = [\"1.3.6\"]\n[onts]\n";
    for (extra, words) in [
        ("index = \"dotted\"\nslot_at = 2\nport_at = 3\n", "ont_at"),
        (
            "index = \"dotted\"\nslot_at = 0\nport_at = 3\nont_at = 4\n",
            "de 1 à 16",
        ),
        ("index = \"port_ont\"\nslot_at = 2\n", "vont avec index"),
    ] {
        match Profile::parse("essai.toml", &format!("{base}{extra}")) {
            Err(Error::Invalid(m)) => assert!(m.contains(words), "{m}"),
            other => panic!("{extra}: {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn text_values_never_panic(s in ".{0,40}") {
        let _ = leading_number(&s);
    }

    #[test]
    fn oids_never_panic_and_read_back(s in ".{0,40}") {
        if let Ok(o) = Oid::parse(&s) {
            prop_assert_eq!(Oid::parse(o.as_str()), Ok(o.clone()));
        }
    }

    #[test]
    fn dotted_numbers_are_oids(parts in proptest::collection::vec(0u32..100000, 1..20)) {
        let s = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        prop_assert_eq!(Oid::parse(&format!(".{s}")).map(|o| o.0), Ok(s));
    }
}

#[test]
fn identities_read_as_people_write_them() {
    use super::read::identity;
    // A GPON serial: four letters, four bytes.
    assert_eq!(
        identity(&Value::Bytes(vec![
            b'Z', b'T', b'E', b'G', 0xC0, 0xA1, 0xB2, 0xC3
        ]))
        .as_deref(),
        Some("ZTEGC0A1B2C3")
    );
    // An EPON ONU's MAC.
    assert_eq!(
        identity(&Value::Bytes(vec![0xE0, 0x67, 0xB3, 0x00, 0x11, 0x22])).as_deref(),
        Some("e0:67:b3:00:11:22")
    );
    // Text stays text (an 8-letter printable serial too).
    assert_eq!(
        identity(&Value::Bytes(b"UBNT83e923ae".to_vec())).as_deref(),
        Some("UBNT83e923ae")
    );
    assert_eq!(
        identity(&Value::Bytes(b"HWTC1234".to_vec())).as_deref(),
        Some("HWTC1234")
    );
    // Other bytes that are no text: in hexadecimal.
    assert_eq!(
        identity(&Value::Bytes(vec![0xFF, 0xFE, 0x01])).as_deref(),
        Some("FFFE01")
    );
}
