//! Tests of the three patch formats.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod json;
mod last_applied;
mod merge;
mod merge_three_way;
mod strategic;
mod three_way;
