//! `vigil-model`: a logistic regression (linfa) that speaks Vigil's retraining protocol. It
//! trains on labeled records read from Vigil's API and registers the version it made, and it
//! serves predictions over HTTP. The worked example of docs/retraining.md.

pub mod commands;
pub mod dataset;
pub mod encoding;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod serve;
pub mod training;
