//! The technician's plant pages: the home (network in figures, open
//! alarms), the trace of an outlet, the capacity by PM and commune, the
//! import of a GraceTHD delivery.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, page, render, sentence, PageError,
};
use crate::AppState;

type PageResult = Result<Response, PageError>;

/// `GET /technicien`.
pub async fn technician_home(State(state): State<AppState>, me: Principal) -> PageResult {
    let counts = inventory::storage::counts(&state.db).await?;
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let line_counts = state.provisioning.counts().await?;
    let count = |states: &[provisioning::lifecycle::State]| -> i64 {
        line_counts
            .iter()
            .filter(|(s, _)| states.contains(s))
            .map(|c| c.1)
            .sum()
    };
    use provisioning::lifecycle::State as L;
    let lines_total = count(&L::ALL);
    let pending = count(&[L::Ordered, L::PathReserved, L::OntInstalled]);
    let active = count(&[L::Active]);
    let open_alarms = crate::monitoring::views::open_alarms(&state).await?;
    let body = html! {
        h1 { "Espace technicien" }
        p { "Bonjour " (me.display_name) ". Voici les outils du réseau." }
        ul class="cartes" {
            li class="carte" {
                h2 { "Inventaire du réseau" }
                p { "Import GraceTHD, sites, boîtiers, câbles et chemins optiques." }
                @if n("fibres") == 0 {
                    p class="info" { "Aucun réseau importé pour l'instant. Importez une livraison avec " code { "regie inventory import DOSSIER" } "." }
                } @else {
                    p { (n("sites")) " sites techniques, " (n("outlets")) " PTO, " (n("cables")) " câbles, " (n("fibres")) " fibres." }
                    a href="/technicien/trace" { "Tracer un chemin optique" }
                }
            }
            li class="carte" {
                h2 { "Raccordements" }
                p { "Commande, réservation du chemin, pose de l'ONT, activation, suspension." }
                @if lines_total == 0 {
                    p class="info" { "Aucune ligne pour l'instant." }
                } @else {
                    p { (pending) " ligne(s) attendent une intervention, " (active) " active(s)." }
                }
                a href="/technicien/lignes" { "Voir les lignes et interventions" }
            }
            li class="carte" { h2 { "Supervision" } p { "État des OLT et des ports PON, alarmes et foyers touchés." } (crate::monitoring::alarms::summary(&open_alarms)) }
        }
    };
    Ok(page("Espace technicien", &me, "/technicien", body))
}

#[derive(Debug, Deserialize, Default)]
pub struct TraceQuery {
    pto: Option<String>,
}

/// `GET /technicien/trace?pto=…`: the optical path of an outlet, hop by hop.
pub async fn trace_page(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<TraceQuery>,
) -> PageResult {
    use inventory::budget::Verdict;
    use inventory::trace::{JointKind, RouteCheck, Step};
    let pto = q
        .pto
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let mut errors = Vec::new();
    let trace = if pto.is_empty() {
        None
    } else {
        match inventory::service::trace_outlet(&state.db, &state.plant, &pto).await {
            Ok(t) => Some(t),
            Err(inventory::Error::NotFound(m)) => {
                errors.push(("pto", m));
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let body = html! {
        h1 { "Tracer un chemin optique" }
        (error_summary(&errors))
        form method="get" action="/technicien/trace" class="formulaire" {
            div class="champ" {
                label for="pto" { "Code de la PTO" span class="aide" { "Code GraceTHD du boîtier (t_ebp), par exemple BP000180031330." } }
                input type="text" id="pto" name="pto" value=(pto) required
                    aria-invalid=(has_error(&errors, "pto")) aria-describedby=[has_error(&errors, "pto").then_some("pto-erreur")];
                (field_error(&errors, "pto"))
            }
            button type="submit" { "Tracer" }
        }
        @if let Some(t) = &trace {
            h2 { "PTO " (t.outlet) @if let Some(s) = &t.suf { " — local " (s) } }
            @if let Some(reason) = &t.no_path_reason {
                p class="info" { "Pas de chemin : " (reason) "." }
            } @else {
                dl {
                    dt { "Perte totale" } dd { (t.total.fr()) }
                    dt { "Budget " (t.class.label()) @if t.class_assumed { " (classe par défaut : aucun port PON rattaché)" } }
                    dd {
                        @match &t.verdict {
                            Some(Verdict::Pass { margin }) => { strong { "Conforme" } ", marge " (margin.fr()) },
                            Some(Verdict::Fail { excess, worst_hop }) => {
                                strong { "Non conforme" } ", dépassement " (excess.fr()) " ; élément le plus coûteux : "
                                (t.hops.get(*worst_hop).map(|h| h.label.as_str()).unwrap_or("?"))
                            },
                            None => { "—" },
                        }
                    }
                    @if let Some(port) = &t.pon_port { dt { "Port PON" } dd { (port) } }
                    @if let Some(o) = &t.origin { dt { "Origine" } dd { (o) } }
                    dt { "Route stockée (t_ropt)" }
                    dd {
                        @match &t.route {
                            RouteCheck::NoStoredRoute => { "aucune" },
                            RouteCheck::Agrees { route } => { (route) " : identique au chemin tracé" },
                            RouteCheck::Differs { route, missing_from_route, not_on_path } => {
                                strong { (route) " : diffère du chemin tracé" }
                                @if !missing_from_route.is_empty() { " — fibres absentes de la route : " (missing_from_route.join(", ")) }
                                @if !not_on_path.is_empty() { " — fibres de la route hors du chemin : " (not_on_path.join(", ")) }
                            },
                        }
                    }
                }
                table tabindex="0" {
                    caption { "Chemin de la PTO vers l'amont, élément par élément" }
                    thead { tr { th scope="col" { "N°" } th scope="col" { "Élément" } th scope="col" { "Détail" } th scope="col" { "Perte" } } }
                    tbody {
                        @for (i, (step, hop)) in t.steps.iter().zip(&t.hops).enumerate() {
                            tr {
                                td { (i + 1) }
                                @match step {
                                    Step::Fibre { code, cable, tube, color, length_m } => {
                                        td { "Fibre " (code) }
                                        td {
                                            "câble " (cable)
                                            @if let Some(tb) = tube { ", tube " (tb) }
                                            @if !color.is_empty() { ", couleur " (color) }
                                            ", " @if let Some(m) = length_m { (format!("{m:.0}")) " m" } @else { "longueur inconnue" }
                                        }
                                    },
                                    Step::Joint { position, place, element } => {
                                        td {
                                            @match element {
                                                JointKind::Splice => { "Épissure" },
                                                JointKind::Connector => { "Connecteur" },
                                                JointKind::Splitter { outputs } => { "Coupleur 1:" (outputs) },
                                            }
                                        }
                                        td { (position) ", " (place) }
                                    },
                                }
                                td { (hop.loss.fr()) }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(render(
        status,
        layout(
            "Tracer un chemin optique",
            Some(&me),
            "/technicien/trace",
            body,
        ),
    ))
}

/// `GET /technicien/capacite`: eligibility per PM and the points that are
/// full or above 80 %.
pub async fn capacity_page(State(state): State<AppState>, me: Principal) -> PageResult {
    let in_use = state.provisioning.in_use().await?;
    let report = inventory::service::capacity(&state.db, &state.plant, in_use).await?;
    let flagged_splitters: Vec<_> = report.splitters.iter().filter(|u| u.flagged).collect();
    let flagged_ports: Vec<_> = report.pon_ports.iter().filter(|u| u.flagged).collect();
    let usage_table = |caption: &str, first: &str, rows: &[&inventory::capacity::Usage]| {
        html! {
            table tabindex="0" {
                caption { (caption) }
                thead { tr { th scope="col" { (first) } th scope="col" { "Lieu" } th scope="col" { "Pris par des lignes" } th scope="col" { "Câblés" } th scope="col" { "Capacité" } th scope="col" { "Taux" } } }
                tbody {
                    @for u in rows {
                        tr { td { (u.code) } td { (u.place) } td { (u.used) } td { (u.wired) } td { (u.capacity) } td { (u.percent) " %" @if u.used >= u.capacity { " (plein)" } } }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Capacité et éligibilité" }
        h2 { "Locaux par PM" }
        @if report.eligibility_by_pm.is_empty() {
            p class="info" { "Aucun réseau importé." }
        } @else {
            table tabindex="0" {
                caption class="visually-hidden" { "Éligibilité des locaux par PM" }
                thead { tr { th scope="col" { "PM" } th scope="col" { "Raccordables" } th scope="col" { "Branchement à construire" } th scope="col" { "Non couverts" } } }
                tbody {
                    @for (pm, c) in &report.eligibility_by_pm {
                        tr { td { (pm) } td { (c.connectable) } td { (c.drop_to_build) } td { (c.not_covered) } }
                    }
                }
            }
        }
        h2 { "Points saturés ou au-delà de 80 %" }
        p { (flagged_splitters.len()) " coupleurs sur " (report.splitters.len()) ", " (flagged_ports.len()) " ports PON sur " (report.pon_ports.len()) " ont 80 % ou plus de leurs sorties prises par des lignes (commandées, en service ou suspendues)." }
        p class="aide" { "« Câblés » : les sorties raccordées vers les boîtiers (coupleurs), les locaux desservis (ports PON), selon le réseau importé." }
        @if !flagged_splitters.is_empty() { (usage_table("Coupleurs (sorties utilisées)", "Coupleur (fibre d'entrée)", &flagged_splitters)) }
        @if !flagged_ports.is_empty() { (usage_table("Ports PON (locaux desservis)", "Port PON", &flagged_ports)) }
    };
    Ok(page(
        "Capacité et éligibilité",
        &me,
        "/technicien/capacite",
        body,
    ))
}

fn import_page(
    me: &Principal,
    outcome: Option<&inventory::service::ImportOutcome>,
    error: Option<&str>,
) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Importer une livraison GraceTHD" }
        p { "Envoyez la livraison (GraceTHD v2.0.1, format « shpcsv ») sous forme d'archive zip. Elle est entièrement vérifiée avant d'être enregistrée : au moindre problème bloquant, rien n'est écrit." }
        @if let Some(e) = error {
            div class="resume-erreurs" role="alert" tabindex="-1" { h2 { "L'import a échoué" } p { (e) } }
        }
        form class="formulaire" method="post" action="/technicien/import" enctype="multipart/form-data" {
            // First: the server checks it before reading the file.
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="livraison" { "Archive zip de la livraison" span class="aide" { "Les fichiers " code { "t_*.csv" } ", " code { "l_*.csv" } ", les shapefiles et, s'il y a lieu, " code { "x_pon.csv" } " et " code { "x_splitter.csv" } "." } }
                input type="file" id="livraison" name="livraison" accept=".zip,application/zip" required;
            }
            div class="champ" {
                label class="case" { input type="checkbox" name="verification" value="1"; "Vérifier seulement (n'écrit rien)" }
            }
            button type="submit" { "Importer" }
        }
        @if let Some(o) = outcome {
            @let errors = o.report.error_count;
            @let warnings = o.report.warning_count;
            h2 { "Résultat" }
            @if errors > 0 {
                p class="resume-erreurs" role="alert" { strong { (errors) " erreur(s) : rien n'a été importé." } }
            } @else if let Some(s) = &o.summary {
                @let t = s.total();
                p class="succes" role="status" { "Import terminé en " (o.duration_ms) " ms : " (t.added) " ajouts, " (t.changed) " modifications, " (t.removed) " suppressions, " (t.unchanged) " inchangés." }
            } @else {
                p class="info" role="status" { "Vérification seule : aucune erreur, rien n'a été écrit." }
            }
            @if errors + warnings > 0 {
                table tabindex="0" {
                    caption { "Problèmes relevés (" (errors) " erreurs, " (warnings) " avertissements)" }
                    thead { tr { th scope="col" { "Gravité" } th scope="col" { "Fichier" } th scope="col" { "Ligne" } th scope="col" { "Champ" } th scope="col" { "Motif" } } }
                    tbody {
                        @for i in &o.report.issues {
                            tr {
                                td { @if i.severity == inventory::gracethd::Severity::Error { "Erreur" } @else { "Avertissement" } }
                                td { (i.file) } td { (i.line) } td { (i.field) } td { (i.reason) }
                            }
                        }
                    }
                }
                @if o.report.left_out > 0 {
                    p { "Et " (o.report.left_out) " autres problèmes, comptés mais non listés : corrigez d'abord ceux-ci." }
                }
            }
            table tabindex="0" {
                caption { "Lignes lues par fichier" }
                thead { tr { th scope="col" { "Fichier" } th scope="col" { "Lignes" } } }
                tbody { @for (f, n) in &o.counts { tr { td { (f) } td { (n) } } } }
            }
        }
    }
}

/// `GET /technicien/import`.
pub async fn import_form(me: Principal) -> Response {
    page(
        "Importer une livraison",
        &me,
        "/technicien/import",
        import_page(&me, None, None),
    )
}

/// `POST /technicien/import` (multipart: `livraison`, `verification`).
pub async fn import_submit(
    State(state): State<AppState>,
    me: Principal,
    mut multipart: axum::extract::Multipart,
) -> PageResult {
    let mut zip = None;
    let mut dry_run = false;
    let uploads = state.config.uploads;
    let scratch = state.config.scratch_dir();
    let failed = |me: &Principal, status: StatusCode, message: &str| {
        render(
            status,
            layout(
                "Importer une livraison",
                Some(me),
                "/technicien/import",
                import_page(me, None, Some(message)),
            ),
        )
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Ok(failed(
                    &me,
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Envoi interrompu : {}",
                        crate::platform::upload::multipart_reason(&e)
                    ),
                ))
            }
        };
        match field.name() {
            // Written to disk as it arrives: never held in memory.
            Some("livraison") => {
                match crate::platform::upload::spool(field, &scratch, uploads.delivery_max_bytes())
                    .await
                {
                    Ok(path) => zip = path,
                    Err(e) => {
                        return Ok(failed(&me, e.status(), &e.public_message()));
                    }
                }
            }
            Some("verification") => dry_run = true,
            _ => {}
        }
    }
    let Some(zip) = zip else {
        return Ok(failed(
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez l'archive zip de la livraison.",
        ));
    };
    match inventory::service::import_zip(
        &state.db,
        &state.plant,
        &me.actor(),
        &zip,
        dry_run,
        &scratch,
        &uploads.delivery_limits(),
    )
    .await
    {
        Ok(o) => {
            let status = if o.refused() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            Ok(render(
                status,
                layout(
                    "Importer une livraison",
                    Some(&me),
                    "/technicien/import",
                    import_page(&me, Some(&o), None),
                ),
            ))
        }
        Err(inventory::Error::Invalid(m) | inventory::Error::Busy(m)) => {
            let body = import_page(&me, None, Some(&sentence(&m)));
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout(
                    "Importer une livraison",
                    Some(&me),
                    "/technicien/import",
                    body,
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
