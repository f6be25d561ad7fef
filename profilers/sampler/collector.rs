//! The collector: accepts one Unix-socket connection per Python process, decides which
//! processes are sampled, ingests their records and polls their RSS until the target is done.

use crate::ingest::ProcessData;
use crate::procfs;
use crate::protocol::{Hello, PROTO};
use crate::ray;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::recording::{Config, Recording, RssPoint, Skipped};

const RAY_SERVICE: &str = "a Ray service process, not user code";
const RAY_SERVICE_CHILD: &str = "a child of a Ray service process, not user code";

/// Whether a process that said hello is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Sample,
    Skip(&'static str),
}

/// The rule: Ray's own service processes are never sampled (they are not the user's code and
/// would only add overhead), nor their children (the dashboard runs its modules as
/// `multiprocessing` children: ten processes of Ray 2.60, 60% of all samples of the `ray`
/// workload before this rule); without `--subprocesses` only top-level Pythons are (no sampled
/// Python among their ancestors), so a launcher's interpreter probe and the real interpreter
/// are both seen, but the target's children are not.
pub fn admit(
    hello: &Hello,
    ancestors: &[u32],
    sampled: &[u32],
    services: &[u32],
    subprocesses: bool,
) -> Admission {
    if hello.proto != PROTO {
        return Admission::Skip("agent protocol version differs from the collector's");
    }
    if ray::is_ray_service(&hello.argv) {
        return Admission::Skip(RAY_SERVICE);
    }
    if ancestors.iter().any(|a| services.contains(a)) {
        return Admission::Skip(RAY_SERVICE_CHILD);
    }
    if !subprocesses && ancestors.iter().any(|a| sampled.contains(a)) {
        return Admission::Skip("a subprocess (use --subprocesses to sample it)");
    }
    Admission::Sample
}

#[derive(Default)]
struct Shared {
    finishing: AtomicBool,
    sampled: Mutex<Vec<u32>>,
    live: Mutex<HashSet<u32>>,
    results: Mutex<Vec<(u64, ProcessData)>>,
    skipped: Mutex<Vec<Skipped>>,
    refused: Mutex<u64>,
    conns: Mutex<Vec<JoinHandle<()>>>,
}

pub struct Collector {
    shared: Arc<Shared>,
    config: Config,
    socket: PathBuf,
    start_ns: u64,
    accept: Option<JoinHandle<()>>,
    rss: Option<JoinHandle<Vec<RssPoint>>>,
}

impl Collector {
    /// Starts listening on `socket` (inside the private folder) and polling RSS.
    pub fn start(socket: &Path, config: Config) -> std::io::Result<Self> {
        let listener = UnixListener::bind(socket)?;
        let shared = Arc::new(Shared::default());
        let start_ns = procfs::mono_ns();
        let accept = {
            let shared = shared.clone();
            let config = config.clone();
            std::thread::Builder::new()
                .name("profbench-accept".into())
                .spawn(move || accept_loop(listener, shared, config))?
        };
        let rss = {
            let shared = shared.clone();
            // RSS at the sampling rate, at most 100 Hz: /proc reads are cheap but not free.
            let every = Duration::from_secs_f64((1.0 / config.rate).max(0.01));
            std::thread::Builder::new()
                .name("profbench-rss".into())
                .spawn(move || rss_loop(shared, every))?
        };
        Ok(Collector {
            shared,
            config,
            socket: socket.to_path_buf(),
            start_ns,
            accept: Some(accept),
            rss: Some(rss),
        })
    }

    /// After the target exited: waits up to `grace` for the processes still connected (the
    /// target's children, Ray workers) to send their last records, then stops and returns.
    pub fn finish(mut self, grace: Duration) -> Recording {
        let end_ns = procfs::mono_ns();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && !self.shared.live.lock().unwrap().is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.shared.finishing.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = UnixStream::connect(&self.socket);
        if let Some(h) = &self.rss {
            h.thread().unpark();
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let conns: Vec<_> = std::mem::take(&mut *self.shared.conns.lock().unwrap());
        for h in conns {
            let _ = h.join();
        }
        let rss = self
            .rss
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut results = std::mem::take(&mut *self.shared.results.lock().unwrap());
        results.sort_by_key(|(order, _)| *order);
        Recording {
            start_ns: self.start_ns,
            end_ns,
            rate: self.config.rate,
            processes: results.into_iter().map(|(_, p)| p).collect(),
            skipped: std::mem::take(&mut *self.shared.skipped.lock().unwrap()),
            rss,
            refused: *self.shared.refused.lock().unwrap(),
        }
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>, config: Config) {
    let mut order = 0u64;
    for stream in listener.incoming() {
        if shared.finishing.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        order += 1;
        let (shared2, config2) = (shared.clone(), config.clone());
        let handle = std::thread::Builder::new()
            .name("profbench-conn".into())
            .spawn(move || serve(stream, order, shared2, config2));
        if let Ok(h) = handle {
            shared.conns.lock().unwrap().push(h);
        }
    }
}

/// Reads lines until EOF or until the collector finishes, tolerating read timeouts mid-line.
struct LineReader {
    reader: BufReader<UnixStream>,
    buf: Vec<u8>,
}

enum Read {
    Line,
    Idle,
    Closed,
}

impl LineReader {
    fn next(&mut self) -> Read {
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => Read::Closed,
            Ok(_) if self.buf.ends_with(b"\n") => Read::Line,
            Ok(_) => Read::Closed, // EOF in the middle of a line: the process died
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                Read::Idle
            }
            Err(_) => Read::Closed,
        }
    }
}

fn serve(stream: UnixStream, order: u64, shared: Arc<Shared>, config: Config) {
    if shared.finishing.load(Ordering::SeqCst) {
        return;
    }
    // The folder is 0700 already; checking the peer's uid as well costs nothing.
    if let Some((_, uid)) = procfs::peer(&stream) {
        if uid != procfs::euid() {
            *shared.refused.lock().unwrap() += 1;
            return;
        }
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut lines = LineReader {
        reader: BufReader::with_capacity(1 << 16, stream),
        buf: Vec::with_capacity(4096),
    };
    let interval_ns = (1e9 / config.rate) as u64;
    let mut data = ProcessData::new(interval_ns);

    // Hello first, within 5 s.
    let hello_deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match lines.next() {
            Read::Line => break,
            Read::Idle
                if Instant::now() < hello_deadline && !shared.finishing.load(Ordering::SeqCst) =>
            {
                continue
            }
            _ => {
                *shared.refused.lock().unwrap() += 1;
                return;
            }
        }
    }
    data.ingest_line(&String::from_utf8_lossy(&lines.buf));
    lines.buf.clear();
    let Some(hello) = data.hello.clone() else {
        *shared.refused.lock().unwrap() += 1;
        return;
    };
    let pid = hello.pid;
    let admission = {
        let ancestors = procfs::ancestors(pid);
        let services: Vec<u32> = shared
            .skipped
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.reason == RAY_SERVICE || s.reason == RAY_SERVICE_CHILD)
            .map(|s| s.hello.pid)
            .collect();
        let sampled = shared.sampled.lock().unwrap();
        admit(&hello, &ancestors, &sampled, &services, config.subprocesses)
    };
    if let Admission::Skip(reason) = admission {
        let _ = writer.write_all(b"off\n");
        shared
            .skipped
            .lock()
            .unwrap()
            .push(Skipped { hello, reason });
        return;
    }
    shared.sampled.lock().unwrap().push(pid);
    shared.live.lock().unwrap().insert(pid);
    if writer
        .write_all(format!("ok\t{}\t{}\n", config.rate, config.stop_at_ns).as_bytes())
        .is_err()
    {
        shared.live.lock().unwrap().remove(&pid);
        return;
    }
    loop {
        match lines.next() {
            Read::Line => {
                data.ingest_line(&String::from_utf8_lossy(&lines.buf));
                lines.buf.clear();
            }
            Read::Idle => {
                if shared.finishing.load(Ordering::SeqCst) {
                    break;
                }
            }
            Read::Closed => break,
        }
    }
    shared.live.lock().unwrap().remove(&pid);
    shared.results.lock().unwrap().push((order, data));
}

fn rss_loop(shared: Arc<Shared>, every: Duration) -> Vec<RssPoint> {
    let mut out = Vec::new();
    // Open /proc files once per process and re-read them with pread: opening is the
    // expensive part (tens of µs in sandboxes), the read itself costs about a microsecond.
    let mut files: HashMap<u32, Option<procfs::RssReader>> = HashMap::new();
    while !shared.finishing.load(Ordering::SeqCst) {
        let pids: Vec<u32> = shared.live.lock().unwrap().iter().copied().collect();
        files.retain(|pid, _| pids.contains(pid));
        for pid in pids {
            let reader = files
                .entry(pid)
                .or_insert_with(|| procfs::RssReader::open(pid));
            if let Some((rss, hwm)) = reader.as_mut().and_then(procfs::RssReader::read) {
                out.push(RssPoint {
                    pid,
                    t_ns: procfs::mono_ns(),
                    rss,
                    hwm,
                });
            }
        }
        std::thread::park_timeout(every);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(argv: &[&str]) -> Hello {
        Hello {
            proto: PROTO.into(),
            pid: 20,
            ppid: 10,
            mono_ns: 0,
            executable: "/usr/bin/python3".into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn children_are_sampled_only_with_subprocesses() {
        let h = hello(&["child.py"]);
        assert_eq!(admit(&h, &[10, 5], &[10], &[], true), Admission::Sample);
        assert!(matches!(
            admit(&h, &[10, 5], &[10], &[], false),
            Admission::Skip(_)
        ));
        // A top-level Python (e.g. the real interpreter after a launcher's probe) is sampled.
        assert_eq!(admit(&h, &[7, 5], &[10], &[], false), Admission::Sample);
    }

    #[test]
    fn ray_services_are_skipped_workers_are_not() {
        let svc = hello(&[
            "/venv/lib/python3.11/site-packages/ray/dashboard/dashboard.py",
            "--x",
        ]);
        assert!(matches!(
            admit(&svc, &[], &[], &[], true),
            Admission::Skip(_)
        ));
        let w =
            hello(&["/venv/lib/python3.11/site-packages/ray/_private/workers/default_worker.py"]);
        assert_eq!(admit(&w, &[], &[], &[], true), Admission::Sample);
        // The dashboard's modules run as multiprocessing children of the skipped dashboard
        // (pid 10); a user's multiprocessing child of a worker (pid 7) is sampled.
        let spawned = hello(&[
            "-c",
            "from multiprocessing.spawn import spawn_main; spawn_main()",
        ]);
        assert_eq!(
            admit(&spawned, &[10, 5], &[], &[10], true),
            Admission::Skip(RAY_SERVICE_CHILD)
        );
        assert_eq!(
            admit(&spawned, &[7, 5], &[7], &[10], true),
            Admission::Sample
        );
    }

    #[test]
    fn a_fake_agent_is_collected_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("c.sock");
        let c = Collector::start(
            &sock,
            Config {
                rate: 100.0,
                subprocesses: true,
                stop_at_ns: 0,
            },
        )
        .unwrap();
        let mut s = UnixStream::connect(&sock).unwrap();
        let me = std::process::id();
        s.write_all(format!("H\t1\t{me}\t1\t5\tpython\tx.py\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        BufReader::new(s.try_clone().unwrap())
            .read_line(&mut reply)
            .unwrap();
        assert!(reply.starts_with("ok\t100"), "{reply}");
        s.write_all(b"C\t0\tx.py\tmain\t1\nS\t1\t100\t-\t0:2\nS\t1\t200\t-\t0:3\nZ\t2\t0\t2\n")
            .unwrap();
        drop(s);
        let rec = c.finish(Duration::from_secs(2));
        assert_eq!(rec.processes.len(), 1);
        assert_eq!(rec.processes[0].samples.len(), 2);
        assert_eq!(rec.processes[0].ticks, 2);
    }
}
