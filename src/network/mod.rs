//! The network, as the binary serves it: the fibre plant (import, trace,
//! capacity, map, exports, PON ports) and the subscriber lines (order,
//! steps, suspension, termination), their API and pages, and the
//! `regie inventory` and `regie provisioning` commands. The rules live in
//! the `inventory` and `provisioning` crates.

pub mod lines;
pub mod lines_api;
pub mod lines_cli;
pub mod map;
pub mod plant_api;
pub mod plant_cli;
pub mod pon;
