//! `regie billing …`: monthly runs from the command line, with a progress
//! bar on standard error for the long ones.

use billing::compute::Month;
use regie_core::audit::Actor;
use regie_core::Db;

use crate::cli::{BillingCommand, OutputFormat};
use crate::Error;

fn report_text(r: &billing::run::Report) -> String {
    let mut out = format!(
        "{}: {} invoice(s) to issue or issued ({} issued now, {} already issued), {} VAT included\n",
        r.period, r.to_issue, r.issued, r.already, r.gross
    );
    for (offer, n) in &r.per_offer {
        out.push_str(&format!("  {offer:<12} {n}\n"));
    }
    for a in &r.anomalies {
        out.push_str(&format!("  anomaly: {a}\n"));
    }
    out
}

pub async fn run(db: &Db, cmd: BillingCommand) -> Result<(), Error> {
    match cmd {
        BillingCommand::Preview { period, format } => {
            let month = Month::parse(&period)?;
            let report = billing::run::preview(db, month).await?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Error::Internal(e.to_string()))?
                ),
                OutputFormat::Text => print!("{}", report_text(&report)),
            }
            Ok(())
        }
        BillingCommand::Run { period, issued_on } => {
            let month = Month::parse(&period)?;
            let issued_on = match issued_on {
                Some(d) => d.parse().map_err(|_| {
                    Error::Invalid(format!("issue date {d:?}: expected YYYY-MM-DD"))
                })?,
                None => crate::social::today(),
            };
            if issued_on < month.last {
                return Err(Error::Invalid(format!(
                    "the invoices of {} cannot be issued before the month ends ({})",
                    month.label(),
                    month.last
                )));
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} subscriptions, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let progress_bar = bar.clone();
            let mut progress = move |done: usize, total: usize| {
                progress_bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
                progress_bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
            };
            let report = billing::run::issue_with_progress(
                db,
                &Actor::system("cli"),
                month,
                issued_on,
                &mut progress,
            )
            .await;
            bar.finish_and_clear();
            print!("{}", report_text(&report?));
            Ok(())
        }
    }
}

/// Keeps subscriptions in step with their lines: every minute, billing
/// applies provisioning's new line events.
pub fn spawn_line_follower(state: &crate::AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let actor = Actor::system("billing");
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            match billing::sync::follow_lines(&state.db, &state.provisioning, &actor).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "subscriptions followed their lines"),
                Err(e) => tracing::error!(error = %e, "following line events failed"),
            }
        }
    });
}
