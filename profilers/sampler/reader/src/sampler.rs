//! The reader thread: a round every jittered interval reads every Python thread's chain
//! (the way `Mode` says), checks it against the code objects it names, and appends records
//! to a buffer the agent drains; code objects are announced once, with their names kept, and
//! so is each distinct stack: a sample names its stack by number, and the agent (Python,
//! under the GIL) turns a stack into text once instead of once a sample.

use crate::layout::Layout;
use crate::memory::{word, Memory, OwnProcess, Part};
use crate::signal::{Answer, Requests};
use crate::stack::{copy_chain, top_frame, walk_chain, Chain, COPY_BYTES, OUT_WORDS};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Records in the drained word stream (see the agent's `records`).
pub const SAMPLE: u64 = 1;
pub const NEW_CODE: u64 = 2;
pub const NEW_STACK: u64 = 3;
pub const FORGET_STACKS: u64 = 4;
/// Distinct stacks, and frame words in them, numbered before the numbering starts afresh (a
/// FORGET_STACKS record), so that neither side's table grows past a few MB in the target.
const MAX_STACKS: usize = 16384;
const MAX_STACK_WORDS: usize = 1 << 18;

/// How a thread's chain is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Frame by frame while the thread runs on, read again until its leaf stays put (the
    /// older reader, kept to measure the difference).
    Walk,
    /// Copied from outside in one read (`stack::copy_chain`).
    Copy,
    /// A running thread copies its own chain in a signal handler; the others as `Copy`.
    Signal,
}

impl Mode {
    pub fn from_word(w: u64) -> Option<Mode> {
        match w {
            0 => Some(Mode::Walk),
            1 => Some(Mode::Copy),
            2 => Some(Mode::Signal),
            _ => None,
        }
    }
}

/// What the reader knows of a code object it announced.
struct Known {
    /// Bytes of bytecode: an instruction offset past it is a torn read.
    nbytes: u64,
    /// Its names as first seen: the agent names it from these if the object is gone by the
    /// time it asks (a module's top-level code, once its import is over).
    names: Option<Names>,
}

pub struct Names {
    pub qualname: String,
    pub file: String,
    pub first_line: u32,
}

#[derive(Default)]
pub struct Stats {
    pub ticks: AtomicU64,
    pub missed: AtomicU64,
    pub samples: AtomicU64,
    /// Rounds dropped because the agent had not drained the buffer.
    pub dropped: AtomicU64,
    /// Chains that did not hold together (cut where they stopped).
    pub torn: AtomicU64,
    /// Running threads that copied their own chain, and those that did not answer in time.
    pub answered: AtomicU64,
    pub unanswered: AtomicU64,
    /// 1 once the program replaced our signal handler (running threads are then copied from
    /// outside).
    pub handler_lost: AtomicU64,
}

impl Stats {
    pub const WORDS: usize = 8;

    pub fn words(&self) -> [u64; Self::WORDS] {
        [
            &self.ticks,
            &self.missed,
            &self.samples,
            &self.dropped,
            &self.torn,
            &self.answered,
            &self.unanswered,
            &self.handler_lost,
        ]
        .map(|a| a.load(Ordering::Relaxed))
    }
}

pub struct State {
    pub mem: OwnProcess,
    pub layout: Layout,
    pub mode: Mode,
    pub interval_ns: u64,
    /// The agent's own thread state: never sampled.
    pub exclude: AtomicU64,
    pub out: Mutex<Vec<u64>>,
    pub out_cap: usize,
    pub stop: AtomicBool,
    known: Mutex<HashMap<u64, Known>>,
    pub stats: Stats,
    /// The signal handler's requests (Signal mode, once installed).
    requests: Option<&'static Requests>,
}

/// The running reader, or null. After a fork the child starts a new one and leaks the old
/// (its mutexes may be held by a thread that did not survive the fork).
static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());

pub fn state() -> Option<&'static State> {
    // SAFETY: a published State is never freed (see STATE).
    unsafe { STATE.load(Ordering::Acquire).as_ref() }
}

pub fn publish(s: State) -> &'static State {
    let s: &'static State = Box::leak(Box::new(s));
    STATE.store(s as *const State as *mut State, Ordering::Release);
    s
}

pub fn forget() {
    STATE.store(std::ptr::null_mut(), Ordering::Release);
}

pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time of a thread of this process by its kernel tid, None once it has ended.
/// (Linux's per-thread CPU clock id: glibc's pthread_getcpuclockid builds the same number,
/// but a pthread_t of an ended thread is unsafe to use; a tid is only a number.)
fn thread_cpu_ns(tid: u32) -> Option<u64> {
    let clock = (!(tid as i32) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer; a bad clock id gives EINVAL.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Words in the record starting with `head`: NEW_CODE code name file; NEW_STACK number
/// globals and two words per frame (code, instruction offset), leaf first; SAMPLE tid time
/// cpu stack-number; FORGET_STACKS alone.
pub fn record_len(head: u64) -> usize {
    match head & 0xff {
        NEW_CODE => 4,
        NEW_STACK => 3 + 2 * (head >> 8) as usize,
        FORGET_STACKS => 1,
        _ => 5,
    }
}

/// The records of a word stream that later ones build on: codes and stacks announced, stack
/// numbers forgotten (kept when its samples are dropped).
pub fn announcements(words: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let len = record_len(words[i]).min(words.len() - i);
        if words[i] & 0xff != SAMPLE {
            out.extend_from_slice(&words[i..i + len]);
        }
        i += len;
    }
    out
}

/// The stacks numbered so far: [leaf globals, frame words...] -> number.
#[derive(Default)]
struct Stacks {
    numbers: HashMap<Vec<u64>, u64>,
    next: u64,
    /// Frame words held in `numbers`.
    words: usize,
    /// The key being looked up, reused: a sample of a known stack allocates nothing.
    key: Vec<u64>,
}

impl Stacks {
    /// The number of a stack, announcing it into `words` if it is new.
    fn number(&mut self, globals: u64, frames: &[u64], words: &mut Vec<u64>) -> u64 {
        self.key.clear();
        self.key.push(globals);
        self.key.extend_from_slice(frames);
        if let Some(&n) = self.numbers.get(self.key.as_slice()) {
            return n;
        }
        let n = self.next;
        self.next += 1;
        words.extend_from_slice(&[NEW_STACK | ((frames.len() / 2) as u64) << 8, n, globals]);
        words.extend_from_slice(frames);
        self.words += frames.len();
        self.numbers.insert(self.key.clone(), n);
        n
    }

    /// Starts the numbering afresh once the table is full; true if it did.
    fn forget_if_full(&mut self, words: &mut Vec<u64>) -> bool {
        if self.numbers.len() < MAX_STACKS && self.words < MAX_STACK_WORDS {
            return false;
        }
        self.numbers.clear();
        self.words = 0;
        words.push(FORGET_STACKS);
        true
    }
}

/// What one thread looked like at its last sample: unchanged CPU time means unchanged stack.
struct Last {
    cpu: u64,
    /// Its stack's number, or None: no Python frame.
    stack: Option<u64>,
}

/// The reader thread's own working memory.
struct Work {
    last: HashMap<u32, Last>,
    stacks: Stacks,
    scratch: Vec<u8>,
    frames: Vec<u64>,
    /// /proc/self/task/<tid>/stat, kept open: is the thread on a CPU (state R)?
    stat_files: HashMap<u32, File>,
    /// Threads that did not answer: (requests unanswered in a row, rounds not to ask).
    silent: HashMap<u32, (u32, u32)>,
}

/// A thread that leaves this many requests in a row unanswered (it blocks the signal, say)
/// is not asked for `SILENT_ROUNDS` rounds: each request costs the round up to 200 µs.
const SILENT_AFTER: u32 = 3;
const SILENT_ROUNDS: u32 = 100;

impl State {
    pub fn new(layout: Layout, mode: Mode, interval_ns: u64, exclude: u64) -> State {
        let mem = OwnProcess::new();
        let requests = match mode {
            Mode::Signal => Requests::install(layout, mem.pid),
            _ => None,
        };
        State {
            mem,
            layout,
            mode,
            interval_ns,
            exclude: AtomicU64::new(exclude),
            out: Mutex::new(Vec::new()),
            // 16 MB of words: seconds of samples at 1000 Hz while the agent waits for the GIL.
            out_cap: 2 << 20,
            stop: AtomicBool::new(false),
            known: Mutex::new(HashMap::new()),
            stats: Stats::default(),
            requests,
        }
    }

    /// The real-time signal running threads are asked with.
    pub fn signal(&self) -> Option<i32> {
        self.requests.map(|r| r.signal)
    }

    /// Whether running threads are asked to copy their own chains.
    pub fn signalling(&self) -> bool {
        self.requests.is_some() && self.stats.handler_lost.load(Ordering::Relaxed) == 0
    }

    pub fn run(&self, seed: u64) {
        let mut rng = seed | 1;
        let mut work = Work {
            last: HashMap::new(),
            stacks: Stacks::default(),
            scratch: vec![0u8; COPY_BYTES],
            frames: vec![0u64; OUT_WORDS],
            stat_files: HashMap::new(),
            silent: HashMap::new(),
        };
        let interval = self.interval_ns.max(1);
        let mut next = mono_ns();
        while !self.stop.load(Ordering::Relaxed) {
            let now = mono_ns();
            if next > now {
                std::thread::sleep(Duration::from_nanos(next - now));
                if self.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            self.round(&mut work);
            self.stats.ticks.fetch_add(1, Ordering::Relaxed);
            // Jittered (0.5..1.5 × interval) as the agent's own loop, deadlines absolute.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let jitter = (rng >> 11) as f64 / (1u64 << 53) as f64;
            next += (interval as f64 * (0.5 + jitter)) as u64;
            let now = mono_ns();
            if now > next {
                self.stats
                    .missed
                    .fetch_add((now - next) / interval, Ordering::Relaxed);
                next = now + (interval as f64 * (0.5 + jitter)) as u64;
            }
        }
    }

    /// One round: every thread of the interpreter, appended to the output.
    fn round(&self, work: &mut Work) {
        if let Some(r) = self.requests {
            if self.signalling() && !r.still_ours() {
                self.stats.handler_lost.store(1, Ordering::Relaxed);
            }
        }
        let threads = self.threads();
        let mut words = Vec::new();
        if work.stacks.forget_if_full(&mut words) {
            work.last.clear(); // their stack numbers are void now
        }
        let mut alive = HashMap::new();
        // One time for the round, as the agent's own rounds: the collector tells rounds apart
        // by it (a thread's first sample stands for the time since the previous round).
        let now = mono_ns();
        for (tstate, tid) in threads {
            // A thread that has ended has no CPU clock: its thread state may be freed memory.
            let Some(cpu) = thread_cpu_ns(tid) else {
                continue;
            };
            let entry = match work.last.remove(&tid).filter(|p| p.cpu == cpu) {
                // Not a nanosecond on a CPU since the last sample: the stack cannot have moved.
                Some(prev) => Some(prev),
                None => self
                    .read_thread(work, tstate, tid, &mut words)
                    .map(|(g, kept)| Last {
                        cpu,
                        stack: (kept > 0)
                            .then(|| work.stacks.number(g, &work.frames[..kept], &mut words)),
                    }),
            };
            let Some(entry) = entry else {
                continue;
            };
            if let Some(stack) = entry.stack {
                words.extend_from_slice(&[SAMPLE, tid as u64, now, cpu, stack]);
                self.stats.samples.fetch_add(1, Ordering::Relaxed);
            }
            alive.insert(tid, entry);
        }
        work.last = alive;
        work.stat_files.retain(|tid, _| work.last.contains_key(tid));
        work.silent.retain(|tid, _| work.last.contains_key(tid));
        self.push(words);
    }

    /// A thread's chain checked against its code objects: its leaf globals, and how many
    /// words of `work.frames` ([code, lasti]..., leaf first) were kept.
    fn read_thread(
        &self,
        work: &mut Work,
        tstate: u64,
        tid: u32,
        words: &mut Vec<u64>,
    ) -> Option<(u64, usize)> {
        let chain = match self.mode {
            Mode::Walk => self.walk(tstate, &mut work.frames),
            Mode::Copy => copy_chain(
                &self.mem,
                &self.layout,
                tstate,
                &mut work.scratch,
                &mut work.frames,
            ),
            Mode::Signal => {
                let asked = match self.requests {
                    Some(r)
                        if self.signalling()
                            && may_ask(&mut work.silent, tid)
                            && running(&mut work.stat_files, tid) =>
                    {
                        match r.ask(tid, tstate, &mut work.frames) {
                            Answer::Copied(c) => {
                                self.stats.answered.fetch_add(1, Ordering::Relaxed);
                                work.silent.remove(&tid);
                                Some(c)
                            }
                            Answer::NoAnswer => {
                                self.stats.unanswered.fetch_add(1, Ordering::Relaxed);
                                let e = work.silent.entry(tid).or_insert((0, 0));
                                e.0 += 1;
                                if e.0 >= SILENT_AFTER {
                                    *e = (0, SILENT_ROUNDS);
                                }
                                None
                            }
                        }
                    }
                    _ => None,
                };
                match asked {
                    Some(c) => c,
                    None => copy_chain(
                        &self.mem,
                        &self.layout,
                        tstate,
                        &mut work.scratch,
                        &mut work.frames,
                    ),
                }
            }
        }?;
        let (kept, bad_code) = self.check_codes(&work.frames[..chain.len], words);
        if chain.torn || bad_code {
            self.stats.torn.fetch_add(1, Ordering::Relaxed);
        }
        Some((chain.leaf_globals, kept))
    }

    /// The older reader: if the leaf moved while we walked, walk again (twice at most), then
    /// keep the last reading.
    fn walk(&self, tstate: u64, out: &mut [u64]) -> Option<Chain> {
        let mut kept = None;
        for _ in 0..3 {
            let top = top_frame(&self.mem, &self.layout, tstate)?;
            if let Some(c) = walk_chain(&self.mem, &self.layout, top, out) {
                if top_frame(&self.mem, &self.layout, tstate) == Some(top) {
                    return Some(c);
                }
                kept = Some(c);
            }
        }
        kept
    }

    /// How many words of `frames` name live code objects at offsets inside their bytecode
    /// (new ones announced into `words`), and whether the chain was cut there.
    fn check_codes(&self, frames: &[u64], words: &mut Vec<u64>) -> (usize, bool) {
        for (k, pair) in frames.chunks_exact(2).enumerate() {
            let (code, lasti) = (pair[0], pair[1]);
            let nbytes = match self.known_size(code) {
                Some(n) => Some(n),
                None => self.fingerprint(code).map(|(name, file, n)| {
                    words.extend_from_slice(&[NEW_CODE, code, name, file]);
                    n
                }),
            };
            match nbytes {
                Some(n) if lasti < n => {}
                _ => return (2 * k, true),
            }
        }
        (frames.len() & !1, false)
    }

    fn known_size(&self, code: u64) -> Option<u64> {
        self.known.lock().ok()?.get(&code).map(|k| k.nbytes)
    }

    /// (co_name, co_filename, bytes of bytecode) of a code object, checking that it is one;
    /// its names are kept for `code_names`.
    fn fingerprint(&self, code: u64) -> Option<(u64, u64, u64)> {
        let l = &self.layout;
        let (mut head, mut name, mut file) = ([0u8; 16], [0u8; 8], [0u8; 8]);
        let ok = self.mem.read_parts(&mut [
            Part {
                addr: code + 8,
                buf: &mut head,
            },
            Part {
                addr: code + l.code_name as u64,
                buf: &mut name,
            },
            Part {
                addr: code + l.code_file as u64,
                buf: &mut file,
            },
        ]);
        // A code object is a PyVarObject: its size is its count of 2-byte code units.
        let (ty, units) = (word(&head, 0), word(&head, 8));
        if !ok || ty != l.code_type || units > 1 << 28 {
            return None;
        }
        let (name, file) = (word(&name, 0), word(&file, 0));
        let names = self.names(code, file);
        if let Ok(mut k) = self.known.lock() {
            if k.len() > 200_000 {
                k.clear(); // they will be announced again; the agent keeps its own table
            }
            k.insert(
                code,
                Known {
                    nbytes: 2 * units,
                    names,
                },
            );
        }
        Some((name, file, 2 * units))
    }

    fn names(&self, code: u64, file: u64) -> Option<Names> {
        let l = &self.layout;
        let (mut qualname, mut line) = ([0u8; 8], [0u8; 4]);
        let ok = self.mem.read_parts(&mut [
            Part {
                addr: code + l.code_qualname as u64,
                buf: &mut qualname,
            },
            Part {
                addr: code + l.code_firstlineno as u64,
                buf: &mut line,
            },
        ]);
        if !ok {
            return None;
        }
        Some(Names {
            qualname: self.read_str(word(&qualname, 0))?,
            file: self.read_str(file)?,
            first_line: u32::from_ne_bytes(line),
        })
    }

    /// A compact str object's text (code objects' names and files always are compact).
    /// Read without the GIL, the object may be half made or freed: a text holding a NUL
    /// (which `code_names` uses as its separator, and no name or path holds) is refused.
    fn read_str(&self, obj: u64) -> Option<String> {
        let l = &self.layout;
        let mut head = [0u8; 40];
        if !self.mem.read(obj, &mut head) {
            return None;
        }
        let len = word(&head, 16) as usize;
        let state = head[32];
        let (kind, compact, ascii) = ((state >> 2) & 7, state & 0x20 != 0, state & 0x40 != 0);
        if !compact || len > 4096 {
            return None;
        }
        if ascii {
            let mut text = vec![0u8; len];
            if len > 0 && !self.mem.read(obj + l.str_ascii_data as u64, &mut text) {
                return None;
            }
            return String::from_utf8(text).ok().filter(|t| !t.contains('\0'));
        }
        let width = match kind {
            1 | 2 | 4 => kind as usize,
            _ => return None,
        };
        let mut raw = vec![0u8; len * width];
        if len > 0 && !self.mem.read(obj + l.str_compact_data as u64, &mut raw) {
            return None;
        }
        raw.chunks(width)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..width].copy_from_slice(c);
                char::from_u32(u32::from_le_bytes(b)).filter(|&c| c != '\0')
            })
            .collect()
    }

    /// The names kept for a code object: `qualname NUL file NUL first line`.
    pub fn code_names(&self, code: u64) -> Option<String> {
        let k = self.known.lock().ok()?;
        let n = k.get(&code)?.names.as_ref()?;
        Some(format!("{}\0{}\0{}", n.qualname, n.file, n.first_line))
    }

    /// Forgets that a code object was announced: a new object at its address is announced.
    pub fn forget_code(&self, code: u64) {
        if let Ok(mut k) = self.known.lock() {
            k.remove(&code);
        }
    }

    /// Whether the object at `code` still is the code object announced (its type, a live
    /// reference count, the same name and file objects).
    pub fn still_code(&self, code: u64, name: u64, file: u64) -> bool {
        let l = &self.layout;
        let (mut head, mut n, mut f) = ([0u8; 16], [0u8; 8], [0u8; 8]);
        let ok = self.mem.read_parts(&mut [
            Part {
                addr: code,
                buf: &mut head,
            },
            Part {
                addr: code + l.code_name as u64,
                buf: &mut n,
            },
            Part {
                addr: code + l.code_file as u64,
                buf: &mut f,
            },
        ]);
        let refcnt = word(&head, 0);
        // Freed memory holds an allocator pointer (or 0) where the count was: not a count.
        ok && word(&head, 8) == l.code_type
            && word(&n, 0) == name
            && word(&f, 0) == file
            && refcnt != 0
            && refcnt < 1 << 32
    }

    /// The interpreter's threads: (thread state, kernel tid), from its linked list. A thread
    /// ending meanwhile may leave us a freed thread state: its tid then has no CPU clock (see
    /// `round`), and a garbage `next` ends the walk (unreadable) or is cut at 4096 steps.
    fn threads(&self) -> Vec<(u64, u32)> {
        let l = &self.layout;
        let exclude = self.exclude.load(Ordering::Relaxed);
        let mut out = Vec::new();
        let mut ts = self.mem.word(l.threads_head).unwrap_or(0);
        let (mut next, mut tid) = ([0u8; 8], [0u8; 8]);
        while ts != 0 && out.len() < 4096 {
            let ok = self.mem.read_parts(&mut [
                Part {
                    addr: ts + l.tstate_next as u64,
                    buf: &mut next,
                },
                Part {
                    addr: ts + l.tstate_tid as u64,
                    buf: &mut tid,
                },
            ]);
            if !ok {
                break;
            }
            let t = word(&tid, 0);
            if ts != exclude && t != 0 && t <= u32::MAX as u64 {
                out.push((ts, t as u32));
            }
            ts = word(&next, 0);
        }
        out
    }

    fn push(&self, words: Vec<u64>) {
        if words.is_empty() {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            if out.len() + words.len() > self.out_cap {
                // The agent has not drained for long (a C call holding the GIL for seconds):
                // samples are lost, counted, never queued without bound. Codes stay announced.
                out.extend_from_slice(&announcements(&words));
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            out.extend_from_slice(&words);
        }
    }

    /// Moves whole records, at most `cap` words, to `out`; how many words.
    pub fn drain(&self, out: &mut [u64]) -> usize {
        let Ok(mut buf) = self.out.lock() else {
            return 0;
        };
        let mut end = 0;
        while end < buf.len() {
            let len = record_len(buf[end]);
            if end + len > out.len() {
                break;
            }
            end += len;
        }
        let end = end.min(buf.len());
        out[..end].copy_from_slice(&buf[..end]);
        buf.drain(..end);
        end
    }
}

/// Whether thread `tid` may be asked this round (counts down a silent thread's pause).
fn may_ask(silent: &mut HashMap<u32, (u32, u32)>, tid: u32) -> bool {
    match silent.get_mut(&tid) {
        Some((_, pause)) if *pause > 0 => {
            *pause -= 1;
            false
        }
        _ => true,
    }
}

/// Whether thread `tid` is on a CPU or waiting for one (state R in its stat file).
fn running(files: &mut HashMap<u32, File>, tid: u32) -> bool {
    let file = match files.get(&tid) {
        Some(f) => f,
        None => match File::open(format!("/proc/self/task/{tid}/stat")) {
            Ok(f) => files.entry(tid).or_insert(f),
            Err(_) => return false,
        },
    };
    let mut buf = [0u8; 512];
    let Ok(n) = file.read_at(&mut buf, 0) else {
        return false;
    };
    // "tid (comm) S ...": the comm may hold spaces and parentheses, the last ')' ends it.
    let text = &buf[..n];
    text.iter()
        .rposition(|&b| b == b')')
        .and_then(|i| text.get(i + 2))
        == Some(&b'R')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_cut_whole_and_announcements_survive_a_drop() {
        let words = [
            NEW_CODE,
            7,
            8,
            9,
            NEW_STACK | 1 << 8,
            0,
            40,
            7,
            12,
            SAMPLE,
            1,
            2,
            3,
            0,
            FORGET_STACKS,
            NEW_CODE,
            1,
            2,
            3,
        ];
        assert_eq!(
            announcements(&words),
            [
                NEW_CODE,
                7,
                8,
                9,
                NEW_STACK | 1 << 8,
                0,
                40,
                7,
                12,
                FORGET_STACKS,
                NEW_CODE,
                1,
                2,
                3
            ]
        );
        assert_eq!(record_len(NEW_STACK | 3 << 8), 9);
        assert_eq!(record_len(SAMPLE), 5);
        assert_eq!(
            announcements(&[NEW_CODE, 1]),
            [NEW_CODE, 1],
            "a cut record never panics"
        );
    }

    #[test]
    fn a_stack_is_announced_once_and_numbered_afresh_when_the_table_is_full() {
        let mut stacks = Stacks::default();
        let mut words = Vec::new();
        let a = stacks.number(40, &[7, 12, 8, 30], &mut words);
        assert_eq!(words, [NEW_STACK | 2 << 8, a, 40, 7, 12, 8, 30]);
        words.clear();
        assert_eq!(stacks.number(40, &[7, 12, 8, 30], &mut words), a);
        let other_globals = stacks.number(41, &[7, 12, 8, 30], &mut words);
        assert_ne!(other_globals, a, "the leaf's globals are part of the stack");
        assert_eq!(words.len(), 7);
        assert!(!stacks.forget_if_full(&mut words));
        for k in 0..MAX_STACKS as u64 {
            stacks.number(k, &[1, 2], &mut Vec::new());
        }
        words.clear();
        assert!(stacks.forget_if_full(&mut words), "full by count");
        assert_eq!(words, [FORGET_STACKS]);
        let again = stacks.number(40, &[7, 12, 8, 30], &mut words);
        assert!(again > other_globals, "numbers are never reused");
        // A few very deep stacks fill it by size.
        assert!(!stacks.forget_if_full(&mut Vec::new()));
        let deep = vec![7u64; MAX_STACK_WORDS / 2];
        stacks.number(1, &deep, &mut Vec::new());
        stacks.number(2, &deep, &mut Vec::new());
        assert!(stacks.forget_if_full(&mut Vec::new()), "full by size");
    }

    /// A compact ASCII str object as CPython lays one out (length at 16, state at 32), its
    /// text at 40: the offsets a test layout gives.
    fn ascii_str(text: &[u8]) -> Vec<u64> {
        let mut bytes = vec![0u8; 40 + text.len() + 8];
        bytes[16..24].copy_from_slice(&(text.len() as u64).to_ne_bytes());
        bytes[32] = 0x20 | 0x40 | (1 << 2); // compact, ascii, 1-byte kind
        bytes[40..40 + text.len()].copy_from_slice(text);
        bytes
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_ne_bytes(w)
            })
            .collect()
    }

    #[test]
    fn a_name_holding_a_nul_is_refused() {
        let layout = Layout {
            str_ascii_data: 40,
            ..Layout::default()
        };
        let state = State::new(layout, Mode::Copy, 1_000_000, 0);
        let good = ascii_str(b"Vector.dot");
        let torn = ascii_str(b"Vec\0tor");
        assert_eq!(
            state.read_str(good.as_ptr() as u64).as_deref(),
            Some("Vector.dot")
        );
        assert_eq!(state.read_str(torn.as_ptr() as u64), None);
    }

    #[test]
    fn a_silent_thread_is_left_alone_for_a_while() {
        let mut silent = HashMap::from([(7, (0, 2))]);
        assert!(!may_ask(&mut silent, 7));
        assert!(!may_ask(&mut silent, 7));
        assert!(may_ask(&mut silent, 7));
        assert!(may_ask(&mut silent, 8));
    }

    #[test]
    fn this_thread_is_running() {
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        let mut files = HashMap::new();
        assert!(running(&mut files, tid));
        assert!(!running(&mut files, u32::MAX));
    }
}
