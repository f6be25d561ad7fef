//! Injects the Python agent: a private folder with a chaining `sitecustomize.py`, put first
//! on PYTHONPATH so every Python the command starts (through uv, a venv, a shell script,
//! subprocess, multiprocessing, local Ray workers) loads it, the way coverage.py does.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const SITECUSTOMIZE: &str = include_str!("agent/sitecustomize.py");
pub const AGENT: &str = include_str!("agent/_profbench_agent.py");

/// Environment variable naming the collector's socket; the agent does nothing without it.
pub const SOCK_ENV: &str = "PROFBENCH_SOCK";

/// The folder (0700, removed on drop) holding the agent files and the collector's socket.
pub struct Bootstrap {
    dir: tempfile::TempDir,
}

impl Bootstrap {
    pub fn create() -> Result<Self> {
        // 0700 from the moment it exists: the socket inside is then reachable only by this user,
        // with no window where another user could connect or swap a file.
        let dir = tempfile::Builder::new()
            .prefix("profbench-")
            .permissions(Permissions::from_mode(0o700))
            .tempdir()
            .context("creating the sampler's private temporary folder")?;
        for (name, text) in [
            ("sitecustomize.py", SITECUSTOMIZE),
            ("_profbench_agent.py", AGENT),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
        }
        Ok(Bootstrap { dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("collector.sock")
    }

    /// The variables to set on the target: our folder first, the user's PYTHONPATH after it.
    pub fn env(&self, existing_pythonpath: Option<OsString>) -> Vec<(OsString, OsString)> {
        let mut paths = vec![self.dir().to_path_buf()];
        if let Some(existing) = existing_pythonpath.filter(|p| !p.is_empty()) {
            paths.extend(std::env::split_paths(&existing));
        }
        let joined =
            std::env::join_paths(paths).unwrap_or_else(|_| self.dir().as_os_str().to_owned());
        vec![
            ("PYTHONPATH".into(), joined),
            (SOCK_ENV.into(), self.socket_path().into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn folder_is_private_and_holds_the_agent() {
        let b = Bootstrap::create().unwrap();
        assert_eq!(std::fs::metadata(b.dir()).unwrap().mode() & 0o777, 0o700);
        let agent = b.dir().join("_profbench_agent.py");
        assert_eq!(std::fs::metadata(&agent).unwrap().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(b.dir().join("sitecustomize.py"))
            .unwrap()
            .contains("_profbench_agent"));
    }

    #[test]
    fn users_pythonpath_is_kept_after_ours() {
        let b = Bootstrap::create().unwrap();
        let env = b.env(Some("/a:/b".into()));
        let pp = &env.iter().find(|(k, _)| k == "PYTHONPATH").unwrap().1;
        let parts: Vec<PathBuf> = std::env::split_paths(pp).collect();
        assert_eq!(parts, vec![b.dir().to_path_buf(), "/a".into(), "/b".into()]);
        let env = b.env(Some("".into()));
        assert_eq!(env[0].1, b.dir().as_os_str());
    }
}
