//! The page of one polled device, for the technician: when it last
//! answered, the last error in French, how long its poll took, its PON
//! ports with the inventory's port behind each (or none, said so) and their
//! ONTs' optical levels, and every interface as last read.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use crate::monitoring::devices::PATH;
use crate::monitoring::views::{DeviceDetail, PonPortView};
use crate::platform::auth::Principal;
use crate::platform::web::{layout, local_time, render, PageError};
use crate::AppState;

/// Hundredths of a dBm as people read them: `−19,55`.
fn dbm(cdbm: Option<i32>) -> String {
    cdbm.map(|c| monitoring::line_optics::hundredths(i64::from(c)))
        .unwrap_or_else(|| "—".into())
}

/// An IF-MIB state in French.
fn state(s: Option<monitoring::interfaces::Status>) -> &'static str {
    use monitoring::interfaces::Status;
    match s {
        Some(Status::Up) => "actif",
        Some(Status::Down) => "coupé",
        Some(Status::Testing) => "en test",
        Some(Status::Unknown) => "inconnu",
        Some(Status::Dormant) => "en veille",
        Some(Status::NotPresent) => "absent",
        Some(Status::LowerLayerDown) => "couche inférieure coupée",
        None => "—",
    }
}

fn yes_no(v: Option<bool>, yes: &'static str, no: &'static str) -> &'static str {
    match v {
        Some(true) => yes,
        Some(false) => no,
        None => "—",
    }
}

fn speed(bps: Option<u64>) -> String {
    match bps {
        Some(b) if b >= 1_000_000_000 && b % 1_000_000_000 == 0 => {
            format!("{} Gbit/s", b / 1_000_000_000)
        }
        Some(b) if b >= 1_000_000 => format!("{} Mbit/s", b / 1_000_000),
        Some(b) => format!("{b} bit/s"),
        None => "—".into(),
    }
}

fn onts_table(caption: &str, onts: &[monitoring::profiles::OntOptics]) -> Markup {
    html! {
        div class="defilant" {
            table tabindex="0" {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "ONT" } th scope="col" { "Numéro de série" } th scope="col" { "État" }
                    th scope="col" { "Reçu à l'ONT (dBm)" } th scope="col" { "Reçu à l'OLT (dBm)" }
                    th scope="col" { "Émis par l'ONT (dBm)" } th scope="col" { "Distance (m)" }
                } }
                tbody {
                    @for o in onts {
                        tr {
                            td { (o.ont_id.map(|i| i.to_string()).unwrap_or_else(|| o.index.clone())) }
                            td { (o.serial.as_deref().unwrap_or("—")) }
                            td { (yes_no(o.online, "en ligne", "hors ligne")) }
                            td { (dbm(o.rx_ont_cdbm)) }
                            td { (dbm(o.rx_olt_cdbm)) }
                            td { (dbm(o.tx_ont_cdbm)) }
                            td { (o.distance_m.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
        }
    }
}

fn pon_ports(ports: &[PonPortView]) -> Markup {
    html! {
        h2 { "Ports PON" }
        @if ports.is_empty() {
            p class="info" { "Aucun port PON lu sur cet équipement." }
        } @else {
            div class="defilant" {
                table tabindex="0" {
                    caption class="visually-hidden" { "Ports PON" }
                    thead { tr {
                        th scope="col" { "Port" } th scope="col" { "État" } th scope="col" { "Port de l'inventaire" }
                        th scope="col" { "Émission (dBm)" } th scope="col" { "ONT lus" }
                    } }
                    tbody {
                        @for p in ports {
                            tr {
                                td { (p.if_name) " " span class="aide" { "(ifIndex " (p.if_index) ")" } }
                                td { (yes_no(p.oper_up, "actif", "coupé")) }
                                td {
                                    @match &p.pon_port {
                                        Some(code) => (code),
                                        None => strong { "absent de l'inventaire" },
                                    }
                                }
                                td { (dbm(p.tx_dbm.map(|t| (t * 100.0).round() as i32))) }
                                td { (p.onts.len()) }
                            }
                        }
                    }
                }
            }
            @for p in ports.iter().filter(|p| !p.onts.is_empty()) {
                (onts_table(&format!("ONT du port {}", p.if_name), &p.onts))
            }
        }
    }
}

fn page(d: &DeviceDetail) -> Markup {
    let s = &d.status;
    html! {
        h1 { "Équipement " (d.device.name) }
        p { a href=(PATH) { "← Tous les équipements" } }
        @if d.device.status != "polled" {
            p class="info" { (crate::monitoring::devices::status_label(&d.device)) }
        }
        dl class="fiche" {
            dt { "État" } dd { (crate::monitoring::devices::status_label(&d.device)) }
            dt { "Adresse" } dd { (d.device.address.as_deref().unwrap_or("—")) }
            dt { "SNMP" } dd { (d.device.version.as_deref().unwrap_or("—")) @if let Some(u) = &d.device.user { " (" (u) ")" } }
            dt { "Dernière réponse" } dd { (s.last_ok_at.as_deref().map(local_time).unwrap_or_else(|| "jamais depuis le démarrage".into())) }
            dt { "Dernier relevé" } dd {
                (s.last_poll_at.as_deref().map(local_time).unwrap_or_else(|| "pas encore interrogé par cette instance".into()))
                @if let Some(ms) = s.poll_duration_ms { " (" (ms) " ms)" }
            }
            dt { "Dernière erreur" } dd {
                @match &s.last_error {
                    Some(e) => strong { (e) },
                    None => "aucune",
                }
            }
            dt { "Niveaux optiques lus" } dd { (s.optics_at.as_deref().map(local_time).unwrap_or_else(|| "pas encore".into())) }
        }
        (pon_ports(&d.pon_ports))
        @if !d.other_onts.is_empty() {
            (onts_table("ONT dont le port n'est pas connu", &d.other_onts))
        }
        h2 { "Interfaces" }
        @if s.interfaces.is_empty() {
            p class="info" { "Aucune interface lue (l'équipement n'a pas encore répondu)." }
        } @else {
            div class="defilant" {
                table tabindex="0" {
                    caption class="visually-hidden" { "Interfaces" }
                    thead { tr {
                        th scope="col" { "ifIndex" } th scope="col" { "Nom" } th scope="col" { "Description" }
                        th scope="col" { "Type" } th scope="col" { "Administratif" } th scope="col" { "Opérationnel" }
                        th scope="col" { "Débit" } th scope="col" { "Octets reçus" } th scope="col" { "Octets émis" }
                    } }
                    tbody {
                        @for i in &s.interfaces {
                            tr {
                                td { (i.index) }
                                td { (i.name) }
                                td { (i.alias) }
                                td { (monitoring::interfaces::type_name(i.if_type)) }
                                td { (state(i.admin)) }
                                td { (state(i.oper)) }
                                td { (speed(i.speed_bps)) }
                                td { (i.in_octets.map(|c| c.value().to_string()).unwrap_or_else(|| "—".into())) }
                                td { (i.out_octets.map(|c| c.value().to_string()).unwrap_or_else(|| "—".into())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /technicien/equipements/{name}`.
pub async fn device(
    State(state): State<AppState>,
    me: Principal,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let Some(detail) = crate::monitoring::views::device_detail(&state, &name).await? else {
        return Err(crate::Error::NotFound(format!("aucun équipement « {name} »")).into());
    };
    let title = format!("Équipement {name}");
    Ok(render(
        StatusCode::OK,
        layout(&title, Some(&me), PATH, page(&detail)),
    ))
}
