//! consentgate — a school's photo gate.
//!
//! A photo flows one way through the stages:
//! `intake` (find settled files in staging) → `formats` (detect by content, strip metadata losslessly,
//! collect embedded captions) → `captions` (match text against the register's names) → `decide`
//! (turn findings into release/hold with reasons) → `outbox` (durable release or hold, journal, audit).
//! `register` owns students and consent; `review` is the moderator's side; `cli` is the thin edge.
//! `gate` runs the stages over staging once; `watch` keeps doing so as a service, under the
//! workspace `lock` that lets only one gate run at a time; `status` shows the workspace at a glance.

pub mod captions;
pub mod cli;
pub mod config;
pub mod db;
pub mod decide;
pub mod demo;
pub mod enrol;
pub mod eval;
pub mod faces;
pub mod formats;
pub mod gate;
pub mod intake;
pub mod journal;
pub mod lock;
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
