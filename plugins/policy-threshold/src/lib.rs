//! policy-threshold
