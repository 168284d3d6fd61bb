//! What the monitoring pages and API both show: the open alarms with the
//! lines behind each, the devices with their state, one device in detail;
//! and a device added. Each handler calls these; neither calls the other.

use crate::platform::auth::Principal;
use crate::AppState;
use monitoring::alarms::{self, Alarm, Impact};
use monitoring::devices::{DeviceForm, DeviceSummary, NewDevice};
use serde::Serialize;

/// An open alarm and, for a PON port or an OLT, the lines and premises
/// behind it.
#[derive(Debug, Serialize)]
pub struct AlarmView {
    #[serde(flatten)]
    pub alarm: Alarm,
    pub impact: Option<Impact>,
}

/// The open alarms, most severe first, each with its impact.
pub async fn open_alarms(state: &AppState) -> Result<Vec<AlarmView>, crate::Error> {
    let mut out = Vec::new();
    let mut ports = None;
    for alarm in alarms::open(&state.db).await? {
        let impact = match alarm.kind.as_str() {
            "device_unreachable" => {
                if ports.is_none() {
                    ports = Some(inventory::service::pon_ports(&state.db, &state.plant).await?);
                }
                alarms::olt_impact(
                    &state.db,
                    &state.plant,
                    &state.provisioning,
                    &alarm.subject,
                    ports.as_deref().unwrap_or_default(),
                )
                .await?
            }
            "pon_port_down" => Some(
                alarms::pon_port_impact(
                    &state.db,
                    &state.plant,
                    &state.provisioning,
                    &alarm.subject,
                )
                .await?,
            ),
            _ => None,
        };
        out.push(AlarmView { alarm, impact });
    }
    Ok(out)
}

/// A device as the monitoring pages and API list it: never a secret.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub name: String,
    /// Absent for an inventory OLT no device stands for.
    pub address: Option<String>,
    /// `polled`, `unmonitored` (an inventory OLT without an address or
    /// credentials) or `secret_unreadable` (added under another key).
    pub status: &'static str,
    pub origin: Option<crate::monitoring::poll::Origin>,
    pub version: Option<String>,
    pub user: Option<String>,
    pub added: Option<DeviceSummary>,
    /// When the device last answered a whole poll (this instance's).
    pub last_ok_at: Option<String>,
    /// The last poll's failure, in French.
    pub last_error: Option<String>,
    pub fault: Option<monitoring::Fault>,
    pub poll_duration_ms: Option<u64>,
}

/// Every device: those polled, with where each comes from, then the
/// inventory's OLTs nobody polls.
pub async fn device_views(state: &AppState) -> Result<Vec<DeviceView>, crate::Error> {
    let set = crate::monitoring::poll::devices(state).await?;
    let added = monitoring::storage::devices(&state.db).await?;
    let summary = |name: &str| added.iter().find(|d| d.name == name).cloned();
    let mut out: Vec<DeviceView> = set
        .polled
        .iter()
        .map(|(d, origin)| {
            let (version, user) = match &d.target.credentials {
                monitoring::snmp::Credentials::V2c { .. } => ("v2c", None),
                monitoring::snmp::Credentials::V3 { user, .. } => ("v3", Some(user.clone())),
            };
            let seen = state.poller.board.get(&d.name).unwrap_or_default();
            DeviceView {
                name: d.name.clone(),
                address: Some(d.target.address.to_string()),
                status: "polled",
                origin: Some(*origin),
                version: Some(version.into()),
                user,
                added: (*origin == crate::monitoring::poll::Origin::Added)
                    .then(|| summary(&d.name))
                    .flatten(),
                last_ok_at: seen.last_ok_at,
                last_error: seen.last_error,
                fault: seen.fault,
                poll_duration_ms: seen.poll_duration_ms,
            }
        })
        .collect();
    for name in &set.sealed_shut {
        let s = summary(name);
        out.push(DeviceView {
            name: name.clone(),
            address: s.as_ref().map(|s| s.address.clone()),
            status: "secret_unreadable",
            origin: Some(crate::monitoring::poll::Origin::Added),
            version: s.as_ref().map(|s| s.version.clone()),
            user: s.as_ref().and_then(|s| s.user.clone()),
            added: s,
            last_ok_at: None,
            last_error: None,
            fault: None,
            poll_duration_ms: None,
        });
    }
    for olt in &set.unmonitored_olts {
        out.push(DeviceView {
            name: olt.clone(),
            address: None,
            status: "unmonitored",
            origin: None,
            version: None,
            user: None,
            added: None,
            last_ok_at: None,
            last_error: None,
            fault: None,
            poll_duration_ms: None,
        });
    }
    Ok(out)
}

/// A PON port of a device: its interface, the inventory's PON port behind
/// it (none: not in the inventory, said as such), its transceiver and its
/// ONTs.
#[derive(Debug, Serialize)]
pub struct PonPortView {
    pub if_index: u32,
    pub if_name: String,
    pub oper_up: Option<bool>,
    /// The inventory's PON port code, when the interface maps to one.
    pub pon_port: Option<String>,
    pub tx_dbm: Option<f64>,
    pub onts: Vec<monitoring::profiles::OntOptics>,
}

/// A device, what it last answered, its interfaces and, for an OLT, its
/// PON ports with their ONTs.
#[derive(Debug, Serialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceView,
    pub status: monitoring::status::DeviceStatus,
    pub pon_ports: Vec<PonPortView>,
    /// ONTs whose PON port the OLT's index does not say.
    pub other_onts: Vec<monitoring::profiles::OntOptics>,
}

/// One device in full; `None` when no device of that name is polled.
pub async fn device_detail(
    state: &AppState,
    name: &str,
) -> Result<Option<DeviceDetail>, crate::Error> {
    let Some(device) = device_views(state)
        .await?
        .into_iter()
        .find(|d| d.name == name)
    else {
        return Ok(None);
    };
    let status = state.poller.board.get(name).unwrap_or_default();
    let ports = inventory::service::pon_ports(&state.db, &state.plant).await?;
    let mut placed = std::collections::HashSet::new();
    let pon_ports: Vec<PonPortView> = status
        .interfaces
        .iter()
        .filter(|i| is_pon(i))
        .map(|i| {
            // The ONT's index names its port's interface (Huawei) or its
            // slot and port (C-Data).
            let onts: Vec<_> = status
                .onts
                .iter()
                .filter(|o| o.port_if_index == Some(i.index) || (o.pon.is_some() && o.pon == i.pon))
                .cloned()
                .collect();
            placed.extend(onts.iter().map(|o| o.index.clone()));
            PonPortView {
                if_index: i.index,
                if_name: i.name.clone(),
                oper_up: i.oper.map(|s| s == monitoring::interfaces::Status::Up),
                pon_port: monitoring::watch::pon_port_at(&ports, name, i.pon)
                    .map(|p| p.code.clone()),
                tx_dbm: status
                    .pon_transceivers
                    .iter()
                    .find(|t| t.if_index == i.index)
                    .map(|t| f64::from(t.tx_cdbm) / 100.0),
                onts,
            }
        })
        .collect();
    let other_onts = status
        .onts
        .iter()
        .filter(|o| !placed.contains(&o.index))
        .cloned()
        .collect();
    Ok(Some(DeviceDetail {
        device,
        status,
        pon_ports,
        other_onts,
    }))
}

/// Adds a device to poll; its community or keys are stored encrypted and
/// never shown again.
pub async fn add(
    state: &AppState,
    me: &Principal,
    form: &DeviceForm,
) -> Result<DeviceSummary, (&'static str, crate::Error)> {
    let device = NewDevice::parse_fields(form).map_err(|(f, e)| (f, e.into()))?;
    if state
        .config
        .snmp_device
        .iter()
        .any(|d| d.name == device.name.as_str())
    {
        return Err((
            "name",
            crate::Error::Conflict(format!(
                "« {} » est déjà décrit dans le fichier de configuration",
                device.name.as_str()
            )),
        ));
    }
    let key = state.secret_key().map_err(|e| ("name", e))?;
    monitoring::storage::add_device(&state.db, &key, &me.actor(), &device)
        .await
        .map_err(|e| ("name", e.into()))
}

/// Whether an interface is a PON port: named as one (by the device's
/// profile, or the usual names) or of IANA type gpon (250).
fn is_pon(i: &monitoring::interfaces::Interface) -> bool {
    i.pon.is_some() || i.if_type == 250
}
