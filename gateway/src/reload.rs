//! Hot reload: with `hot_reload_enabled`, the gateway re-reads the configuration file named by
//! `hot_reload_watch_path` when its modification time changes and applies the access rules
//! (auth tokens, connection limits, trusted proxies) without a restart. Other settings apply at
//! the next start. The file sits below the command line and the environment, as at start-up.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certstream_shared::Settings;
use tokio_util::sync::CancellationToken;

use crate::access::Access;

/// How often the file's modification time is checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Watches `path` until `shutdown` and applies its access rules after each change. `base_args`
/// are the process arguments (program name first); the file is added as `--config`.
pub async fn watch(
    path: PathBuf,
    base_args: Vec<OsString>,
    access: Arc<Access>,
    shutdown: CancellationToken,
) {
    tracing::info!(path = %path.display(), "Watching the configuration file for access rule changes");
    let mut last_modified = modified(&path);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        let current = modified(&path);
        if current == last_modified {
            continue;
        }
        last_modified = current;
        match reload(&path, &base_args).and_then(|settings| access.update(&settings)) {
            Ok(()) => tracing::info!(path = %path.display(), "Access rules reloaded"),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "Configuration reload failed, keeping the current rules")
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

fn reload(path: &Path, base_args: &[OsString]) -> Result<Settings, String> {
    let mut args = base_args.to_vec();
    args.push("--config".into());
    args.push(path.as_os_str().to_os_string());
    Settings::try_from_args(args).map_err(|err| err.to_string())
}
