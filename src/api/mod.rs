//! The JSON API under `/api/v1`. Handlers extract, call the domain and
//! convert; access rules live in the route table (`app::route_table`).

pub mod audit;
pub mod auth;
pub mod households;
pub mod system;
pub mod users;
