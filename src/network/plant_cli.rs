//! `regie inventory …`: the command-line face of the inventory crate.

use inventory::service::{self, ImportOutcome};
use inventory::trace::{From, JointKind, RouteCheck, Step, Upstream};
use regie_core::audit::Actor;
use regie_core::Db;

use crate::cli::{ExportFormat, InventoryCommand, OutputFormat};
use crate::Error;

pub async fn run(
    db: &Db,
    cmd: InventoryCommand,
    limits: &inventory::gracethd::Limits,
) -> Result<(), Error> {
    match cmd {
        InventoryCommand::Import { dir, dry_run } => {
            let bar = Bar::new();
            let outcome = service::import_with_progress(
                db,
                &Actor::system("cli"),
                &dir,
                dry_run,
                limits,
                &bar,
            )
            .await;
            bar.0.finish_and_clear();
            let outcome = outcome?;
            print!("{}", import_text(&outcome));
            if outcome.refused() {
                return Err(Error::Invalid(format!(
                    "the delivery has {} error(s); nothing was imported",
                    outcome.report.error_count
                )));
            }
            Ok(())
        }
        InventoryCommand::Downstream {
            pon,
            splitter,
            cable,
        } => {
            let from = match (pon, splitter, cable) {
                (Some(p), None, None) => From::PonPort(p),
                (None, Some(s), None) => From::Splitter(s),
                (None, None, Some(c)) => From::Cable(c),
                _ => {
                    return Err(Error::Invalid(
                        "give exactly one of --pon, --splitter, --cable".into(),
                    ))
                }
            };
            let d = service::downstream(db, &service::PlantCache::default(), from).await?;
            println!(
                "{} PTO, {} locaux derrière ce point ({} fibres parcourues)",
                d.outlets.len(),
                d.premises.len(),
                d.fibres
            );
            for o in &d.outlets {
                println!("  PTO {o}");
            }
            Ok(())
        }
        InventoryCommand::Export { format, output } => {
            let cache = service::PlantCache::default();
            let text = match format {
                ExportFormat::Gracethd => {
                    let dir = output.ok_or_else(|| {
                        Error::Invalid("--format gracethd needs --output DIR".into())
                    })?;
                    let plant = cache.get(db).await?;
                    inventory::export::gracethd(&plant, &dir)?;
                    println!("plant written to {}", dir.display());
                    return Ok(());
                }
                ExportFormat::Ipe => service::export_ipe(db, &cache).await?,
                ExportFormat::Geojson => service::export_geojson(db, &cache).await?.to_string(),
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        // Handled before a database is opened.
        InventoryCommand::Generate { .. } => Ok(()),
        InventoryCommand::Trace { pto, format } => {
            let trace = service::trace_outlet(db, &service::PlantCache::default(), &pto).await?;
            match format {
                OutputFormat::Json => {
                    let json = serde_json::to_string_pretty(&trace)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    println!("{json}");
                }
                OutputFormat::Text => print!("{}", trace_text(&trace)),
            }
            Ok(())
        }
    }
}

/// A terminal progress bar (drawn only when standard error is a terminal).
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Self(bar)
    }
}

impl service::Progress for Bar {
    fn phase(&self, name: &str, total: u64) {
        if total == 0 {
            self.0
                .set_style(indicatif::ProgressStyle::default_spinner());
        } else {
            self.0.set_length(total);
            self.0.set_position(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} lignes ({per_sec}, reste {eta})",
            ) {
                self.0.set_style(style.progress_chars("=> "));
            }
        }
        self.0.set_message(name.to_owned());
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// The import report as an operator reads it.
pub fn import_text(o: &ImportOutcome) -> String {
    let mut out = String::new();
    for issue in &o.report.issues {
        out.push_str(&format!("{issue}\n"));
    }
    out.push_str("\nrows read:\n");
    for (file, n) in &o.counts {
        out.push_str(&format!("  {file:<22} {n:>9}\n"));
    }
    if o.report.left_out > 0 {
        out.push_str(&format!(
            "… and {} more, counted but not listed\n",
            o.report.left_out
        ));
    }
    let errors = o.report.error_count;
    let warnings = o.report.warning_count;
    out.push_str(&format!(
        "\n{errors} error(s), {warnings} warning(s), {} ms\n",
        o.duration_ms
    ));
    match &o.summary {
        Some(s) => {
            let t = s.total();
            out.push_str(&format!(
                "imported: {} added, {} changed, {} removed, {} unchanged\n",
                t.added, t.changed, t.removed, t.unchanged
            ));
        }
        None if o.dry_run && errors == 0 => out.push_str("dry run: nothing written\n"),
        None => out.push_str("nothing written\n"),
    }
    out
}

/// A trace hop by hop, in French like the pages (technicians read both).
pub fn trace_text(t: &Upstream) -> String {
    let mut out = format!("PTO {}", t.outlet);
    if let Some(suf) = &t.suf {
        out.push_str(&format!(" (local {suf})"));
    }
    out.push('\n');
    if let Some(reason) = &t.no_path_reason {
        out.push_str(&format!("  pas de chemin : {reason}\n"));
        return out;
    }
    for (i, (step, hop)) in t.steps.iter().zip(&t.hops).enumerate() {
        let what = match step {
            Step::Fibre {
                code,
                cable,
                tube,
                color,
                length_m,
            } => format!(
                "fibre {code}  câble {cable}  tube {}  couleur {color}  {}",
                tube.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
                length_m
                    .map(|m| format!("{m:.0} m"))
                    .unwrap_or_else(|| "longueur inconnue".into())
            ),
            Step::Joint {
                position,
                place,
                element,
            } => {
                let kind = match element {
                    JointKind::Splice => "épissure".to_owned(),
                    JointKind::Connector => "connecteur".to_owned(),
                    JointKind::Splitter { outputs } => format!("coupleur 1:{outputs}"),
                };
                format!("{kind} {position}  {place}")
            }
        };
        out.push_str(&format!("  {:>2}  {what}  {}\n", i + 1, hop.loss.precise()));
    }
    out.push_str(&format!("  total : {}", t.total.precise()));
    if let Some(o) = &t.origin {
        out.push_str(&format!("  origine : {o}"));
    }
    out.push('\n');
    let class = match (&t.pon_port, t.class_assumed) {
        (Some(port), _) => format!("{} du port PON {port}", t.class.label()),
        (None, true) => format!(
            "{} (classe par défaut : aucun port PON rattaché)",
            t.class.label()
        ),
        (None, false) => t.class.label().to_owned(),
    };
    match &t.verdict {
        Some(inventory::budget::Verdict::Pass { margin }) => out.push_str(&format!(
            "  budget {class} : conforme, marge {}\n",
            margin.precise()
        )),
        Some(inventory::budget::Verdict::Fail { excess, worst_hop }) => out.push_str(&format!(
            "  budget {class} : NON conforme, dépassement {} ; élément le plus coûteux : {}\n",
            excess.precise(),
            t.hops
                .get(*worst_hop)
                .map(|h| h.label.as_str())
                .unwrap_or("?")
        )),
        None => {}
    }
    match &t.route {
        RouteCheck::NoStoredRoute => out.push_str("  route stockée : aucune\n"),
        RouteCheck::Agrees { route } => out.push_str(&format!("  route stockée {route} : identique au chemin tracé\n")),
        RouteCheck::Differs { route, missing_from_route, not_on_path } => out.push_str(&format!(
            "  route stockée {route} : DIFFÈRE du chemin tracé (absentes de la route : {} ; hors chemin : {})\n",
            if missing_from_route.is_empty() { "aucune".into() } else { missing_from_route.join(", ") },
            if not_on_path.is_empty() { "aucune".into() } else { not_on_path.join(", ") },
        )),
    }
    out
}
