//! The states of a line and the steps allowed between them.
//!
//! The table is explicit ([`State::next`]): a step not listed for a state is
//! refused with the current state and the steps that are allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a line stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ordered,
    PathReserved,
    OntInstalled,
    Active,
    Suspended,
    Terminated,
    Cancelled,
}

/// A step of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ReservePath,
    InstallOnt,
    Activate,
    Suspend,
    Resume,
    Terminate,
    Cancel,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Ordered,
        State::PathReserved,
        State::OntInstalled,
        State::Active,
        State::Suspended,
        State::Terminated,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ordered => "ordered",
            State::PathReserved => "path_reserved",
            State::OntInstalled => "ont_installed",
            State::Active => "active",
            State::Suspended => "suspended",
            State::Terminated => "terminated",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state name shown in pages.
    pub fn label(self) -> &'static str {
        match self {
            State::Ordered => "commandée",
            State::PathReserved => "chemin réservé",
            State::OntInstalled => "ONT installé",
            State::Active => "active",
            State::Suspended => "suspendue",
            State::Terminated => "résiliée",
            State::Cancelled => "annulée",
        }
    }

    /// The steps allowed from this state, with the state each leads to.
    pub fn next(self) -> &'static [(Step, State)] {
        use State as S;
        use Step as T;
        match self {
            S::Ordered => &[(T::ReservePath, S::PathReserved), (T::Cancel, S::Cancelled)],
            S::PathReserved => &[(T::InstallOnt, S::OntInstalled), (T::Cancel, S::Cancelled)],
            S::OntInstalled => &[(T::Activate, S::Active), (T::Cancel, S::Cancelled)],
            S::Active => &[(T::Suspend, S::Suspended), (T::Terminate, S::Terminated)],
            // A suspended line may be suspended again for another reason:
            // unpaid bills become a throttle when the household asks the
            // FSL for help.
            S::Suspended => &[
                (T::Resume, S::Active),
                (T::Suspend, S::Suspended),
                (T::Terminate, S::Terminated),
            ],
            S::Terminated | S::Cancelled => &[],
        }
    }

    /// The state a step leads to, or why it is refused.
    pub fn after(self, step: Step) -> Result<State, Illegal> {
        self.next()
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, to)| *to)
            .ok_or(Illegal { from: self, step })
    }

    /// Whether the line still holds network resources.
    pub fn holds_resources(self) -> bool {
        !matches!(self, State::Terminated | State::Cancelled)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ReservePath => "reserve_path",
            Step::InstallOnt => "install_ont",
            Step::Activate => "activate",
            Step::Suspend => "suspend",
            Step::Resume => "resume",
            Step::Terminate => "terminate",
            Step::Cancel => "cancel",
        }
    }

    pub const ALL: [Step; 7] = [
        Step::ReservePath,
        Step::InstallOnt,
        Step::Activate,
        Step::Suspend,
        Step::Resume,
        Step::Terminate,
        Step::Cancel,
    ];

    /// What a line's history calls a step it recorded (`order`, the
    /// first, is no step of the state machine): « Commande », « Chemin
    /// réservé », … — a code nobody knows is shown as it is.
    pub fn history_label(step: &str) -> &str {
        match step {
            "order" => "Commande",
            "reserve_path" => "Chemin réservé",
            "install_ont" => "ONT posé",
            "activate" => "Mise en service",
            "suspend" => "Suspension",
            "resume" => "Rétablissement",
            "terminate" => "Résiliation",
            "cancel" => "Annulation",
            "takeover" => "Reprise de l'ancien opérateur",
            other => other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::ReservePath => "réserver le chemin",
            Step::InstallOnt => "installer l'ONT",
            Step::Activate => "activer",
            Step::Suspend => "suspendre",
            Step::Resume => "rétablir",
            Step::Terminate => "résilier",
            Step::Cancel => "annuler",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step that the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Illegal {
    pub from: State,
    pub step: Step,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Words, not codes: the same message reaches a page and the API
        // (whose answers carry the state's code beside).
        let allowed: Vec<&str> = self.from.next().iter().map(|(s, _)| s.label()).collect();
        write!(
            f,
            "étape « {} » impossible : la ligne est « {} » ; étapes possibles : {}",
            self.step.label(),
            self.from.label(),
            if allowed.is_empty() {
                "aucune (état final)".to_owned()
            } else {
                allowed.join(", ")
            }
        )
    }
}

impl std::error::Error for Illegal {}

/// Why a line is suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendReason {
    /// Unpaid bills: the walled garden.
    Unpaid,
    /// The subscriber asked (holidays, ...): the walled garden, not billed.
    SubscriberRequest,
    /// A fault on the line.
    Fault,
    /// Unpaid bills of a household under the keep-connected protection
    /// (code de l'action sociale, art. L115-3): slowed down, never cut, web
    /// and e-mail keep working.
    KeepConnected,
}

impl SuspendReason {
    pub const ALL: [SuspendReason; 4] = [
        SuspendReason::Unpaid,
        SuspendReason::SubscriberRequest,
        SuspendReason::Fault,
        SuspendReason::KeepConnected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuspendReason::Unpaid => "unpaid",
            SuspendReason::SubscriberRequest => "subscriber_request",
            SuspendReason::Fault => "fault",
            SuspendReason::KeepConnected => "keep_connected",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "motif de suspension « {} » inconnu ; attendu : unpaid, subscriber_request, fault ou keep_connected",
                    s.trim()
                )
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            SuspendReason::Unpaid => "impayé",
            SuspendReason::SubscriberRequest => "à la demande de l'abonné",
            SuspendReason::Fault => "dérangement",
            SuspendReason::KeepConnected => "débit réduit (débit maintenu)",
        }
    }

    /// Whether the subscriber keeps a (slowed) access instead of the walled
    /// garden.
    pub fn throttles(self) -> bool {
        self == SuspendReason::KeepConnected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_recorded_has_a_name_in_the_history() {
        for step in Step::ALL {
            let label = Step::history_label(step.as_str());
            assert_ne!(label, step.as_str(), "{step:?}");
        }
        assert_eq!(Step::history_label("order"), "Commande");
        assert_eq!(
            Step::history_label("takeover"),
            "Reprise de l'ancien opérateur"
        );
    }

    #[test]
    fn the_happy_path_is_allowed() {
        let mut s = State::Ordered;
        for step in [
            Step::ReservePath,
            Step::InstallOnt,
            Step::Activate,
            Step::Suspend,
            Step::Resume,
            Step::Suspend,
            Step::Terminate,
        ] {
            s = s.after(step).unwrap();
        }
        assert_eq!(s, State::Terminated);
    }

    #[test]
    fn cancel_only_before_active() {
        for s in [State::Ordered, State::PathReserved, State::OntInstalled] {
            assert_eq!(s.after(Step::Cancel), Ok(State::Cancelled));
        }
        for s in [
            State::Active,
            State::Suspended,
            State::Terminated,
            State::Cancelled,
        ] {
            assert!(s.after(Step::Cancel).is_err());
        }
    }

    #[test]
    fn a_refusal_names_the_state_and_the_allowed_steps() {
        let e = State::Ordered.after(Step::Activate).unwrap_err();
        assert_eq!(
            e.to_string(),
            "étape « activer » impossible : la ligne est « commandée » ; étapes possibles : réserver le chemin, annuler"
        );
        let e = State::Terminated.after(Step::Resume).unwrap_err();
        assert!(e
            .to_string()
            .ends_with("étapes possibles : aucune (état final)"));
    }

    #[test]
    fn states_and_reasons_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for r in SuspendReason::ALL {
            assert_eq!(SuspendReason::parse(r.as_str()), Ok(r));
        }
        assert!(SuspendReason::parse("holiday")
            .unwrap_err()
            .contains("holiday"));
    }
}
