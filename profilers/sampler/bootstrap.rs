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
/// The stack reader the agent loads (native/reader.rs, built by build.rs).
pub const READER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/profbench_reader.so"));
/// Its file name in the folder; the agent looks for it next to itself.
pub const READER_FILE: &str = "_profbench_reader.so";

/// Environment variable naming the collector's socket; the agent does nothing without it.
pub const SOCK_ENV: &str = "PROFBENCH_SOCK";

/// `off` makes the agent read stacks from Python rather than with the native reader.
pub const READER_ENV: &str = "PROFBENCH_READER";

/// Ray reads this variable in ray.init to let a function edit the job's runtime env.
pub const RAY_HOOK_ENV: &str = "RAY_RUNTIME_ENV_HOOK";
const RAY_HOOK: &str = "_profbench_agent.ray_runtime_env_hook";

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
            ("sitecustomize.py", SITECUSTOMIZE.as_bytes()),
            ("_profbench_agent.py", AGENT.as_bytes()),
            (READER_FILE, READER),
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

    /// The variables to set on the target: our folder first, the user's PYTHONPATH after it;
    /// Ray's runtime-env hook (see `ray_runtime_env_hook` in the agent), chaining to the
    /// user's own hook, so workers of a cluster started elsewhere load the agent too.
    pub fn env(
        &self,
        existing_pythonpath: Option<OsString>,
        existing_ray_hook: Option<OsString>,
    ) -> Vec<(OsString, OsString)> {
        let mut paths = vec![self.dir().to_path_buf()];
        if let Some(existing) = existing_pythonpath.filter(|p| !p.is_empty()) {
            paths.extend(std::env::split_paths(&existing));
        }
        let joined =
            std::env::join_paths(paths).unwrap_or_else(|_| self.dir().as_os_str().to_owned());
        let mut env = vec![
            ("PYTHONPATH".into(), joined),
            (SOCK_ENV.into(), self.socket_path().into()),
            (RAY_HOOK_ENV.into(), RAY_HOOK.into()),
        ];
        if let Some(theirs) = existing_ray_hook.filter(|h| !h.is_empty() && h != RAY_HOOK) {
            env.push(("PROFBENCH_RAY_HOOK_CHAIN".into(), theirs));
        }
        env
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
        let reader = std::fs::metadata(b.dir().join(READER_FILE)).unwrap();
        assert_eq!(reader.mode() & 0o777, 0o600);
        assert_eq!(reader.len(), READER.len() as u64);
        assert!(std::fs::read_to_string(b.dir().join("sitecustomize.py"))
            .unwrap()
            .contains("_profbench_agent"));
    }

    #[test]
    fn users_pythonpath_is_kept_after_ours() {
        let b = Bootstrap::create().unwrap();
        let env = b.env(Some("/a:/b".into()), None);
        let pp = &env.iter().find(|(k, _)| k == "PYTHONPATH").unwrap().1;
        let parts: Vec<PathBuf> = std::env::split_paths(pp).collect();
        assert_eq!(parts, vec![b.dir().to_path_buf(), "/a".into(), "/b".into()]);
        let env = b.env(Some("".into()), None);
        assert_eq!(env[0].1, b.dir().as_os_str());
        assert!(!env.iter().any(|(k, _)| k == "PROFBENCH_RAY_HOOK_CHAIN"));
    }

    #[test]
    fn a_users_ray_hook_is_chained_not_replaced() {
        let b = Bootstrap::create().unwrap();
        let env = b.env(None, Some("their.hook".into()));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get(RAY_HOOK_ENV), Some(RAY_HOOK.into()));
        assert_eq!(get("PROFBENCH_RAY_HOOK_CHAIN"), Some("their.hook".into()));
    }
}
