//! What a subscription owes for a month, line by line, before any number
//! or storage: the offer for each stretch of days it ran (daily prorata on
//! a start, an end or a plan change), nothing for days suspended at the
//! subscriber's request (days suspended for unpaid bills are billed), the
//! social tariff applied day by day as one "Tarif social" line, and an
//! equipment grant as the device's price with the aid against it.
//!
//! Every line has quantity 1 and its net amount as unit price (a prorated
//! month is not a whole number of units), at the offer's VAT rate. Every
//! prorated amount follows one rule, [`crate::money::prorated_net`]: exact
//! until it is rounded once to the cent. The activation fee of the offer a
//! subscription started on is billed on its first invoice only.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::money::{days_label, prorated_net, Cents, VatRate};
use crate::Error;

/// A calendar month being billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Month {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Month {
    /// `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::Invalid(format!("période « {} » invalide (AAAA-MM)", s.trim()));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(2000..=2100).contains(&y) {
            return Err(bad());
        }
        let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        Ok(Month {
            first,
            last: next.pred_opt().ok_or_else(bad)?,
        })
    }

    pub fn days(self) -> u32 {
        u32::try_from((self.last - self.first).num_days() + 1).unwrap_or(0)
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.first.year(), self.first.month())
    }

    /// The month in words, as documents and pages write it:
    /// « novembre 2026 ».
    pub fn words(self) -> String {
        regie_core::fr::month_year(self.first.year(), self.first.month())
    }
}

/// An offer as billed: its name, monthly price VAT included and rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferTerms {
    pub code: String,
    pub name: String,
    pub monthly_gross: Cents,
    pub rate: VatRate,
}

/// How the line stood over a stretch of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Service {
    /// Active, or suspended for unpaid bills (billed all the same).
    Billed,
    /// Suspended at the subscriber's request: not billed.
    SuspendedOnRequest,
}

/// A stretch of days (both ends included) under one offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub offer: OfferTerms,
    pub service: Service,
}

/// Days under the social tariff (both ends included) and the monthly
/// price VAT included the level grants on the offer (0 for free access).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SocialDays {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub monthly_gross: Cents,
}

/// A device handed over under an equipment grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantedDevice {
    pub description: String,
    /// The device's price VAT included.
    pub price_gross: Cents,
    /// The aid, VAT included (the device's price when fully covered).
    pub aid_gross: Cents,
}

/// The activation fee a subscription owes on its first invoice: the fee
/// of the offer it started on, VAT included, at that offer's rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupFee {
    pub offer_name: String,
    pub gross: Cents,
    pub rate: VatRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Subscription,
    /// The activation fee, once, on the subscription's first invoice.
    SetupFee,
    SocialTariff,
    Equipment,
    EquipmentAid,
    /// What the outgoing operator's invoice still owed (a balance taken over).
    TakenOver,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub kind: LineKind,
    pub description: String,
    /// Net amount (BT-131); negative for a reduction.
    pub net: Cents,
    pub rate: VatRate,
}

fn fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn overlap(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> Option<(NaiveDate, NaiveDate)> {
    let from = a.0.max(b.0);
    let to = a.1.min(b.1);
    (from <= to).then_some((from, to))
}

fn days(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days() + 1).unwrap_or(0)
}

/// The lines of one subscription for `month`. Segments must not overlap
/// (a plan change ends one the day before the next starts); parts outside
/// the month are ignored. `setup_fee` is given for the subscription's
/// first invoice only.
pub fn lines(
    month: Month,
    segments: &[Segment],
    social: &[SocialDays],
    devices: &[GrantedDevice],
    setup_fee: Option<&SetupFee>,
) -> Result<Vec<Line>, Error> {
    let mut sorted: Vec<&Segment> = segments.iter().collect();
    sorted.sort_by_key(|s| s.from);
    for pair in sorted.windows(2) {
        if let [a, b] = pair {
            if b.from <= a.to {
                return Err(Error::Invalid(format!(
                    "périodes d'abonnement qui se chevauchent : {} – {} et {} – {}",
                    fr(a.from),
                    fr(a.to),
                    fr(b.from),
                    fr(b.to)
                )));
            }
        }
    }
    for s in &sorted {
        if s.to < s.from {
            return Err(Error::Invalid(format!(
                "période inversée : {} – {}",
                fr(s.from),
                fr(s.to)
            )));
        }
    }
    let dim = month.days();
    let whole = (month.first, month.last);
    let mut out = Vec::new();
    // The social tariff per rate: for each run of its days, what the
    // offer's price makes for them less what the level's price makes,
    // each by the one rule; and the days.
    let mut reduction: std::collections::BTreeMap<VatRate, (Cents, u32)> = Default::default();
    for s in sorted {
        let Some((from, to)) = overlap((s.from, s.to), whole) else {
            continue;
        };
        if s.service == Service::SuspendedOnRequest {
            continue;
        }
        let n = days(from, to);
        let net = prorated_net(s.offer.monthly_gross, s.offer.rate, n, dim)?;
        let description = if n == dim {
            format!("{} — {}", s.offer.name, month_name(month))
        } else {
            format!(
                "{} — du {} au {} ({} sur {dim})",
                s.offer.name,
                fr(from),
                fr(to),
                days_label(n)
            )
        };
        out.push(Line {
            kind: LineKind::Subscription,
            description,
            net,
            rate: s.offer.rate,
        });
        // The social tariff on the billed days of this stretch: the
        // difference between the offer and the level's price.
        for sd in social {
            let Some((f, t)) = overlap((sd.from, sd.to), (from, to)) else {
                continue;
            };
            let k = days(f, t);
            let rate = s.offer.rate;
            let level = sd.monthly_gross.min(s.offer.monthly_gross);
            let diff = prorated_net(s.offer.monthly_gross, rate, k, dim)?
                .checked_sub(prorated_net(level, rate, k, dim)?)?;
            let e = reduction.entry(rate).or_default();
            e.0 = e.0.checked_add(diff)?;
            e.1 += k;
        }
    }
    for (rate, (net, reduced_days)) in reduction {
        if net != Cents::ZERO {
            out.push(Line {
                kind: LineKind::SocialTariff,
                description: format!("Tarif social ({})", days_label(reduced_days)),
                net: Cents(-net.0),
                rate,
            });
        }
    }
    if let Some(fee) = setup_fee.filter(|f| f.gross.0 > 0) {
        out.push(Line {
            kind: LineKind::SetupFee,
            description: format!("Frais de mise en service — {}", fee.offer_name),
            net: fee.rate.net_of(fee.gross)?,
            rate: fee.rate,
        });
    }
    for d in devices {
        if d.aid_gross > d.price_gross || d.aid_gross.0 < 0 || d.price_gross.0 < 0 {
            return Err(Error::Invalid(format!(
                "aide de {} pour un équipement de {} : elle ne peut dépasser son prix",
                d.aid_gross, d.price_gross
            )));
        }
        let rate = VatRate::STANDARD;
        out.push(Line {
            kind: LineKind::Equipment,
            description: format!("Équipement reconditionné : {}", d.description),
            net: rate.net_of(d.price_gross)?,
            rate,
        });
        if d.aid_gross != Cents::ZERO {
            out.push(Line {
                kind: LineKind::EquipmentAid,
                description: "Aide à l'équipement".into(),
                net: Cents(-rate.net_of(d.aid_gross)?.0),
                rate,
            });
        }
    }
    Ok(out)
}

fn month_name(m: Month) -> String {
    regie_core::fr::month_year(m.first.year(), m.first.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::totals;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn fibre(gross: i64) -> OfferTerms {
        OfferTerms {
            code: "F300".into(),
            name: "Fibre 300".into(),
            monthly_gross: Cents(gross),
            rate: VatRate::STANDARD,
        }
    }

    fn seg(from: &str, to: &str, gross: i64, service: Service) -> Segment {
        Segment {
            from: d(from),
            to: d(to),
            offer: fibre(gross),
            service,
        }
    }

    fn nov() -> Month {
        Month::parse("2026-11").unwrap_or_else(|e| panic!("{e}"))
    }

    fn gross(lines: &[Line]) -> Cents {
        totals(lines.iter().map(|l| (l.net, l.rate)))
            .map(|t| t.gross)
            .unwrap_or_default()
    }

    #[test]
    fn months_parse() {
        let m = nov();
        assert_eq!(
            (m.first, m.last, m.days()),
            (d("2026-11-01"), d("2026-11-30"), 30)
        );
        assert_eq!(Month::parse("2028-02").map(Month::days).ok(), Some(29));
        for bad in ["2026-13", "2026", "nov", "1999-01", "2026-011"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_month_is_the_offer_price() {
        let l = lines(
            nov(),
            &[seg("2026-01-10", "2099-12-31", 2990, Service::Billed)],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].description, "Fibre 300 — novembre 2026");
        // 29,90 € TTC: 24,92 € net, 4,98 € VAT.
        assert_eq!(l[0].net, Cents(2492));
        assert_eq!(gross(&l), Cents(2990));
    }

    #[test]
    fn a_start_on_the_17th_bills_14_days_of_30() {
        let l = lines(
            nov(),
            &[seg("2026-11-17", "2099-12-31", 2990, Service::Billed)],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        // 24,92 × 14 / 30 = 11,629… → 11,63 net; VAT 2,33; 13,96 TTC.
        assert_eq!(l[0].net, Cents(1163));
        assert_eq!(
            l[0].description,
            "Fibre 300 — du 17/11/2026 au 30/11/2026 (14 jours sur 30)"
        );
        assert_eq!(gross(&l), Cents(1396));
    }

    #[test]
    fn a_plan_change_mid_month_bills_each_offer_for_its_days() {
        let l = lines(
            nov(),
            &[
                seg("2026-01-01", "2026-11-15", 2990, Service::Billed),
                seg("2026-11-16", "2099-12-31", 3990, Service::Billed),
            ],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        // 24,92 × 15/30 = 12,46; 33,25 × 15/30 = 16,625 → 16,63.
        assert_eq!(
            l.iter().map(|x| x.net).collect::<Vec<_>>(),
            vec![Cents(1246), Cents(1663)]
        );
        // Net 29,09, VAT 5,82, 34,91 TTC.
        assert_eq!(gross(&l), Cents(3491));
        assert!(lines(
            nov(),
            &[
                seg("2026-01-01", "2026-11-16", 2990, Service::Billed),
                seg("2026-11-16", "2099-12-31", 3990, Service::Billed)
            ],
            &[],
            &[],
            None
        )
        .is_err());
    }

    #[test]
    fn suspension_on_request_is_not_billed_but_for_unpaid_it_is() {
        let asked = lines(
            nov(),
            &[
                seg("2026-01-01", "2026-11-10", 2990, Service::Billed),
                seg(
                    "2026-11-11",
                    "2026-11-20",
                    2990,
                    Service::SuspendedOnRequest,
                ),
                seg("2026-11-21", "2099-12-31", 2990, Service::Billed),
            ],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        // 10 + 10 days: 24,92 × 10/30 = 8,306… → 8,31 twice.
        assert_eq!(asked.iter().map(|x| x.net.0).sum::<i64>(), 1662);
        let unpaid = lines(
            nov(),
            &[
                seg("2026-01-01", "2026-11-10", 2990, Service::Billed),
                seg("2026-11-11", "2099-12-31", 2990, Service::Billed),
            ],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        // 8,31 + 16,61 = 24,92: the whole month.
        assert_eq!(unpaid.iter().map(|x| x.net.0).sum::<i64>(), 2492);
    }

    #[test]
    fn the_social_tariff_from_mid_month_is_one_line() {
        let l = lines(
            nov(),
            &[seg("2026-01-01", "2099-12-31", 2990, Service::Billed)],
            &[SocialDays {
                from: d("2026-11-16"),
                to: d("2027-11-15"),
                monthly_gross: Cents(0),
            }],
            &[],
            None,
        )
        .unwrap_or_default();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].kind, LineKind::SocialTariff);
        assert_eq!(l[1].description, "Tarif social (15 jours)");
        // Free access for 15 days: −24,92 × 15/30 = −12,46.
        assert_eq!(l[1].net, Cents(-1246));
        // 12,46 net + 2,49 VAT = 14,95 TTC: half the month paid.
        assert_eq!(gross(&l), Cents(1495));
        // A level at 10 € a month: the reduction is the difference.
        let level = lines(
            nov(),
            &[seg("2026-01-01", "2099-12-31", 2990, Service::Billed)],
            &[SocialDays {
                from: d("2026-01-01"),
                to: d("2027-01-01"),
                monthly_gross: Cents(1000),
            }],
            &[],
            None,
        )
        .unwrap_or_default();
        // 24,92 − 8,33 = 16,59 off; 8,33 net + 1,67 VAT = 10,00 TTC.
        assert_eq!(level[1].net, Cents(-1659));
        assert_eq!(gross(&level), Cents(1000));
    }

    #[test]
    fn the_social_tariff_is_not_applied_to_days_not_billed() {
        let l = lines(
            nov(),
            &[
                seg(
                    "2026-01-01",
                    "2026-11-15",
                    2990,
                    Service::SuspendedOnRequest,
                ),
                seg("2026-11-16", "2099-12-31", 2990, Service::Billed),
            ],
            &[SocialDays {
                from: d("2026-01-01"),
                to: d("2027-01-01"),
                monthly_gross: Cents(0),
            }],
            &[],
            None,
        )
        .unwrap_or_default();
        assert_eq!(l[1].description, "Tarif social (15 jours)");
        assert_eq!(gross(&l), Cents(0));
    }

    #[test]
    fn a_grant_is_the_device_price_and_the_aid_against_it() {
        let device = GrantedDevice {
            description: "Lenovo ThinkPad T480".into(),
            price_gross: Cents(15_000),
            aid_gross: Cents(15_000),
        };
        let l = lines(
            nov(),
            &[seg("2026-01-01", "2099-12-31", 2990, Service::Billed)],
            &[],
            std::slice::from_ref(&device),
            None,
        )
        .unwrap_or_default();
        assert_eq!(
            l[1].description,
            "Équipement reconditionné : Lenovo ThinkPad T480"
        );
        assert_eq!((l[1].net, l[2].net), (Cents(12_500), Cents(-12_500)));
        assert_eq!(l[2].description, "Aide à l'équipement");
        assert_eq!(gross(&l), Cents(2990));
        let over = GrantedDevice {
            aid_gross: Cents(20_000),
            ..device
        };
        assert!(lines(nov(), &[], &[], &[over], None).is_err());
    }

    #[test]
    fn nothing_outside_the_month_is_billed() {
        let l = lines(
            nov(),
            &[
                seg("2026-12-01", "2099-12-31", 2990, Service::Billed),
                seg("2026-01-01", "2026-10-31", 2990, Service::Billed),
            ],
            &[],
            &[],
            None,
        )
        .unwrap_or_default();
        assert!(l.is_empty());
    }

    fn dec() -> Month {
        Month::parse("2026-12").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_social_level_from_the_7th_is_rounded_once_per_price() {
        // 29,99 € a month; 10 € a month from 7 December (25 days of 31).
        // By hand: 29,99 × 6/31 + 10 × 25/31 = 13,869… € owed.
        // The rule: 29,99 / 1,2 = 24,99 net for the month; for the 25
        // days, 29,99 / 1,2 × 25/31 = 20,15 less 10 / 1,2 × 25/31 = 6,72:
        // −13,43. Net 11,56, VAT 2,31 (20 % of 11,56 = 2,312), 13,87.
        let l = lines(
            dec(),
            &[seg("2026-01-01", "2099-12-31", 2999, Service::Billed)],
            &[SocialDays {
                from: d("2026-12-07"),
                to: d("2027-12-06"),
                monthly_gross: Cents(1000),
            }],
            &[],
            None,
        )
        .unwrap_or_default();
        assert_eq!(l[0].net, Cents(2499));
        assert_eq!(l[1].net, Cents(-1343));
        assert_eq!(l[1].description, "Tarif social (25 jours)");
        assert_eq!(gross(&l), Cents(1387));
    }

    #[test]
    fn one_day_is_written_in_the_singular() {
        let l = lines(
            dec(),
            &[seg("2026-12-31", "2099-12-31", 2990, Service::Billed)],
            &[SocialDays {
                from: d("2026-12-31"),
                to: d("2027-12-30"),
                monthly_gross: Cents(0),
            }],
            &[],
            None,
        )
        .unwrap_or_default();
        assert_eq!(
            l[0].description,
            "Fibre 300 — du 31/12/2026 au 31/12/2026 (1 jour sur 31)"
        );
        assert_eq!(l[1].description, "Tarif social (1 jour)");
    }

    #[test]
    fn the_activation_fee_is_its_own_line_at_the_offer_rate() {
        let fee = SetupFee {
            offer_name: "Fibre 300".into(),
            gross: Cents(4900),
            rate: VatRate::STANDARD,
        };
        let l = lines(
            nov(),
            &[seg("2026-11-17", "2099-12-31", 2990, Service::Billed)],
            &[],
            &[],
            Some(&fee),
        )
        .unwrap_or_default();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].kind, LineKind::SetupFee);
        assert_eq!(l[1].description, "Frais de mise en service — Fibre 300");
        // 49,00 / 1,2 = 40,833… → 40,83 net. With 14 days of 29,90 (11,63
        // net): 52,46 net, VAT 10,49 (10,492), 62,95.
        assert_eq!(l[1].net, Cents(4083));
        assert_eq!(gross(&l), Cents(6295));
        // No fee, no line.
        let free = SetupFee {
            gross: Cents(0),
            ..fee
        };
        let l = lines(
            nov(),
            &[seg("2026-11-17", "2099-12-31", 2990, Service::Billed)],
            &[],
            &[],
            Some(&free),
        )
        .unwrap_or_default();
        assert_eq!(l.len(), 1);
    }

    /// `a × b / c` rounded half away from zero, for amounts ≥ 0 (the test's
    /// own arithmetic, not the crate's).
    fn round_div(a: i128, c: i128) -> i128 {
        (2 * a + c) / (2 * c)
    }

    proptest::proptest! {
        /// The invoice's total is what the household owes by the README's
        /// rule, computed here day by day: each run of days under one price
        /// is price × 100 / 120 × days / days in the month, rounded once;
        /// the VAT is 20 % of the net total, rounded once. And it is within
        /// three cents of the exact amount VAT included.
        #[test]
        fn the_total_is_what_the_rule_says(
            month in proptest::sample::select(vec!["2026-02", "2026-11", "2026-12", "2028-02"]),
            price in 0i64..20_000,
            level in 0i64..20_000,
            start in 1u32..=31,
            social_from in 1u32..=31,
        ) {
            let m = Month::parse(month).unwrap_or_else(|e| panic!("{e}"));
            let dim = m.days();
            let start = start.min(dim);
            let social_from = social_from.min(dim);
            let day = |n: u32| m.first + chrono::Days::new(u64::from(n - 1));
            let l = lines(
                m,
                &[seg(&day(start).to_string(), "2099-12-31", price, Service::Billed)],
                &[SocialDays { from: day(social_from), to: d("2099-12-31"), monthly_gross: Cents(level) }],
                &[],
                None,
            ).unwrap_or_else(|e| panic!("{e}"));
            // Count the days one by one.
            let (mut billed, mut reduced) = (0i128, 0i128);
            for n in 1..=dim {
                if n >= start {
                    billed += 1;
                    if n >= social_from {
                        reduced += 1;
                    }
                }
            }
            let (p, lv, dm) = (i128::from(price), i128::from(level.min(price)), i128::from(dim));
            let net = round_div(p * 100 * billed, 120 * dm)
                - (round_div(p * 100 * reduced, 120 * dm) - round_div(lv * 100 * reduced, 120 * dm));
            let total = net + round_div(net * 20, 100);
            proptest::prop_assert_eq!(i128::from(gross(&l).0), total);
            // Exactly owed, VAT included, in hundredths of a cent.
            let exact = (p * (billed - reduced) + lv * reduced) * 10_000 / dm;
            proptest::prop_assert!((i128::from(gross(&l).0) * 10_000 - exact).abs() <= 30_000);
        }
    }
}
