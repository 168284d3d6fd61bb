//! Process-level tests of the `regie` binary, in one test binary (each
//! binary links the whole application): they sit beside the scenario-test
//! crate because they are integration tests of the root package.

mod support;

mod billing_crash;
mod cli;
mod operations;
