//! The integration tests: one crate (so shared helpers compile once and nothing needs a
//! `dead_code` allowance), a module per area. Most drive the real binary on a real workspace.

mod common;

mod captions;
mod corpus_faces;
mod corpus_formats;
mod corpus_gate;
mod crash;
mod crowds;

mod faces;
mod faces_gate;
mod fail_closed;
mod formats;
mod gate;
mod heic;
mod pdq;
mod register_import;
mod review_race;
mod serve_browser;
mod serve_review;
mod serve_security;
mod text_gate;
mod watch;
