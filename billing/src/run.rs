//! A month's billing run: previewed (totals, counts per offer, anomalies)
//! without writing anything, then issued one subscription at a time, each
//! invoice in its own transaction. Issuing twice issues nothing new; a run
//! killed midway and started again completes the month without a gap.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::compute::Month;
use crate::money::Cents;
use crate::storage;
use crate::Error;

/// What a run would issue or issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub period: String,
    /// Invoices issued by this run (0 in a preview).
    pub issued: usize,
    /// Subscriptions already invoiced for the month.
    pub already: usize,
    /// Subscriptions to invoice (in a preview) or invoiced now.
    pub to_issue: usize,
    /// Total VAT included of what is (to be) issued.
    pub gross: Cents,
    /// Subscriptions per offer code.
    pub per_offer: BTreeMap<String, usize>,
    /// Problems that need a look before issuing, in French.
    pub anomalies: Vec<String>,
}

/// Progress of a run: (subscriptions done, subscriptions in the month).
pub type Progress<'a> = &'a mut (dyn FnMut(usize, usize) + Send);

async fn walk(
    db: &Db,
    month: Month,
    issue: Option<(&Actor, NaiveDate)>,
    progress: Progress<'_>,
) -> Result<Report, Error> {
    let social = storage::social_days(db, month).await?;
    let mut report = Report {
        period: month.label(),
        ..Report::default()
    };
    let devices = storage::granted_devices(db, month).await?;
    let all = storage::billable(db, month).await?;
    let total = all.len();
    // A household's devices go on the invoice of its first subscription
    // (the lowest id): the same one on every rerun.
    let mut carrier: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for b in &all {
        if let Some(h) = b.account.household.as_deref() {
            if devices.contains_key(h) {
                let e = carrier.entry(h).or_insert(b.subscription_id);
                *e = (*e).min(b.subscription_id);
            }
        }
    }
    let carried: std::collections::HashMap<i64, &[crate::compute::GrantedDevice]> = carrier
        .into_iter()
        .filter_map(|(h, id)| devices.get(h).map(|d| (id, d.as_slice())))
        .collect();
    for (done, b) in all.into_iter().enumerate() {
        progress(done, total);
        if storage::invoiced(db, b.subscription_id, month).await? {
            report.already += 1;
            continue;
        }
        if b.account.address.trim().is_empty() {
            report
                .anomalies
                .push(format!("le compte {} n'a pas d'adresse", b.account.code));
        }
        let mine = carried.get(&b.subscription_id).copied().unwrap_or(&[]);
        let lines = match storage::lines_for(&b, month, &social, mine) {
            Ok(l) => l,
            Err(e) => {
                report
                    .anomalies
                    .push(format!("abonnement {} : {e}", b.subscription));
                continue;
            }
        };
        if lines.is_empty() {
            continue;
        }
        let t = crate::money::totals(lines.iter().map(|l| (l.net, l.rate)))?;
        if t.gross.0 < 0 {
            report.anomalies.push(format!(
                "abonnement {} : total négatif ({})",
                b.subscription, t.gross
            ));
            continue;
        }
        if let Some(s) = b.segments.last() {
            *report.per_offer.entry(s.offer.code.clone()).or_default() += 1;
        }
        match issue {
            None => {
                report.to_issue += 1;
                report.gross = report.gross.checked_add(t.gross)?;
            }
            Some((actor, issued_on)) => {
                if storage::issue_invoice(db, actor, &b, month, issued_on, lines)
                    .await?
                    .is_some()
                {
                    report.issued += 1;
                    report.to_issue += 1;
                    report.gross = report.gross.checked_add(t.gross)?;
                } else {
                    report.already += 1;
                }
            }
        }
    }
    Ok(report)
}

/// What issuing `month` would do, without writing.
#[tracing::instrument(skip_all, fields(period = %month.label()))]
pub async fn preview(db: &Db, month: Month) -> Result<Report, Error> {
    walk(db, month, None, &mut |_, _| {}).await
}

/// Issues the invoices of `month` not yet issued.
pub async fn issue(
    db: &Db,
    actor: &Actor,
    month: Month,
    issued_on: NaiveDate,
) -> Result<Report, Error> {
    issue_with_progress(db, actor, month, issued_on, &mut |_, _| {}).await
}

/// [`issue`], telling `progress` how far it is (for a progress bar).
#[tracing::instrument(skip_all, fields(period = %month.label(), actor = %actor.username))]
pub async fn issue_with_progress(
    db: &Db,
    actor: &Actor,
    month: Month,
    issued_on: NaiveDate,
    progress: Progress<'_>,
) -> Result<Report, Error> {
    let started = std::time::Instant::now();
    let report = walk(db, month, Some((actor, issued_on)), progress).await?;
    tracing::info!(
        issued = report.issued,
        already = report.already,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "billing run"
    );
    Ok(report)
}
