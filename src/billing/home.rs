//! The accountant's home.

use axum::response::Response;
use maud::html;

use crate::platform::auth::Principal;
use crate::platform::web::page;

/// `GET /comptabilite`.
pub async fn accountant_home(me: Principal) -> Response {
    let body = html! {
        h1 { "Comptabilité" }
        p { "Bonjour " (me.display_name) ". Voici les outils de facturation de la régie." }
        ul class="cartes" {
            li class="carte" { h2 { "Offres et tarifs" } p { "Les offres votées par délibération et leurs prix." } }
            li class="carte" { h2 { a href="/comptabilite/facturation" { "Facturation mensuelle" } } p { "Prévisualiser puis émettre les factures du mois." } }
            li class="carte" { h2 { a href="/comptabilite/impayes" { "Paiements et impayés" } } p { "Encaissements au guichet, relances, maintien de la connexion, aide du FSL." } }
            li class="carte" { h2 { a href="/comptabilite/impayes" { "Exports comptables" } } p { "Registres, journal des ventes (FEC), paiements, impayés par ancienneté." } }
        }
    };
    page("Comptabilité", &me, "/comptabilite", body)
}
