//! vouch turns a company's security promises into controls that run.
//!
//! Control files (TOML) say what must hold; probes observe live systems; the engine compares what
//! was observed with what was expected and produces a [`report::Report`] that an auditor can file,
//! a CI job can gate on and an on-call engineer can read at a glance. The library is usable
//! without the command line: load controls, build a run, render the report.

pub mod cli;
pub mod control;
pub mod diag;
pub mod engine;
pub mod exit;
pub mod expect;
pub mod inventory;
pub mod probe;
pub mod report;
