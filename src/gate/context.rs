//! What a photo is judged against: the config, the channel's policy, the register (a [`Judge`])
//! and the face models, built once per run and shared by every thread.

use std::sync::Arc;

use chrono::{Local, NaiveDate};
use rusqlite::Connection;

use super::GateError;
use crate::config::Config;
use crate::decide::Policy;
use crate::faces::FaceEngine;
use crate::journal;
use crate::judge::Judge;
use crate::ocr::TextEngine;
use crate::workspace::Workspace;

pub struct Context {
    pub channel: String,
    pub config: Config,
    pub policy: Policy,
    pub judge: Judge,
    pub limits: crate::formats::Limits,
    /// Today, for consent expiry and neutral names.
    pub today: NaiveDate,
    /// The register's version (see [`journal::register_version`]) when it was loaded, or `None`
    /// for a context built from parts. A release is recorded only while it is still current.
    pub register_version: Option<i64>,
    /// The face models; `None` when `[faces] enabled = false`. Shared so a refreshed context
    /// (register changed under a running `watch`) does not load them again.
    pub engine: Option<Arc<FaceEngine>>,
    /// The text models; `None` when `[text] enabled = false`. Parsed on first use, and shared
    /// across refreshed contexts like the face models.
    pub text: Option<Arc<TextEngine>>,
}

impl Context {
    /// A context from parts (tests and benches); loads the face models when faces are enabled.
    pub fn new(config: &Config, channel: &str, judge: Judge) -> Result<Context, GateError> {
        Context::with_engine(config, channel, judge, None, None, None)
    }

    fn with_engine(
        config: &Config,
        channel: &str,
        judge: Judge,
        register_version: Option<i64>,
        engine: Option<Arc<FaceEngine>>,
        text: Option<Arc<TextEngine>>,
    ) -> Result<Context, GateError> {
        if !config.gate.channels.iter().any(|c| c == channel) {
            return Err(GateError::UnknownChannel(
                channel.to_string(),
                config.gate.channels.join(", "),
            ));
        }
        let today = Local::now().date_naive();
        Ok(Context {
            channel: channel.to_string(),
            config: config.clone(),
            policy: Policy::new(config, channel, today),
            judge,
            limits: config.format_limits(),
            today,
            register_version,
            engine: match (config.faces.enabled, engine) {
                (false, _) => None,
                (true, Some(e)) => Some(e),
                (true, None) => Some(Arc::new(FaceEngine::with_options(
                    config.faces.engine_options(),
                )?)),
            },
            text: config
                .text
                .enabled
                .then(|| text.unwrap_or_else(|| Arc::new(TextEngine::new()))),
        })
    }

    /// Build from a workspace's register (read-only use of `conn`).
    pub fn from_workspace(
        ws: &Workspace,
        conn: &Connection,
        channel: &str,
    ) -> Result<Context, GateError> {
        // The version is read before the register: a change in between makes the version look
        // stale, never the register look current.
        let version = journal::register_version(conn)?;
        Context::with_engine(
            &ws.config,
            channel,
            Judge::load(conn)?,
            Some(version),
            None,
            None,
        )
    }

    /// The same context rebuilt from the register and configuration as they are now, keeping the
    /// loaded face models (loading them is the slow part). A stale register would be a leak: a
    /// withdrawal or a newly enrolled no-publish face must apply to the very next photo.
    pub fn refreshed(&self, ws: &Workspace, conn: &Connection) -> Result<Context, GateError> {
        let version = journal::register_version(conn)?;
        Context::with_engine(
            &ws.config,
            &self.channel,
            Judge::load(conn)?,
            Some(version),
            self.engine.clone(),
            self.text.clone(),
        )
    }
}
