//! From polls to alarms: a device that does not answer, a PON port of the
//! inventory whose interface is down. Raised when seen, cleared when the
//! next poll sees it well.

use inventory::extension::PonPort;
use regie_core::Db;

use crate::alarms::{self, Severity, Subject};
use crate::interfaces::{PonPosition, Status};
use crate::poller::{Cycle, DevicePoll};
use crate::Error;

/// The inventory's PON port at `position` on `device` (the device is
/// named as the OLT in the inventory).
pub fn pon_port_at<'a>(
    ports: &'a [PonPort],
    device: &str,
    position: Option<PonPosition>,
) -> Option<&'a PonPort> {
    let p = position?;
    ports
        .iter()
        .find(|x| x.olt == device && x.slot == p.slot && x.port == p.port)
}

/// The inventory's PON port behind an interface named `if_name`, read the
/// usual way ([`PonPosition::guess`]): for traps, which name an
/// interface without its device's profile.
pub fn pon_port_of<'a>(ports: &'a [PonPort], device: &str, if_name: &str) -> Option<&'a PonPort> {
    pon_port_at(ports, device, PonPosition::guess(if_name))
}

/// Raises and clears the alarms a cycle shows.
pub async fn apply(db: &Db, ports: &[PonPort], cycle: &Cycle) -> Result<(), Error> {
    for poll in &cycle.devices {
        apply_poll(db, ports, poll).await?;
    }
    Ok(())
}

/// Raises and clears the alarms one device's poll shows, as soon as it
/// ends.
pub async fn apply_poll(db: &Db, ports: &[PonPort], poll: &DevicePoll) -> Result<(), Error> {
    let unreachable = Subject::DeviceUnreachable {
        device: poll.device.clone(),
    };
    let refused = Subject::SnmpRefused {
        device: poll.device.clone(),
    };
    let interfaces = match (&poll.result, poll.fault) {
        // It answers, but not to us: a warning without impact, never an
        // outage listing every line behind an OLT as cut off.
        (Err(e), Some(crate::Fault::Credentials | crate::Fault::Closed)) => {
            alarms::raise(db, &refused, Severity::Warning, e).await?;
            alarms::clear(db, &unreachable).await?;
            return Ok(());
        }
        (Err(e), _) => {
            alarms::raise(
                db,
                &unreachable,
                Severity::Critical,
                &format!("l'équipement ne répond pas : {e}"),
            )
            .await?;
            return Ok(());
        }
        (Ok(i), _) => i,
    };
    alarms::clear(db, &unreachable).await?;
    alarms::clear(db, &refused).await?;
    for i in interfaces {
        let Some(pon) = pon_port_at(ports, &poll.device, i.pon) else {
            continue;
        };
        let subject = Subject::PonPortDown {
            pon_port: pon.code.clone(),
        };
        // Down while administratively up: a fault. Shut on purpose is
        // not an alarm.
        if i.oper == Some(Status::Down) && i.admin != Some(Status::Down) {
            alarms::raise(
                db,
                &subject,
                Severity::Critical,
                &format!("interface {} coupée", i.name),
            )
            .await?;
        } else if i.oper == Some(Status::Up) {
            alarms::clear(db, &subject).await?;
        }
    }
    Ok(())
}

/// Raises or clears a PON port alarm from a link trap of `device`.
pub async fn apply_trap(
    db: &Db,
    ports: &[PonPort],
    device: &str,
    event: &crate::traps::Event,
) -> Result<Option<String>, Error> {
    use crate::traps::Event;
    let (if_name, down) = match event {
        Event::LinkDown {
            if_name: Some(n), ..
        } => (n, true),
        Event::LinkUp {
            if_name: Some(n), ..
        } => (n, false),
        _ => return Ok(None),
    };
    let Some(pon) = pon_port_of(ports, device, if_name) else {
        return Ok(None);
    };
    let subject = Subject::PonPortDown {
        pon_port: pon.code.clone(),
    };
    if down {
        alarms::raise(
            db,
            &subject,
            Severity::Critical,
            &format!("interface {if_name} coupée (trap linkDown)"),
        )
        .await?;
    } else {
        alarms::clear(db, &subject).await?;
    }
    Ok(Some(pon.code.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::budget::OpticalClass;

    fn port(code: &str, olt: &str, slot: u32, port: u32) -> PonPort {
        PonPort {
            code: code.into(),
            olt: olt.into(),
            model: String::new(),
            site: String::new(),
            slot,
            port,
            class: OpticalClass::GponBPlus,
            max_onts: 128,
            fibre: String::new(),
        }
    }

    #[test]
    fn interface_names_find_their_pon_port() {
        let ports = [
            port("OLT01-1/3", "OLT01", 1, 3),
            port("UF-0/4", "UF1", 0, 4),
        ];
        assert_eq!(
            pon_port_of(&ports, "OLT01", "GPON 0/1/3").map(|p| p.code.as_str()),
            Some("OLT01-1/3")
        );
        assert_eq!(
            pon_port_of(&ports, "OLT01", "1/3").map(|p| p.code.as_str()),
            Some("OLT01-1/3")
        );
        assert_eq!(
            pon_port_of(&ports, "UF1", "pon4").map(|p| p.code.as_str()),
            Some("UF-0/4")
        );
        assert!(
            pon_port_of(&ports, "OLT02", "GPON 0/1/3").is_none(),
            "another OLT"
        );
        assert!(pon_port_of(&ports, "OLT01", "GPON 0/1/4").is_none());
        // ZTE, C-Data, V-SOL names.
        assert_eq!(
            pon_port_of(&ports, "OLT01", "gpon_1/1/3").map(|p| p.code.as_str()),
            Some("OLT01-1/3")
        );
        assert_eq!(
            pon_port_of(&ports, "OLT01", "pon0/1/3").map(|p| p.code.as_str()),
            Some("OLT01-1/3")
        );
        assert_eq!(
            pon_port_of(&ports, "OLT01", "EPON1/3").map(|p| p.code.as_str()),
            Some("OLT01-1/3")
        );
        assert!(
            pon_port_of(&ports, "OLT01", "xe1/3").is_none(),
            "not a PON name"
        );
        assert!(pon_port_of(&ports, "OLT01", "1/2/3/4").is_none());
        assert!(pon_port_of(&ports, "OLT01", "ethernet0/7/0").is_none());
        assert!(pon_port_of(&ports, "OLT01", "").is_none());
    }
}
