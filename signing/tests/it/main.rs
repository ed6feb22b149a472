//! The signing crate's integration tests, in one binary.

mod vectors;
