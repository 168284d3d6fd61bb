//! Scenario tests of Régie, across crates, through the HTTP application.
//!
//! The helpers here give each test a fresh database: a SQLite file in a
//! temporary directory, or, when `REGIE_TEST_POSTGRES` is set to a server URL
//! (e.g. `postgres://postgres@127.0.0.1:5432`), a new PostgreSQL database
//! created for the test. The same tests therefore run on both backends.
#![forbid(unsafe_code)]
