//! The mounts a chroot needs while something runs in it (/proc, /sys, /dev and the folders
//! shared with the host), held by a guard that unmounts them when dropped: after the run, on
//! an error, on a panic, and on a second Ctrl-C (through `unmount_all_active`).

use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Mount points of every live guard, for the exit path that skips destructors.
static ACTIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Mounts inside one tree; unmounted in reverse order when dropped.
#[derive(Debug)]
pub struct Mounts {
    points: Vec<PathBuf>,
}

/// A path inside the tree at the same place as `host_path` on the host.
pub fn inside(tree: &Path, host_path: &Path) -> PathBuf {
    tree.join(host_path.strip_prefix("/").unwrap_or(host_path))
}

impl Mounts {
    /// Mounts a fresh /proc, the host's /sys and /dev (recursively: /dev/pts, /dev/shm), and
    /// each of `shared` (host folders) at the same path inside `tree`.
    pub fn enter(tree: &Path, shared: &[PathBuf]) -> Result<Mounts> {
        let busy = mounted_under(tree);
        if !busy.is_empty() {
            anyhow::bail!(
                "{} already has {} mount(s) inside: another run is using it, or one was killed (fix: umount -R {} once nothing runs there)",
                tree.display(),
                busy.len(),
                tree.display()
            );
        }
        let mut m = Mounts { points: vec![] };
        m.add(
            None::<&Path>,
            &tree.join("proc"),
            Some("proc"),
            MsFlags::empty(),
        )?;
        m.add(
            Some(Path::new("/sys")),
            &tree.join("sys"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
        )?;
        m.add(
            Some(Path::new("/dev")),
            &tree.join("dev"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
        )?;
        for dir in shared {
            m.add(
                Some(dir.as_path()),
                &inside(tree, dir),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
            )?;
        }
        Ok(m)
    }

    fn add(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
    ) -> Result<()> {
        std::fs::create_dir_all(target)
            .with_context(|| format!("creating mount point {}", target.display()))?;
        let what = source
            .map(|s| s.display().to_string())
            .unwrap_or("proc".into());
        mount(
            source.or(Some(Path::new("proc"))),
            target,
            fstype,
            flags,
            None::<&str>,
        )
        .with_context(|| {
            format!(
                "mounting {what} on {} (fix: run as root, in a container with CAP_SYS_ADMIN)",
                target.display()
            )
        })?;
        // Recorded before anything else can fail, so the guard always undoes it.
        self.points.push(target.to_path_buf());
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(target.to_path_buf());
        Ok(())
    }

    pub fn points(&self) -> &[PathBuf] {
        &self.points
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for p in self.points.iter().rev() {
            unmount(p);
        }
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        active.retain(|p| !self.points.contains(p));
    }
}

/// Detaching unmount: succeeds even while a process still has a file open below.
fn unmount(p: &Path) {
    if let Err(e) = umount2(p, MntFlags::MNT_DETACH) {
        eprintln!("warning: could not unmount {}: {e}", p.display());
    }
}

/// Unmounts every guard's mounts: for exits that skip destructors (a second Ctrl-C).
pub fn unmount_all_active() {
    let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    for p in active.iter().rev() {
        unmount(p);
    }
    active.clear();
}

/// Mount points at or below `dir`, from /proc/self/mounts (octal escapes decoded).
pub fn mounted_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Unmounts whatever is mounted below `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let mut points = mounted_under(dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        // A detached parent takes its children with it: a child may already be gone.
        let _ = umount2(&p, MntFlags::MNT_DETACH);
    }
}

/// /proc/mounts writes a space as `\040`, a tab as `\011`, a backslash as `\134`.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape("/proc"), "/proc");
    }

    #[test]
    fn host_paths_map_into_the_tree() {
        assert_eq!(
            inside(Path::new("/t"), Path::new("/work/x")),
            PathBuf::from("/t/work/x")
        );
    }
}
