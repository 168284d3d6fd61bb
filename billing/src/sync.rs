//! Subscriptions follow their lines: billing reads provisioning's public
//! event feed (never its tables) and applies what concerns the bill — a
//! suspension at the subscriber's request stops billing from that day, a
//! resumption restarts it, a termination ends the subscription after its
//! last day. Suspensions for unpaid bills, faults or the keep-connected
//! throttle change nothing: those days are billed.

use chrono::NaiveDate;
use provisioning::lifecycle::State;
use provisioning::line::Event;
use regie_core::audit::Actor;
use regie_core::Db;

use crate::storage::{self, SubscriptionChange};
use crate::Error;

/// What an event means for the subscription, from which day.
pub fn change_for(event: &Event) -> Option<(SubscriptionChange, NaiveDate)> {
    let day: NaiveDate = event.at.get(..10)?.parse().ok()?;
    let reason = event
        .detail
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(|r| r.as_str());
    match (event.step.as_str(), event.to_state) {
        (_, State::Terminated) => Some((SubscriptionChange::End, day.succ_opt()?)),
        ("suspend", State::Suspended) if reason == Some("subscriber_request") => {
            Some((SubscriptionChange::SuspendOnRequest, day))
        }
        ("resume", State::Active) => Some((SubscriptionChange::Resume, day)),
        _ => None,
    }
}

/// Applies the line events since the last run; answers how many changed
/// a subscription. A change refused (e.g. before the subscription's
/// current stretch) is logged and passed over. Each change is written in
/// one transaction with the cursor moved past its event, so a crash
/// between the two can neither lose the change nor apply it twice.
#[tracing::instrument(skip_all)]
pub async fn follow_lines(
    db: &Db,
    lines: &provisioning::service::Provisioning,
    actor: &Actor,
) -> Result<usize, Error> {
    let mut applied = 0;
    loop {
        let after = storage::cursor(db).await?;
        let events = lines
            .events_since(after, 500)
            .await
            .map_err(|e| Error::Upstream(format!("provisioning : {e}")))?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        for e in &events {
            let Some((change, on)) = change_for(e) else {
                continue;
            };
            let Some(code) = storage::live_subscription_of_line(db, &e.line_id).await? else {
                continue;
            };
            let mut tx = db.begin().await.map_err(Error::Storage)?;
            match storage::change_in(&mut tx, actor, &code, on, &change).await {
                Ok(()) => {
                    storage::advance_cursor(&mut tx, e.seq).await?;
                    tx.commit().await.map_err(|e| Error::Storage(e.into()))?;
                    applied += 1;
                }
                Err(Error::Invalid(m)) => {
                    tracing::warn!(subscription = %code, line = %e.line_id, seq = e.seq, reason = %m, "line event not applied");
                    tx.rollback().await.map_err(|e| Error::Storage(e.into()))?;
                }
                Err(other) => return Err(other),
            }
        }
        // The events that change no bill need no transaction of their own.
        let mut conn = db
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::Storage(e.into()))?;
        storage::advance_cursor(&mut conn, last).await?;
    }
    Ok(applied)
}
