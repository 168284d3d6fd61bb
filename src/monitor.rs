//! The monitoring loops `regie serve` runs in the background: device polls
//! (raising and clearing alarms), ONT optics on their slower cycle, and the
//! trap listener.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::{AppState, Error};

/// Starts the loops the configuration asks for. A cycle that overruns its
/// interval delays the next one (ticks are skipped, never stacked).
/// Answers the trap listener's address, when there is one.
pub async fn spawn(state: &AppState) -> Result<Option<std::net::SocketAddr>, Error> {
    let devices: Vec<monitoring::poller::Device> = state
        .config
        .snmp_device
        .iter()
        .map(|d| d.device())
        .collect::<Result<_, _>>()?;
    if !devices.is_empty() {
        let interval = Duration::from_secs(state.config.snmp_interval_s.max(1));
        let st = state.clone();
        let polled = devices.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let cycle = st.poller.cycle(&polled, interval).await;
                let ports = match inventory::service::pon_ports(&st.db, &st.plant).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "PON ports unavailable for the alarms");
                        Vec::new()
                    }
                };
                if let Err(e) = monitoring::watch::apply(&st.db, &ports, &cycle).await {
                    tracing::error!(error = %e, "alarms not updated from the poll");
                }
            }
        });
        let optics = Duration::from_secs(state.config.snmp_optics_interval_s.max(1));
        let st = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(optics);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                // The line of each installed ONT, by serial.
                let mut lines: HashMap<String, String> = HashMap::new();
                for s in [
                    provisioning::lifecycle::State::Active,
                    provisioning::lifecycle::State::Suspended,
                ] {
                    if let Ok(found) = st.provisioning.lines(Some(s), None, 10_000).await {
                        for l in found {
                            if let Some(o) = l.ont {
                                lines.insert(o.serial, l.id);
                            }
                        }
                    }
                }
                let line_of = |serial: &str| lines.get(&serial.to_ascii_uppercase()).cloned();
                st.poller.optics_cycle(&devices, &line_of).await;
            }
        });
        tracing::info!(
            devices = state.config.snmp_device.len(),
            interval_s = interval.as_secs(),
            "SNMP polling started"
        );
    }
    if let Some(listen) = &state.config.trap_listen {
        let bind = listen.parse().map_err(|_| {
            Error::Config(format!(
                "trap_listen: « {listen} » is not an IP address and port"
            ))
        })?;
        let listener = monitoring::traps::Listener::bind(
            &monitoring::traps::ListenerConfig {
                bind,
                communities: state.config.trap_communities.clone(),
                users: state
                    .config
                    .trap_user
                    .iter()
                    .map(|u| u.user())
                    .collect::<Result<_, _>>()?,
                engine_id: b"regie".to_vec(),
            },
            state.trap_metrics.clone(),
        )
        .await
        .map_err(|e| Error::Startup(format!("cannot listen for traps on {listen}: {e}")))?;
        let address = listener.local_addr();
        tracing::info!(address = %address, "SNMP trap listener started");
        // A trap names its device by the address it comes from.
        let by_ip: HashMap<std::net::IpAddr, String> = state
            .config
            .snmp_device
            .iter()
            .filter_map(|d| {
                Some((
                    d.address.parse::<std::net::SocketAddr>().ok()?.ip(),
                    d.name.clone(),
                ))
            })
            .collect();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let trap = match listener.next().await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "trap not read");
                        continue;
                    }
                };
                tracing::info!(source = %trap.source, event = ?trap.event, "trap");
                let Some(device) = by_ip.get(&trap.source.ip()) else {
                    tracing::warn!(source = %trap.source, "trap from an unknown device");
                    continue;
                };
                let ports = inventory::service::pon_ports(&st.db, &st.plant)
                    .await
                    .unwrap_or_default();
                if let Err(e) =
                    monitoring::watch::apply_trap(&st.db, &ports, device, &trap.event).await
                {
                    tracing::error!(error = %e, "alarm not updated from the trap");
                }
            }
        });
        return Ok(Some(address));
    }
    Ok(None)
}
