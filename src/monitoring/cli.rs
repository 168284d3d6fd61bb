//! `regie monitoring probe`: what the poller would read from a device —
//! its vendor profile, PON ports placed in the inventory's terms, ONTs and
//! their levels — so that a régie tries a device, or a profile it wrote,
//! before adding it. Nothing is written.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use monitoring::interfaces::{self, Interface};
use monitoring::line_optics::hundredths;
use monitoring::profiles::{OntOptics, Profiles};
use monitoring::snmp::{AsyncSnmp, Credentials, Snmp, Target};

use crate::Error;

/// ONTs listed one by one; beyond, a count.
const LISTED: usize = 50;

pub async fn probe(
    address: &str,
    community: String,
    profiles_dir: Option<&Path>,
    timeout_s: u64,
) -> Result<(), Error> {
    let target = Target {
        address: resolve(address).await?,
        credentials: Credentials::V2c { community },
        timeout: Duration::from_secs(timeout_s.clamp(1, 60)),
        retries: 1,
    };
    let profiles = match profiles_dir {
        Some(dir) => Profiles::with_dir(dir),
        None => Profiles::shipped(),
    }
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let snmp = AsyncSnmp::connect(&target).await?;
    let system = snmp
        .get(&["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"])
        .await?;
    let text = |i: usize| {
        system
            .get(i)
            .and_then(monitoring::snmp::Value::as_text)
            .unwrap_or_default()
    };
    let profile = profiles.find(&text(1), &text(0));
    let polled = interfaces::poll(&snmp, profile).await?;
    let (onts, _) = match profile {
        Some(p) => p.read(&snmp).await?,
        None => (Vec::new(), Vec::new()),
    };
    print!(
        "{}",
        report(
            &text(0),
            &text(1),
            profile.map(|p| p.name.as_str()),
            &polled,
            &onts
        )
    );
    Ok(())
}

/// `HOST` or `HOST:PORT` (161 by default), resolved.
async fn resolve(address: &str) -> Result<std::net::SocketAddr, Error> {
    let address = address.trim();
    if address.is_empty() || address.len() > 255 {
        return Err(Error::Invalid(
            "adresse de l'équipement vide ou trop longue".into(),
        ));
    }
    let with_port = if address.parse::<std::net::SocketAddr>().is_ok()
        || address
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        address.to_owned()
    } else if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:161")
    } else {
        format!("{address}:161")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::Invalid(format!("adresse « {address} » introuvable")))
}

fn report(
    descr: &str,
    object_id: &str,
    profile: Option<&str>,
    polled: &[Interface],
    onts: &[OntOptics],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Équipement : {} ({object_id})", descr.trim());
    match profile {
        Some(name) => {
            let _ = writeln!(out, "Profil : {name}");
        }
        None => {
            let _ = writeln!(
                out,
                "Profil : aucun (seules les interfaces IF-MIB sont lues ; un profil se décrit dans docs/snmp-profiles.md)"
            );
        }
    }
    let pon: Vec<&Interface> = polled.iter().filter(|i| i.pon.is_some()).collect();
    let _ = writeln!(
        out,
        "Interfaces : {}, dont {} port(s) PON",
        polled.len(),
        pon.len()
    );
    for i in pon {
        let Some(p) = i.pon else { continue };
        let state = match i.oper {
            Some(interfaces::Status::Up) => "actif",
            Some(interfaces::Status::Down) => "coupé",
            _ => "état inconnu",
        };
        let _ = writeln!(
            out,
            "  {} (ifIndex {}) : carte {}, port {} — {state}",
            i.name, i.index, p.slot, p.port
        );
    }
    let placed = onts.iter().filter(|o| o.pon.is_some()).count();
    let _ = writeln!(
        out,
        "ONT : {} lu(s), {placed} placé(s) sur un port PON",
        onts.len()
    );
    let dbm = |c: Option<i32>| {
        c.map_or("—".to_owned(), |c| {
            format!("{} dBm", hundredths(i64::from(c)))
        })
    };
    for o in onts.iter().take(LISTED) {
        let place = match (o.pon, o.ont_id) {
            (Some(p), Some(id)) => format!("carte {}, port {}, ONT {id}", p.slot, p.port),
            (Some(p), None) => format!("carte {}, port {}", p.slot, p.port),
            _ => "port inconnu".to_owned(),
        };
        let online = match o.online {
            Some(true) => "en ligne",
            Some(false) => "hors ligne",
            None => "état inconnu",
        };
        let _ = writeln!(
            out,
            "  {} {} — {place} — {online} — reçu {} — émis {} — reçu à l'OLT {}{}",
            o.index,
            o.serial
                .as_deref()
                .or(o.name.as_deref())
                .unwrap_or("(sans n° de série)"),
            dbm(o.rx_ont_cdbm),
            dbm(o.tx_ont_cdbm),
            dbm(o.rx_olt_cdbm),
            o.distance_m
                .map(|d| format!(" — {d} m"))
                .unwrap_or_default()
        );
    }
    if onts.len() > LISTED {
        let _ = writeln!(out, "  … et {} autre(s)", onts.len() - LISTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_take_the_snmp_port_unless_given() {
        assert_eq!(
            resolve("127.0.0.1").await.ok(),
            "127.0.0.1:161".parse().ok()
        );
        assert_eq!(
            resolve("127.0.0.1:1161").await.ok(),
            "127.0.0.1:1161".parse().ok()
        );
        assert_eq!(resolve("::1").await.ok(), "[::1]:161".parse().ok());
        assert_eq!(resolve("[::1]:1161").await.ok(), "[::1]:1161".parse().ok());
        for bad in ["", "   ", &"a".repeat(300), "hôte.invalide.:x"] {
            match resolve(bad).await {
                Err(Error::Invalid(m)) => assert!(m.contains("adresse"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_report_says_in_french_what_was_read() {
        let text = report("ZXA10 C300", "1.3.6.1.4.1.3902.1082", None, &[], &[]);
        assert!(text.contains("Profil : aucun"), "{text}");
        assert!(text.contains("ONT : 0 lu(s)"), "{text}");
    }
}
