//! GPON optics read from the OLTs' own MIBs: per-ONT/ONU state and optical
//! levels, and the PON ports' transceivers.
//!
//! - Ubiquiti UFiber (UBNT-UFIBER-MIB): the ONU table
//!   `.1.3.6.1.4.1.41112.1.5.6.2.1`, indexed by the ONU serial as a
//!   length-prefixed string; received and transmitted power in 0.01 dBm.
//! - Huawei SmartAX (HUAWEI-XPON-MIB): per-ONT received power
//!   (`hwGponOntOpticalDdmRxPower`, 0.01 dBm) and run state, indexed by the
//!   PON port's ifIndex and the ONT id; the PON port transceiver's
//!   transmitted power (0.01 dBm) by ifIndex.
//!
//! These walks are heavy for an OLT: the poller runs them on a slower
//! cycle than interfaces.

use serde::Serialize;

use crate::snmp::{Snmp, Value};
use crate::Error;

const UFIBER_ONUS: &str = "1.3.6.1.4.1.41112.1.5.6.2.1";
const HUAWEI_ONT_RX: &str = "1.3.6.1.4.1.2011.6.128.1.1.2.51.1.4";
const HUAWEI_ONT_RUN: &str = "1.3.6.1.4.1.2011.6.128.1.1.2.46.1.15";
const HUAWEI_SFP_TX: &str = "1.3.6.1.4.1.2011.6.128.1.1.2.23.1.4";

/// An ONT as its OLT reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OntOptics {
    /// The OLT's index of the ONT (UFiber: the serial's OID form;
    /// Huawei: `ifIndex.ontId`).
    pub index: String,
    pub serial: Option<String>,
    pub name: Option<String>,
    /// The PON port's ifIndex and the ONT id (Huawei).
    pub port_if_index: Option<u32>,
    pub ont_id: Option<u32>,
    pub online: Option<bool>,
    /// Received power at the ONT (UFiber) or at the OLT from this ONT
    /// (Huawei), in hundredths of a dBm.
    pub rx_cdbm: Option<i32>,
    pub tx_cdbm: Option<i32>,
}

/// A PON port's transceiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortOptics {
    pub if_index: u32,
    pub tx_cdbm: i32,
}

/// The index part of an OID below a column.
fn suffix<'a>(oid: &'a str, column: &str) -> Option<&'a str> {
    oid.trim_start_matches('.')
        .strip_prefix(column)?
        .strip_prefix('.')
}

fn cdbm(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|x| i32::try_from(x).ok())
}

/// The ONUs of a Ubiquiti UFiber OLT.
pub async fn ufiber_onus(snmp: &dyn Snmp) -> Result<Vec<OntOptics>, Error> {
    let rows = snmp.walk(UFIBER_ONUS).await?;
    let mut by_index: std::collections::BTreeMap<String, OntOptics> = Default::default();
    for (oid, value) in rows {
        let Some(rest) = suffix(&oid, UFIBER_ONUS) else {
            continue;
        };
        let Some((column, index)) = rest.split_once('.') else {
            continue;
        };
        let onu = by_index
            .entry(index.to_owned())
            .or_insert_with(|| OntOptics {
                index: index.to_owned(),
                serial: None,
                name: None,
                port_if_index: None,
                ont_id: None,
                online: None,
                rx_cdbm: None,
                tx_cdbm: None,
            });
        match column {
            "1" => onu.serial = value.as_text(),
            "2" => onu.name = value.as_text(),
            // ubntOnuConnectionState: 1 online, 2 offline (and others).
            "3" => onu.online = value.as_i64().map(|s| s == 1),
            "8" => onu.tx_cdbm = cdbm(&value),
            "9" => onu.rx_cdbm = cdbm(&value),
            _ => {}
        }
    }
    Ok(by_index.into_values().collect())
}

/// The ONTs of a Huawei SmartAX OLT that report optics.
pub async fn huawei_onts(snmp: &dyn Snmp) -> Result<Vec<OntOptics>, Error> {
    let rx = snmp.walk(HUAWEI_ONT_RX).await?;
    let run = snmp.walk(HUAWEI_ONT_RUN).await?;
    let mut out: std::collections::BTreeMap<String, OntOptics> = Default::default();
    for (column, rows) in [(HUAWEI_ONT_RX, rx), (HUAWEI_ONT_RUN, run)] {
        for (oid, value) in rows {
            let Some(index) = suffix(&oid, column) else {
                continue;
            };
            let (port, id) = match index.split_once('.') {
                Some((p, i)) => (p.parse().ok(), i.parse().ok()),
                None => (None, None),
            };
            let ont = out.entry(index.to_owned()).or_insert_with(|| OntOptics {
                index: index.to_owned(),
                serial: None,
                name: None,
                port_if_index: port,
                ont_id: id,
                online: None,
                rx_cdbm: None,
                tx_cdbm: None,
            });
            if column == HUAWEI_ONT_RX {
                // 2147483647 is the OLT's "no reading" (ONT offline).
                ont.rx_cdbm = cdbm(&value).filter(|v| *v != i32::MAX);
            } else {
                // hwGponDeviceOntControlRunStatus: 1 online, 2 offline.
                ont.online = value.as_i64().map(|s| s == 1);
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The PON ports' transceivers of a Huawei SmartAX OLT.
pub async fn huawei_ports(snmp: &dyn Snmp) -> Result<Vec<PortOptics>, Error> {
    Ok(snmp
        .walk(HUAWEI_SFP_TX)
        .await?
        .into_iter()
        .filter_map(|(oid, v)| {
            Some(PortOptics {
                if_index: suffix(&oid, HUAWEI_SFP_TX)?.parse().ok()?,
                tx_cdbm: cdbm(&v)?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_cut_below_their_column() {
        assert_eq!(
            suffix(
                ".1.3.6.1.4.1.2011.6.128.1.1.2.23.1.4.4194304000",
                HUAWEI_SFP_TX
            ),
            Some("4194304000")
        );
        assert_eq!(
            suffix("1.3.6.1.4.1.2011.6.128.1.1.2.23.1.40.1", HUAWEI_SFP_TX),
            None
        );
    }
}
