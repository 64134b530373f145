//! vouch's integration tests: one test binary (linking is the slow part of a Rust build), one
//! module per area, helpers in `support`. Tests talk to real servers on loopback.

mod adopt;
mod architecture;
mod aws;
mod aws_accounts;
mod aws_atrest;
mod aws_audit;
mod aws_resilience;
mod aws_transport;
mod cli;
mod compliance;
mod controls;
mod demo;
mod diff;
mod engine;
mod evidence;
mod examples;
mod false_pass;
mod formats;
mod github;
mod http;
mod http_verdicts;
mod library;
mod memory;
mod mozilla;
mod pipeline;
mod plugins;
mod shard;
mod starttls;
mod store;
mod support;
mod timestamp;
mod tls;
mod waivers;
