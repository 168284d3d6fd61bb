//! Addresses: hexaclé keys and coordinates.

use serde::{Deserialize, Serialize};

use crate::Error;

/// An address key (hexaclé) as used in IPE files: the INSEE code of the
/// commune (5 characters, `2A`/`2B` for Corsica) followed by 5 alphanumeric
/// characters, e.g. `18003222V4`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hexacle(String);

impl Hexacle {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_uppercase();
        let bad = || {
            Error::Invalid(format!(
                "« {s} » n'est pas un hexaclé (code INSEE puis 5 caractères, ex. 18003222V4)"
            ))
        };
        if s.len() != 10 || !s.is_ascii() {
            return Err(bad());
        }
        let (insee, rest) = s.split_at(5);
        let insee_ok = insee.bytes().all(|b| b.is_ascii_digit())
            || (insee.starts_with("2A") || insee.starts_with("2B"))
                && insee.bytes().skip(2).all(|b| b.is_ascii_digit());
        if !insee_ok || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The INSEE code of the commune.
    pub fn insee(&self) -> &str {
        // Ten ASCII characters (checked by `parse`).
        self.0.get(..5).unwrap_or(&self.0)
    }
}

impl TryFrom<String> for Hexacle {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Hexacle> for String {
    fn from(h: Hexacle) -> String {
        h.0
    }
}

/// Lambert-93 (EPSG:2154) to WGS84 longitude/latitude in degrees.
///
/// The inverse of the Lambert conformal conic projection with two standard
/// parallels (44° and 49° N), origin 46.5° N 3° E at (700 000, 6 600 000) m,
/// on the GRS80 ellipsoid; RGF93 and WGS84 coincide to well under a metre,
/// which is all a map needs.
pub fn lambert93_to_wgs84(x: f64, y: f64) -> (f64, f64) {
    let (n, c, xs, ys) = lambert93_constants();
    let e = grs80_e();
    let dx = x - xs;
    let dy = y - ys;
    let r = (dx * dx + dy * dy).sqrt();
    let gamma = dx.atan2(-dy);
    let lon = 3f64.to_radians() + gamma / n;
    let latiso = -(r / c).ln() / n;
    // Latitude from isometric latitude, by fixed-point iteration.
    let mut lat = 2.0 * latiso.exp().atan() - std::f64::consts::FRAC_PI_2;
    for _ in 0..20 {
        let es = e * lat.sin();
        let next = 2.0 * (((1.0 + es) / (1.0 - es)).powf(e / 2.0) * latiso.exp()).atan()
            - std::f64::consts::FRAC_PI_2;
        if (next - lat).abs() < 1e-12 {
            lat = next;
            break;
        }
        lat = next;
    }
    (lon.to_degrees(), lat.to_degrees())
}

/// WGS84 longitude/latitude in degrees to Lambert-93 (for tests and exports).
pub fn wgs84_to_lambert93(lon: f64, lat: f64) -> (f64, f64) {
    let (n, c, xs, ys) = lambert93_constants();
    let l = isometric_latitude(lat.to_radians(), grs80_e());
    let r = c * (-n * l).exp();
    let gamma = n * (lon.to_radians() - 3f64.to_radians());
    (xs + r * gamma.sin(), ys - r * gamma.cos())
}

fn grs80_e() -> f64 {
    let a = 6_378_137.0f64;
    let f = 1.0 / 298.257_222_101;
    let b = a * (1.0 - f);
    ((a * a - b * b) / (a * a)).sqrt()
}

fn isometric_latitude(lat: f64, e: f64) -> f64 {
    let es = e * lat.sin();
    ((std::f64::consts::FRAC_PI_4 + lat / 2.0).tan() * ((1.0 - es) / (1.0 + es)).powf(e / 2.0)).ln()
}

/// (n, C, Xs, Ys) of Lambert-93, computed from its definition.
fn lambert93_constants() -> (f64, f64, f64, f64) {
    let a = 6_378_137.0f64;
    let e = grs80_e();
    let (p1, p2, p0) = (44f64.to_radians(), 49f64.to_radians(), 46.5f64.to_radians());
    let big_n = |p: f64| a / (1.0 - e * e * p.sin().powi(2)).sqrt();
    let (n1, n2) = (big_n(p1), big_n(p2));
    let (l1, l2) = (isometric_latitude(p1, e), isometric_latitude(p2, e));
    let n = ((n2 * p2.cos()) / (n1 * p1.cos())).ln() / (l1 - l2);
    let c = n1 * p1.cos() / n * (n * l1).exp();
    let l0 = isometric_latitude(p0, e);
    (n, c, 700_000.0, 6_600_000.0 + c * (-n * l0).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hexacle_parse() {
        assert_eq!(
            Hexacle::parse("18003222v4").map(|h| h.0).ok().as_deref(),
            Some("18003222V4")
        );
        assert_eq!(
            Hexacle::parse("2A004ABCDE")
                .map(|h| h.insee().to_owned())
                .ok()
                .as_deref(),
            Some("2A004")
        );
        for bad in [
            "",
            "1800322",
            "18003222V4X",
            "1800A222V4",
            "18003-22V4",
            "2C004ABCDE",
            "18003 22V4",
        ] {
            assert!(Hexacle::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn projection_origin() {
        let (lon, lat) = lambert93_to_wgs84(700_000.0, 6_600_000.0);
        assert!(
            (lon - 3.0).abs() < 1e-9 && (lat - 46.5).abs() < 1e-9,
            "{lon} {lat}"
        );
    }

    #[test]
    fn the_fixture_commune_is_where_it_should_be() {
        // Les Aix-d'Angillon (Cher) is at about 2.565° E, 47.197° N.
        let (lon, lat) = lambert93_to_wgs84(667_452.7, 6_677_769.4);
        assert!(
            (lon - 2.565).abs() < 0.01 && (lat - 47.197).abs() < 0.01,
            "{lon} {lat}"
        );
    }

    proptest! {
        #[test]
        fn round_trip_within_a_millimetre(lon in -5.0f64..9.5, lat in 41.0f64..51.5) {
            let (x, y) = wgs84_to_lambert93(lon, lat);
            let (lon2, lat2) = lambert93_to_wgs84(x, y);
            let (x2, y2) = wgs84_to_lambert93(lon2, lat2);
            prop_assert!((x - x2).abs() < 1e-3 && (y - y2).abs() < 1e-3);
            prop_assert!((lon - lon2).abs() < 1e-8 && (lat - lat2).abs() < 1e-8);
        }
    }
}
