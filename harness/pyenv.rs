//! The harness's own Python environment: found, created, reused while its pins are unchanged,
//! with every installed version recorded. uv (itself pinned, from PyPI) when it can be had,
//! else venv + pip.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// uv is installed from PyPI into a bootstrap venv: pinned like everything else.
pub const UV_PIN: &str = "uv==0.9.5";

/// Workload requirements that did not install in an environment, with the installer's lines.
pub const CORE_FAILURES: &str = ".profbench-core-not-installable.txt";

/// One backend's install outcome.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Install {
    Ok,
    /// The first lines of the installer's error.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PythonEnv {
    pub root: PathBuf,
    pub python: PathBuf,
    pub bin_dir: PathBuf,
    pub version: (u32, u32, u32),
    pub uv: Option<PathBuf>,
    /// distribution name (lower case) -> version, of everything installed.
    pub versions: BTreeMap<String, String>,
    pub cache: PathBuf,
}

/// Where profbench keeps environments: $PROFBENCH_CACHE, else $XDG_CACHE_HOME/profbench,
/// else ~/.cache/profbench.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PROFBENCH_CACHE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("profbench")
}

/// The interpreter the environment is built from: --python, $PROFBENCH_PYTHON, or python3 on PATH.
pub fn find_base_python(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("PROFBENCH_PYTHON").map(PathBuf::from))
    {
        return which::which(&p).with_context(|| {
            format!(
                "Python {} not found: pass --python with the path of an existing python3",
                p.display()
            )
        });
    }
    let names: &[&str] = if cfg!(windows) {
        &["python", "py"]
    } else {
        &["python3", "python"]
    };
    names
        .iter()
        .find_map(|n| which::which(n).ok())
        .context("no python3 on PATH: install Python 3.8+ with venv (Debian: apt-get install python3 python3-venv) or pass --python PATH")
}

/// The python executable inside a virtual environment.
pub fn venv_python(root: &Path) -> PathBuf {
    if cfg!(windows) {
        root.join("Scripts").join("python.exe")
    } else {
        root.join("bin").join("python")
    }
}

fn venv_bin(root: &Path) -> PathBuf {
    venv_python(root).parent().unwrap().to_path_buf()
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs an install step with its output in `log`; on failure returns the error's last lines.
fn run_step(
    progress: &ProgressBar,
    what: &str,
    cmd: &mut Command,
    log: &Path,
) -> Result<(), String> {
    progress.set_message(what.to_string());
    let file = fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(6)..].join("\n");
    Err(format!("{what} failed ({status}):\n{tail}"))
}

fn spinner() -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} python env: {msg} [{elapsed}]").unwrap());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Gets uv: from PATH if PROFBENCH_UV says so, else pinned from PyPI into a bootstrap venv.
fn ensure_uv(base: &Path, cache: &Path, pb: &ProgressBar) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROFBENCH_UV") {
        return which::which(p).ok();
    }
    let root = cache.join(format!(
        "bootstrap-{}",
        short_hash(&[UV_PIN, &base.to_string_lossy()])
    ));
    let uv = venv_bin(&root).join(if cfg!(windows) { "uv.exe" } else { "uv" });
    if uv.exists() {
        return Some(uv);
    }
    fs::create_dir_all(cache).ok()?;
    let log = cache.join("bootstrap.log");
    let made = run_step(
        pb,
        "creating bootstrap venv",
        Command::new(base).args(["-m", "venv"]).arg(&root),
        &log,
    )
    .and_then(|_| {
        run_step(
            pb,
            &format!("installing {UV_PIN}"),
            Command::new(venv_python(&root)).args(["-m", "pip", "install", "-q", UV_PIN]),
            &log,
        )
    });
    match made {
        Ok(()) if uv.exists() => Some(uv),
        _ => {
            pb.println(format!(
                "note: could not get {UV_PIN} (see {}); using venv + pip",
                log.display()
            ));
            None
        }
    }
}

/// Creates or reuses the environment for `core` requirements (the workloads' needs: must
/// install) and then each backend's own requirements (may fail: that backend is then
/// "not installable"). Returns the env and, per backend, how its install went.
pub fn ensure(
    base_python: &Path,
    core: &[String],
    backends: &[(String, Vec<String>)],
) -> Result<(PythonEnv, BTreeMap<String, Install>)> {
    let cache = cache_dir();
    fs::create_dir_all(&cache)
        .with_context(|| format!("creating cache folder {}", cache.display()))?;
    // Two profbench processes (parallel tests, two terminals) must not build one env at once.
    let lock = fs::File::create(cache.join(".lock"))
        .with_context(|| format!("creating a lock in {}", cache.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", cache.display()))?;
    let base_version = python_version(base_python)?;
    let key = short_hash(&[
        &base_python.to_string_lossy(),
        &format!("{base_version:?}"),
        &core.join("\n"),
    ]);
    let root = cache.join("envs").join(&key);
    let pb = spinner();
    let uv = ensure_uv(base_python, &cache, &pb);
    let ready = root.join(".profbench-core-ready");
    if !ready.exists() {
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.parent().unwrap())?;
        let log = cache.join("envs").join(format!("{key}-install.log"));
        let created = match &uv {
            Some(uv) => run_step(
                &pb,
                "creating venv (uv)",
                Command::new(uv)
                    .arg("venv")
                    .arg("--seed")
                    .arg("--python")
                    .arg(base_python)
                    .arg(&root)
                    .env("UV_CACHE_DIR", cache.join("uv-cache")),
                &log,
            ),
            None => run_step(
                &pb,
                "creating venv",
                Command::new(base_python).args(["-m", "venv"]).arg(&root),
                &log,
            ),
        };
        created.map_err(|e| anyhow::anyhow!("{e}\nfix: check that {} can create virtual environments (Debian: apt-get install python3-venv)", base_python.display()))?;
        if !core.is_empty() {
            let all_at_once = install(
                &pb,
                uv.as_deref(),
                &root,
                &cache,
                core,
                "installing workload requirements",
                &log,
            );
            if let Err(e) = all_at_once {
                // A pin without a wheel for this Python (Ray on 3.15) is data, not the end of
                // the run: each requirement alone, and the workloads that need a missing one
                // fail their baseline with the import error.
                let (mut failed, mut n) = (String::new(), 0);
                for (i, req) in core.iter().enumerate() {
                    let one_log = log.with_extension(format!("{i}.log"));
                    if let Err(e) = install(
                        &pb,
                        uv.as_deref(),
                        &root,
                        &cache,
                        std::slice::from_ref(req),
                        &format!("installing {req}"),
                        &one_log,
                    ) {
                        failed.push_str(&format!("{req}: {}\n", e.replace('\n', " / ")));
                        n += 1;
                    }
                }
                if n == core.len() {
                    bail!("{e}\nfix: check network access to PyPI, or the pins in workloads/requirements.txt");
                }
                fs::write(root.join(CORE_FAILURES), &failed)?;
            }
        }
        fs::write(&ready, core.join("\n"))?;
    }
    if let Ok(failed) = fs::read_to_string(root.join(CORE_FAILURES)) {
        for line in failed.lines() {
            eprintln!("warning: workload requirement not installable here: {line}");
        }
    }
    let mut outcomes = BTreeMap::new();
    for (name, reqs) in backends {
        if reqs.is_empty() {
            outcomes.insert(name.clone(), Install::Ok);
            continue;
        }
        let marker = root.join(format!(".backend-{name}.json"));
        let spec = reqs.join("\n");
        if let Some((old_spec, outcome)) = fs::read(&marker)
            .ok()
            .and_then(|b| serde_json::from_slice::<(String, Install)>(&b).ok())
        {
            if old_spec == spec {
                outcomes.insert(name.clone(), outcome);
                continue;
            }
        }
        let log = root.join(format!("install-{name}.log"));
        let outcome = match install(
            &pb,
            uv.as_deref(),
            &root,
            &cache,
            reqs,
            &format!("installing {}", reqs.join(" ")),
            &log,
        ) {
            Ok(()) => Install::Ok,
            Err(e) => Install::Failed(e),
        };
        fs::write(&marker, serde_json::to_vec(&(spec, &outcome))?)?;
        outcomes.insert(name.clone(), outcome);
    }
    pb.finish_and_clear();
    let python = venv_python(&root);
    let version = python_version(&python)?;
    let versions = installed_versions(&python)?;
    let bin_dir = venv_bin(&root);
    Ok((
        PythonEnv {
            root,
            python,
            bin_dir,
            version,
            uv,
            versions,
            cache,
        },
        outcomes,
    ))
}

/// Installs requirements into an isolated tool environment of its own (conflicting pins).
pub fn ensure_tool_env(
    env: &PythonEnv,
    base_python: &Path,
    name: &str,
    reqs: &[String],
) -> Result<PathBuf, String> {
    let root = env.cache.join("tools").join(format!(
        "{name}-{}",
        short_hash(&[&reqs.join("\n"), &base_python.to_string_lossy()])
    ));
    let ready = root.join(".profbench-ready");
    if ready.exists() {
        return Ok(venv_bin(&root));
    }
    let pb = spinner();
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.parent().unwrap()).map_err(|e| e.to_string())?;
    let log = root.with_extension("install.log");
    let result = match &env.uv {
        Some(uv) => run_step(
            &pb,
            &format!("creating tool venv for {name}"),
            Command::new(uv)
                .arg("venv")
                .arg("--python")
                .arg(base_python)
                .arg(&root)
                .env("UV_CACHE_DIR", env.cache.join("uv-cache")),
            &log,
        ),
        None => run_step(
            &pb,
            &format!("creating tool venv for {name}"),
            Command::new(base_python).args(["-m", "venv"]).arg(&root),
            &log,
        ),
    }
    .and_then(|_| {
        install(
            &pb,
            env.uv.as_deref(),
            &root,
            &env.cache,
            reqs,
            &format!("installing {}", reqs.join(" ")),
            &log,
        )
    });
    pb.finish_and_clear();
    result?;
    fs::write(&ready, reqs.join("\n")).map_err(|e| e.to_string())?;
    Ok(venv_bin(&root))
}

fn install(
    pb: &ProgressBar,
    uv: Option<&Path>,
    root: &Path,
    cache: &Path,
    reqs: &[String],
    what: &str,
    log: &Path,
) -> Result<(), String> {
    let python = venv_python(root);
    match uv {
        Some(uv) => run_step(
            pb,
            what,
            Command::new(uv)
                .args(["pip", "install", "--python"])
                .arg(&python)
                .args(reqs)
                .env("UV_CACHE_DIR", cache.join("uv-cache")),
            log,
        ),
        None => run_step(
            pb,
            what,
            Command::new(&python)
                .args(["-m", "pip", "install", "-q"])
                .args(reqs),
            log,
        ),
    }
}

/// (major, minor, micro) of an interpreter.
pub fn python_version(python: &Path) -> Result<(u32, u32, u32)> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d %d %d' % sys.version_info[:3])"])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} does not run: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u32> = text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    match v[..] {
        [a, b, c] => Ok((a, b, c)),
        _ => bail!("cannot read the version of {}: {text}", python.display()),
    }
}

/// Every distribution installed in an environment, name -> version.
pub fn installed_versions(python: &Path) -> Result<BTreeMap<String, String>> {
    let script = "import importlib.metadata as m, json\nprint(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions() if d.metadata['Name']}))";
    let out = Command::new(python)
        .args(["-c", script])
        .output()
        .with_context(|| format!("listing packages of {}", python.display()))?;
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("reading the package list of {}", python.display()))
}

/// A small uv project whose `uv run python` uses this environment (the `uv` launcher).
pub fn uv_project(env: &PythonEnv) -> Result<PathBuf> {
    let dir = env.root.join("uv-project");
    fs::create_dir_all(&dir)?;
    let toml = "[project]\nname = \"profbench-workloads\"\nversion = \"0.0.0\"\nrequires-python = \">=3.8\"\ndependencies = []\n";
    fs::write(dir.join("pyproject.toml"), toml)?;
    Ok(dir)
}

/// Environment variables that make `uv run` use our env without touching it.
pub fn uv_run_env(env: &PythonEnv) -> Vec<(OsString, OsString)> {
    vec![
        ("UV_PROJECT_ENVIRONMENT".into(), env.root.clone().into()),
        ("UV_CACHE_DIR".into(), env.cache.join("uv-cache").into()),
        ("UV_NO_SYNC".into(), "1".into()),
        ("UV_OFFLINE".into(), "1".into()),
        // Under `uv run`, Ray (2.x) re-runs its workers through `uv run` too and demands the
        // uv project inside the working directory; ours is in the cache while every run starts
        // in its own output folder, so ray.init failed ("Your …/uv-project is not in the
        // working_dir …") with no profiler at all. Workers then use the driver's interpreter,
        // the same environment.
        ("RAY_ENABLE_UV_RUN_RUNTIME_ENV".into(), "0".into()),
    ]
}
