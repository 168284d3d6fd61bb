//! The social tariff's pages: the household's application form (online,
//! no script needed, errors next to each field and in a summary), its
//! follow-up with the decision explained and the appeal form; the agents'
//! list, counter entry, review page (verification, documents seen,
//! proposal, decision) and appeals; the printable paper form; the
//! accountants' list of entitlements (level and dates only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;
use social_tariff::application::{
    Application, ApplicationCode, ApplicationForm, Channel, Contact, Status,
};
use social_tariff::decision::{Appeal, Decision, Letter, Outcome, Ruling};
use social_tariff::engine::{Outcome as Criterion, Proposal};
use social_tariff::rules::{euros, french_date, Benefit};
use social_tariff::service::{DocumentSeen, Proof, Review};
use social_tariff::{Filing, Scope};

use crate::platform::auth::Principal;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, local_time, render, sentence, PageError,
};
use crate::social::{self, today};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

pub const HOUSEHOLD_FORM: &str = "/mon-espace/demande";
pub const AGENT_LIST: &str = "/instruction/demandes";
pub const AGENT_NEW: &str = "/instruction/demandes/nouvelle";
pub const APPEALS: &str = "/instruction/recours";
pub const PAPER_FORM: &str = "/tarif-social/formulaire";
pub const ACCOUNTANT_LIST: &str = "/comptabilite/tarif-social";

type Errors = Vec<(&'static str, String)>;

fn input_field(
    errors: &[(&'static str, String)],
    id: &'static str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    kind: &str,
    autocomplete: Option<&str>,
) -> Markup {
    let invalid = has_error(errors, id);
    let hint_id = format!("{id}-aide");
    let described: Vec<String> = hint
        .map(|_| hint_id.clone())
        .into_iter()
        .chain(invalid.then(|| format!("{id}-erreur")))
        .collect();
    html! {
        div class="champ" {
            label for=(id) { (label) }
            @if let Some(h) = hint { span class="aide" id=(hint_id) { (h) } }
            // The browser stops the typing at the length the server
            // accepts: nothing typed is lost to a refused form.
            input type=(kind) id=(id) name=(id) value=(value) autocomplete=[autocomplete] maxlength="500"
                aria-invalid=(invalid) aria-describedby=[(!described.is_empty()).then(|| described.join(" "))];
            (field_error(errors, id))
        }
    }
}

/// The application form's fields, shared by the household's page, the
/// counter and (empty) the printable form.
fn form_fields(form: &ApplicationForm, errors: &[(&'static str, String)]) -> Markup {
    let benefits_invalid = has_error(errors, "prestations");
    html! {
        fieldset {
            legend { "Le demandeur et le logement" }
            (input_field(errors, "nom", "Nom et prénom", None, &form.nom, "text", Some("name")))
            (input_field(errors, "adresse", "Adresse du logement", Some("Numéro et rue, par exemple 12 rue de l'Église."), &form.adresse, "text", Some("street-address")))
            (input_field(errors, "code_postal", "Code postal", Some("5 chiffres."), &form.code_postal, "text", Some("postal-code")))
            (input_field(errors, "commune", "Commune", None, &form.commune, "text", Some("address-level2")))
            (input_field(errors, "taille_foyer", "Nombre de personnes vivant dans le logement", Some("Vous compris."), &form.taille_foyer, "text", None))
        }
        fieldset aria-describedby=[benefits_invalid.then_some("prestations-erreur")] {
            legend { "Votre situation" }
            p class="aide" { "Cochez ce que vous percevez. Un seul de ces éléments suffit à ouvrir le droit." }
            @for b in Benefit::ALL {
                @let id = format!("prestation-{}", b.code().to_lowercase());
                div class="case" {
                    input type="checkbox" id=(id) name="prestations" value=(b.code()) checked[form.prestations.iter().any(|p| p == b.code())];
                    label for=(id) { "Je perçois " (b.label()) }
                }
            }
            (field_error(errors, "prestations"))
            (input_field(errors, "quotient_familial", "Quotient familial (en euros)", Some("Il figure sur vos attestations de la CAF ou de la MSA. Facultatif."), &form.quotient_familial, "text", None))
            div class="case" {
                input type="checkbox" id="etudiant_boursier" name="etudiant_boursier" value="on" checked[form.etudiant_boursier.is_some()];
                label for="etudiant_boursier" { "Je suis étudiant boursier sur critères sociaux" }
            }
        }
        fieldset {
            legend { "Comment recevoir nos réponses" }
            div class="case" {
                input type="radio" id="contact-courrier" name="contact" value="courrier" checked[form.contact == "courrier"];
                label for="contact-courrier" { "Par courrier, à l'adresse du logement" }
            }
            div class="case" {
                input type="radio" id="contact-courriel" name="contact" value="courriel" checked[form.contact == "courriel"];
                label for="contact-courriel" { "Par courriel" }
            }
            (field_error(errors, "contact"))
            (input_field(errors, "courriel", "Adresse électronique", Some("Seulement si vous choisissez le courriel."), &form.courriel, "email", Some("email")))
            (input_field(errors, "telephone", "Téléphone", Some("Facultatif : pour vous joindre si un renseignement manque."), &form.telephone, "tel", Some("tel")))
        }
        fieldset {
            legend { "Vérification sans justificatif (facultatif)" }
            p class="aide" { "Si vous le souhaitez, nous vérifions votre situation directement auprès des services de l'État (API Particulier) : vous n'avez alors pas de justificatif à fournir. Ces informations servent à cette vérification, puis sont effacées. Sinon, un agent vérifiera vos justificatifs." }
            div class="case" {
                input type="checkbox" id="verification_auto" name="verification_auto" value="on" checked[form.verification_auto.is_some()];
                label for="verification_auto" { "Je demande la vérification sans justificatif" }
            }
            (input_field(errors, "nom_naissance", "Nom de naissance", None, &form.nom_naissance, "text", Some("family-name")))
            (input_field(errors, "prenoms", "Prénoms", Some("Tous vos prénoms, séparés par des espaces."), &form.prenoms, "text", Some("given-name")))
            (input_field(errors, "date_naissance", "Date de naissance", Some("JJ/MM/AAAA, par exemple 14/07/1980."), &form.date_naissance, "text", Some("bday")))
            (input_field(errors, "sexe", "Sexe à l'état civil (F ou M)", None, &form.sexe, "text", None))
            (input_field(errors, "commune_naissance", "Code INSEE de la commune de naissance", Some("5 caractères, par exemple 35238 pour Rennes ; 99 suivi du code du pays pour une naissance à l'étranger."), &form.commune_naissance, "text", None))
        }
    }
}

fn what_next() -> Markup {
    html! {
        section aria-labelledby="ensuite" {
            h2 id="ensuite" { "Ce qui se passe ensuite" }
            ol {
                li { "Un agent du service social vérifie votre situation, en général sous 15 jours." }
                li { "Vous recevez une décision écrite qui explique ses raisons, sur cette page et par le moyen choisi." }
                li { "Si le droit est accordé, votre facture porte la mention « Tarif social » dès la date de la décision." }
                li { "Vous pouvez contester la décision dans le délai indiqué sur la lettre, en ligne ou au guichet de la mairie." }
            }
            p { "Vous pouvez aussi faire cette demande au guichet de la mairie : elle a la même valeur. "
                a href=(PAPER_FORM) { "Formulaire à imprimer" } "." }
        }
    }
}

// --- The household -----------------------------------------------------

#[derive(Debug, Deserialize, Default)]
pub struct FormPost {
    #[serde(flatten)]
    form: ApplicationForm,
    #[serde(default)]
    action: String,
    #[serde(default)]
    demande: String,
    #[serde(default)]
    foyer: String,
    #[serde(default)]
    canal: String,
    #[serde(default)]
    consentement: Option<String>,
}

fn household_form_page(
    me: &Principal,
    form: &ApplicationForm,
    draft: Option<&str>,
    errors: &[(&'static str, String)],
) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Demander le tarif social" }
        p { "Le tarif social réduit le prix de votre accès à internet. Remplissez ce formulaire ; vous pouvez l'enregistrer et y revenir plus tard." }
        (error_summary(errors))
        form class="formulaire" method="post" action=(HOUSEHOLD_FORM) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            @if let Some(code) = draft { input type="hidden" name="demande" value=(code); }
            (form_fields(form, errors))
            div class="actions" {
                button type="submit" name="action" value="envoyer" { "Envoyer ma demande" }
                " "
                button type="submit" name="action" value="brouillon" class="secondaire" { "Enregistrer le brouillon" }
            }
        }
        (what_next())
    }
}

/// `GET /mon-espace/demande`: the form, with the draft if there is one.
pub async fn household_form(State(state): State<AppState>, me: Principal) -> PageResult {
    let drafts = social_tariff::list_applications(
        &state.db,
        me.household_scope(),
        Some(Status::Draft),
        None,
    )
    .await?;
    let (form, draft) = match drafts.first() {
        Some(a) => (
            ApplicationForm::from_input(&a.input),
            Some(a.code.to_string()),
        ),
        None => {
            // A renewal starts from the last application, to check rather
            // than type again.
            let mut last = None;
            for h in social_tariff::list_households(&state.db, me.household_scope()).await? {
                if let Some(a) =
                    social_tariff::last_application(&state.db, me.household_scope(), &h.code)
                        .await?
                {
                    last = Some(a);
                }
            }
            let form = match last {
                Some(a) => ApplicationForm::from_input(&a.input),
                // A first application starts from what the régie knows:
                // the name and the address its invoices go to.
                None => known_to_the_regie(&state, &me).await?,
            };
            (form, None)
        }
    };
    if let Some(pending) = pending_application(&state, &me).await? {
        return Ok(already_pending(&me, &pending, StatusCode::OK));
    }
    Ok(render(
        StatusCode::OK,
        layout(
            "Demander le tarif social",
            Some(&me),
            "/mon-espace",
            household_form_page(&me, &form, draft.as_deref(), &[]),
        ),
    ))
}

/// The form prefilled with the household's name and the address of its
/// account, when it has one.
async fn known_to_the_regie(state: &AppState, me: &Principal) -> Result<ApplicationForm, Error> {
    let mut form = ApplicationForm {
        nom: me.display_name.clone(),
        ..ApplicationForm::default()
    };
    if let Some(a) = crate::billing::scope::accounts_of(state, me)
        .await?
        .into_iter()
        .next()
    {
        form.nom = a.name;
        form.adresse = a.address;
        form.code_postal = a.postcode;
        form.commune = a.town;
        if let Some(email) = a.email {
            form.courriel = email;
        }
    }
    Ok(form)
}

/// The household's application sent and not yet decided, if any: one at
/// a time.
async fn pending_application(
    state: &AppState,
    me: &Principal,
) -> Result<Option<social_tariff::application::Application>, Error> {
    Ok(social_tariff::list_applications(
        &state.db,
        me.household_scope(),
        Some(Status::Submitted),
        None,
    )
    .await?
    .into_iter()
    .next())
}

/// A second application while one waits is not taken: the page says so
/// and leads to the one waiting.
fn already_pending(
    me: &Principal,
    a: &social_tariff::application::Application,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { "Vous avez déjà une demande en cours" }
        p { "Votre demande " strong { (a.code) } " a été envoyée le "
            (a.submitted_at.as_deref().map(local_time).unwrap_or_default())
            " ; elle n'est pas encore décidée. Une seule demande peut être examinée à la fois." }
        p { a class="bouton" href={ "/mon-espace/demandes/" (a.code) } { "Voir ma demande " (a.code) } }
        p { "Si votre situation a changé, dites-le à la mairie ou répondez à l'agent qui l'examine." }
    };
    render(
        status,
        layout(
            "Vous avez déjà une demande en cours",
            Some(me),
            "/mon-espace",
            body,
        ),
    )
}

/// `POST /mon-espace/demande`: saves the draft or sends the application.
pub async fn household_submit(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<FormPost>,
) -> PageResult {
    let submit = post.action != "brouillon";
    let draft = (!post.demande.trim().is_empty()).then(|| post.demande.trim().to_owned());
    let input = match post.form.parse(submit) {
        Ok(i) => i,
        Err(errors) => {
            return Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout(
                    "Demander le tarif social",
                    Some(&me),
                    "/mon-espace",
                    household_form_page(&me, &post.form, draft.as_deref(), &errors),
                ),
            ))
        }
    };
    let application = match draft {
        Some(code) => {
            let code = ApplicationCode::parse(&code)?;
            social_tariff::update_draft(
                &state.db,
                &me.actor(),
                me.household_scope(),
                &code,
                &input,
                submit,
            )
            .await?
        }
        None => {
            if let Some(pending) = pending_application(&state, &me).await? {
                return Ok(already_pending(&me, &pending, StatusCode::CONFLICT));
            }
            let household = social::own_household(&state, &me, &input.applicant).await?;
            social_tariff::create_application(
                &state.db,
                &me.actor(),
                me.household_scope(),
                &Filing {
                    household: &household.code,
                    channel: Channel::Online,
                    input: &input,
                    submit,
                    renewal: false,
                    consent: true,
                },
            )
            .await?
        }
    };
    if submit {
        Ok(Redirect::to(&format!(
            "/mon-espace/demandes/{}?envoyee=1",
            application.code
        ))
        .into_response())
    } else {
        Ok(Redirect::to("/mon-espace?brouillon=1").into_response())
    }
}

fn letter_markup(letter: &Letter, pdf_href: &str) -> Markup {
    html! {
        article class="lettre" aria-labelledby="lettre-titre" {
            h2 id="lettre-titre" { (letter.title) }
            p class="aide" { @for l in &letter.reference { (l) br; } }
            @for s in &letter.sections {
                h3 { (s.heading) }
                @for p in &s.paragraphs { p { (p) } }
            }
            p { a href=(pdf_href) { "Télécharger la lettre (PDF)" } }
        }
    }
}

fn appeal_form(
    me: &Principal,
    action: &str,
    errors: &[(&'static str, String)],
    grounds: &str,
) -> Markup {
    let csrf = me.csrf();
    let invalid = has_error(errors, "motifs");
    html! {
        h3 id="contester" { "Contester cette décision" }
        (error_summary(errors))
        form class="formulaire" method="post" action=(action) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="motifs" { "Pourquoi contestez-vous cette décision ?" span class="aide" { "Expliquez ce qui a changé ou ce qui n'a pas été pris en compte. Un autre agent examinera votre recours." } }
                textarea id="motifs" name="motifs" rows="5" maxlength="4000" aria-invalid=(invalid) aria-describedby=[invalid.then_some("motifs-erreur")] { (grounds) }
                (field_error(errors, "motifs"))
            }
            button type="submit" { "Envoyer mon recours" }
        }
    }
}

fn appeals_list(appeals: &[Appeal]) -> Markup {
    html! {
        @for a in appeals {
            div class="info" {
                p { "Recours n° " (a.id) " du " (local_time(&a.lodged_at)) " (" (a.channel.label()) ") : " strong { (a.status.label()) } "." }
                @if let Some(r) = &a.review_reason { p { "Réponse : " (r) } }
                @if let Some(n) = a.new_decision { p { "Nouvelle décision : " (n) "." } }
            }
        }
    }
}

/// `GET /mon-espace/demandes/{code}`: where the application stands, and
/// its decision explained.
pub async fn household_application(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    household_application_page(&state, &me, &code, StatusCode::OK, &[], "").await
}

async fn household_application_page(
    state: &AppState,
    me: &Principal,
    code: &str,
    status: StatusCode,
    errors: &[(&'static str, String)],
    grounds: &str,
) -> PageResult {
    let a = social_tariff::get_application(&state.db, me.household_scope(), code).await?;
    let decisions = social_tariff::decisions_of(&state.db, me.household_scope(), &a.code).await?;
    let current = decisions.last();
    let mut letter = None;
    let mut appeals = Vec::new();
    if let Some(d) = current {
        letter = Some(
            social::letter(state, me.household_scope(), &d.number.to_string())
                .await?
                .1,
        );
        for d in &decisions {
            appeals.extend(
                social_tariff::appeals(&state.db, me.household_scope(), Some(&d.number)).await?,
            );
        }
    }
    let body = html! {
        h1 { "Ma demande " (a.code) }
        @if a.status == Status::Submitted {
            p class="succes" role="status" { "Votre demande a bien été envoyée le " (a.submitted_at.as_deref().map(local_time).unwrap_or_default()) ". Gardez son numéro : " strong { (a.code) } "." }
        }
        dl class="fiche" {
            div { dt { "État" } dd {
                // A decided application says how.
                @match (a.status, current) {
                    (Status::Decided, Some(d)) => {
                        (d.outcome.label())
                        @if let Some(l) = &d.level_label { " (" (l) ")" }
                    },
                    _ => (a.status.label()),
                }
            } }
            div { dt { "Déposée" } dd { (a.channel.label()) } }
            div { dt { "Logement" } dd { (a.input.address) ", " (a.input.postcode) " " (a.input.town) } }
        }
        @if a.status == Status::Draft {
            p { a class="bouton" href=(HOUSEHOLD_FORM) { "Reprendre mon brouillon" } }
        }
        @if a.status == Status::Submitted { (what_next()) }
        @if let (Some(d), Some(l)) = (current, &letter) {
            (letter_markup(l, &format!("/decisions/{}/lettre.pdf", d.number)))
            (appeals_list(&appeals))
            @if today() <= d.appeal_until && !appeals.iter().any(|p| p.decision == d.number && p.status == social_tariff::decision::AppealStatus::Pending) {
                (appeal_form(me, &format!("/mon-espace/decisions/{}/recours", d.number), errors, grounds))
            }
        }
    };
    Ok(render(
        status,
        layout(
            &format!("Ma demande {}", a.code),
            Some(me),
            "/mon-espace",
            body,
        ),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct AppealPost {
    #[serde(default)]
    motifs: String,
    #[serde(default)]
    canal: String,
}

/// `POST /mon-espace/decisions/{number}/recours`.
pub async fn household_appeal(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
    Form(post): Form<AppealPost>,
) -> PageResult {
    let n = social_tariff::service::decision_number(&number)?;
    match social_tariff::lodge_appeal(
        &state.db,
        &me.actor(),
        me.household_scope(),
        &n,
        Channel::Online,
        &post.motifs,
        today(),
    )
    .await
    {
        Ok(_) => {
            let d = social_tariff::decision(&state.db, me.household_scope(), &n).await?;
            Ok(Redirect::to(&format!("/mon-espace/demandes/{}", d.application)).into_response())
        }
        Err(social_tariff::Error::Invalid(m)) => {
            let d = social_tariff::decision(&state.db, me.household_scope(), &n).await?;
            household_application_page(
                &state,
                &me,
                &d.application,
                StatusCode::UNPROCESSABLE_ENTITY,
                &[("motifs", m)],
                &post.motifs,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /decisions/{number}/lettre.pdf`: the letter, for the household and
/// the agents.
pub async fn letter_pdf(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> PageResult {
    Ok(crate::social::documents::pdf_response(&state, &me, &number).await?)
}

/// The household's part of `/mon-espace`: its applications and its right.
pub async fn household_summary(state: &AppState, me: &Principal) -> Result<Markup, Error> {
    let applications =
        social_tariff::list_applications(&state.db, me.household_scope(), None, None).await?;
    // A decided application says how (its last decision).
    let mut outcome_of = std::collections::HashMap::new();
    for a in applications.iter().filter(|a| a.status == Status::Decided) {
        if let Some(d) = social_tariff::decisions_of(&state.db, me.household_scope(), &a.code)
            .await?
            .last()
        {
            outcome_of.insert(a.code.to_string(), d.outcome.label());
        }
    }
    let mine = social_tariff::list_households(&state.db, me.household_scope()).await?;
    let mut rights = Vec::new();
    for h in &mine {
        if let Some(e) = social_tariff::entitlement(&state.db, &h.code, today()).await? {
            rights.push(e);
        }
    }
    Ok(html! {
        h2 { "Tarif social" }
        @for e in &rights {
            p class="succes" { "Vous bénéficiez du tarif social, niveau " (e.level) " (" (e.level_label) ", "
                @if e.monthly_price_cents == 0 { "accès gratuit" } @else { (euros(e.monthly_price_cents)) " par mois" }
                "), jusqu'au " (french_date(e.valid_to)) " inclus." }
        }
        @if applications.is_empty() {
            p { "Vous pouvez demander le tarif social en ligne ou au guichet de la mairie : les deux démarches ont la même valeur." }
        } @else {
            table tabindex="0" {
                caption { "Mes demandes" }
                thead { tr { th scope="col" { "Numéro" } th scope="col" { "État" } th scope="col" { "Créée le" } } }
                tbody {
                    @for a in &applications {
                        tr {
                            td { a href={ "/mon-espace/demandes/" (a.code) } { (a.code) } }
                            td { (outcome_of.get(&a.code.to_string()).copied().unwrap_or(a.status.label())) }
                            td { (local_time(&a.created_at)) }
                        }
                    }
                }
            }
        }
        @if !applications.iter().any(|a| a.status == Status::Submitted) {
            p { a class="bouton" href=(HOUSEHOLD_FORM) {
                @if applications.iter().any(|a| a.status == Status::Draft) { "Reprendre ma demande" } @else { "Demander le tarif social" }
            } }
        }
    })
}

// --- Agents ------------------------------------------------------------

/// `GET /instruction/demandes`.
pub async fn agent_list(State(state): State<AppState>, me: Principal) -> PageResult {
    let all = social_tariff::list_applications(&state.db, Scope::All, None, None).await?;
    let pending: Vec<&Application> = all
        .iter()
        .filter(|a| a.status == Status::Submitted)
        .collect();
    let rest: Vec<&Application> = all
        .iter()
        .filter(|a| a.status != Status::Submitted)
        .collect();
    let table = |list: &[&Application], caption: &str| {
        html! {
            table tabindex="0" {
                caption { (caption) }
                thead { tr { th scope="col" { "Numéro" } th scope="col" { "Demandeur" } th scope="col" { "Canal" } th scope="col" { "Envoyée le" } th scope="col" { "État" } } }
                tbody {
                    @for a in list {
                        tr {
                            td { a href={ (AGENT_LIST) "/" (a.code) } { (a.code) } }
                            td { (a.input.applicant) }
                            td { (a.channel.label()) }
                            td { (a.submitted_at.as_deref().map(local_time).unwrap_or_default()) }
                            td { (a.status.label()) }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Demandes de tarif social" }
        p { a class="bouton" href=(AGENT_NEW) { "Saisir une demande (guichet ou papier)" } " " a href=(APPEALS) { "Recours" } }
        @if pending.is_empty() { p class="info" { "Aucune demande n'attend d'instruction." } } @else { (table(&pending, "À instruire")) }
        @if !rest.is_empty() { (table(&rest, "Autres demandes")) }
    };
    Ok(render(
        StatusCode::OK,
        layout("Demandes", Some(&me), "/instruction", body),
    ))
}

fn agent_new_page(me: &Principal, post: &FormPost, errors: &[(&'static str, String)]) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Saisir une demande pour un foyer" }
        p { "Au guichet, avec le foyer présent, ou à partir du formulaire papier qu'il a rempli. La demande a la même valeur qu'une demande en ligne." }
        (error_summary(errors))
        form class="formulaire" method="post" action=(AGENT_NEW) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            fieldset {
                legend { "Comment la demande est reçue" }
                div class="case" { input type="radio" id="canal-guichet" name="canal" value="counter" checked[post.canal != "paper"]; label for="canal-guichet" { "Au guichet" } }
                div class="case" { input type="radio" id="canal-papier" name="canal" value="paper" checked[post.canal == "paper"]; label for="canal-papier" { "Formulaire papier" } }
            }
            (input_field(errors, "foyer", "Code du foyer, s'il a déjà un dossier", Some("FOY-XXXXXX ; laissez vide pour ouvrir un dossier."), &post.foyer, "text", None))
            (form_fields(&post.form, errors))
            div class="champ" {
                div class="case" {
                    input type="checkbox" id="consentement" name="consentement" value="on" checked[post.consentement.is_some()]
                        aria-invalid=(has_error(errors, "consentement")) aria-describedby=[has_error(errors, "consentement").then_some("consentement-erreur")];
                    label for="consentement" { "Le foyer a donné son accord pour que je saisisse sa demande" }
                }
                (field_error(errors, "consentement"))
            }
            button type="submit" name="action" value="envoyer" { "Enregistrer la demande" }
        }
    }
}

/// `GET /instruction/demandes/nouvelle`.
pub async fn agent_new(me: Principal) -> PageResult {
    Ok(render(
        StatusCode::OK,
        layout(
            "Saisir une demande",
            Some(&me),
            "/instruction",
            agent_new_page(&me, &FormPost::default(), &[]),
        ),
    ))
}

/// `POST /instruction/demandes/nouvelle`.
pub async fn agent_create(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<FormPost>,
) -> PageResult {
    let mut errors: Errors = Vec::new();
    let input = match post.form.parse(true) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if post.consentement.is_none() {
        errors.push((
            "consentement",
            "cochez l'accord du foyer : sans lui, la demande ne peut pas être saisie pour lui"
                .into(),
        ));
    }
    let channel = if post.canal == "paper" {
        Channel::Paper
    } else {
        Channel::Counter
    };
    if let (Some(input), true) = (&input, errors.is_empty()) {
        let household =
            match social::household_for_agent(&state, &me, Some(&post.foyer), &input.applicant)
                .await
            {
                Ok(h) => Some(h),
                Err(Error::NotFound(_)) => {
                    errors.push((
                        "foyer",
                        format!("aucun foyer ne porte le code « {} »", post.foyer.trim()),
                    ));
                    None
                }
                Err(e) => return Err(e.into()),
            };
        if let Some(household) = household {
            let a = social_tariff::create_application(
                &state.db,
                &me.actor(),
                Scope::All,
                &Filing {
                    household: &household,
                    channel,
                    input,
                    submit: true,
                    renewal: false,
                    consent: true,
                },
            )
            .await?;
            return Ok(Redirect::to(&format!("{AGENT_LIST}/{}", a.code)).into_response());
        }
    }
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(
            "Saisir une demande",
            Some(&me),
            "/instruction",
            agent_new_page(&me, &post, &errors),
        ),
    ))
}

fn source_text(o: &Criterion) -> String {
    o.source
        .as_ref()
        .map(|s| s.describe())
        .unwrap_or_else(|| "—".into())
}

pub(crate) async fn agent_page(
    state: &AppState,
    me: &Principal,
    code: &str,
    status: StatusCode,
    notice: Option<Markup>,
    errors: &[(&'static str, String)],
) -> PageResult {
    let detail = crate::social::documents::detail(state, me, code).await?;
    let a = &detail.application.application;
    let csrf = me.csrf();
    let base = format!("{AGENT_LIST}/{}", a.code);
    let current: Option<&Decision> = detail.decisions.last();
    let mut appeals = Vec::new();
    for d in &detail.decisions {
        appeals.extend(social_tariff::appeals(&state.db, Scope::All, Some(&d.number)).await?);
    }
    let scans = social_tariff::scans_of(&state.db, Scope::All, &a.code).await?;
    let scans_open = current.is_none_or(|d| today() <= d.appeal_until);
    let proposes_grant = detail
        .evaluation
        .as_ref()
        .is_some_and(|ev| matches!(ev.proposal, Proposal::Grant { .. }));
    let proposes_refusal = detail
        .evaluation
        .as_ref()
        .is_some_and(|ev| matches!(ev.proposal, Proposal::Refuse));
    let body = html! {
        h1 { "Demande " (a.code) }
        @if let Some(n) = notice { (n) }
        (error_summary(errors))
        dl class="fiche" {
            div { dt { "État" } dd { (a.status.label()) } }
            div { dt { "Foyer" } dd { a href={ "/foyers/" (a.household) } { (a.household) } } }
            div { dt { "Demandeur" } dd { (a.input.applicant) } }
            div { dt { "Logement" } dd { (a.input.address) ", " (a.input.postcode) " " (a.input.town) } }
            div { dt { "Personnes" } dd { (a.input.household_size.map(|n| n.to_string()).unwrap_or_default()) } }
            div { dt { "Reçue" } dd { (a.channel.label()) @if let Some(by) = &a.entered_by { ", saisie par " (by) } @if a.consent_at.is_some() { " avec l'accord du foyer" } } }
            div { dt { "Contact" } dd { @match &a.input.contact { Some(Contact::Email { address }) => { "courriel : " (address) }, Some(Contact::Letter) => { "courrier" }, None => { "—" } } } }
        }
        @if !detail.duplicates.is_empty() {
            section class="alarme alarme-warning" aria-labelledby="doublons" {
                h2 id="doublons" { "Doublons possibles" }
                ul { @for d in &detail.duplicates { li { (d.reference) " (foyer " (d.household) ") : " (d.why) } } }
            }
        }
        @for n in &a.notes { p class="info" { (sentence(n)) } }
        @if let Some(e) = &detail.evaluation_error { p class="alerte" { (sentence(e)) } }
        @if let Some(ev) = &detail.evaluation {
            h2 { "Proposition des règles (version " (detail.rule_version.unwrap_or_default()) ")" }
            p { strong { @match &ev.proposal {
                Proposal::Grant { level } => { "Accorder le niveau " (level) "." },
                Proposal::Refuse => { "Refuser." },
                Proposal::Incomplete => { "Incomplet : des critères restent à vérifier." },
            } } }
            table class="empilee" {
                caption { "Critères et conditions" }
                thead { tr { th scope="col" { "Critère" } th scope="col" { "Résultat" } th scope="col" { "Source" } th scope="col" { "Raison" } } }
                tbody {
                    @for o in ev.criteria.iter().chain(&ev.conditions) {
                        tr { td { strong { (o.label()) } } td data-label="Résultat" { (o.verdict.label()) }
                             td data-label="Source" { (source_text(o)) } td data-label="Raison" { (o.reason) } }
                    }
                }
            }
        }
        @if a.status == Status::Submitted {
            h2 { "Vérifier" }
            @if detail.verification_possible {
                form method="post" action={ (base) "/verification" } {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "Interroger l'API Particulier" }
                }
            }
            form class="formulaire" method="post" action={ (base) "/justificatif" } novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                h3 { "Justificatif vu" }
                p class="aide" { "Notez le document vu ; ne le copiez pas." }
                div class="champ" {
                    label for="objet" { "Ce que le document établit" }
                    select id="objet" name="objet" {
                        @for b in Benefit::ALL { option value={ "prestation:" (b.code()) } { "Perçoit " (b.with_article()) } }
                        @for b in Benefit::ALL { option value={ "sans:" (b.code()) } { "Ne perçoit pas " (b.with_article()) } }
                        option value="qf" { "Quotient familial (montant ci-dessous)" }
                        option value="bourse" { "Étudiant boursier" }
                    }
                }
                (input_field(errors, "montant", "Montant du quotient familial (euros)", Some("Seulement pour un quotient familial."), "", "text", None))
                (input_field(errors, "document", "Type de document", Some("Par exemple : attestation de paiement CAF."), "", "text", None))
                (input_field(errors, "date_document", "Date du document", Some("JJ/MM/AAAA."), "", "text", None))
                (input_field(errors, "emetteur", "Délivré par", Some("Par exemple : CAF d'Ille-et-Vilaine."), "", "text", None))
                button type="submit" { "Enregistrer le justificatif" }
            }
            form method="post" action={ (base) "/raccordable" } {
                input type="hidden" name="csrf_token" value=(csrf);
                h3 { "Raccordement du logement" }
                p class="aide" { "Vérifiez dans l'inventaire que l'adresse peut être raccordée." }
                button type="submit" name="raccordable" value="oui" { "Le logement peut être raccordé" } " "
                button type="submit" name="raccordable" value="non" class="secondaire" { "Il ne peut pas l'être" }
            }
            h2 { "Décider" }
            form class="formulaire" method="post" action={ (base) "/decision" } novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                fieldset {
                    legend { "Décision" }
                    // Nothing chosen for the agent while the rules propose
                    // nothing (criteria still to check).
                    div class="case" { input type="radio" id="issue-accorder" name="issue" value="granted" checked[proposes_grant]; label for="issue-accorder" { "Accorder (le niveau proposé par les règles)" } }
                    div class="case" { input type="radio" id="issue-refuser" name="issue" value="refused" checked[proposes_refusal]; label for="issue-refuser" { "Refuser" } }
                }
                div class="champ" {
                    label for="motif" { "Motif" span class="aide" { "Obligatoire pour un refus que les règles ne proposent pas ; il figurera sur la lettre." } }
                    textarea id="motif" name="motif" rows="3" maxlength="4000" aria-invalid=(has_error(errors, "motif")) aria-describedby=[has_error(errors, "motif").then_some("motif-erreur")] {}
                    (field_error(errors, "motif"))
                }
                button type="submit" { "Valider la décision" }
            }
        }
        (crate::social::privacy::scans_section(&base, &csrf, &scans, scans_open, errors))
        @if let Some(d) = current {
            h2 { "Décision " (d.number) }
            p { (if d.outcome == Outcome::Granted { "Accordée" } else { "Refusée" }) ", validée par " (d.validated_by) " le " (french_date(d.decided_on)) ". "
                a href={ "/decisions/" (d.number) "/lettre.pdf" } { "Lettre (PDF)" } }
            (appeals_list(&appeals))
            @if today() <= d.appeal_until {
                form class="formulaire" method="post" action={ "/instruction/decisions/" (d.number) "/recours" } novalidate {
                    input type="hidden" name="csrf_token" value=(csrf);
                    h3 { "Enregistrer un recours du foyer" }
                    div class="champ" {
                        label for="motifs" { "Motifs du recours" }
                        textarea id="motifs" name="motifs" rows="3" maxlength="4000" aria-invalid=(has_error(errors, "motifs")) aria-describedby=[has_error(errors, "motifs").then_some("motifs-erreur")] {}
                        (field_error(errors, "motifs"))
                    }
                    fieldset {
                        legend { "Reçu" }
                        div class="case" { input type="radio" id="recours-guichet" name="canal" value="counter" checked; label for="recours-guichet" { "Au guichet" } }
                        div class="case" { input type="radio" id="recours-papier" name="canal" value="paper"; label for="recours-papier" { "Par courrier" } }
                    }
                    button type="submit" { "Enregistrer le recours" }
                }
            }
        }
    };
    Ok(render(
        status,
        layout(
            &format!("Demande {}", a.code),
            Some(me),
            "/instruction",
            body,
        ),
    ))
}

/// `GET /instruction/demandes/{code}`.
pub async fn agent_show(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    agent_page(&state, &me, &code, StatusCode::OK, None, &[]).await
}

/// Shows the review page after an action: its message or its error.
async fn after(
    state: &AppState,
    me: &Principal,
    code: &str,
    result: Result<String, social_tariff::Error>,
    field: &'static str,
) -> PageResult {
    match result {
        Ok(msg) => {
            agent_page(
                state,
                me,
                code,
                StatusCode::OK,
                Some(html! { p class="succes" role="status" { (msg) } }),
                &[],
            )
            .await
        }
        Err(social_tariff::Error::Invalid(m)) => {
            agent_page(
                state,
                me,
                code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[(field, m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn code_of(code: &str) -> Result<ApplicationCode, Error> {
    ApplicationCode::parse(code).map_err(|_| Error::NotFound(code.to_owned()))
}

/// `POST /instruction/demandes/{code}/verification`.
pub async fn agent_verify(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    let c = code_of(&code)?;
    let Some(verifier) = state.verifier.clone() else {
        return after(
            &state,
            &me,
            &code,
            Err(social_tariff::Error::Invalid(
                "aucun service de vérification n'est configuré : vérifiez les justificatifs".into(),
            )),
            "objet",
        )
        .await;
    };
    let result = social_tariff::service::verify(&state.db, verifier.as_ref(), &me.actor(), &c)
        .await
        .map(|(_, checks)| {
            let said: Vec<String> = checks.into_iter().map(|c| c.result).collect();
            format!("Vérification faite : {}.", said.join(" ; "))
        });
    after(&state, &me, &code, result, "objet").await
}

#[derive(Debug, Deserialize, Default)]
pub struct DocumentPost {
    #[serde(default)]
    objet: String,
    #[serde(default)]
    montant: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    date_document: String,
    #[serde(default)]
    emetteur: String,
}

/// `POST /instruction/demandes/{code}/justificatif`.
pub async fn agent_document(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(post): Form<DocumentPost>,
) -> PageResult {
    let c = code_of(&code)?;
    let invalid = |f: &'static str, m: &str| -> Errors { vec![(f, m.to_owned())] };
    let proof = match post.objet.split_once(':') {
        Some(("prestation", b)) => Ok(Proof::Benefit {
            benefit: b.to_owned(),
            received: true,
        }),
        Some(("sans", b)) => Ok(Proof::Benefit {
            benefit: b.to_owned(),
            received: false,
        }),
        _ if post.objet == "qf" => match post.montant.trim().parse::<u32>() {
            Ok(value) => Ok(Proof::QuotientFamilial { value }),
            Err(_) => Err(invalid(
                "montant",
                "indiquez le quotient familial en euros, par exemple 640",
            )),
        },
        _ if post.objet == "bourse" => Ok(Proof::StudentGrant { holder: true }),
        _ => Err(invalid("objet", "choisissez ce que le document établit")),
    };
    let dated = social_tariff::application::parse_date(&post.date_document)
        .ok_or_else(|| invalid("date_document", "la date du document s'écrit JJ/MM/AAAA"));
    let (proof, dated) = match (proof, dated) {
        (Ok(p), Ok(d)) => (p, d),
        (Err(e), _) | (_, Err(e)) => {
            return agent_page(
                &state,
                &me,
                &code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &e,
            )
            .await
        }
    };
    let seen = DocumentSeen {
        proof,
        document: post.document.clone(),
        dated,
        issuer: post.emetteur.clone(),
    };
    let result =
        social_tariff::service::record_document(&state.db, &me.actor(), &c, &seen, today())
            .await
            .map(|_| "Justificatif enregistré.".to_owned());
    after(&state, &me, &code, result, "document").await
}

#[derive(Debug, Deserialize, Default)]
pub struct AreaPost {
    #[serde(default)]
    raccordable: String,
}

/// `POST /instruction/demandes/{code}/raccordable`.
pub async fn agent_area(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(post): Form<AreaPost>,
) -> PageResult {
    let c = code_of(&code)?;
    let yes = post.raccordable == "oui";
    let result = social_tariff::service::record_area(&state.db, &me.actor(), &c, yes)
        .await
        .map(|_| {
            if yes {
                "Logement raccordable enregistré.".to_owned()
            } else {
                "Logement non raccordable enregistré.".to_owned()
            }
        });
    after(&state, &me, &code, result, "raccordable").await
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionPost {
    #[serde(default)]
    issue: String,
    #[serde(default)]
    motif: String,
}

/// `POST /instruction/demandes/{code}/decision`.
pub async fn agent_decide(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(post): Form<DecisionPost>,
) -> PageResult {
    let c = code_of(&code)?;
    let Ok(outcome) = Outcome::parse(&post.issue) else {
        return after(
            &state,
            &me,
            &code,
            Err(social_tariff::Error::Invalid(
                "choisissez d'accorder ou de refuser".into(),
            )),
            "issue",
        )
        .await;
    };
    let ruling = Ruling {
        outcome,
        reason: Some(post.motif.clone()),
    };
    let result = social_tariff::service::decide(&state.db, &me.actor(), &c, &ruling, today())
        .await
        .map(|d| format!("Décision {} validée ; la lettre est prête.", d.number));
    after(&state, &me, &code, result, "motif").await
}

/// `POST /instruction/decisions/{number}/recours`: an appeal received at
/// the counter or by post.
pub async fn agent_appeal(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
    Form(post): Form<AppealPost>,
) -> PageResult {
    let n = social_tariff::service::decision_number(&number)?;
    let d = social_tariff::decision(&state.db, Scope::All, &n).await?;
    let channel = if post.canal == "paper" {
        Channel::Paper
    } else {
        Channel::Counter
    };
    let result = social_tariff::lodge_appeal(
        &state.db,
        &me.actor(),
        Scope::All,
        &n,
        channel,
        &post.motifs,
        today(),
    )
    .await
    .map(|a| {
        format!(
            "Recours n° {} enregistré ; un autre agent que celui qui a décidé l'examinera.",
            a.id
        )
    });
    after(&state, &me, &d.application, result, "motifs").await
}

/// `GET /instruction/recours`.
pub async fn appeals_page(State(state): State<AppState>, me: Principal) -> PageResult {
    appeals_render(&state, &me, StatusCode::OK, None, &[]).await
}

async fn appeals_render(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    notice: Option<Markup>,
    errors: &[(&'static str, String)],
) -> PageResult {
    let all = social_tariff::appeals(&state.db, Scope::All, None).await?;
    let csrf = me.csrf();
    let mut rows = Vec::new();
    // The levels of the rules each decision was taken under, to choose
    // from in the answer.
    let mut levels: std::collections::BTreeMap<i64, Vec<social_tariff::rules::Level>> =
        std::collections::BTreeMap::new();
    for a in &all {
        let d = social_tariff::decision(&state.db, Scope::All, &a.decision).await?;
        if let std::collections::btree_map::Entry::Vacant(e) = levels.entry(d.rule_version) {
            e.insert(
                social_tariff::rule_set(&state.db, d.rule_version)
                    .await
                    .map(|r| r.rules.niveaux)
                    .unwrap_or_default(),
            );
        }
        rows.push((a, d));
    }
    let body = html! {
        h1 { "Recours" }
        @if let Some(n) = notice { (n) }
        (error_summary(errors))
        @if all.is_empty() { p class="info" { "Aucun recours." } }
        @for (a, d) in &rows {
            section class="carte" aria-labelledby={ "recours-" (a.id) } {
                h2 id={ "recours-" (a.id) } { "Recours n° " (a.id) " contre la décision " (a.decision) }
                p { "Demande " a href={ (AGENT_LIST) "/" (d.application) } { (d.application) } ", décision "
                    (if d.outcome == Outcome::Granted { "d'accord" } else { "de refus" }) " validée par " (d.validated_by) "." }
                p { "Reçu " (a.channel.label()) " le " (local_time(&a.lodged_at)) " : « " (a.grounds) " »" }
                p { "État : " strong { (a.status.label()) } @if let Some(by) = &a.reviewed_by { " (par " (by) ")" } }
                @if a.status == social_tariff::decision::AppealStatus::Pending {
                    @if d.validated_by == me.username {
                        p class="info" { "Vous avez validé cette décision : un autre agent doit examiner ce recours." }
                    } @else {
                        form class="formulaire" method="post" action={ (APPEALS) "/" (a.id) } novalidate {
                            input type="hidden" name="csrf_token" value=(csrf);
                            fieldset {
                                legend { "Réponse" }
                                div class="case" { input type="radio" id={ "maintenir-" (a.id) } name="reponse" value="maintenir" checked; label for={ "maintenir-" (a.id) } { "Maintenir la décision" } }
                                div class="case" { input type="radio" id={ "modifier-" (a.id) } name="reponse" value="modifier"; label for={ "modifier-" (a.id) } { "La remplacer par une nouvelle décision" } }
                            }
                            div class="champ" {
                                label for={ "niveau-" (a.id) } { "Niveau accordé par la nouvelle décision" }
                                select id={ "niveau-" (a.id) } name="niveau" {
                                    option value="" { "Aucun : la demande reste refusée" }
                                    @for l in levels.get(&d.rule_version).map(Vec::as_slice).unwrap_or_default() {
                                        option value=(l.code) { (l.libelle) " (" (l.code) ", " (social_tariff::rules::euros(l.prix_mensuel_centimes)) " par mois)" }
                                    }
                                }
                            }
                            div class="champ" {
                                label for={ "motif-" (a.id) } { "Motif de la réponse" }
                                textarea id={ "motif-" (a.id) } name="motif" rows="3" maxlength="4000" {}
                            }
                            button type="submit" { "Répondre au recours" }
                        }
                    }
                }
            }
        }
    };
    Ok(render(
        status,
        layout("Recours", Some(me), "/instruction", body),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct ReviewPost {
    #[serde(default)]
    reponse: String,
    #[serde(default)]
    niveau: String,
    #[serde(default)]
    motif: String,
}

/// `POST /instruction/recours/{id}`.
pub async fn review(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
    Form(post): Form<ReviewPost>,
) -> PageResult {
    let review = Review {
        overturn: post.reponse == "modifier",
        level: Some(post.niveau.clone()),
        reason: post.motif.clone(),
    };
    match social_tariff::service::review_appeal(&state.db, &me.actor(), id, &review, today()).await
    {
        Ok((a, new)) => {
            let msg = match new {
                Some(d) => format!("Recours n° {} : nouvelle décision {}.", a.id, d.number),
                None => format!("Recours n° {} : décision maintenue.", a.id),
            };
            appeals_render(
                &state,
                &me,
                StatusCode::OK,
                Some(html! { p class="succes" role="status" { (msg) } }),
                &[],
            )
            .await
        }
        Err(social_tariff::Error::Invalid(m)) => {
            appeals_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[("motif", m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// --- Public and accountants ----------------------------------------------

/// `GET /tarif-social/formulaire`: the form to print and fill by hand.
pub async fn paper_form(State(state): State<AppState>, me: Option<Principal>) -> PageResult {
    let body = html! {
        div class="imprimable" {
            h1 { "Demande de tarif social — formulaire papier" }
            p { (state.config.regie_name) " — " (state.config.regie_address) }
            p { "Remplissez ce formulaire et déposez-le au guichet de la mairie, avec vos justificatifs si vous ne demandez pas la vérification sans justificatif. Un agent le saisira ; vous recevrez un numéro de demande." }
            p class="aide" { "Pour imprimer : menu de votre navigateur, « Imprimer »." }
            (form_fields(&ApplicationForm::default(), &Vec::new()))
            fieldset {
                legend { "Signature" }
                p { "Je certifie l'exactitude de ces informations et j'accepte que le service social saisisse ma demande." }
                p { "Date : ____ / ____ / ________      Signature : ______________________" }
            }
            (what_next())
        }
    };
    Ok(render(
        StatusCode::OK,
        layout(
            "Formulaire papier du tarif social",
            me.as_ref(),
            PAPER_FORM,
            body,
        ),
    ))
}

/// `GET /comptabilite/tarif-social`: who is entitled today, at which
/// level, by which decision; never why.
pub async fn accountant_list(State(state): State<AppState>, me: Principal) -> PageResult {
    let list = social_tariff::entitlements_in_force(&state.db, today()).await?;
    let body = html! {
        h1 { "Tarif social en vigueur" }
        p { "Les foyers qui bénéficient du tarif social aujourd'hui, avec le niveau et la décision qui l'accorde. Les raisons d'une décision restent au service social." }
        @if list.is_empty() { p class="info" { "Aucun foyer ne bénéficie du tarif social aujourd'hui." } } @else {
            table tabindex="0" {
                caption { "Droits en vigueur le " (french_date(today())) }
                thead { tr { th scope="col" { "Foyer" } th scope="col" { "Niveau" } th scope="col" { "Prix mensuel" } th scope="col" { "Du" } th scope="col" { "Au" } th scope="col" { "Décision" } } }
                tbody {
                    @for e in &list {
                        tr {
                            td { (e.household) }
                            td { (e.level) " — " (e.level_label) }
                            td { (euros(e.monthly_price_cents)) }
                            td { (french_date(e.valid_from)) }
                            td { (french_date(e.valid_to)) }
                            td { (e.decision_ref) }
                        }
                    }
                }
            }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Tarif social en vigueur", Some(&me), "/comptabilite", body),
    ))
}

// --- Renewal reminders ---------------------------------------------------

pub const OUTBOX: &str = "/instruction/courrier";

/// `GET /instruction/courrier`: the reminders to print or sent.
pub async fn outbox(State(state): State<AppState>, me: Principal) -> PageResult {
    outbox_render(&state, &me, None).await
}

async fn outbox_render(state: &AppState, me: &Principal, notice: Option<Markup>) -> PageResult {
    use social_tariff::renewal::Status as R;
    let list = social_tariff::outbox(&state.db).await?;
    let csrf = me.csrf();
    let body = html! {
        h1 { "Courrier : rappels de renouvellement" }
        @if let Some(n) = notice { (n) }
        p { "Les foyers sont prévenus 60 puis 15 jours avant la fin de leur droit : par courriel s'ils l'ont choisi"
            @if state.mailer.is_none() { " (aucun serveur de courriel n'est configuré : tout part par courrier)" }
            ", sinon par une lettre à imprimer et poster." }
        form method="post" action=(OUTBOX) {
            input type="hidden" name="csrf_token" value=(csrf);
            button type="submit" { "Préparer les rappels du jour" }
        }
        @if list.is_empty() { p class="info" { "Aucun rappel." } } @else {
            table tabindex="0" {
                caption { "Rappels" }
                thead { tr { th scope="col" { "Foyer" } th scope="col" { "Destinataire" } th scope="col" { "Fin du droit" } th scope="col" { "Rappel" } th scope="col" { "État" } th scope="col" { "Action" } } }
                tbody {
                    @for r in &list {
                        tr {
                            td { (r.household) }
                            td { (r.applicant) @if let Some(e) = &r.email { br; (e) } }
                            td { (french_date(r.valid_to)) }
                            td { (r.kind.days()) " jours avant" }
                            td { (r.status.label()) @if let Some(d) = &r.detail { br; span class="aide" { (d) } } }
                            td {
                                @if matches!(r.status, R::ToPrint | R::Failed | R::Printed) {
                                    a href={ (OUTBOX) "/" (r.id) "/lettre.pdf" } { "Lettre (PDF)" }
                                }
                                @if matches!(r.status, R::ToPrint | R::Failed) {
                                    form method="post" action={ (OUTBOX) "/" (r.id) "/imprime" } {
                                        input type="hidden" name="csrf_token" value=(csrf);
                                        button type="submit" class="secondaire" { "Marquer comme imprimée" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Courrier", Some(me), "/instruction", body),
    ))
}

/// `POST /instruction/courrier`: runs the renewal job now.
pub async fn outbox_run(State(state): State<AppState>, me: Principal) -> PageResult {
    let run = crate::social::renewal_job(&state, today()).await?;
    let msg = format!(
        "{} rappel(s) préparé(s), {} courriel(s) envoyé(s), {} en échec.",
        run.planned, run.sent, run.failed
    );
    outbox_render(
        &state,
        &me,
        Some(html! { p class="succes" role="status" { (msg) } }),
    )
    .await
}

/// `GET /instruction/courrier/{id}/lettre.pdf`.
pub async fn reminder_pdf(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult {
    let r = social_tariff::reminder(&state.db, id).await?;
    let bytes = r
        .letter(&social::issuer(&state), &social::renew_url(&state))
        .to_pdf(&state.config.regie_name)?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"rappel-{}.pdf\"", r.id),
            ),
        ],
        axum::body::Body::from(bytes),
    )
        .into_response())
}

/// `POST /instruction/courrier/{id}/imprime`.
pub async fn reminder_printed(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> PageResult {
    social_tariff::set_reminder_status(
        &state.db,
        &me.actor(),
        id,
        social_tariff::renewal::Status::Printed,
        None,
    )
    .await?;
    outbox_render(
        &state,
        &me,
        Some(html! { p class="succes" role="status" { "Lettre marquée comme imprimée." } }),
    )
    .await
}
