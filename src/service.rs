//! A systemd unit for `consentgate watch`, filled in with this machine's real paths.
//!
//! Printed by `consentgate watch --channel C --systemd-unit` rather than shipped as a file, so the
//! executable, workspace, channel and account are right without hand-editing. The sandbox follows
//! from what the gate needs: its workspace read-write, the rest of the system read-only, and no
//! network at all (everything, models included, is inside the binary).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0} must be an absolute path without line breaks for a systemd unit; pass -w with the workspace's full path")]
    BadPath(String),
    #[error("{0:?} is not a valid account name for User=; pass --user NAME")]
    BadUser(String),
}

/// Quote a path for a unit file: `%` is a specifier and `\` and `"` are escapes there.
fn quote(p: &Path) -> Result<String, ServiceError> {
    let s = p.to_str().unwrap_or_default();
    if !p.is_absolute() || s.is_empty() || s.contains(['\n', '\r']) {
        return Err(ServiceError::BadPath(p.display().to_string()));
    }
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    Ok(format!("\"{escaped}\""))
}

/// The unit text. `exe` and `workspace` must be absolute.
pub fn systemd_unit(
    exe: &Path,
    workspace: &Path,
    channel: &str,
    user: &str,
) -> Result<String, ServiceError> {
    let valid_user = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_user {
        return Err(ServiceError::BadUser(user.to_string()));
    }
    // Channel names come from consentgate.toml; refuse anything that could break the line.
    if channel.is_empty()
        || channel
            .chars()
            .any(|c| c.is_whitespace() || "%\"\\".contains(c))
    {
        return Err(ServiceError::BadPath(channel.to_string()));
    }
    let (exe_q, ws_q) = (quote(exe)?, quote(workspace)?);
    // ProtectHome would hide a workspace kept under /home even with ReadWritePaths on some
    // systemd versions; only use it when the workspace is elsewhere.
    let home = ["/home", "/root", "/run/user"]
        .iter()
        .any(|h| workspace.starts_with(h));
    let protect_home = if home {
        "# ProtectHome is off because the workspace is under a home folder.\n"
    } else {
        "ProtectHome=yes\n"
    };
    Ok(format!(
        r#"# consentgate watch: keeps {ws} gated for the {channel} channel.
# Install:  sudo cp THIS_FILE /etc/systemd/system/consentgate-watch.service
#           sudo systemctl daemon-reload && sudo systemctl enable --now consentgate-watch
# Logs:     journalctl -u consentgate-watch -f      Status: consentgate -w {ws} status
[Unit]
Description=consentgate photo gate watching {ws_desc}/staging ({channel})
After=local-fs.target
RequiresMountsFor={ws_q}

[Service]
Type=exec
User={user}
ExecStart={exe_q} -w {ws_q} watch --channel {channel}
# SIGTERM: finish the photos in hand, start no new ones, exit 0. A photo takes well under a
# second; TimeoutStopSec is generous for a slow disk before systemd falls back to SIGKILL (which
# the journal also survives: the next start finishes what was in hand).
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=60
Restart=on-failure
RestartSec=10
Environment=RUST_LOG=info
UMask=0077

# Sandbox: the workspace read-write, everything else read-only, no network at all.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={ws_q}
{protect_home}PrivateTmp=yes
PrivateDevices=yes
PrivateNetwork=yes
RestrictAddressFamilies=AF_UNIX
IPAddressDeny=any
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"#,
        ws = workspace.display(),
        ws_desc = workspace.display().to_string().replace('%', "%%"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Debian package ships this module's unit for its own paths, not a hand-kept copy.
    #[test]
    fn the_debian_package_ships_this_unit() {
        let shipped = include_str!("../.ci/deb/consentgate-watch.service");
        let unit = systemd_unit(
            Path::new("/usr/bin/consentgate"),
            Path::new("/var/lib/consentgate"),
            "website",
            "consentgate",
        )
        .unwrap();
        assert!(
            shipped == unit,
            "regenerate .ci/deb/consentgate-watch.service from this unit:\n{unit}"
        );
    }

    #[test]
    fn paths_are_quoted_and_specifiers_escaped() {
        let u = systemd_unit(
            Path::new("/opt/cg/bin/consentgate"),
            Path::new("/srv/photo gate/100%"),
            "website",
            "photogate",
        )
        .unwrap();
        assert!(u.contains(
            "ExecStart=\"/opt/cg/bin/consentgate\" -w \"/srv/photo gate/100%%\" watch --channel website"
        ), "{u}");
        assert!(u.contains("ReadWritePaths=\"/srv/photo gate/100%%\""));
        assert!(u.contains("ProtectHome=yes"));
        assert!(systemd_unit(Path::new("cg"), Path::new("/srv"), "website", "a").is_err());
        assert!(systemd_unit(Path::new("/cg"), Path::new("/srv"), "website", "a b").is_err());
    }
}
