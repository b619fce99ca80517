//! The daemon through its HTTP API, in-process on a real port: one test binary, one module per
//! area, so the daemon links once.

#[path = "../common/mod.rs"]
mod common;

mod actions;
mod actions_flow;
mod auth;
mod ingest;
mod limits;
mod monitors;
mod multivariate;
mod openapi;
mod plugins;
mod policies;
mod registry;
mod retention;
mod shadows;
mod signing;
