//! Every device on its own schedule: one task per device, polling it at
//! the interval, within a global bound on polls at once. A dead device
//! costs its own task at most its interval per poll (its timeouts and
//! retries are cut there) and never holds up another; a poll that ends
//! later than its interval allowed is counted on that device; what a poll
//! shows is handed on (alarms) as soon as it ends.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::poller::{Device, DevicePoll, Poller};

/// What is done with each poll as it ends (raising and clearing alarms).
pub type OnPoll = Arc<dyn Fn(DevicePoll) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The devices being polled, each by its own task.
pub struct Fleet {
    poller: Poller,
    interval: Duration,
    gate: Arc<Semaphore>,
    on_poll: OnPoll,
    tasks: HashMap<String, (Device, JoinHandle<()>)>,
}

impl Fleet {
    /// A fleet polling each device every `interval`, at most `concurrency`
    /// polls at once.
    pub fn new(poller: Poller, interval: Duration, concurrency: usize, on_poll: OnPoll) -> Self {
        Self {
            poller,
            interval: interval.max(Duration::from_millis(10)),
            gate: Arc::new(Semaphore::new(concurrency.max(1))),
            on_poll,
            tasks: HashMap::new(),
        }
    }

    /// Polls exactly `devices` from now on: a new one starts at once, one
    /// whose address or credentials changed restarts, one gone stops and
    /// its series go. Answers the names of the devices gone.
    pub fn sync(&mut self, devices: &[Device]) -> Vec<String> {
        let mut gone = Vec::new();
        let wanted: HashMap<&str, &Device> = devices.iter().map(|d| (d.name.as_str(), d)).collect();
        let stale: Vec<String> = self
            .tasks
            .iter()
            .filter(|(name, (d, _))| wanted.get(name.as_str()).is_none_or(|w| *w != d))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some((_, task)) = self.tasks.remove(&name) {
                task.abort();
            }
            if !wanted.contains_key(name.as_str()) {
                self.poller.forget(&name);
                tracing::info!(device = %name, "device no longer polled");
                gone.push(name);
            }
        }
        for d in devices {
            if !self.tasks.contains_key(&d.name) {
                let task = tokio::spawn(run(
                    self.poller.clone(),
                    d.clone(),
                    self.interval,
                    self.gate.clone(),
                    self.on_poll.clone(),
                ));
                self.tasks.insert(d.name.clone(), (d.clone(), task));
            }
        }
        gone
    }

    /// The devices being polled.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("interval", &self.interval)
            .field("devices", &self.tasks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, (_, task)) in self.tasks.drain() {
            task.abort();
        }
    }
}

/// One device's loop.
async fn run(
    poller: Poller,
    device: Device,
    interval: Duration,
    gate: Arc<Semaphore>,
    on_poll: OnPoll,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let due = tick.tick().await;
        let Ok(_permit) = gate.clone().acquire_owned().await else {
            return;
        };
        // What is left of nine tenths of the interval once a place among
        // the polls at once is had: the poll may not take more, so that it
        // ends before the next is due.
        let budget = (interval * 9 / 10).saturating_sub(due.elapsed());
        if budget < interval / 4 {
            // Too little time left to tell a silent device from a busy
            // poller: this round is skipped and counted, never reported
            // as the device not answering.
            poller.count_overrun(&device.name);
            tracing::warn!(device = %device.name, "poll skipped: no place among the polls at once in time");
            continue;
        }
        let poll = poller.poll_one(&device, budget).await;
        drop(_permit);
        if Instant::now() > due + interval {
            poller.count_overrun(&device.name);
            tracing::warn!(
                device = %device.name,
                duration_ms = poll.duration.as_millis() as u64,
                interval_ms = interval.as_millis() as u64,
                "poll ended past its interval"
            );
        }
        on_poll(poll).await;
    }
}
