//! Exports: an address file with IPE column names, and GeoJSON (WGS84).

use serde_json::json;

use crate::capacity::{eligibility, Eligibility};
use crate::plant::Plant;
use crate::Error;

/// IPE columns written (a subset of the Interop'Fibre IPE layout: the
/// address, its building state and its PM and PBO).
pub const IPE_COLUMNS: &[&str] = &[
    "IdentifiantImmeuble",
    "CodeAdresseImmeuble",
    "EtatImmeuble",
    "CodeInseeImmeuble",
    "CodePostalImmeuble",
    "CommuneImmeuble",
    "NumeroVoieImmeuble",
    "ComplementNumeroVoieImmeuble",
    "NomVoieImmeuble",
    "IdentifiantBAN",
    "CoordonneeImmeubleX",
    "CoordonneeImmeubleY",
    "ReferencePM",
    "EtatPM",
    "TypePBO",
    "NombreLogementsAdresseIPE",
];

/// One address's PM reference and PBO type, from its premises.
fn pm_and_pbo(plant: &Plant, address: &str) -> (String, String, &'static str) {
    let mut pm = String::new();
    let mut pbo = "";
    let mut state = "";
    for suf in plant
        .sufs
        .values()
        .filter(|s| s.address.as_deref() == Some(address))
    {
        match eligibility(plant, &suf.code) {
            Ok(Eligibility::Connectable { pm: Some(p), .. }) => {
                pm = p;
                pbo = "PBO";
                state = "DEPLOYE";
            }
            Ok(Eligibility::DropToBuild { pm: Some(p), .. }) if pm.is_empty() => {
                pm = p;
                pbo = "PBO";
                state = "DEPLOYE";
            }
            _ => {}
        }
    }
    if pm.is_empty() {
        state = "";
    }
    (pm, state.to_owned(), pbo)
}

/// The address file, `;`-separated UTF-8 with a header line.
pub fn ipe_csv(plant: &Plant) -> Result<String, Error> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::Invalid(format!("export : {e}"));
    w.write_record(IPE_COLUMNS).map_err(io)?;
    for a in plant.addresses.values() {
        let (pm, pm_state, pbo) = pm_and_pbo(plant, &a.code);
        let (x, y) = match (a.x_cm, a.y_cm) {
            (Some(x), Some(y)) => (
                format!("{:.2}", x as f64 / 100.0),
                format!("{:.2}", y as f64 / 100.0),
            ),
            _ => (String::new(), String::new()),
        };
        w.write_record([
            a.code.as_str(),
            a.hexacle.as_ref().map(|h| h.as_str()).unwrap_or(""),
            a.state.as_str(),
            a.insee.as_str(),
            a.postcode.as_str(),
            a.commune.as_str(),
            a.number.as_deref().unwrap_or(""),
            a.repetition.as_deref().unwrap_or(""),
            a.street.as_str(),
            a.ban_id.as_deref().unwrap_or(""),
            &x,
            &y,
            &pm,
            &pm_state,
            pbo,
            &a.dwellings.to_string(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("export : {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("export : {e}")))
}

/// Addresses as a GeoJSON FeatureCollection in WGS84 (RFC 7946), with their
/// eligibility, for maps.
pub fn addresses_geojson(plant: &Plant) -> serde_json::Value {
    let features: Vec<serde_json::Value> = plant
        .addresses
        .values()
        .filter_map(|a| {
            let (lon, lat) = a.wgs84()?;
            let statuses: Vec<&str> = plant
                .sufs
                .values()
                .filter(|s| s.address.as_deref() == Some(a.code.as_str()))
                .map(|s| match eligibility(plant, &s.code) {
                    Ok(Eligibility::Connectable { .. }) => "connectable",
                    Ok(Eligibility::DropToBuild { .. }) => "drop_to_build",
                    _ => "not_covered",
                })
                .collect();
            Some(json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [round6(lon), round6(lat)] },
                "properties": {
                    "code": a.code,
                    "hexacle": a.hexacle.as_ref().map(|h| h.as_str()),
                    "label": a.label(),
                    "dwellings": a.dwellings,
                    "premises": statuses,
                }
            }))
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
