//! consentgate — a school's photo gate.
//!
//! A photo flows one way: `intake` (find settled files in staging) → `gate` (the sequencer: its
//! `stages` — formats, texts, captions, device, faces, re-upload — each add typed `findings`) →
//! `decide` (every rule and every reason's words: findings + policy → verdict) → `dispose` (the one
//! place a release or hold becomes durable, and where a killed run is finished). `register` owns
//! students and consent (and writes its own audit rows); `judge` is the register as the gate
//! judges against it; `review` is the moderator's side, through the same `judge`, `decide` and
//! `dispose`. `watch` keeps gating as a service under the workspace `lock`; `status` shows the
//! workspace at a glance. The command line lives in the binary (`src/main.rs`, `src/cli.rs`).

pub mod accounts;
pub mod audit;
pub mod captions;
pub mod config;
pub mod db;
pub mod decide;
pub mod dispose;
pub mod enrol;
pub mod eval;
pub mod faces;
pub mod findings;
pub mod formats;
pub mod gate;
mod infer;
pub mod intake;
pub mod journal;
pub mod judge;
pub mod lock;
pub mod ocr;
pub mod outbox;
pub mod pdq;
pub mod redact;
pub mod register;
pub mod review;
pub mod serve;
pub mod service;
pub mod status;
pub mod watch;
pub mod workspace;
