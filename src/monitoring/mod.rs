//! Monitoring, as the binary serves it: the API and pages of alarms and
//! devices, the poll → alarm job, and the `regie monitoring` commands.
//! The rules (profiles, polling, alarms) live in the `monitoring` crate.

pub mod alarms;
pub mod api;
pub mod cli;
pub mod device_page;
pub mod devices;
pub mod poll;
