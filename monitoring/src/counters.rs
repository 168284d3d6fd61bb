//! Octet and packet counters made safe to export.
//!
//! A device's counter is not what Prometheus should see: a Counter32 wraps
//! at 2³² every few minutes on a gigabit port, and a reboot starts every
//! counter again from zero. Prometheus reads any decrease as a reset and
//! counts the new value as fresh traffic, which is right for a reboot but
//! loses a wrap; and a reading taken across an unnoticed reboot would be
//! read as one huge increase. The [`Tracker`] turns each device counter
//! into a monotonic 64-bit total that only ever grows by what was really
//! counted:
//!
//! - a 32-bit counter lower than before, on a device that did not reboot,
//!   wrapped once: the increase is what was left to 2³² plus the new value;
//! - a device whose sysUpTime went back rebooted: its counters restart, the
//!   reading becomes the new baseline, and nothing is added for that cycle;
//! - a 64-bit counter lower than before without a reboot is a counter reset
//!   (a line card swapped): a new baseline too.

use std::collections::HashMap;
use std::hash::Hash;

/// A raw reading of a device counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    C32(u32),
    C64(u64),
}

/// What became of one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First reading: a baseline, nothing added.
    Baseline,
    /// Added this much to the total.
    Increased(u64),
    /// The counter wrapped (32 bits) and this much was added.
    Wrapped(u64),
    /// The device rebooted or the counter was reset: a new baseline,
    /// nothing added.
    Reset,
}

#[derive(Debug, Clone, Copy)]
struct State {
    last: Reading,
    total: u64,
}

/// Monotonic totals of counters, keyed by the caller (device, interface,
/// direction).
#[derive(Debug)]
pub struct Tracker<K> {
    states: HashMap<K, State>,
}

impl<K> Default for Tracker<K> {
    fn default() -> Self {
        Self {
            states: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Tracker<K> {
    /// Records a reading; `rebooted` says that the device's sysUpTime went
    /// back since its previous poll.
    pub fn record(&mut self, key: &K, reading: Reading, rebooted: bool) -> Outcome {
        let Some(state) = self.states.get_mut(key) else {
            self.states.insert(
                key.clone(),
                State {
                    last: reading,
                    total: 0,
                },
            );
            return Outcome::Baseline;
        };
        let outcome = match (state.last, reading) {
            _ if rebooted => Outcome::Reset,
            (Reading::C32(a), Reading::C32(b)) if b >= a => Outcome::Increased(u64::from(b - a)),
            (Reading::C32(a), Reading::C32(b)) => {
                Outcome::Wrapped((u64::from(u32::MAX) - u64::from(a)) + u64::from(b) + 1)
            }
            (Reading::C64(a), Reading::C64(b)) if b >= a => Outcome::Increased(b - a),
            // A 64-bit counter going back, or a device switching between
            // 32- and 64-bit counters: a new baseline, never a guess.
            _ => Outcome::Reset,
        };
        if let Outcome::Increased(d) | Outcome::Wrapped(d) = outcome {
            state.total = state.total.saturating_add(d);
        }
        state.last = reading;
        outcome
    }

    /// The monotonic total of a counter (0 until a second reading).
    pub fn total(&self, key: &K) -> Option<u64> {
        self.states.get(key).map(|s| s.total)
    }

    /// Forgets the counters of keys no longer polled.
    pub fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        self.states.retain(|k, _| keep(k));
    }
}

/// Whether a device rebooted between two readings of its sysUpTime
/// (hundredths of a second, a Counter that itself wraps after 497 days):
/// uptime going back by more than a wrap would explain.
pub fn rebooted(previous_ticks: Option<u32>, ticks: u32) -> bool {
    match previous_ticks {
        None => false,
        // A wrap of sysUpTime leaves it near zero after being near 2³²;
        // anything else going back is a restart.
        Some(p) => ticks < p && !(p > u32::MAX - 8_640_000 && ticks < 8_640_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_32_bit_wrap_adds_only_what_was_counted() {
        let mut t = Tracker::default();
        assert_eq!(
            t.record(&"eth0", Reading::C32(u32::MAX - 10), false),
            Outcome::Baseline
        );
        assert_eq!(
            t.record(&"eth0", Reading::C32(5), false),
            Outcome::Wrapped(16)
        );
        assert_eq!(t.total(&"eth0"), Some(16));
        assert_eq!(
            t.record(&"eth0", Reading::C32(105), false),
            Outcome::Increased(100)
        );
        assert_eq!(t.total(&"eth0"), Some(116));
    }

    #[test]
    fn a_reboot_is_a_new_baseline_not_a_spike() {
        let mut t = Tracker::default();
        t.record(&"eth0", Reading::C64(1_000_000_000), false);
        t.record(&"eth0", Reading::C64(1_000_000_500), false);
        assert_eq!(t.record(&"eth0", Reading::C64(42), true), Outcome::Reset);
        assert_eq!(
            t.total(&"eth0"),
            Some(500),
            "nothing added across the reboot"
        );
        assert_eq!(
            t.record(&"eth0", Reading::C64(142), false),
            Outcome::Increased(100)
        );
        // A 32-bit counter lower after a reboot is not read as a wrap.
        t.record(&"eth1", Reading::C32(3_000_000_000), false);
        assert_eq!(t.record(&"eth1", Reading::C32(7), true), Outcome::Reset);
        assert_eq!(t.total(&"eth1"), Some(0));
    }

    #[test]
    fn a_64_bit_counter_going_back_is_a_reset() {
        let mut t = Tracker::default();
        t.record(&1, Reading::C64(900), false);
        assert_eq!(t.record(&1, Reading::C64(100), false), Outcome::Reset);
        assert_eq!(
            t.record(&1, Reading::C32(150), false),
            Outcome::Reset,
            "width changed"
        );
        assert_eq!(t.total(&1), Some(0));
    }

    #[test]
    fn uptime_going_back_is_a_reboot_unless_it_wrapped() {
        assert!(!rebooted(None, 5));
        assert!(!rebooted(Some(100), 200));
        assert!(rebooted(Some(294_400_216), 1_200));
        assert!(
            !rebooted(Some(u32::MAX - 100), 50),
            "sysUpTime wraps after 497 days"
        );
    }

    proptest! {
        /// Whatever the readings, the total never grows by more than a
        /// 32-bit counter can count in one interval, and never shrinks.
        #[test]
        fn the_total_is_monotonic_and_bounded(readings in proptest::collection::vec((any::<u32>(), any::<bool>()), 1..50)) {
            let mut t = Tracker::default();
            let mut before = 0u64;
            for (value, reboot) in readings {
                t.record(&0u8, Reading::C32(value), reboot);
                let now = t.total(&0u8).unwrap();
                prop_assert!(now >= before);
                prop_assert!(now - before <= u64::from(u32::MAX) + 1);
                before = now;
            }
        }
    }
}
