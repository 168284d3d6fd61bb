//! Path tracing through the plant.

use serde::Serialize;

use crate::budget::{assess, Element, Hop, MilliDb, OpticalClass, PlanningLosses, Verdict};
use crate::plant::{Code, Container, Joint, Plant};
use crate::Error;

/// One step of a traced path, from the outlet upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A fibre of a cable.
    Fibre {
        code: String,
        cable: String,
        tube: Option<u32>,
        color: String,
        length_m: Option<f64>,
    },
    /// A splice, connector or splitter joining two fibres.
    Joint {
        position: String,
        place: String,
        element: JointKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JointKind {
    Splice,
    Connector,
    /// A fan-out: the input fibre feeds `outputs` fibres.
    Splitter {
        outputs: u32,
    },
}

/// How the traced path compares with the stored route (`t_ropt`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RouteCheck {
    /// No stored route starts at this outlet's fibre.
    NoStoredRoute,
    /// The stored route lists exactly the traced fibres.
    Agrees { route: String },
    /// The stored route differs: fibres traced but not stored, and stored
    /// but not traced.
    Differs {
        route: String,
        missing_from_route: Vec<String>,
        not_on_path: Vec<String>,
    },
}

/// An upstream trace from an outlet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upstream {
    pub outlet: String,
    pub suf: Option<String>,
    /// Empty when the outlet has no fibre assigned (drop to build).
    pub steps: Vec<Step>,
    /// The fibres of the path, outlet first.
    pub fibres: Vec<String>,
    /// Where the path ends: the site and drawer of its last connector.
    pub origin: Option<String>,
    pub route: RouteCheck,
    pub hops: Vec<Hop>,
    /// Total loss of the hops.
    pub total: MilliDb,
    /// The optical class the path is judged against.
    pub class: OpticalClass,
    /// True when no PON port is known for the path and the class is the
    /// planning default.
    pub class_assumed: bool,
    /// The PON port the path ends at (Régie extension), when patched.
    pub pon_port: Option<String>,
    /// The verdict; `None` when there is no path.
    pub verdict: Option<Verdict>,
    /// Why there is no path, when there is none.
    pub no_path_reason: Option<String>,
}

/// The drop fibre of an outlet: among the positions reserved for its
/// premises (`ps_preaff`), the one furthest downstream.
fn drop_fibre(plant: &Plant, suf: &str) -> Option<Code> {
    let reserved: Vec<_> = plant.reserved_for(suf).collect();
    let inputs: std::collections::HashSet<&str> =
        reserved.iter().filter_map(|p| p.input.as_deref()).collect();
    reserved
        .iter()
        .filter_map(|p| p.output.as_deref())
        .find(|o| !inputs.contains(o))
        .map(Code::from)
}

/// Traces upstream from an outlet (a `PTO` box) to the end of the path, and
/// judges its loss against `class` (the PON port's, or the planning default
/// until PON ports are patched in the inventory).
pub fn upstream(
    plant: &Plant,
    outlet: &str,
    losses: &PlanningLosses,
    class: OpticalClass,
) -> Result<Upstream, Error> {
    let bp = plant
        .enclosures
        .get(outlet)
        .filter(|e| e.kind == "PTO")
        .ok_or_else(|| Error::NotFound(format!("aucune PTO « {outlet} »")))?;
    let mut result = Upstream {
        outlet: bp.code.to_string(),
        suf: bp.suf.as_ref().map(Code::to_string),
        steps: Vec::new(),
        fibres: Vec::new(),
        origin: None,
        route: RouteCheck::NoStoredRoute,
        hops: Vec::new(),
        total: MilliDb(0),
        class,
        class_assumed: true,
        pon_port: None,
        verdict: None,
        no_path_reason: None,
    };
    let Some(suf) = &bp.suf else {
        result.no_path_reason =
            Some("la PTO n'est rattachée à aucun local (bp_sf_code vide)".into());
        return Ok(result);
    };
    let Some(mut fibre) = drop_fibre(plant, suf) else {
        result.no_path_reason = Some(format!(
            "aucune fibre n'est pré-affectée au local {suf} (raccordement à construire)"
        ));
        return Ok(result);
    };
    let mut visited = std::collections::HashSet::new();
    loop {
        if !visited.insert(fibre.clone()) {
            return Err(Error::Invalid(format!(
                "boucle dans le chemin optique à la fibre {fibre}"
            )));
        }
        let f = plant
            .fibres
            .get(fibre.as_str())
            .ok_or_else(|| Error::NotFound(format!("fibre {fibre}")))?;
        let length = plant.cables.get(&f.cable).and_then(|c| c.length_m);
        result.steps.push(Step::Fibre {
            code: f.code.to_string(),
            cable: f.cable.to_string(),
            tube: f.tube,
            color: f.color.to_string(),
            length_m: length,
        });
        result.hops.push(Hop::planned(
            format!("fibre {} (câble {})", f.code, f.cable),
            Element::Fibre {
                metres: length.map(|m| m.round() as u64).unwrap_or(0),
            },
            losses,
        )?);
        result.fibres.push(fibre.to_string());
        let Some(p) = plant.feeding(&fibre) else {
            break;
        };
        let place = plant.place_of(&p.container);
        let known = p.input.as_deref().and_then(|i| plant.splitters.get(i));
        let element = match (&p.input, known) {
            (_, Some(s)) => JointKind::Splitter { outputs: s.ratio },
            // Without the extension, a fan-out is a splitter whose ratio is
            // the next standard one above the outputs in use.
            (Some(input), None) if plant.fan_out(input) > 1 => JointKind::Splitter {
                outputs: (plant.fan_out(input) as u32).next_power_of_two(),
            },
            _ => match p.joint {
                Joint::Splice => JointKind::Splice,
                Joint::Connector => JointKind::Connector,
            },
        };
        let budget_element = match element {
            JointKind::Splice => Element::Splice,
            JointKind::Connector => Element::Connector,
            JointKind::Splitter { outputs } => Element::Splitter { outputs },
        };
        let mut hop = Hop::planned(format!("{} {}", p.code, place), budget_element, losses)?;
        if let Some(measured) = known.and_then(|s| s.loss) {
            hop.loss = measured;
            hop.measured = true;
        }
        result.hops.push(hop);
        result.steps.push(Step::Joint {
            position: p.code.to_string(),
            place: place.clone(),
            element,
        });
        match &p.input {
            Some(input) => fibre = input.clone(),
            None => {
                if let Container::Drawer(_) = p.container {
                    result.origin = Some(place);
                }
                break;
            }
        }
    }
    result.route = compare_route(plant, &result.fibres);
    if let Some(port) = result
        .fibres
        .iter()
        .rev()
        .find_map(|f| plant.pon_port_on(f))
    {
        result.pon_port = Some(port.code.clone());
        result.class = port.class;
        result.class_assumed = false;
    }
    let (total, verdict) = assess(&result.hops, result.class);
    result.total = total;
    result.verdict = Some(verdict);
    Ok(result)
}

fn compare_route(plant: &Plant, fibres: &[String]) -> RouteCheck {
    let Some(first) = fibres.first() else {
        return RouteCheck::NoStoredRoute;
    };
    let Some((code, stored)) = plant.route_starting_with(first) else {
        return RouteCheck::NoStoredRoute;
    };
    if stored == fibres {
        return RouteCheck::Agrees {
            route: code.to_owned(),
        };
    }
    RouteCheck::Differs {
        route: code.to_owned(),
        missing_from_route: fibres
            .iter()
            .filter(|f| !stored.contains(f))
            .cloned()
            .collect(),
        not_on_path: stored
            .iter()
            .filter(|f| !fibres.contains(f))
            .cloned()
            .collect(),
    }
}

/// Where a downstream trace starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum From {
    /// A PON port (Régie extension code).
    PonPort(String),
    /// A splitter, by its input fibre.
    Splitter(String),
    /// A cable: all of its fibres.
    Cable(String),
}

/// Everything behind a point of the network: what a fault there cuts off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downstream {
    pub from: From,
    /// Outlets (PTO) reached, sorted.
    pub outlets: Vec<String>,
    /// Premises (SUF) reached, with or without a built outlet, sorted.
    pub premises: Vec<String>,
    /// Fibres walked.
    pub fibres: usize,
}

/// Walks downstream from a PON port, a splitter or a cable.
pub fn downstream(plant: &Plant, from: From) -> Result<Downstream, Error> {
    let start: Vec<Code> = match &from {
        From::PonPort(code) => vec![plant
            .pon_ports
            .get(code)
            .ok_or_else(|| Error::NotFound(format!("aucun port PON « {code} »")))?
            .fibre
            .as_str()
            .into()],
        From::Splitter(input) => {
            if plant.fan_out(input) < 2 && !plant.splitters.contains_key(input) {
                return Err(Error::NotFound(format!(
                    "aucun coupleur n'a pour entrée la fibre « {input} »"
                )));
            }
            vec![input.as_str().into()]
        }
        From::Cable(code) => {
            if !plant.cables.contains_key(code.as_str()) {
                return Err(Error::NotFound(format!("aucun câble « {code} »")));
            }
            plant
                .fibres
                .values()
                .filter(|f| f.cable == *code)
                .map(|f| f.code.clone())
                .collect()
        }
    };
    let mut seen: std::collections::HashSet<Code> = start.iter().cloned().collect();
    let mut queue: std::collections::VecDeque<Code> = start.into_iter().collect();
    let mut premises = std::collections::BTreeSet::new();
    while let Some(f) = queue.pop_front() {
        // A position reserved for a premises carries it on its output
        // fibre: the premises is behind every fibre of its path, the drop
        // included.
        if let Some(suf) = plant.feeding(&f).and_then(|p| p.preaff.as_ref()) {
            premises.insert(suf.clone());
        }
        for p in plant.fed_by(&f) {
            if let Some(suf) = &p.preaff {
                premises.insert(suf.clone());
            }
            if let Some(out) = &p.output {
                if seen.insert(out.clone()) {
                    queue.push_back(out.clone());
                }
            }
        }
    }
    let outlets = premises
        .iter()
        .filter_map(|s| plant.outlet_of(s))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>();
    Ok(Downstream {
        from,
        outlets: outlets.into_iter().collect(),
        premises: premises.into_iter().map(Code::into_string).collect(),
        fibres: seen.len(),
    })
}
