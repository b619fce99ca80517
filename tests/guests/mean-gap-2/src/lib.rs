//! Version 2 of the `mean-gap` drift test: the source of `mean-gap-1`, built under this crate's
//! version, which makes it scale the gap by the reference's standard deviation.

#[path = "../../mean-gap-1/src/lib.rs"]
mod mean_gap;

pub use mean_gap::*;
