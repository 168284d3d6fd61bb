//! `regie provisioning …`: the command-line face of the provisioning crate.

use provisioning::service::{Drift, NewPool, Provisioning};
use regie_core::audit::Actor;

use crate::cli::{OutputFormat, ProvisioningCommand};
use crate::Error;

pub async fn run(service: &Provisioning, cmd: ProvisioningCommand) -> Result<(), Error> {
    match cmd {
        ProvisioningCommand::Drift { olt, format } => {
            if service.drivers().is_simulated(&olt) {
                eprintln!(
                    "note: {olt} has no driver configured; comparing with its simulator (DATA_DIR/simulated-olts)"
                );
            }
            let drift = service.drift(&olt).await?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&drift)
                        .map_err(|e| Error::Internal(e.to_string()))?
                ),
                OutputFormat::Text => print!("{}", drift_text(&drift)),
            }
            Ok(())
        }
        ProvisioningCommand::Pools => {
            let pools = service.pools().await?;
            if pools.is_empty() {
                println!("no pool defined (regie provisioning pool-add NAME KIND NETWORK)");
            }
            for p in pools {
                println!(
                    "{:<16} {:<13} {:<24} /{:<3} {:>10} used of {}",
                    p.pool.name,
                    p.pool.kind.as_str(),
                    p.pool.network.to_string(),
                    p.pool.assign_len,
                    p.used,
                    p.size
                );
            }
            Ok(())
        }
        ProvisioningCommand::PoolAdd {
            name,
            kind,
            network,
            assign_len,
        } => {
            let pool = service
                .add_pool(
                    &Actor::system("cli"),
                    &NewPool {
                        name,
                        kind,
                        network,
                        assign_len,
                    },
                )
                .await?;
            println!(
                "pool {} ({}, {}) created: {} addresses or prefixes",
                pool.name,
                pool.kind.as_str(),
                pool.network,
                pool.size()
            );
            Ok(())
        }
    }
}

/// The drift report as an operator reads it.
pub fn drift_text(d: &Drift) -> String {
    let mut out = String::new();
    if d.is_clean() {
        out.push_str(&format!(
            "{}: no drift, the OLT holds exactly the live lines\n",
            d.olt
        ));
        return out;
    }
    if !d.unknown_on_olt.is_empty() {
        out.push_str(&format!(
            "ONTs on {} unknown to the database ({}):\n",
            d.olt,
            d.unknown_on_olt.len()
        ));
        for o in &d.unknown_on_olt {
            out.push_str(&format!(
                "  {}  {}  {}\n",
                o.location, o.serial, o.description
            ));
        }
    }
    if !d.missing_on_olt.is_empty() {
        out.push_str(&format!(
            "Lines whose ONT {} lacks ({}):\n",
            d.olt,
            d.missing_on_olt.len()
        ));
        for l in &d.missing_on_olt {
            out.push_str(&format!("  {l}\n"));
        }
    }
    if !d.serial_mismatch.is_empty() {
        out.push_str(&format!(
            "Lines whose ONT id holds another serial ({}):\n",
            d.serial_mismatch.len()
        ));
        for l in &d.serial_mismatch {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out
}
