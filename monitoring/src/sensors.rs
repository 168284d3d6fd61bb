//! ENTITY-SENSOR-MIB (RFC 3433): the values of a device's physical sensors
//! (temperatures, voltages, fan speeds, optical levels), where the device
//! has the table. A sensor is named by its ENTITY-MIB `entPhysicalName`,
//! or its index when the device gives no name.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::snmp::Snmp;
use crate::Error;

/// entPhySensorEntry: type (1), scale (2), precision (3), value (4),
/// operational status (5).
const SENSOR_ENTRY: &str = "1.3.6.1.2.1.99.1.1.1";
const PHYSICAL_NAME: &str = "1.3.6.1.2.1.47.1.1.1.1.7";
/// Names asked per GET request.
const NAMES_PER_GET: usize = 20;

/// One sensor's reading, in the unit its type gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensor {
    pub index: u32,
    pub name: String,
    /// `celsius`, `volts_dc`, `rpm`, `dbm`… (RFC 3433 EntitySensorDataType).
    pub unit: &'static str,
    pub value: f64,
    /// The sensor works (entPhySensorOperStatus ok(1)).
    pub ok: bool,
}

/// The unit of an EntitySensorDataType.
pub fn unit(data_type: i64) -> &'static str {
    match data_type {
        3 => "volts_ac",
        4 => "volts_dc",
        5 => "amperes",
        6 => "watts",
        7 => "hertz",
        8 => "celsius",
        9 => "percent_rh",
        10 => "rpm",
        11 => "cmm",
        12 => "truthvalue",
        13 => "special_enum",
        14 => "dbm",
        _ => "other",
    }
}

/// The reading of a raw value: `value × 10^(3·(scale−9)) ÷ 10^precision`
/// (scale 9 is units, 8 milli, 10 kilo…). Nonsense scales or precisions
/// give nothing rather than a wild number.
pub fn scaled(raw: i64, scale: i64, precision: i64) -> Option<f64> {
    if !(1..=17).contains(&scale) || !(-8..=9).contains(&precision) {
        return None;
    }
    let exponent = i32::try_from(3 * (scale - 9) - precision).ok()?;
    // An i64 reading is far inside f64's exact range for sensor values.
    #[allow(clippy::cast_precision_loss)]
    let raw = raw as f64;
    // Dividing by a power of ten keeps 3300 mV at exactly 3.3 V, where
    // multiplying by 10⁻³ would not.
    Some(if exponent < 0 {
        raw / 10f64.powi(-exponent)
    } else {
        raw * 10f64.powi(exponent)
    })
}

#[derive(Default)]
struct Row {
    data_type: Option<i64>,
    scale: Option<i64>,
    precision: Option<i64>,
    value: Option<i64>,
    status: Option<i64>,
}

/// The device's sensors; none when it has no ENTITY-SENSOR table (or a
/// broken one: rows without an index or a value are left out).
pub async fn poll(snmp: &dyn Snmp) -> Result<Vec<Sensor>, Error> {
    let mut rows: BTreeMap<u32, Row> = BTreeMap::new();
    for (oid, value) in snmp.walk(SENSOR_ENTRY).await? {
        let Some(rest) = oid
            .trim_start_matches('.')
            .strip_prefix(SENSOR_ENTRY)
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        let Some((column, index)) = rest.split_once('.') else {
            continue;
        };
        let (Ok(column), Ok(index)) = (column.parse::<u32>(), index.parse::<u32>()) else {
            continue;
        };
        let row = rows.entry(index).or_default();
        let v = value.as_i64();
        match column {
            1 => row.data_type = v,
            2 => row.scale = v,
            3 => row.precision = v,
            4 => row.value = v,
            5 => row.status = v,
            _ => {}
        }
    }
    let mut sensors: Vec<Sensor> = rows
        .into_iter()
        .filter_map(|(index, r)| {
            Some(Sensor {
                index,
                name: index.to_string(),
                unit: unit(r.data_type.unwrap_or(1)),
                value: scaled(r.value?, r.scale.unwrap_or(9), r.precision.unwrap_or(0))?,
                ok: r.status == Some(1),
            })
        })
        .collect();
    for chunk in sensors.chunks_mut(NAMES_PER_GET) {
        let oids: Vec<String> = chunk
            .iter()
            .map(|s| format!("{PHYSICAL_NAME}.{}", s.index))
            .collect();
        let refs: Vec<&str> = oids.iter().map(String::as_str).collect();
        let names = snmp.get(&refs).await?;
        for (s, name) in chunk.iter_mut().zip(names) {
            if let Some(n) = name.as_text().filter(|n| !n.trim().is_empty()) {
                s.name = n.trim().to_owned();
            }
        }
    }
    Ok(sensors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::Value;

    /// An agent answering from a fixed list of (OID, value).
    struct Table(Vec<(&'static str, Value)>);

    #[async_trait::async_trait]
    impl Snmp for Table {
        async fn walk(&self, oid: &str) -> Result<Vec<(String, Value)>, Error> {
            Ok(self
                .0
                .iter()
                .filter(|(o, _)| o.starts_with(&format!("{oid}.")))
                .map(|(o, v)| ((*o).to_owned(), v.clone()))
                .collect())
        }
        async fn get(&self, oids: &[&str]) -> Result<Vec<Value>, Error> {
            Ok(oids
                .iter()
                .map(|o| {
                    self.0
                        .iter()
                        .find(|(k, _)| k == o)
                        .map_or(Value::Missing, |(_, v)| v.clone())
                })
                .collect())
        }
    }

    #[test]
    fn scales_and_precisions_follow_rfc_3433() {
        assert_eq!(scaled(425, 9, 1), Some(42.5));
        assert_eq!(scaled(12_050, 8, 0), Some(12.05)); // millivolts
        assert_eq!(scaled(-734, 9, 2), Some(-7.34));
        assert_eq!(scaled(3, 10, 0), Some(3000.0)); // kilo
        assert_eq!(scaled(1, 0, 0), None);
        assert_eq!(scaled(1, 9, 10), None);
    }

    #[tokio::test]
    async fn a_table_gives_named_sensors_in_their_units() {
        let t = Table(vec![
            ("1.3.6.1.2.1.99.1.1.1.1.11", Value::Int(8)),
            ("1.3.6.1.2.1.99.1.1.1.1.12", Value::Int(4)),
            ("1.3.6.1.2.1.99.1.1.1.2.11", Value::Int(9)),
            ("1.3.6.1.2.1.99.1.1.1.2.12", Value::Int(8)),
            ("1.3.6.1.2.1.99.1.1.1.3.11", Value::Int(1)),
            ("1.3.6.1.2.1.99.1.1.1.3.12", Value::Int(0)),
            ("1.3.6.1.2.1.99.1.1.1.4.11", Value::Int(431)),
            ("1.3.6.1.2.1.99.1.1.1.4.12", Value::Int(3300)),
            ("1.3.6.1.2.1.99.1.1.1.5.11", Value::Int(1)),
            ("1.3.6.1.2.1.99.1.1.1.5.12", Value::Int(3)),
            (
                "1.3.6.1.2.1.47.1.1.1.1.7.11",
                Value::Bytes(b"Carte 1 temperature".to_vec()),
            ),
        ]);
        let s = poll(&t).await.unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].name.as_str(), s[0].unit, s[0].value, s[0].ok),
            ("Carte 1 temperature", "celsius", 43.1, true)
        );
        assert_eq!(
            (s[1].name.as_str(), s[1].unit, s[1].value, s[1].ok),
            ("12", "volts_dc", 3.3, false)
        );
    }

    #[tokio::test]
    async fn rows_without_index_or_value_are_left_out() {
        // As in the Nokia ISAM recording: columns with no index at all.
        let t = Table(vec![
            ("1.3.6.1.2.1.99.1.1.1.2", Value::Int(6)),
            ("1.3.6.1.2.1.99.1.1.1.1.7", Value::Int(8)),
            ("1.3.6.1.2.1.99.1.1.1.x.7", Value::Int(8)),
        ]);
        assert!(poll(&t).await.unwrap().is_empty());
    }
}
