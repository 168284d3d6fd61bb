//! The monitoring loops `regie serve` runs in the background: device polls,
//! each device on its own schedule (raising and clearing its alarms as its
//! poll ends), ONT optics on their slower cycle, and the trap listener.

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::{AppState, Error};

/// Where a polled device comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An `[[snmp_device]]` of the configuration file.
    Config,
    /// Added by an admin (page or API), stored with its secrets sealed.
    Added,
    /// An OLT of the inventory whose `[[olt]]` entry gives a host, polled
    /// with the `[snmp_olt]` credentials.
    Olt,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Config => "fichier de configuration",
            Origin::Added => "ajouté par un administrateur",
            Origin::Olt => "OLT de l'inventaire",
        }
    }
}

/// The devices polled now, and what keeps others from being polled.
#[derive(Debug, Default)]
pub struct DeviceSet {
    pub polled: Vec<(monitoring::poller::Device, Origin)>,
    /// OLTs of the inventory no device stands for.
    pub unmonitored_olts: Vec<String>,
    /// Devices added whose secret does not open under the current key.
    pub sealed_shut: Vec<String>,
}

impl DeviceSet {
    pub fn devices(&self) -> Vec<monitoring::poller::Device> {
        self.polled.iter().map(|(d, _)| d.clone()).collect()
    }
}

/// The devices to poll: the configuration's, those an admin added, and the
/// inventory's OLTs reachable through `[[olt]]` and `[snmp_olt]`. A name
/// is polled once, the first of these to give it.
pub async fn devices(state: &AppState) -> Result<DeviceSet, Error> {
    let mut set = DeviceSet::default();
    let mut taken = std::collections::HashSet::new();
    for d in &state.config.snmp_device {
        let device = d.device()?;
        taken.insert(device.name.clone());
        set.polled.push((device, Origin::Config));
    }
    let (added, sealed_shut) =
        monitoring::storage::device_targets(&state.db, &state.secret_key()?).await?;
    set.sealed_shut = sealed_shut;
    for device in added {
        if taken.insert(device.name.clone()) {
            set.polled.push((device, Origin::Added));
        }
    }
    let ports = inventory::service::pon_ports(&state.db, &state.plant).await?;
    let olts: std::collections::BTreeSet<&str> = ports.iter().map(|p| p.olt.as_str()).collect();
    for olt in olts {
        if taken.contains(olt) {
            continue;
        }
        let host = state
            .config
            .olt
            .iter()
            .find(|o| o.code == olt)
            .and_then(|o| o.host.as_deref());
        match (host, &state.config.snmp_olt) {
            (Some(host), Some(credentials)) => {
                set.polled
                    .push((credentials.device(olt, host)?, Origin::Olt));
                taken.insert(olt.to_owned());
            }
            _ => set.unmonitored_olts.push(olt.to_owned()),
        }
    }
    Ok(set)
}

/// Judges the lines behind `devices` by their ONTs' last levels: below
/// their class, drifting since installation, several behind one box
/// (monitoring::line_optics); raises and clears those alarms.
pub async fn line_optics(state: &AppState, devices: &[String]) -> Result<(), Error> {
    let lines = state.provisioning.lines(None, None, 10_000).await?;
    for device in devices {
        let Some(status) = state.poller.board.get(device) else {
            continue;
        };
        let readings = monitoring::line_optics::readings(device, &status, &lines);
        monitoring::line_optics::apply(&state.db, &readings).await?;
    }
    Ok(())
}

/// Starts the loops: device polls, each device on its own schedule (the
/// list read afresh at each interval, so that one added starts at once and
/// one deleted stops), ONT optics on their cycle, and the trap listener
/// when the configuration asks for it. Answers the trap listener's
/// address, when there is one.
pub async fn spawn(state: &AppState) -> Result<Option<std::net::SocketAddr>, Error> {
    // A configuration that cannot give its devices stops the start.
    devices(state).await?;
    let interval = Duration::from_secs(state.config.snmp_interval_s.max(1));
    let st = state.clone();
    tokio::spawn(async move {
        // Each device on its own schedule (monitoring::fleet); its alarms
        // raised and cleared as soon as its poll ends.
        let on_poll: monitoring::fleet::OnPoll = {
            let st = st.clone();
            std::sync::Arc::new(move |poll| {
                let st = st.clone();
                Box::pin(async move {
                    let ports = match inventory::service::pon_ports(&st.db, &st.plant).await {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "PON ports unavailable for the alarms");
                            Vec::new()
                        }
                    };
                    if let Err(e) = monitoring::watch::apply_poll(&st.db, &ports, &poll).await {
                        tracing::error!(device = %poll.device, error = %e, "alarms not updated from the poll");
                    }
                })
            })
        };
        let mut fleet = monitoring::fleet::Fleet::new(
            st.poller.clone(),
            interval,
            st.poller.concurrency,
            on_poll,
        );
        // The list of devices is read again at each interval: one added
        // starts at once, one deleted stops and its series go.
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            // One instance polls (see crate::platform::schedule): the device metrics
            // and counters stay with it.
            if !st.scheduler.is_leader() {
                fleet.sync(&[]);
                continue;
            }
            // One run of the scheduled polling: the devices read and each
            // one's task started, kept or stopped (the polls themselves are
            // counted on each device).
            let gone = match devices(&st).await {
                Ok(set) => {
                    st.scheduler.count("snmp_poll", true);
                    fleet.sync(&set.devices())
                }
                Err(e) => {
                    tracing::error!(error = %e, "devices to poll unavailable");
                    st.scheduler.count("snmp_poll", false);
                    continue;
                }
            };
            // A device deleted takes its open alarms with it, closed as
            // « équipement retiré ».
            for device in gone {
                let ports = inventory::service::pon_ports(&st.db, &st.plant)
                    .await
                    .unwrap_or_default();
                match monitoring::alarms::retire_device(&st.db, &device, &ports).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(device = %device, alarms = n, "alarms closed: device retired")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(device = %device, error = %e, "alarms of a retired device not closed")
                    }
                }
            }
        }
    });
    let optics = Duration::from_secs(state.config.snmp_optics_interval_s.max(1));
    let pause = Duration::from_millis(state.config.snmp_optics_pause_ms);
    let st = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(optics);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if !st.scheduler.is_leader() {
                continue;
            }
            let polled = match devices(&st).await {
                Ok(set) => set.devices(),
                Err(e) => {
                    tracing::error!(error = %e, "devices to poll unavailable");
                    st.scheduler.count("snmp_optics", false);
                    continue;
                }
            };
            // Each OLT's read may take up to nine tenths of the interval.
            st.poller
                .optics_cycle(&polled, pause, optics * 9 / 10)
                .await;
            let names: Vec<String> = polled.iter().map(|d| d.name.clone()).collect();
            if let Err(e) = line_optics(&st, &names).await {
                tracing::error!(error = %e, "line optics not judged");
            }
            st.scheduler.count("snmp_optics", true);
        }
    });
    tracing::info!(interval_s = interval.as_secs(), "SNMP polling started");
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
                ont_down: state.poller.profiles.ont_down_traps(),
            },
            state.trap_metrics.clone(),
        )
        .await
        .map_err(|e| Error::Startup(format!("cannot listen for traps on {listen}: {e}")))?;
        let address = listener.local_addr();
        tracing::info!(address = %address, "SNMP trap listener started");
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
                // A trap names its device by the address it comes from.
                let known = devices(&st)
                    .await
                    .map(|set| set.devices())
                    .unwrap_or_default();
                let Some(device) = known
                    .iter()
                    .find(|d| d.target.address.ip() == trap.source.ip())
                    .map(|d| d.name.clone())
                else {
                    tracing::warn!(source = %trap.source, "trap from an unknown device");
                    continue;
                };
                let ports = inventory::service::pon_ports(&st.db, &st.plant)
                    .await
                    .unwrap_or_default();
                if let Err(e) =
                    monitoring::watch::apply_trap(&st.db, &ports, &device, &trap.event).await
                {
                    tracing::error!(error = %e, "alarm not updated from the trap");
                }
            }
        });
        return Ok(Some(address));
    }
    Ok(None)
}
