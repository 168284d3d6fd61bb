//! Applications for the social tariff: what a household asks for, through
//! which channel (online, at the counter, on paper later entered by an
//! agent), and the facts it declares.
//!
//! The form is parsed once into an [`ApplicationInput`]; every field error
//! names its field, so a page can show it next to the field and in the
//! summary at the top. A draft may be incomplete; a submission may not.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::engine::{BenefitCheck, Fact, Facts, Source};
use crate::rules::Benefit;
use crate::Error;

/// Stable human code of an application: `DEM-` and six characters of the
/// household codes' alphabet (no look-alikes, readable over the phone).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationCode(String);

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

impl ApplicationCode {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_uppercase();
        let ok = s
            .strip_prefix("DEM-")
            .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| ALPHABET.contains(&b)));
        if ok {
            Ok(Self(s))
        } else {
            Err(Error::Invalid(format!(
                "« {s} » n'est pas un numéro de demande (DEM-XXXXXX)"
            )))
        }
    }

    /// A fresh random code; the table's unique constraint catches the rare
    /// collision and the caller draws again.
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let rest: String = (0..6)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("DEM-{rest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApplicationCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<ApplicationCode> for String {
    fn from(c: ApplicationCode) -> String {
        c.0
    }
}

impl fmt::Display for ApplicationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the application reached the régie. The three have the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Filled by the household on its page.
    Online,
    /// Filled by an agent at the counter, with the household present.
    Counter,
    /// Filled by the household on the printed form, entered by an agent.
    Paper,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Counter => "counter",
            Channel::Paper => "paper",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "online" | "en_ligne" => Ok(Channel::Online),
            "counter" | "guichet" => Ok(Channel::Counter),
            "paper" | "papier" => Ok(Channel::Paper),
            other => Err(Error::Invalid(format!(
                "canal « {other} » inconnu (en ligne, guichet ou papier)"
            ))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Online => "en ligne",
            Channel::Counter => "au guichet",
            Channel::Paper => "formulaire papier",
        }
    }
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Saved, not sent: only the household (or the agent who entered it)
    /// sees it.
    Draft,
    /// Sent; an agent verifies and decides.
    Submitted,
    /// An agent validated a decision.
    Decided,
    /// Withdrawn by the household before a decision.
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::Decided => "decided",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "draft" => Ok(Status::Draft),
            "submitted" => Ok(Status::Submitted),
            "decided" => Ok(Status::Decided),
            "withdrawn" => Ok(Status::Withdrawn),
            other => Err(Error::Invalid(format!("état de demande inconnu : {other}"))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "brouillon",
            Status::Submitted => "envoyée, en cours d'instruction",
            Status::Decided => "décidée",
            Status::Withdrawn => "retirée",
        }
    }
}

/// How the household wants to hear from the régie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Contact {
    Email { address: String },
    Letter,
}

/// The identity the State's API Particulier needs to answer without a
/// document ("identité pivot"). Given only if the household wants its
/// situation checked that way; erased once the check is done.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub birth_name: String,
    pub given_names: String,
    pub birth_date: NaiveDate,
    /// `F` or `M`, as the civil registry records it.
    pub sex: char,
    /// INSEE code of the commune of birth (five characters, Corsica `2A`/`2B`).
    pub birth_place: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data stays out of logs.
        f.write_str("Identity(…)")
    }
}

/// A checked application, complete or not (a draft).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationInput {
    pub applicant: String,
    pub address: String,
    pub postcode: String,
    pub town: String,
    pub household_size: Option<u32>,
    pub benefits: Vec<Benefit>,
    pub quotient_familial: Option<u32>,
    pub student_grant: bool,
    pub contact: Option<Contact>,
    pub phone: Option<String>,
    pub identity: Option<Identity>,
}

impl ApplicationInput {
    /// The key of the dwelling, for "one entitlement per dwelling" and the
    /// duplicates check: the address without accents, case, punctuation or
    /// repeated spaces, and the postcode.
    pub fn dwelling_key(&self) -> String {
        dwelling_key(&self.address, &self.postcode)
    }

    /// What the household declared, as facts nobody verified yet.
    pub fn declared_facts(&self) -> Facts {
        Facts {
            // An unchecked benefit is the household saying it does not
            // receive it: enough to not grant by it, never to grant.
            benefits: Benefit::ALL
                .iter()
                .map(|&benefit| BenefitCheck {
                    benefit,
                    received: self.benefits.contains(&benefit),
                    source: Source::Declared,
                })
                .collect(),
            quotient_familial: self.quotient_familial.map(|value| Fact {
                value,
                source: Source::Declared,
            }),
            student_grant: Some(Fact {
                value: self.student_grant,
                source: Source::Declared,
            }),
            household_size: self.household_size,
            in_area: None,
            dwelling_entitlement: None,
        }
    }
}

/// Folds an address into a comparable key.
pub fn dwelling_key(address: &str, postcode: &str) -> String {
    let mut out = String::new();
    for c in address.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    format!("{} {}", out.trim_end(), postcode.trim())
}

/// Accented Latin letters to their base letter (enough for French).
fn fold(c: char) -> impl Iterator<Item = char> {
    let base: &str = match c {
        'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' => "a",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "e",
        'î' | 'ï' | 'Î' | 'Ï' => "i",
        'ô' | 'ö' | 'Ô' | 'Ö' => "o",
        'ù' | 'û' | 'ü' | 'Ù' | 'Û' | 'Ü' => "u",
        'ç' | 'Ç' => "c",
        'ÿ' => "y",
        'œ' | 'Œ' => "oe",
        'æ' | 'Æ' => "ae",
        _ => "",
    };
    let one = if base.is_empty() { Some(c) } else { None };
    base.chars().chain(one)
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<String>()? {
                out.push(v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// The application form as posted: every field a string, as typed.
/// Field names are the form's (French) names.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ApplicationForm {
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub adresse: String,
    #[serde(default)]
    pub code_postal: String,
    #[serde(default)]
    pub commune: String,
    #[serde(default)]
    pub taille_foyer: String,
    /// One value or several: a form with a single box ticked sends a plain
    /// string, and the pages read this struct flattened, where serde no
    /// longer turns one value into a list by itself.
    #[serde(default, deserialize_with = "one_or_many")]
    pub prestations: Vec<String>,
    #[serde(default)]
    pub quotient_familial: String,
    #[serde(default)]
    pub etudiant_boursier: Option<String>,
    /// `courriel` or `courrier`.
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub courriel: String,
    #[serde(default)]
    pub telephone: String,
    /// Checked when the household wants its situation checked with the
    /// State's services instead of showing documents.
    #[serde(default)]
    pub verification_auto: Option<String>,
    #[serde(default)]
    pub nom_naissance: String,
    #[serde(default)]
    pub prenoms: String,
    #[serde(default)]
    pub date_naissance: String,
    #[serde(default)]
    pub sexe: String,
    #[serde(default)]
    pub commune_naissance: String,
}

/// Errors of a form, each with the field it belongs to.
pub type FieldErrors = Vec<(&'static str, String)>;

fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty() && s != "false")
}

/// A date as people type it: `JJ/MM/AAAA` or `AAAA-MM-JJ`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

impl ApplicationForm {
    /// Parses the form. `complete` asks for everything a submission needs;
    /// a draft only checks what was typed.
    pub fn parse(&self, complete: bool) -> Result<ApplicationInput, FieldErrors> {
        let mut errors: FieldErrors = Vec::new();
        let text =
            |errors: &mut FieldErrors, field: &'static str, v: &str, what: &str, max: usize| {
                let v = v.trim();
                if v.is_empty() && complete {
                    errors.push((field, format!("indiquez {what}")));
                } else if v.chars().count() > max {
                    errors.push((field, format!("{what} ne peut dépasser {max} caractères")));
                }
                v.to_owned()
            };
        let applicant = text(
            &mut errors,
            "nom",
            &self.nom,
            "le nom et le prénom du demandeur",
            120,
        );
        let address = text(
            &mut errors,
            "adresse",
            &self.adresse,
            "l'adresse du logement",
            200,
        );
        let postcode = self.code_postal.trim().to_owned();
        if postcode.is_empty() {
            if complete {
                errors.push(("code_postal", "indiquez le code postal".into()));
            }
        } else if postcode.len() != 5 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
            errors.push((
                "code_postal",
                "le code postal s'écrit avec 5 chiffres, par exemple 35000".into(),
            ));
        }
        let town = text(&mut errors, "commune", &self.commune, "la commune", 100);
        let size = self.taille_foyer.trim();
        let household_size = if size.is_empty() {
            if complete {
                errors.push((
                    "taille_foyer",
                    "indiquez le nombre de personnes du foyer".into(),
                ));
            }
            None
        } else {
            match size.parse::<u32>() {
                Ok(n @ 1..=30) => Some(n),
                _ => {
                    errors.push((
                        "taille_foyer",
                        "le nombre de personnes du foyer est un nombre entier de 1 à 30".into(),
                    ));
                    None
                }
            }
        };
        let mut benefits = Vec::new();
        for p in self.prestations.iter().filter(|p| !p.trim().is_empty()) {
            match Benefit::parse(p) {
                Ok(b) if !benefits.contains(&b) => benefits.push(b),
                Ok(_) => {}
                Err(e) => errors.push(("prestations", e.to_string())),
            }
        }
        let qf = self.quotient_familial.trim().trim_end_matches('€').trim();
        let quotient_familial = if qf.is_empty() {
            None
        } else {
            match qf.replace(' ', "").parse::<u32>() {
                Ok(v) if v <= 100_000 => Some(v),
                _ => {
                    errors.push((
                        "quotient_familial",
                        "le quotient familial est un nombre entier d'euros, par exemple 640".into(),
                    ));
                    None
                }
            }
        };
        let student_grant = checked(&self.etudiant_boursier);
        if complete
            && benefits.is_empty()
            && quotient_familial.is_none()
            && !student_grant
            && !errors
                .iter()
                .any(|(f, _)| *f == "quotient_familial" || *f == "prestations")
        {
            errors.push((
                "prestations",
                "cochez au moins une prestation, indiquez votre quotient familial ou votre bourse d'études : sans aucun de ces éléments, la demande ne peut pas aboutir".into(),
            ));
        }
        let contact = match self.contact.trim() {
            "courriel" => {
                let a = self.courriel.trim();
                if valid_email(a) {
                    Some(Contact::Email {
                        address: a.to_owned(),
                    })
                } else {
                    errors.push((
                        "courriel",
                        if a.is_empty() {
                            "indiquez l'adresse électronique où vous écrire".into()
                        } else {
                            format!("« {a} » n'est pas une adresse électronique valide (exemple : nom@exemple.fr)")
                        },
                    ));
                    None
                }
            }
            "courrier" => Some(Contact::Letter),
            "" => {
                if complete {
                    errors.push((
                        "contact",
                        "choisissez comment recevoir nos réponses : par courriel ou par courrier"
                            .into(),
                    ));
                }
                None
            }
            other => {
                errors.push(("contact", format!("mode de contact « {other} » inconnu")));
                None
            }
        };
        let phone = self.telephone.trim();
        let phone = if phone.is_empty() {
            None
        } else {
            let digits: String = phone
                .chars()
                .filter(|c| !matches!(c, ' ' | '.' | '-'))
                .collect();
            let ok = (digits.len() == 10 && digits.starts_with('0')
                || digits.len() == 12 && digits.starts_with("+33"))
                && digits
                    .trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit());
            if !ok {
                errors.push((
                    "telephone",
                    "le numéro de téléphone s'écrit avec 10 chiffres, par exemple 02 99 00 00 00"
                        .into(),
                ));
            }
            Some(digits)
        };
        let identity = if checked(&self.verification_auto) {
            self.identity(&mut errors)
        } else {
            None
        };
        if errors.is_empty() {
            Ok(ApplicationInput {
                applicant,
                address,
                postcode,
                town,
                household_size,
                benefits,
                quotient_familial,
                student_grant,
                contact,
                phone,
                identity,
            })
        } else {
            Err(errors)
        }
    }

    fn identity(&self, errors: &mut FieldErrors) -> Option<Identity> {
        let before = errors.len();
        let birth_name = self.nom_naissance.trim();
        if birth_name.is_empty() || birth_name.chars().count() > 100 {
            errors.push((
                "nom_naissance",
                "indiquez le nom de naissance, nécessaire à la vérification automatique".into(),
            ));
        }
        let given = self.prenoms.trim();
        if given.is_empty() || given.chars().count() > 150 {
            errors.push((
                "prenoms",
                "indiquez les prénoms, nécessaires à la vérification automatique".into(),
            ));
        }
        let birth_date = parse_date(&self.date_naissance);
        match birth_date {
            None => errors.push((
                "date_naissance",
                "la date de naissance s'écrit JJ/MM/AAAA, par exemple 14/07/1980".into(),
            )),
            Some(d)
                if d > regie_core::time::now().date_naive()
                    || chrono::Datelike::year(&d) < 1900 =>
            {
                errors.push((
                    "date_naissance",
                    "cette date de naissance n'est pas possible".into(),
                ))
            }
            Some(_) => {}
        }
        let sex = match self.sexe.trim() {
            "F" | "f" => Some('F'),
            "M" | "m" => Some('M'),
            _ => {
                errors.push((
                    "sexe",
                    "indiquez le sexe tel qu'inscrit à l'état civil (F ou M)".into(),
                ));
                None
            }
        };
        let place = self.commune_naissance.trim().to_ascii_uppercase();
        let place_ok = place.len() == 5
            && (place.bytes().all(|b| b.is_ascii_digit())
                || (place.starts_with("2A") || place.starts_with("2B"))
                    && place.bytes().skip(2).all(|b| b.is_ascii_digit()));
        if !place_ok {
            errors.push(("commune_naissance", "le code INSEE de la commune de naissance a 5 caractères, par exemple 35238 pour Rennes (99 suivi du code du pays pour une naissance à l'étranger)".into()));
        }
        if errors.len() > before {
            return None;
        }
        Some(Identity {
            birth_name: birth_name.to_owned(),
            given_names: given.to_owned(),
            birth_date: birth_date?,
            sex: sex?,
            birth_place: place,
        })
    }

    /// The form filled from a stored input (to edit a draft, or to pre-fill
    /// a renewal). The identity is never pre-filled.
    pub fn from_input(input: &ApplicationInput) -> Self {
        let (contact, courriel) = match &input.contact {
            Some(Contact::Email { address }) => ("courriel".to_owned(), address.clone()),
            Some(Contact::Letter) => ("courrier".to_owned(), String::new()),
            None => (String::new(), String::new()),
        };
        Self {
            nom: input.applicant.clone(),
            adresse: input.address.clone(),
            code_postal: input.postcode.clone(),
            commune: input.town.clone(),
            taille_foyer: input
                .household_size
                .map(|n| n.to_string())
                .unwrap_or_default(),
            prestations: input.benefits.iter().map(|b| b.code().to_owned()).collect(),
            quotient_familial: input
                .quotient_familial
                .map(|n| n.to_string())
                .unwrap_or_default(),
            etudiant_boursier: input.student_grant.then(|| "on".to_owned()),
            contact,
            courriel,
            telephone: input.phone.clone().unwrap_or_default(),
            ..Self::default()
        }
    }
}

fn valid_email(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && a.len() <= 200
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@')
}

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    pub code: ApplicationCode,
    pub household: String,
    pub channel: Channel,
    pub status: Status,
    /// `true` for a renewal of an entitlement.
    pub renewal: bool,
    pub input: ApplicationInput,
    pub facts: Facts,
    /// The user who entered it for the household (counter, paper).
    pub entered_by: Option<String>,
    /// When the household's consent to an agent entering it was recorded.
    pub consent_at: Option<String>,
    pub created_at: String,
    pub submitted_at: Option<String>,
    /// Messages of the verification services (failures, fall-backs).
    pub notes: Vec<String>,
}

impl Application {
    /// The date an application counts from (its submission, in UTC).
    pub fn filed_on(&self) -> Option<NaiveDate> {
        self.submitted_at
            .as_deref()
            .and_then(regie_core::time::from_db)
            .map(|t| t.date_naive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_benefit_ticked_reads_as_a_list_of_one() {
        #[derive(Deserialize)]
        struct Flat {
            #[serde(flatten)]
            form: ApplicationForm,
        }
        let one: Flat = serde_json::from_value(serde_json::json!({"prestations": "AAH"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.form.prestations, vec!["AAH".to_owned()]);
        let two: Flat = serde_json::from_value(serde_json::json!({"prestations": ["AAH", "RSA"]}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(two.form.prestations.len(), 2);
        let none: Flat =
            serde_json::from_value(serde_json::json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.form.prestations.is_empty());
    }

    fn full() -> ApplicationForm {
        ApplicationForm {
            nom: "Awa Diallo".into(),
            adresse: "12 rue de l'Église".into(),
            code_postal: "35000".into(),
            commune: "Rennes".into(),
            taille_foyer: "3".into(),
            prestations: vec!["RSA".into()],
            contact: "courrier".into(),
            ..ApplicationForm::default()
        }
    }

    #[test]
    fn codes_parse_and_generate() {
        for _ in 0..50 {
            let c = ApplicationCode::generate();
            assert_eq!(ApplicationCode::parse(c.as_str()).ok(), Some(c));
        }
        assert_eq!(
            ApplicationCode::parse(" dem-7kq2mx")
                .map(String::from)
                .ok()
                .as_deref(),
            Some("DEM-7KQ2MX")
        );
        for bad in ["", "DEM-", "DEM-7KQ2M0", "FOY-7KQ2MX", "DEM-7KQ2MXX"] {
            assert!(ApplicationCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_complete_form_parses() {
        let input = full().parse(true).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(input.benefits, vec![Benefit::Rsa]);
        assert_eq!(input.household_size, Some(3));
        assert_eq!(input.contact, Some(Contact::Letter));
        assert!(input.identity.is_none());
        let facts = input.declared_facts();
        let received: Vec<Benefit> = facts
            .benefits
            .iter()
            .filter(|b| b.received)
            .map(|b| b.benefit)
            .collect();
        assert_eq!(received, [Benefit::Rsa]);
        assert!(facts.benefits.iter().all(|b| !b.source.verified()));
    }

    #[test]
    fn a_submission_needs_every_field_and_names_each() {
        let errors = ApplicationForm::default()
            .parse(true)
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "nom",
                "adresse",
                "code_postal",
                "commune",
                "taille_foyer",
                "prestations",
                "contact"
            ]
        );
        // A draft may be empty.
        assert!(ApplicationForm::default().parse(false).is_ok());
    }

    #[test]
    fn bad_values_are_refused_even_in_a_draft() {
        let form = ApplicationForm {
            code_postal: "3500".into(),
            taille_foyer: "0".into(),
            quotient_familial: "beaucoup".into(),
            prestations: vec!["RSB".into()],
            contact: "courriel".into(),
            courriel: "pas-une-adresse".into(),
            telephone: "12".into(),
            ..ApplicationForm::default()
        };
        let errors = form.parse(false).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "code_postal",
                "taille_foyer",
                "prestations",
                "quotient_familial",
                "courriel",
                "telephone"
            ]
        );
        assert!(errors[2].1.contains("RSB"), "{}", errors[2].1);
    }

    #[test]
    fn identity_is_checked_only_when_asked_for() {
        let mut form = full();
        form.verification_auto = Some("on".into());
        let errors = form.parse(true).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "nom_naissance",
                "prenoms",
                "date_naissance",
                "sexe",
                "commune_naissance"
            ]
        );
        form.nom_naissance = "DIALLO".into();
        form.prenoms = "Awa Marie".into();
        form.date_naissance = "14/07/1980".into();
        form.sexe = "F".into();
        form.commune_naissance = "2a004".into();
        let id = form
            .parse(true)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .identity;
        let id = id.unwrap_or_else(|| panic!("no identity"));
        assert_eq!(id.birth_place, "2A004");
        assert_eq!(format!("{id:?}"), "Identity(…)");
        form.date_naissance = "31/02/1980".into();
        assert!(form.parse(true).is_err());
    }

    #[test]
    fn dwelling_keys_ignore_accents_case_and_punctuation() {
        assert_eq!(
            dwelling_key(" 12, Rue de l'Église ", "35000"),
            dwelling_key("12 RUE DE L EGLISE", "35000")
        );
        assert_ne!(
            dwelling_key("12 rue de l'Église", "35000"),
            dwelling_key("14 rue de l'Église", "35000")
        );
    }

    #[test]
    fn a_stored_input_fills_the_form_back() {
        let input = full().parse(true).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            ApplicationForm::from_input(&input).parse(true).ok(),
            Some(input)
        );
    }
}
