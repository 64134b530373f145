//! vouch's integration tests: one test binary (linking is the slow part of a Rust build), one
//! module per area, helpers in `support`. Tests talk to real servers on loopback.

mod aws;
mod aws_audit;
mod aws_resilience;
mod cli;
mod compliance;
mod controls;
mod demo;
mod diff;
mod engine;
mod evidence;
mod false_pass;
mod formats;
mod github;
mod http;
mod http_verdicts;
mod library;
mod plugins;
mod starttls;
mod store;
mod support;
mod tls;
mod waivers;
