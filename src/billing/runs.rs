//! Billing runs started from the page: each runs in the background and
//! tells how far it is, so the page can show a progress bar that refreshes
//! itself (and `GET /api/v1/billing/runs/{period}/state` answers the same)
//! while a run over the whole network takes its minutes.
//!
//! The state lives in the database (`billing_run_state`), not in the
//! instance: behind a load balancer the page that asks may reach another
//! instance than the one running the month, and two instances asked to
//! run the same month start it once. The running instance writes its
//! progress every second, which is also its sign of life: a run not heard
//! of for a minute (its instance died) may be started again, and the
//! invoices it issued are not issued twice (one invoice per subscription
//! and month).

use crate::platform::auth::Principal;
use crate::social::today;
use crate::AppState;
use billing::compute::Month;
use billing::run::Report;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::Error;

/// How long a running run may stay silent before it counts as dead.
const STALE_AFTER_S: i64 = 60;

/// How a run stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunState {
    pub period: String,
    /// Subscriptions handled so far, out of `total`.
    pub done: usize,
    pub total: usize,
    /// `running`, `done` or `failed`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub report: Option<Report>,
    /// Why it failed, in words fit for the page (details are in the log).
    pub error: Option<String>,
}

/// The runs of this instance's database; `instance` names this instance
/// in the rows it writes.
#[derive(Debug, Clone)]
pub struct Runs {
    instance: String,
}

impl Runs {
    pub fn new(instance: &str) -> Self {
        Self {
            instance: instance.to_owned(),
        }
    }

    /// The last run of `period` started from the page, on any instance.
    pub async fn get(&self, db: &Db, period: &str) -> Result<Option<RunState>, Error> {
        let Some(r) = crate::platform::storage::billing_run(db, period).await? else {
            return Ok(None);
        };
        let report = match r.report_json.as_deref() {
            None => None,
            Some(j) => Some(serde_json::from_str(j).map_err(|e| {
                Error::Internal(format!("stored report of the run of {period}: {e}"))
            })?),
        };
        Ok(Some(RunState {
            period: r.period,
            done: usize::try_from(r.done).unwrap_or(0),
            total: usize::try_from(r.total).unwrap_or(0),
            status: r.status,
            report,
            error: r.error,
        }))
    }

    /// Starts issuing `month` unless a run of it is going (here or on
    /// another instance). The caller checked the month is over.
    pub async fn start(
        &self,
        db: Db,
        actor: Actor,
        month: Month,
        issued_on: billing::run::IssueDate,
    ) -> Result<(), Error> {
        let period = month.label();
        let now = chrono::Utc::now();
        let stale = now - chrono::Duration::seconds(STALE_AFTER_S);
        if !crate::platform::storage::claim_billing_run(&db, &period, &self.instance, now, stale)
            .await?
        {
            return Ok(());
        }
        let instance = self.instance.clone();
        tokio::spawn(async move {
            let seen = Arc::new(Mutex::new((0usize, 0usize)));
            let ticker = {
                let (db, period, instance, seen) =
                    (db.clone(), period.clone(), instance.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        tick.tick().await;
                        let (done, total) = seen.lock().map(|g| *g).unwrap_or((0, 0));
                        let written = crate::platform::storage::billing_run_progress(
                            &db,
                            &period,
                            &instance,
                            i64::try_from(done).unwrap_or(i64::MAX),
                            i64::try_from(total).unwrap_or(i64::MAX),
                            chrono::Utc::now(),
                        )
                        .await;
                        if let Err(e) = written {
                            tracing::warn!(period = %period, error = %e, "billing run progress not written");
                        }
                    }
                })
            };
            let mut progress = {
                let seen = seen.clone();
                move |done: usize, total: usize| {
                    if let Ok(mut g) = seen.lock() {
                        *g = (done, total);
                    }
                }
            };
            let outcome =
                billing::run::issue_with_progress(&db, &actor, month, issued_on, &mut progress)
                    .await;
            ticker.abort();
            let (done, total) = seen.lock().map(|g| *g).unwrap_or((0, 0));
            let (status, report, error) = match outcome {
                Ok(r) => ("done", serde_json::to_string(&r).ok(), None),
                Err(e) => {
                    tracing::error!(period = %period, error = %e, "billing run failed");
                    let shown = match e {
                        billing::Error::Invalid(m) => m,
                        _ => "erreur interne : voir le journal du serveur".into(),
                    };
                    ("failed", None, Some(shown))
                }
            };
            let end = crate::platform::storage::StoredRun {
                period: period.clone(),
                status: status.into(),
                done: i64::try_from(done).unwrap_or(i64::MAX),
                total: i64::try_from(total).unwrap_or(i64::MAX),
                report_json: report,
                error,
            };
            let finished = crate::platform::storage::finish_billing_run(
                &db,
                &instance,
                &end,
                chrono::Utc::now(),
            )
            .await;
            if let Err(e) = finished {
                tracing::error!(period = %period, error = %e, "billing run's end not recorded");
            }
        });
        Ok(())
    }
}

pub(crate) fn day(name: &str, v: &str) -> Result<chrono::NaiveDate, Error> {
    v.trim().parse().map_err(|_| {
        Error::Invalid(format!(
            "{name} « {} » : date attendue au format AAAA-MM-JJ",
            v.trim()
        ))
    })
}

/// The month to issue and the issue date, checked: the month is over.
pub fn month_to_issue(
    period: &str,
    issued_on: Option<&str>,
) -> Result<(Month, billing::run::IssueDate), Error> {
    let month = Month::parse(period)?;
    let issued_on = issued_on
        .map(|d| day("issued_on", d))
        .transpose()?
        .unwrap_or_else(today);
    Ok((
        month,
        billing::run::IssueDate::new(month, issued_on, today())?,
    ))
}

/// Issues a month, checking the month is over; for the API.
pub async fn issue_month(
    state: &AppState,
    me: &Principal,
    period: &str,
    issued_on: Option<&str>,
) -> Result<Report, Error> {
    let (month, issued_on) = month_to_issue(period, issued_on)?;
    Ok(billing::run::issue(&state.db, &me.actor(), month, issued_on).await?)
}
