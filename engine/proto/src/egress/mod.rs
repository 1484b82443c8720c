//! (in progress)

pub mod rewrite;
