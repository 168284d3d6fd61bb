//! Billing runs started from the page: each runs in the background and
//! tells how far it is, so the page can show a progress bar that refreshes
//! itself (and `GET /api/v1/billing/runs/{period}/state` answers the same)
//! while a run over the whole network takes its minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use billing::compute::Month;
use billing::run::Report;
use chrono::NaiveDate;
use regie_core::audit::Actor;
use serde::Serialize;

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

/// The runs started since the server started, by period.
#[derive(Debug, Clone, Default)]
pub struct Runs(Arc<Mutex<HashMap<String, RunState>>>);

impl Runs {
    pub fn get(&self, period: &str) -> Option<RunState> {
        self.0.lock().ok().and_then(|m| m.get(period).cloned())
    }

    fn set(&self, state: RunState) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(state.period.clone(), state);
        }
    }

    /// Starts issuing `month` unless a run of it is going; answers its
    /// state. The caller checked the month is over.
    pub fn start(
        &self,
        db: regie_core::Db,
        actor: Actor,
        month: Month,
        issued_on: NaiveDate,
    ) -> RunState {
        let period = month.label();
        if let Some(s) = self.get(&period).filter(|s| s.status == "running") {
            return s;
        }
        let state = RunState {
            period: period.clone(),
            done: 0,
            total: 0,
            status: "running".into(),
            report: None,
            error: None,
        };
        self.set(state.clone());
        let runs = self.clone();
        tokio::spawn(async move {
            let progress_runs = runs.clone();
            let p = period.clone();
            let mut progress = move |done: usize, total: usize| {
                if let Ok(mut m) = progress_runs.0.lock() {
                    if let Some(s) = m.get_mut(&p) {
                        s.done = done;
                        s.total = total;
                    }
                }
            };
            let outcome =
                billing::run::issue_with_progress(&db, &actor, month, issued_on, &mut progress)
                    .await;
            let mut last = runs.get(&period).unwrap_or(RunState {
                period: period.clone(),
                done: 0,
                total: 0,
                status: "running".into(),
                report: None,
                error: None,
            });
            match outcome {
                Ok(r) => {
                    last.status = "done".into();
                    last.report = Some(r);
                }
                Err(e) => {
                    tracing::error!(period = %period, error = %e, "billing run failed");
                    last.status = "failed".into();
                    last.error = Some(match e {
                        billing::Error::Invalid(m) => m,
                        _ => "erreur interne : voir le journal du serveur".into(),
                    });
                }
            }
            runs.set(last);
        });
        state
    }
}
