//! Running profbench on a platform: `matrix --platforms` runs one ordinary matrix per
//! platform (each writing a complete run folder with its own descriptor) and merges them
//! into one report with a column per platform; `platform build` makes a platform and runs
//! `doctor` on it (which builds its pinned environment); `platform run` runs any command.

use super::{Entry, Kind};
use crate::cli::{MatrixArgs, PlatformCommand};
use crate::platform::{BUILT_VAR, NAME_VAR};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Options of the parent's `matrix` command line that each platform's run sets itself.
const PER_PLATFORM: &[&str] = &["--platforms", "--out", "--python"];

/// The parent's matrix arguments (after `matrix`) without `PER_PLATFORM` options.
pub fn child_args(parent: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in parent {
        if skip_value {
            skip_value = false;
            continue;
        }
        if PER_PLATFORM.contains(&a.as_str()) {
            skip_value = true;
            continue;
        }
        if PER_PLATFORM.iter().any(|o| a.starts_with(&format!("{o}="))) {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// The interpreter a platform's runs build their environment from (None: the default).
#[cfg(target_os = "linux")]
fn python_for(e: &Entry) -> Result<Option<PathBuf>, String> {
    match &e.kind {
        Kind::Host => Ok(None),
        Kind::Interpreter(i) => Ok(Some(i.path.clone())),
        Kind::Chroot(spec) => Ok(Some(spec.python.into())),
        Kind::Restricted => restricted_python().map(Some),
    }
}

#[cfg(not(target_os = "linux"))]
fn python_for(e: &Entry) -> Result<Option<PathBuf>, String> {
    match &e.kind {
        Kind::Host => Ok(None),
        Kind::Interpreter(i) => Ok(Some(i.path.clone())),
    }
}

/// For `restricted`: the host's default interpreter if nobody can run it, else the first
/// interpreter of the same minor version nobody can, else any nobody can.
#[cfg(target_os = "linux")]
fn restricted_python() -> Result<PathBuf, String> {
    use super::{interpreters, restricted::reachable_by_others};
    let host = crate::pyenv::find_base_python(None)
        .ok()
        .and_then(|p| interpreters::probe(&p));
    let found = interpreters::discover();
    let ok = |i: &&interpreters::Interpreter| {
        reachable_by_others(&i.executable) && (i.version.0, i.version.1) >= super::MIN_PYTHON
    };
    let same_minor = |i: &&interpreters::Interpreter| {
        host.as_ref()
            .is_some_and(|h| (h.version.0, h.version.1) == (i.version.0, i.version.1))
    };
    host.iter()
        .filter(ok)
        .chain(found.iter().filter(ok).filter(same_minor))
        .chain(found.iter().filter(ok))
        .next()
        .map(|i| i.executable.clone())
        .ok_or_else(|| {
            "no Python 3.8+ that the user nobody can run (all are under private folders)".into()
        })
}

/// How the platform was made, for its descriptor.
fn how_built(e: &Entry) -> String {
    match &e.kind {
        Kind::Host => "the host as it is".into(),
        Kind::Interpreter(i) => {
            format!("the host with {} ({})", i.path.display(), i.version_text())
        }
        #[cfg(target_os = "linux")]
        Kind::Chroot(spec) => match super::chroot::built(spec) {
            Some(r) => super::chroot::how_built(spec, &r),
            None => "not built".into(),
        },
        #[cfg(target_os = "linux")]
        Kind::Restricted => super::restricted::how_built(),
    }
}

/// Runs this profbench with `args` on platform `e`, in `cwd`, sharing `shared` folders with
/// it (chroots see only what is shared). Returns the exit code.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn spawn_on(e: &Entry, args: &[OsString], cwd: &Path, shared: &[PathBuf]) -> Result<i32> {
    if let Some(why) = &e.unavailable {
        bail!("{}: cannot be had here: {why}", e.name);
    }
    let exe = std::env::current_exe().context("locating the profbench executable")?;
    let vars: Vec<(OsString, OsString)> = vec![
        (NAME_VAR.into(), e.name.clone().into()),
        (BUILT_VAR.into(), how_built(e).into()),
    ];
    let status = match &e.kind {
        Kind::Host | Kind::Interpreter(_) => std::process::Command::new(&exe)
            .args(args)
            .current_dir(cwd)
            .envs(vars)
            .status()
            .context("starting profbench")?,
        #[cfg(target_os = "linux")]
        Kind::Chroot(spec) => {
            let mut argv = vec![OsString::from(super::chroot::EXE_INSIDE)];
            argv.extend(args.iter().cloned());
            super::chroot::run(spec, cwd, shared, &argv, &vars)?
        }
        #[cfg(target_os = "linux")]
        Kind::Restricted => {
            let cache = super::restricted_cache();
            std::fs::create_dir_all(&cache)
                .with_context(|| format!("creating {}", cache.display()))?;
            super::restricted::chown_tree(&cache, true)?;
            for d in shared {
                super::restricted::chown_tree(d, true)?;
            }
            let status = std::process::Command::new(&exe)
                .args(["platform", "run", "restricted", "--"])
                .arg(&exe)
                .args(args)
                .current_dir(cwd)
                .envs(vars)
                .status()
                .context("starting profbench");
            // The results go back to the user who ran profbench.
            for d in shared {
                super::restricted::chown_tree(d, false)?;
            }
            status?
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Ok(128 + sig);
        }
    }
    Ok(status.code().unwrap_or(1))
}

/// `matrix --platforms`: one matrix per platform into OUT/platforms/NAME, merged into OUT.
pub fn matrix(args: &MatrixArgs) -> Result<i32> {
    let entries = super::select(&args.platforms)?;
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let out = match &args.out {
        Some(o) => o.clone(),
        None if args.resume => crate::results::latest_run(&args.results_dir)
            .context("nothing to resume: pass --out with the run folder")?,
        None => args
            .results_dir
            .join(chrono::Local::now().format("%Y-%m-%dT%H-%M-%S").to_string()),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = std::path::absolute(&out)?;
    crate::commands::install_ctrlc();
    let parent: Vec<String> = std::env::args().skip(2).collect();
    let common = child_args(&parent);
    // Chroots see only what is shared: the workloads, a backend file, the output folder.
    let mut shared = vec![out.clone()];
    for p in [Some(&args.common.workloads_dir), args.backend_file.as_ref()]
        .into_iter()
        .flatten()
    {
        let abs = std::path::absolute(p)?;
        shared.push(if abs.is_dir() {
            abs
        } else {
            abs.parent().unwrap().to_path_buf()
        });
    }
    let mut dirs = Vec::new();
    let mut summary = String::from(
        "# Platforms of this run\n\n| platform | state | how it was made |\n|---|---|---|\n",
    );
    let mut code = 0;
    for e in &entries {
        if crate::runner::INTERRUPTED.load(Ordering::SeqCst) {
            break;
        }
        let dir = out.join("platforms").join(&e.name);
        let state: String;
        match python_for(e) {
            Err(why) => state = format!("skipped: {why}"),
            Ok(_) if e.unavailable.is_some() => {
                state = format!("skipped: {}", e.unavailable.clone().unwrap_or_default())
            }
            Ok(python) => {
                eprintln!("== platform {}: {}", e.name, e.about);
                #[cfg(target_os = "linux")]
                if let Kind::Chroot(spec) = e.kind {
                    if super::chroot::built(spec).is_none() {
                        super::chroot::build(spec)?;
                    }
                }
                std::fs::create_dir_all(&dir)?;
                let mut argv: Vec<OsString> = vec!["matrix".into()];
                argv.extend(common.iter().map(OsString::from));
                argv.extend(["--out".into(), dir.clone().into_os_string()]);
                if let Some(p) = python {
                    argv.extend(["--python".into(), p.into_os_string()]);
                }
                let shared_here: Vec<PathBuf> = match e.kind {
                    #[cfg(target_os = "linux")]
                    Kind::Restricted => vec![dir.clone()],
                    _ => shared.clone(),
                };
                match spawn_on(e, &argv, &cwd, &shared_here) {
                    Ok(0) => state = "ran".into(),
                    Ok(130) => {
                        state = "interrupted".into();
                        code = 130;
                    }
                    Ok(c) => state = format!("its matrix ended with exit code {c}"),
                    Err(err) => state = format!("not run: {err:#}"),
                }
                if dir.join("run.json").exists() {
                    dirs.push(dir);
                }
            }
        }
        eprintln!("== platform {}: {state}", e.name);
        let _ = writeln!(
            summary,
            "| {} | {} | {} |",
            e.name,
            state.replace('\n', " ").replace('|', "/"),
            how_built(e).replace('|', "/")
        );
        if code == 130 {
            break;
        }
    }
    crate::results::write_atomic(&out.join("platforms.md"), summary.as_bytes())?;
    if dirs.is_empty() {
        bail!("no platform ran (see {}/platforms.md)", out.display());
    }
    let written = crate::merge::merge(&dirs, &out)?;
    print!("{summary}");
    for p in written
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md" || x == "html"))
    {
        println!("wrote {}", p.display());
    }
    println!("wrote {}", out.join("platforms.md").display());
    Ok(code)
}

/// `profbench platform …`.
pub fn command(cmd: &PlatformCommand) -> Result<i32> {
    match cmd {
        PlatformCommand::List => {
            println!("platforms (`matrix --platforms NAME,…` or `all`):");
            for l in super::describe_all(&super::discover()) {
                println!("{l}");
            }
            Ok(0)
        }
        PlatformCommand::Describe => {
            let python = crate::pyenv::find_base_python(None)?;
            let version = crate::pyenv::python_version(&python)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::platform::describe(version))?
            );
            Ok(0)
        }
        PlatformCommand::Build { name } => {
            #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
            let e = one(name)?;
            #[cfg(target_os = "linux")]
            if let Kind::Chroot(spec) = e.kind {
                super::chroot::build(spec)?;
            }
            // Its pinned environment, built the way the matrix will build it there.
            let e = one(name)?;
            let mut argv: Vec<OsString> = vec!["doctor".into()];
            if let Some(p) = python_for(&e).map_err(anyhow::Error::msg)? {
                argv.extend(["--python".into(), p.into_os_string()]);
            }
            let cwd = std::env::current_dir()?;
            spawn_on(&e, &argv, &cwd, &[])
        }
        PlatformCommand::Remove { name } => {
            let e = one(name)?;
            match e.kind {
                #[cfg(target_os = "linux")]
                Kind::Chroot(spec) => {
                    super::chroot::remove(spec)?;
                    println!("removed {name}");
                    Ok(0)
                }
                _ => bail!("{name} is not a built tree: nothing to remove (its environment lives in the profbench cache)"),
            }
        }
        PlatformCommand::Run { name, command } => {
            let e = one(name)?;
            let argv: Vec<OsString> = command.iter().map(OsString::from).collect();
            run_command(&e, &argv)
        }
    }
}

fn one(name: &str) -> Result<Entry> {
    let mut e = super::select(&[name.to_string()])?;
    Ok(e.remove(0))
}

/// `platform run NAME -- CMD`: CMD on that platform, in the current folder.
fn run_command(e: &Entry, argv: &[OsString]) -> Result<i32> {
    if argv.is_empty() {
        bail!(
            "nothing to run: profbench platform run {} -- COMMAND",
            e.name
        );
    }
    if let Some(why) = &e.unavailable {
        bail!("{}: cannot be had here: {why}", e.name);
    }
    let cwd = std::env::current_dir()?;
    let status = match &e.kind {
        Kind::Host => std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status(),
        Kind::Interpreter(i) => {
            // Its interpreter's folder first on PATH: `python3` is that Python.
            let dir = i.path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let path = std::env::var_os("PATH").unwrap_or_default();
            let joined =
                std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))?;
            std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env("PATH", joined)
                .status()
        }
        #[cfg(target_os = "linux")]
        Kind::Chroot(spec) => {
            crate::commands::install_ctrlc();
            let vars = vec![(OsString::from(NAME_VAR), OsString::from(&e.name))];
            super::chroot::run(spec, &cwd, &[], argv, &vars).map_err(std::io::Error::other)
        }
        #[cfg(target_os = "linux")]
        Kind::Restricted => {
            let env = restricted_env();
            super::restricted::exec(argv, &env)?;
            unreachable!("exec returns only on failure")
        }
    }
    .with_context(|| format!("running {}", argv[0].to_string_lossy()))?;
    let _ = cwd;
    Ok(status.code().unwrap_or(1))
}

/// The environment of a restricted run: nothing of the host's (no PATH, PIP_*, PYTHON*)
/// but the CA bundle, proxies and the platform's name; its own cache and home.
#[cfg(target_os = "linux")]
fn restricted_env() -> Vec<(OsString, OsString)> {
    let cache = super::restricted_cache();
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), cache.clone().into()),
        ("PROFBENCH_CACHE".into(), cache.into()),
        ("LANG".into(), "C.UTF-8".into()),
        // nobody cannot write to the checkout anyway; say so rather than let Python try.
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
    ];
    const KEEP: &[&str] = &[
        NAME_VAR,
        BUILT_VAR,
        "TERM",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
    ];
    for k in KEEP {
        if let Some(v) = std::env::var_os(k) {
            env.push(((*k).into(), v));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_sets_its_own_out_python_and_platforms() {
        let parent: Vec<String> = [
            "--platforms",
            "all",
            "--workloads",
            "single,line",
            "--out=results/x",
            "--python",
            "/usr/bin/python3",
            "--runs",
            "2",
            "--out",
            "y",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            child_args(&parent),
            ["--workloads", "single,line", "--runs", "2"]
        );
    }
}
