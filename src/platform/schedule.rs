//! The scheduled work of a server (polls, dunning pass, line follower,
//! renewal reminders, retention), done once however many instances share
//! the database.
//!
//! Two mechanisms, both in the database so that they hold across machines:
//!
//! - **A lease** (`sched_leases`): one instance, the *leader*, holds it and
//!   renews it every third of its duration; the others stand by and take it
//!   when it expires, or at once when the leader gives it up on a clean
//!   stop. Only the leader polls the devices, so the device metrics and the
//!   counters the poller keeps in memory stay on one instance.
//! - **A claim per period** (`sched_jobs`): a periodic job runs only if it
//!   has not started within its period, whoever started it; the claim is
//!   one conditional statement, so two instances cannot both win it. A new
//!   leader therefore does not run again what the old one just ran, and
//!   even two instances that both believe they lead (a leader stalled past
//!   its lease) cannot run a job twice in a period.
//!
//! Each run is kept in `sched_runs` (90 days) and counted in the metrics;
//! `regie_scheduler_leader` says which instance leads. Lease times come
//! from each machine's clock: instances on several machines need NTP.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use regie_core::{time, Db};

use crate::platform::storage;

/// The name of the lease of the scheduled work.
const LEASE: &str = "scheduler";
/// How long the history of runs is kept.
const HISTORY_DAYS: i64 = 90;

/// This instance's part in the scheduled work.
#[derive(Debug, Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    instance: String,
    lease: Duration,
    leader: AtomicBool,
    /// Set on a clean stop: the lease is no longer renewed.
    stopping: AtomicBool,
    /// Held while the lease is renewed or released, so that a renewal in
    /// flight cannot take the lease back after a release.
    gate: tokio::sync::Mutex<()>,
    leader_gauge: IntGauge,
    runs: IntCounterVec,
}

impl Scheduler {
    /// A scheduler whose lease lasts `lease` (renewed every third of it),
    /// its metrics registered.
    pub fn new(registry: &Registry, lease: Duration) -> Result<Self, prometheus::Error> {
        let leader_gauge = IntGauge::new(
            "scheduler_leader",
            "1 when this instance runs the scheduled work (polls, dunning, reminders)",
        )?;
        let runs = IntCounterVec::new(
            Opts::new(
                "scheduled_runs_total",
                "Scheduled jobs run by this instance, by job and outcome",
            ),
            &["job", "outcome"],
        )?;
        registry.register(Box::new(leader_gauge.clone()))?;
        registry.register(Box::new(runs.clone()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                instance: instance_name(),
                lease: lease.max(Duration::from_secs(3)),
                leader: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                gate: tokio::sync::Mutex::new(()),
                leader_gauge,
                runs,
            }),
        })
    }

    /// This instance's name in the lease and the history: host, process
    /// and a random suffix.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Whether this instance runs the scheduled work now.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::Relaxed)
    }

    /// Counts a run of a job done outside [`Scheduler::every`] (a poll
    /// cycle).
    pub fn count(&self, job: &str, ok: bool) {
        self.inner
            .runs
            .with_label_values(&[job, if ok { "ok" } else { "failed" }])
            .inc();
    }

    fn set_leader(&self, leader: bool) {
        let was = self.inner.leader.swap(leader, Ordering::Relaxed);
        self.inner.leader_gauge.set(i64::from(leader));
        if was != leader {
            if leader {
                tracing::info!(instance = %self.instance(), "this instance now runs the scheduled work");
            } else if self.inner.stopping.load(Ordering::Relaxed) {
                tracing::info!(instance = %self.instance(), "this instance stops and leaves the scheduled work");
            } else {
                tracing::info!(instance = %self.instance(), "another instance runs the scheduled work");
            }
        }
    }

    /// Takes or renews the lease once; answers whether this instance leads.
    pub async fn renew(&self, db: &Db) -> bool {
        let _gate = self.inner.gate.lock().await;
        if self.inner.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let now = time::now();
        let until = now
            + chrono::Duration::from_std(self.inner.lease).unwrap_or(chrono::Duration::seconds(30));
        let held = match storage::hold_lease(db, LEASE, self.instance(), now, until).await {
            Ok(held) => held,
            Err(e) => {
                // Unsure whether the renewal landed: stand down rather than
                // risk two leaders.
                tracing::warn!(error = %e, "scheduler lease not renewed");
                false
            }
        };
        self.set_leader(held);
        held
    }

    /// Renews the lease every third of its duration while the server runs.
    pub fn spawn_lease(&self, db: &Db) {
        let (me, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.inner.lease / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                me.renew(&db).await;
            }
        });
    }

    /// Gives the lease up (on a clean stop), so that another instance
    /// takes over at its next renewal rather than after expiry.
    pub async fn release(&self, db: &Db) {
        let _gate = self.inner.gate.lock().await;
        self.inner.stopping.store(true, Ordering::Relaxed);
        if self.is_leader() {
            self.set_leader(false);
            if let Err(e) = storage::release_lease(db, LEASE, self.instance()).await {
                tracing::warn!(error = %e, "scheduler lease not released; it expires by itself");
            }
        }
    }

    /// Runs `job` once per `every` across all instances, on the leader:
    /// checked at least every few seconds, so it starts soon after it is
    /// due (and at once on a fresh database). `run` answers a short
    /// summary, or why it failed.
    pub fn every<F, Fut>(&self, db: &Db, job: &'static str, every: Duration, run: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send,
    {
        let (me, db) = (self.clone(), db.clone());
        let check = every.min(me.inner.lease / 3).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(check);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if !me.is_leader() {
                    continue;
                }
                me.run_if_due(&db, job, every, &run).await;
            }
        });
    }

    #[tracing::instrument(skip_all, fields(job = job, instance = %self.instance()))]
    async fn run_if_due<F, Fut>(&self, db: &Db, job: &'static str, every: Duration, run: &F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<String, String>>,
    {
        let now = time::now();
        let period = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1));
        match storage::claim_job(db, job, self.instance(), now, now - period).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "job not claimed");
                return;
            }
        }
        let started = std::time::Instant::now();
        let outcome = run().await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (ok, detail) = match outcome {
            Ok(summary) => {
                tracing::info!(duration_ms, summary = %summary, "scheduled job done");
                (true, summary)
            }
            Err(e) => {
                tracing::error!(duration_ms, error = %e, "scheduled job failed");
                (false, e)
            }
        };
        self.count(job, ok);
        let record = storage::JobRun {
            job: job.to_owned(),
            instance: self.instance().to_owned(),
            started_at: now,
            finished_at: time::now(),
            outcome: if ok { "ok" } else { "failed" }.to_owned(),
            detail,
        };
        if let Err(e) =
            storage::record_job_run(db, &record, now - chrono::Duration::days(HISTORY_DAYS)).await
        {
            tracing::warn!(error = %e, "job run not recorded");
        }
    }
}

fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "regie".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{host}:{}:{}",
        std::process::id(),
        suffix.get(..6).unwrap_or_default()
    )
}
