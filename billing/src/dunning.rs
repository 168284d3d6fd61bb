//! The dunning pass: reminder steps for invoices past their due date, then
//! a request to provisioning to suspend the line for unpaid bills — or,
//! for a household the law protects (a pending FSL request, the social
//! tariff's renewal grace), only to slow it (`keep_connected`). When the
//! arrears are settled, the line is resumed. The pass is idempotent: each
//! step is recorded once, and a line already as wanted is left alone.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use provisioning::lifecycle::{State, SuspendReason};
use provisioning::service::Provisioning;
use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::ledger::{days_late, wanted, Protection, Schedule, Step, Wanted};
use crate::storage::ledger as store;
use crate::Error;

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// (account, invoice, reminder number) of the letters to send.
    pub reminders: Vec<(String, String, usize)>,
    pub suspended: Vec<String>,
    pub throttled: Vec<String>,
    pub resumed: Vec<String>,
    /// Lines provisioning could not change now (retried next pass).
    pub failed: Vec<(String, String)>,
}

/// Households whose social tariff ended and whose renewal grace covers
/// `today`, with the grace's last day.
pub async fn in_grace(db: &Db, today: NaiveDate) -> Result<HashMap<String, NaiveDate>, Error> {
    let far = today
        .checked_add_days(Days::new(3660))
        .unwrap_or(NaiveDate::MAX);
    let entitlements = social_tariff::entitlements_changing(db, today, far)
        .await
        .map_err(|e| Error::Upstream(format!("tarif social : {e}")))?;
    Ok(entitlements
        .into_iter()
        .filter(|e| e.valid_to < today && today <= e.grace_until)
        .map(|e| (e.household, e.grace_until))
        .collect())
}

/// Why an account's line may not be cut, if it may not.
pub async fn protection(
    db: &Db,
    account: &str,
    household: Option<&str>,
    grace: &HashMap<String, NaiveDate>,
) -> Result<Option<Protection>, Error> {
    if let Some(filed_on) = store::fsl_pending(db, account).await? {
        return Ok(Some(Protection::FslPending { filed_on }));
    }
    Ok(household
        .and_then(|h| grace.get(h))
        .map(|until| Protection::SocialTariffGrace { until: *until }))
}

/// Runs the schedule on `today` for every account in arrears, and
/// resumes the lines of accounts that settled.
#[tracing::instrument(skip_all, fields(today = %today))]
pub async fn pass(
    db: &Db,
    lines: &Provisioning,
    actor: &Actor,
    today: NaiveDate,
    payment_days: u32,
    schedule: &Schedule,
) -> Result<PassReport, Error> {
    schedule.check()?;
    let mut report = PassReport::default();
    let Some(issued_before) = today.checked_sub_days(Days::new(u64::from(payment_days))) else {
        return Ok(report);
    };
    store::spread_credits(db).await?;
    let grace = in_grace(db, today).await?;
    let mut held: HashSet<String> = store::held_accounts(db).await?.into_iter().collect();
    for a in store::arrears(db, issued_before).await? {
        let late = days_late(a.issued_on, today, payment_days);
        for step in schedule.reached(late) {
            let done = store::record_step(db, actor, &a.invoice, step, today).await?;
            if let (true, Step::Reminder(n)) = (done, step) {
                report
                    .reminders
                    .push((a.account.clone(), a.invoice.clone(), n));
            }
        }
        let protected = protection(db, &a.account, a.household.as_deref(), &grace).await?;
        let want = wanted(Some(late), schedule, protected.is_some());
        if want == Wanted::Normal {
            continue;
        }
        held.remove(&a.account);
        let reason = protected.as_ref().map(Protection::explain);
        store::set_policy(db, &a.account, want, reason.as_deref(), today).await?;
        apply(
            lines,
            actor,
            &store::lines_of(db, &a.account).await?,
            want,
            &a.account,
            &mut report,
        )
        .await;
    }
    // Held accounts no longer in arrears past the schedule: resumed.
    for account in held {
        store::set_policy(db, &account, Wanted::Normal, None, today).await?;
        apply(
            lines,
            actor,
            &store::lines_of(db, &account).await?,
            Wanted::Normal,
            &account,
            &mut report,
        )
        .await;
    }
    tracing::info!(
        reminders = report.reminders.len(),
        suspended = report.suspended.len(),
        throttled = report.throttled.len(),
        resumed = report.resumed.len(),
        failed = report.failed.len(),
        "dunning pass"
    );
    Ok(report)
}

/// Asks provisioning to put each line as wanted; a line suspended for
/// another reason (the subscriber's request, a fault) is left alone.
async fn apply(
    lines: &Provisioning,
    actor: &Actor,
    ids: &[String],
    want: Wanted,
    account: &str,
    report: &mut PassReport,
) {
    for id in ids {
        let line = match lines.line(id).await {
            Ok(l) => l,
            Err(e) => {
                report.failed.push((id.clone(), e.to_string()));
                continue;
            }
        };
        let ours = matches!(
            line.suspend_reason,
            Some(SuspendReason::Unpaid | SuspendReason::KeepConnected)
        );
        let active = line.state == State::Active;
        let suspended_by_us = line.state == State::Suspended && ours;
        let result = match want {
            Wanted::Suspended
                if active
                    || suspended_by_us && line.suspend_reason != Some(SuspendReason::Unpaid) =>
            {
                report.suspended.push(account.to_owned());
                lines.suspend(actor, id, SuspendReason::Unpaid).await
            }
            Wanted::Throttled
                if active
                    || suspended_by_us
                        && line.suspend_reason != Some(SuspendReason::KeepConnected) =>
            {
                report.throttled.push(account.to_owned());
                lines.suspend(actor, id, SuspendReason::KeepConnected).await
            }
            Wanted::Normal if suspended_by_us => {
                report.resumed.push(account.to_owned());
                lines.resume(actor, id).await
            }
            _ => continue,
        };
        if let Err(e) = result {
            tracing::warn!(line = %id, account, error = %e, "line policy not applied");
            report.failed.push((id.clone(), e.to_string()));
        }
    }
}
