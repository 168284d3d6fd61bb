//! Optical budget: the loss of a path, hop by hop, against the budget of the
//! PON port's optical class.
//!
//! Losses are integer milli-decibels ([`MilliDb`]) so that sums are exact and
//! a path that meets its class "with 0.0 dB margin" really does: floating
//! point would make 32.0 dB come out as 32.000000000000004.

use serde::{Deserialize, Serialize};

use crate::Error;

/// A loss or a margin in thousandths of a decibel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MilliDb(pub i64);

impl MilliDb {
    /// Parses a decibel value written with at most three decimals, e.g.
    /// `"17.2"`, `"0.15"` or `"21,5"` (French decimal comma).
    pub fn parse_db(s: &str) -> Result<Self, Error> {
        let t = s.trim().replace(',', ".");
        let bad = || Error::Invalid(format!("« {s} » n'est pas une valeur en dB (ex. 17.2)"));
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.as_str()),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() || frac.len() > 3 {
            return Err(bad());
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let int: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let frac_val: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<3}").parse().map_err(|_| bad())?
        };
        let v = int
            .checked_mul(1000)
            .and_then(|v| v.checked_add(frac_val))
            .ok_or_else(bad)?;
        Ok(MilliDb(if neg { -v } else { v }))
    }

    pub fn as_db(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Two decimals, for hop-by-hop listings where 0.15 dB matters.
    /// As a French page writes it: « 21,50 dB », « −0,15 dB ».
    pub fn fr(self) -> String {
        let hundredths = (self.0.abs() + 5) / 10;
        let sign = if self.0 < 0 && hundredths != 0 {
            "−"
        } else {
            ""
        };
        format!("{sign}{},{:02} dB", hundredths / 100, hundredths % 100)
    }

    /// One decimal with a decimal comma, as pages write a loss: « 26,6 dB ».
    pub fn fr_tenths(self) -> String {
        let tenths = (self.0.abs() + 50) / 100;
        let sign = if self.0 < 0 && tenths != 0 { "−" } else { "" };
        format!("{sign}{},{} dB", tenths / 10, tenths % 10)
    }

    pub fn precise(self) -> String {
        let hundredths = (self.0.abs() + 5) / 10;
        let sign = if self.0 < 0 && hundredths != 0 {
            "-"
        } else {
            ""
        };
        format!("{sign}{}.{:02} dB", hundredths / 100, hundredths % 100)
    }
}

impl std::ops::Add for MilliDb {
    type Output = MilliDb;
    fn add(self, o: MilliDb) -> MilliDb {
        MilliDb(self.0 + o.0)
    }
}

impl std::ops::Sub for MilliDb {
    type Output = MilliDb;
    fn sub(self, o: MilliDb) -> MilliDb {
        MilliDb(self.0 - o.0)
    }
}

impl std::iter::Sum for MilliDb {
    fn sum<I: Iterator<Item = MilliDb>>(iter: I) -> MilliDb {
        MilliDb(iter.map(|m| m.0).sum())
    }
}

impl std::fmt::Display for MilliDb {
    /// One decimal as technicians read it, e.g. `32.0 dB`; rounded half
    /// away from zero.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0.abs() + 50) / 100;
        let sign = if self.0 < 0 && tenths != 0 { "-" } else { "" };
        write!(f, "{sign}{}.{} dB", tenths / 10, tenths % 10)
    }
}

/// Optical class of a PON port: its maximum loss budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpticalClass {
    #[serde(rename = "GPON B+")]
    GponBPlus,
    #[serde(rename = "GPON C+")]
    GponCPlus,
    #[serde(rename = "XGS-PON N1")]
    XgsN1,
    #[serde(rename = "XGS-PON N2")]
    XgsN2,
    #[serde(rename = "XGS-PON E1")]
    XgsE1,
    #[serde(rename = "XGS-PON E2")]
    XgsE2,
}

impl OpticalClass {
    pub const ALL: [OpticalClass; 6] = [
        OpticalClass::GponBPlus,
        OpticalClass::GponCPlus,
        OpticalClass::XgsN1,
        OpticalClass::XgsN2,
        OpticalClass::XgsE1,
        OpticalClass::XgsE2,
    ];

    /// The maximum path loss of the class (ITU-T G.984.2 / G.9807.1).
    pub fn max_loss(self) -> MilliDb {
        MilliDb(match self {
            OpticalClass::GponBPlus => 28_000,
            OpticalClass::GponCPlus => 32_000,
            OpticalClass::XgsN1 => 29_000,
            OpticalClass::XgsN2 => 31_000,
            OpticalClass::XgsE1 => 33_000,
            OpticalClass::XgsE2 => 35_000,
        })
    }

    /// The ONT receiver's minimum sensitivity, in hundredths of a dBm:
    /// below it, the line drops. GPON B+ −27 dBm and C+ −30 dBm (ITU-T
    /// G.984.2 and its amendment 2), XGS-PON −28 dBm for every class
    /// (G.9807.1: the larger budgets come from the OLT's launch power).
    pub fn min_rx_cdbm(self) -> i32 {
        match self {
            OpticalClass::GponBPlus => -2700,
            OpticalClass::GponCPlus => -3000,
            OpticalClass::XgsN1
            | OpticalClass::XgsN2
            | OpticalClass::XgsE1
            | OpticalClass::XgsE2 => -2800,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OpticalClass::GponBPlus => "GPON B+",
            OpticalClass::GponCPlus => "GPON C+",
            OpticalClass::XgsN1 => "XGS-PON N1",
            OpticalClass::XgsN2 => "XGS-PON N2",
            OpticalClass::XgsE1 => "XGS-PON E1",
            OpticalClass::XgsE2 => "XGS-PON E2",
        }
    }

    /// Parses a label such as `GPON B+`, `B+`, `XGS-PON N1` or `N1`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let norm: String = s
            .trim()
            .to_ascii_uppercase()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let found = OpticalClass::ALL.into_iter().find(|c| {
            let full: String = c
                .label()
                .chars()
                .filter(|ch| !ch.is_whitespace() && *ch != '-')
                .collect();
            let short = full.trim_start_matches("GPON").trim_start_matches("XGSPON");
            norm == full || norm == short
        });
        found.ok_or_else(|| {
            Error::Invalid(format!(
                "classe optique inconnue « {s} » (attendu : B+, C+, N1, N2, E1 ou E2)"
            ))
        })
    }
}

/// Planning losses used when nothing was measured. Configurable; the defaults
/// are the usual French FTTH engineering values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanningLosses {
    /// Fibre attenuation at 1310 nm (upstream, the worst case), per km.
    pub fibre_per_km_1310: MilliDb,
    /// Fibre attenuation at 1490 / 1577 nm, per km.
    pub fibre_per_km_1490: MilliDb,
    /// Splitter insertion loss per ratio (outputs).
    pub splitter: Vec<(u32, MilliDb)>,
    /// One mated connector pair.
    pub connector: MilliDb,
    /// One fusion splice.
    pub splice: MilliDb,
}

impl Default for PlanningLosses {
    fn default() -> Self {
        Self {
            fibre_per_km_1310: MilliDb(350),
            fibre_per_km_1490: MilliDb(250),
            splitter: vec![
                (2, MilliDb(3_700)),
                (4, MilliDb(7_300)),
                (8, MilliDb(10_700)),
                (16, MilliDb(13_900)),
                (32, MilliDb(17_200)),
                (64, MilliDb(21_500)),
            ],
            connector: MilliDb(500),
            splice: MilliDb(150),
        }
    }
}

impl PlanningLosses {
    /// Loss of `metres` of fibre at 1310 nm, rounded to the nearest milli-dB.
    pub fn fibre(&self, metres: u64) -> MilliDb {
        let m = i64::try_from(metres).unwrap_or(i64::MAX / 1_000_000);
        MilliDb((m * self.fibre_per_km_1310.0 + 500) / 1000)
    }

    /// Loss of a splitter with this many outputs, if the ratio is known.
    pub fn splitter(&self, outputs: u32) -> Option<MilliDb> {
        self.splitter
            .iter()
            .find(|(n, _)| *n == outputs)
            .map(|(_, l)| *l)
    }
}

/// What a hop of a path is, for its loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Element {
    Fibre { metres: u64 },
    Splice,
    Connector,
    Splitter { outputs: u32 },
}

/// One hop with its loss (measured when known, planned otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub label: String,
    pub element: Element,
    pub loss: MilliDb,
    pub measured: bool,
}

impl Hop {
    /// A hop with its planning loss. A splitter of an unknown ratio is an
    /// error: guessing would hide exactly the paths that fail.
    pub fn planned(
        label: impl Into<String>,
        element: Element,
        losses: &PlanningLosses,
    ) -> Result<Self, Error> {
        let loss = match element {
            Element::Fibre { metres } => losses.fibre(metres),
            Element::Splice => losses.splice,
            Element::Connector => losses.connector,
            Element::Splitter { outputs } => losses.splitter(outputs).ok_or_else(|| {
                Error::Invalid(format!("pas de perte connue pour un coupleur 1:{outputs}"))
            })?,
        };
        Ok(Self {
            label: label.into(),
            element,
            loss,
            measured: false,
        })
    }
}

/// The verdict of a path against a class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Within budget, with this margin (zero included).
    Pass { margin: MilliDb },
    /// Over budget by `excess`; `worst_hop` is the index of the costliest hop.
    Fail { excess: MilliDb, worst_hop: usize },
}

/// Total loss of the hops and the verdict against `class`.
pub fn assess(hops: &[Hop], class: OpticalClass) -> (MilliDb, Verdict) {
    let total: MilliDb = hops.iter().map(|h| h.loss).sum();
    let budget = class.max_loss();
    let verdict = if total <= budget {
        Verdict::Pass {
            margin: budget - total,
        }
    } else {
        let worst_hop = hops
            .iter()
            .enumerate()
            .max_by_key(|(i, h)| (h.loss, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        Verdict::Fail {
            excess: total - budget,
            worst_hop,
        }
    };
    (total, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hops(elements: &[Element]) -> Vec<Hop> {
        let l = PlanningLosses::default();
        elements
            .iter()
            .enumerate()
            .map(|(i, e)| Hop::planned(format!("h{i}"), *e, &l).expect("known element"))
            .collect()
    }

    #[test]
    fn twenty_km_one_to_64_four_connectors_ten_splices_is_32_db() {
        // 20 km × 0.35 = 7.0; 1:64 = 21.5; 4 × 0.5 = 2.0; 10 × 0.15 = 1.5.
        let mut e = vec![
            Element::Fibre { metres: 20_000 },
            Element::Splitter { outputs: 64 },
        ];
        e.extend([Element::Connector; 4]);
        e.extend([Element::Splice; 10]);
        let h = hops(&e);
        let (total, b_plus) = assess(&h, OpticalClass::GponBPlus);
        assert_eq!(total, MilliDb(32_000));
        assert_eq!(total.to_string(), "32.0 dB");
        assert_eq!(
            b_plus,
            Verdict::Fail {
                excess: MilliDb(4_000),
                worst_hop: 1
            },
            "the splitter costs most"
        );
        let (_, c_plus) = assess(&h, OpticalClass::GponCPlus);
        assert_eq!(c_plus, Verdict::Pass { margin: MilliDb(0) });
    }

    #[test]
    fn short_path_with_one_to_32_passes_b_plus() {
        // 3.2 km × 0.35 = 1.12; 1:32 = 17.2; 2 connectors = 1.0; 6 splices = 0.9 → 20.22 dB.
        let mut e = vec![
            Element::Fibre { metres: 3_200 },
            Element::Splitter { outputs: 32 },
        ];
        e.extend([Element::Connector; 2]);
        e.extend([Element::Splice; 6]);
        let (total, v) = assess(&hops(&e), OpticalClass::GponBPlus);
        assert_eq!(total, MilliDb(20_220));
        assert_eq!(
            v,
            Verdict::Pass {
                margin: MilliDb(7_780)
            }
        );
        assert_eq!(MilliDb(7_780).to_string(), "7.8 dB");
    }

    #[test]
    fn xgs_classes() {
        let h = hops(&[
            Element::Fibre { metres: 10_000 },
            Element::Splitter { outputs: 64 },
        ]); // 3.5 + 21.5 = 25.0
        assert_eq!(
            assess(&h, OpticalClass::XgsN1).1,
            Verdict::Pass {
                margin: MilliDb(4_000)
            }
        );
        assert_eq!(
            assess(&h, OpticalClass::XgsE2).1,
            Verdict::Pass {
                margin: MilliDb(10_000)
            }
        );
    }

    #[test]
    fn precise_display() {
        assert_eq!(MilliDb(150).precise(), "0.15 dB");
        assert_eq!(MilliDb(26_600).fr(), "26,60 dB");
        assert_eq!(MilliDb(-150).fr(), "−0,15 dB");
        assert_eq!(MilliDb(-4).fr(), "0,00 dB");
        assert_eq!(MilliDb(26_639).fr_tenths(), "26,6 dB");
        assert_eq!(MilliDb(-1_361).fr_tenths(), "−1,4 dB");
        assert_eq!(MilliDb(21_500).precise(), "21.50 dB");
        assert_eq!(MilliDb(-1_234).precise(), "-1.23 dB");
        assert_eq!(MilliDb(2).precise(), "0.00 dB");
    }

    #[test]
    fn unknown_splitter_ratio_is_refused() {
        assert!(Hop::planned(
            "x",
            Element::Splitter { outputs: 3 },
            &PlanningLosses::default()
        )
        .is_err());
    }

    #[test]
    fn fibre_loss_rounds_to_the_nearest_millidb() {
        let l = PlanningLosses::default();
        assert_eq!(l.fibre(1), MilliDb(0)); // 0.35 mdB
        assert_eq!(l.fibre(2), MilliDb(1)); // 0.70 mdB
        assert_eq!(l.fibre(1_000), MilliDb(350));
    }

    #[test]
    fn classes_parse_from_labels() {
        assert_eq!(
            OpticalClass::parse("GPON B+").ok(),
            Some(OpticalClass::GponBPlus)
        );
        assert_eq!(
            OpticalClass::parse("c+").ok(),
            Some(OpticalClass::GponCPlus)
        );
        assert_eq!(
            OpticalClass::parse("XGS-PON E2").ok(),
            Some(OpticalClass::XgsE2)
        );
        assert_eq!(OpticalClass::parse("n1").ok(), Some(OpticalClass::XgsN1));
        assert!(OpticalClass::parse("D+").is_err());
        assert!(OpticalClass::parse("").is_err());
    }

    #[test]
    fn db_values_parse() {
        assert_eq!(MilliDb::parse_db("17.2").ok(), Some(MilliDb(17_200)));
        assert_eq!(MilliDb::parse_db("0,15").ok(), Some(MilliDb(150)));
        assert_eq!(MilliDb::parse_db("-27").ok(), Some(MilliDb(-27_000)));
        assert_eq!(MilliDb::parse_db(".5").ok(), Some(MilliDb(500)));
        for bad in ["", ".", "1.2345", "abc", "1.2.3", "--1", "1e3"] {
            assert!(MilliDb::parse_db(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn parse_display_round_trip_to_a_tenth(v in -100_000i64..100_000) {
            let tenth = MilliDb((v / 100) * 100);
            let shown = tenth.to_string();
            let parsed = MilliDb::parse_db(shown.trim_end_matches(" dB")).expect("display parses");
            prop_assert_eq!(parsed, tenth);
        }

        #[test]
        fn total_is_the_sum_and_verdict_is_consistent(metres in 0u64..60_000, splices in 0usize..40, connectors in 0usize..10, ratio_idx in 0usize..6) {
            let ratio = [2u32, 4, 8, 16, 32, 64][ratio_idx];
            let mut e = vec![Element::Fibre { metres }, Element::Splitter { outputs: ratio }];
            e.extend(std::iter::repeat_n(Element::Splice, splices));
            e.extend(std::iter::repeat_n(Element::Connector, connectors));
            let h = hops(&e);
            let sum: i64 = h.iter().map(|x| x.loss.0).sum();
            for class in OpticalClass::ALL {
                let (total, verdict) = assess(&h, class);
                prop_assert_eq!(total.0, sum);
                match verdict {
                    Verdict::Pass { margin } => prop_assert_eq!(margin.0, class.max_loss().0 - sum),
                    Verdict::Fail { excess, worst_hop } => {
                        prop_assert_eq!(excess.0, sum - class.max_loss().0);
                        prop_assert!(h.iter().all(|x| x.loss <= h[worst_hop].loss));
                    }
                }
            }
        }
    }
}
