//! The technician's map of the network: the addresses by eligibility, the
//! sites, boxes and cables, drawn as server-rendered SVG (no script, no
//! tile server), zoomed on a PM or a commune; and the plant's exports for
//! the browser.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{page, PageError};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

/// Most points drawn on the map; beyond, one address in N is drawn.
const MAP_MAX_POINTS: usize = 20_000;
/// Cables drawn at most; beyond, the longest are kept.
const MAP_MAX_CABLES: usize = 5_000;

/// The plant's positioned sites, boxes and cables, in Lambert-93 metres.
struct MapLayers {
    sites: Vec<(f64, f64, String)>,
    boxes: Vec<(f64, f64)>,
    cables: Vec<Vec<(f64, f64)>>,
    cables_left_out: usize,
}

impl MapLayers {
    /// Keeps what lies (a cable: any point of it) where `inside` says.
    fn keep_within(&mut self, inside: &dyn Fn(f64, f64) -> bool) {
        self.sites.retain(|(x, y, _)| inside(*x, *y));
        self.boxes.retain(|(x, y)| inside(*x, *y));
        self.cables
            .retain(|c| c.iter().any(|(x, y)| inside(*x, *y)));
    }

    fn of(plant: &inventory::plant::Plant) -> Self {
        let sites = plant
            .sites
            .values()
            .filter_map(|s| {
                let (x, y) = s.point?.metres();
                Some((x, y, s.label.to_string()))
            })
            .collect();
        let step = plant.enclosures.len().div_ceil(MAP_MAX_POINTS).max(1);
        let boxes = plant
            .enclosures
            .values()
            .step_by(step)
            .filter_map(|e| e.point.map(|p| p.metres()))
            .collect();
        let mut cables: Vec<&inventory::plant::Cable> = plant
            .cables
            .values()
            .filter(|c| c.path.len() >= 2)
            .collect();
        let cables_left_out = cables.len().saturating_sub(MAP_MAX_CABLES);
        if cables_left_out > 0 {
            cables.sort_by(|a, b| {
                b.length_m
                    .unwrap_or(0.0)
                    .total_cmp(&a.length_m.unwrap_or(0.0))
            });
            cables.truncate(MAP_MAX_CABLES);
        }
        Self {
            sites,
            boxes,
            cables: cables
                .into_iter()
                .map(|c| c.path.iter().map(|p| p.metres()).collect())
                .collect(),
            cables_left_out,
        }
    }

    fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.boxes.is_empty() && self.cables.is_empty()
    }

    fn all_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.sites
            .iter()
            .map(|s| (s.0, s.1))
            .chain(self.boxes.iter().copied())
            .chain(self.cables.iter().flatten().copied())
    }
}

/// `GET /technicien/exports/{file}`: the plant's exports for the browser
/// (session, not bearer): `adresses.geojson`, `reseau.geojson`,
/// `adresses-ipe.csv`, each a download, from the same domain calls as the
/// API's.
pub async fn plant_export(State(state): State<AppState>, Path(file): Path<String>) -> PageResult {
    let (body, kind) = match file.as_str() {
        "adresses.geojson" => (
            inventory::service::export_geojson(&state.db, &state.plant)
                .await
                .map_err(Error::from)?
                .to_string(),
            "application/geo+json",
        ),
        "reseau.geojson" => (
            inventory::service::export_plant_geojson(&state.db, &state.plant)
                .await
                .map_err(Error::from)?
                .to_string(),
            "application/geo+json",
        ),
        "adresses-ipe.csv" => (
            inventory::service::export_ipe(&state.db, &state.plant)
                .await
                .map_err(Error::from)?,
            "text/csv; charset=utf-8",
        ),
        _ => return Err(Error::NotFound(format!("aucun export « {file} »")).into()),
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /technicien/carte`: the addresses drawn from their coordinates, by
/// eligibility, as server-rendered SVG (no script, no tile server).
/// The map's zoom: one PM's addresses, or one commune's.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct MapQuery {
    #[serde(default)]
    pm: String,
    #[serde(default)]
    commune: String,
}

pub async fn map_page(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<MapQuery>,
) -> PageResult {
    use inventory::capacity::Eligibility;
    let plant = state.plant.get(&state.db).await.map_err(Error::from)?;
    let (pm_wanted, commune_wanted) = (q.pm.trim().to_owned(), q.commune.trim().to_owned());
    let zoomed = !pm_wanted.is_empty() || !commune_wanted.is_empty();
    let (points, mut layers, pms, communes) = {
        let plant = plant.clone();
        let (pm_wanted, commune_wanted) = (pm_wanted.clone(), commune_wanted.clone());
        tokio::task::spawn_blocking(move || {
            let mut status_of: std::collections::HashMap<&str, (u8, Option<String>)> =
                std::collections::HashMap::new();
            for suf in plant.sufs.values() {
                let Some(ad) = suf.address.as_deref() else {
                    continue;
                };
                let (s, pm) = match inventory::capacity::eligibility(&plant, &suf.code) {
                    Ok(Eligibility::Connectable { pm, .. }) => (0, pm),
                    Ok(Eligibility::DropToBuild { pm, .. }) => (1, pm),
                    _ => (2, None),
                };
                let e = status_of.entry(ad).or_insert((s, pm.clone()));
                if s < e.0 {
                    *e = (s, pm.or(e.1.take()));
                }
            }
            let mut pms: Vec<String> = status_of.values().filter_map(|v| v.1.clone()).collect();
            pms.sort();
            pms.dedup();
            let mut communes: Vec<String> = plant
                .addresses
                .values()
                .map(|a| a.commune.to_string())
                .collect();
            communes.sort();
            communes.dedup();
            let chosen: Vec<&inventory::plant::Address> = plant
                .addresses
                .values()
                .filter(|a| commune_wanted.is_empty() || a.commune.as_str() == commune_wanted)
                .filter(|a| {
                    pm_wanted.is_empty()
                        || status_of.get(a.code.as_str()).and_then(|v| v.1.as_deref())
                            == Some(pm_wanted.as_str())
                })
                .collect();
            let step = chosen.len().div_ceil(MAP_MAX_POINTS).max(1);
            let points: Vec<(f64, f64, u8)> = chosen
                .into_iter()
                .step_by(step)
                .filter_map(|a| {
                    Some((
                        a.x_cm? as f64 / 100.0,
                        a.y_cm? as f64 / 100.0,
                        status_of.get(a.code.as_str()).map_or(2, |v| v.0),
                    ))
                })
                .collect();
            (points, MapLayers::of(&plant), pms, communes)
        })
        .await
        .map_err(|e| Error::Internal(format!("map: {e}")))?
    };
    // Zoomed: the frame is the chosen addresses', and only what lies in
    // it is drawn.
    if zoomed && !points.is_empty() {
        let (x0, x1, y0, y1) = points.iter().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
        );
        let margin = ((x1 - x0).max(y1 - y0) * 0.05).max(50.0);
        let inside = |x: f64, y: f64| {
            x >= x0 - margin && x <= x1 + margin && y >= y0 - margin && y <= y1 + margin
        };
        layers.keep_within(&inside);
    }
    let counts = [0u8, 1, 2].map(|s| points.iter().filter(|p| p.2 == s).count());
    let (w, h) = (1000.0f64, 700.0f64);
    let all = points.iter().map(|p| (p.0, p.1)).chain(layers.all_points());
    let (min_x, max_x, min_y, max_y) = all.fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
    );
    let span = ((max_x - min_x) / w).max((max_y - min_y) / h).max(1e-9) * 1.05;
    let cx = (min_x + max_x) / 2.0;
    let cy = (min_y + max_y) / 2.0;
    let project = |x: f64, y: f64| ((x - cx) / span + w / 2.0, h / 2.0 - (y - cy) / span);
    let km = |metres: f64| metres / span;
    let body = html! {
        h1 { "Carte du réseau" }
        form method="get" action="/technicien/carte" class="formulaire filtres" {
            div class="champ" {
                label for="pm" { "Zoomer sur un PM" }
                select id="pm" name="pm" {
                    option value="" { "Tous" }
                    @for p in &pms { option value=(p) selected[*p == pm_wanted] { (p) } }
                }
            }
            div class="champ" {
                label for="commune" { "ou une commune" }
                select id="commune" name="commune" {
                    option value="" { "Toutes" }
                    @for c in &communes { option value=(c) selected[*c == commune_wanted] { (c) } }
                }
            }
            button type="submit" { "Afficher" }
            @if zoomed { " " a href="/technicien/carte" { "Tout le réseau" } }
        }
        @if points.is_empty() && layers.is_empty() {
            p class="info" { "Aucune adresse avec des coordonnées : importez une livraison avec t_adresse." }
        } @else {
            p id="carte-resume" {
                (points.len()) " adresses : " (counts[0]) " raccordables (ronds verts), " (counts[1]) " avec branchement à construire (carrés orange), "
                (counts[2]) " non couvertes (losanges rouges). "
                (layers.sites.len()) " sites (carrés noirs, avec leur nom), " (layers.boxes.len()) " boîtiers (ronds bleus), "
                (layers.cables.len()) " câbles (traits gris)"
                @if layers.cables_left_out > 0 { " dont " (layers.cables_left_out) " non dessinés, pour la lisibilité" }
                ". Coordonnées Lambert-93."
            }
            p {
                "Télécharger : "
                a href="/technicien/exports/adresses.geojson" download { "les adresses (GeoJSON)" } ", "
                a href="/technicien/exports/reseau.geojson" download { "le réseau (GeoJSON : sites, boîtiers, câbles)" } ", "
                a href="/technicien/exports/adresses-ipe.csv" download { "le fichier d'adresses IPE (CSV)" } "."
            }
            svg viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-labelledby="carte-titre carte-resume" class="plan" {
                title id="carte-titre" { "Carte du réseau : câbles, sites, boîtiers et adresses par éligibilité" }
                @for path in &layers.cables {
                    polyline fill="none" stroke="#8a8f98" stroke-width="1"
                        points=(path.iter().map(|(x, y)| { let (px, py) = project(*x, *y); format!("{px:.1},{py:.1}") }).collect::<Vec<_>>().join(" ")) {}
                }
                @for (x, y) in &layers.boxes {
                    @let (px, py) = project(*x, *y);
                    circle cx=(format!("{px:.1}")) cy=(format!("{py:.1}")) r="3" fill="none" stroke="#1d4f91" stroke-width="1.5" {}
                }
                @for (x, y, s) in &points {
                    @let (px, py) = project(*x, *y);
                    @match s {
                        0 => circle cx=(format!("{px:.1}")) cy=(format!("{py:.1}")) r="2.5" fill="#1e6b34" {},
                        1 => rect x=(format!("{:.1}", px - 2.5)) y=(format!("{:.1}", py - 2.5)) width="5" height="5" fill="#b35900" {},
                        _ => rect x=(format!("{:.1}", px - 2.5)) y=(format!("{:.1}", py - 2.5)) width="5" height="5" fill="#b3261e" transform=(format!("rotate(45 {px:.1} {py:.1})")) {},
                    }
                }
                // Scale bar: the first round length at least 40 px long.
                @let (bar_m, bar_label) = [(100.0, "100 m"), (1000.0, "1 km"), (10_000.0, "10 km"), (100_000.0, "100 km")]
                    .into_iter()
                    .find(|(m, _)| km(*m) >= 40.0)
                    .unwrap_or((100_000.0, "100 km"));
                @for (x, y, label) in &layers.sites {
                    @let (px, py) = project(*x, *y);
                    rect x=(format!("{:.1}", px - 5.0)) y=(format!("{:.1}", py - 5.0)) width="10" height="10" fill="#1b1b1b" {}
                    // Large enough to read when the map is shrunk to a
                    // phone, with a white halo over the cables.
                    text x=(format!("{:.1}", px + 9.0)) y=(format!("{:.1}", py + 6.0)) font-size="22" fill="#1b1b1b"
                        stroke="#fff" stroke-width="4" paint-order="stroke" { (label) }
                }
                line x1="20" y1=(h - 20.0) x2=(20.0 + km(bar_m)) y2=(h - 20.0) stroke="#1b1b1b" stroke-width="3" {}
                text x="20" y=(h - 30.0) font-size="22" fill="#1b1b1b" { (bar_label) }
            }
        }
    };
    Ok(page("Carte du réseau", &me, "/technicien/carte", body))
}
