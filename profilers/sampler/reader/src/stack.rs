//! Reading one thread's frame chain, leaf first, as (code object, instruction offset) pairs.
//!
//! `copy_chain` (the default): the thread's leaf pointer and the live part of its data-stack
//! chunk, where CPython keeps the frames of running functions, come from ONE read, so the
//! chain is walked inside a copy taken at one instant; frames outside the chunk (a
//! generator's, an older chunk's, 3.12's C-stack trampoline) are read one by one. A chain
//! that does not hold together in the copy is torn: cut there, what was read is kept, and it
//! is counted. It is never read again until it looks stable (that would favour long calls).
//!
//! `walk_chain` (the older reader, kept to compare): one read per frame while the thread may
//! run on, so a chain can join frames from different instants.
//!
//! No allocation and no panic on any input: the signal handler calls `copy_chain`.

use crate::layout::{Layout, DIRECT, MAX_FRAME_SPAN};
use crate::memory::{word, Memory, Part};

/// Deeper chains are cut (a corrupt read must not loop).
pub const MAX_DEPTH: usize = 1024;
/// Words of output a full chain needs.
pub const OUT_WORDS: usize = 2 * MAX_DEPTH;
/// Bytes of the data stack copied at most (CPython's chunks are 16 KB unless a frame needs
/// more); frames below the copied part are read one by one.
pub const COPY_BYTES: usize = 64 << 10;

/// What reading a chain gave: `len` words of (code, instruction offset) pairs in the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    pub len: usize,
    /// The leaf frame's globals dict (the agent names a C callee from it).
    pub leaf_globals: u64,
    /// The chain did not hold together and was cut where it stopped.
    pub torn: bool,
}

/// The live data stack copied at one instant: bytes `[start, end)` are in `bytes`.
struct Copy<'a> {
    start: u64,
    end: u64,
    bytes: &'a [u8],
}

impl Copy<'_> {
    fn holds(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// Reads the chain of the thread whose state is at `tstate`: two reads, then one per frame
/// outside the copied data stack. None if the thread state itself cannot be read.
pub fn copy_chain<M: Memory>(
    mem: &M,
    l: &Layout,
    tstate: u64,
    scratch: &mut [u8],
    out: &mut [u64],
) -> Option<Chain> {
    let (mut holder, mut chunk, mut top, mut limit) = ([0u8; 8], [0u8; 8], [0u8; 8], [0u8; 8]);
    let ok = mem.read_parts(&mut [
        Part {
            addr: tstate.wrapping_add(l.tstate_frame as u64),
            buf: &mut holder,
        },
        Part {
            addr: tstate.wrapping_add(l.tstate_chunk as u64),
            buf: &mut chunk,
        },
        Part {
            addr: tstate.wrapping_add(l.tstate_top as u64),
            buf: &mut top,
        },
        Part {
            addr: tstate.wrapping_add(l.tstate_limit as u64),
            buf: &mut limit,
        },
    ]);
    if !ok {
        return None;
    }
    let (holder, chunk, top, limit) = (
        word(&holder, 0),
        word(&chunk, 0),
        word(&top, 0),
        word(&limit, 0),
    );
    // Where the leaf pointer is: in the thread state, or in the _PyCFrame it points at.
    let leaf_at = if l.cframe_frame == DIRECT {
        tstate.wrapping_add(l.tstate_frame as u64)
    } else if holder == 0 {
        return Some(Chain::default()); // no Python frame
    } else {
        holder.wrapping_add(l.cframe_frame as u64)
    };
    // The leaf pointer and the data stack up to `top` in one read: the same instant.
    let mut leaf = [0u8; 8];
    let valid =
        chunk != 0 && top > chunk && top <= limit && top.is_multiple_of(8) && top - chunk < 1 << 30;
    let start = if valid {
        top.saturating_sub(scratch.len() as u64 & !7).max(chunk)
    } else {
        top
    };
    let n = (top.saturating_sub(start)) as usize;
    let copied = valid
        && n > 0
        && n <= scratch.len()
        && mem.read_parts(&mut [
            Part {
                addr: leaf_at,
                buf: &mut leaf,
            },
            Part {
                addr: start,
                buf: &mut scratch[..n],
            },
        ]);
    let copy = if copied {
        Copy {
            start,
            end: top,
            bytes: &scratch[..n],
        }
    } else {
        // No data stack to copy: the leaf alone, every frame read on its own.
        if !mem.read(leaf_at, &mut leaf) {
            return None;
        }
        Copy {
            start: 0,
            end: 0,
            bytes: &[],
        }
    };
    let leaf = word(&leaf, 0);
    // A leaf in the chunk but above `top` was pushed after `top` was read: not in the copy.
    let beyond_top = valid && leaf >= top && leaf < limit;
    let mut chain = walk_copy(mem, l, leaf, &copy, out);
    if beyond_top {
        chain.torn = true;
    }
    Some(chain)
}

/// Walks from `leaf` inside the copy (frames outside it read one by one).
fn walk_copy<M: Memory>(mem: &M, l: &Layout, leaf: u64, copy: &Copy<'_>, out: &mut [u64]) -> Chain {
    let span = l.frame_span().min(MAX_FRAME_SPAN);
    let mut block = [0u8; MAX_FRAME_SPAN];
    let mut chain = Chain::default();
    // Frames in one chunk sit strictly below their callees.
    let mut lowest = u64::MAX;
    let mut f = leaf;
    let mut depth = 0;
    while f != 0 && depth < MAX_DEPTH {
        depth += 1;
        let frame: &[u8] = if copy.holds(f) {
            let at = (f - copy.start) as usize;
            if !f.is_multiple_of(8) || f >= lowest || at + span > copy.bytes.len() {
                chain.torn = true;
                break;
            }
            lowest = f;
            &copy.bytes[at..at + span]
        } else {
            if !mem.read(f, &mut block[..span]) {
                chain.torn = true;
                break;
            }
            &block[..span]
        };
        keep(l, frame, out, &mut chain);
        f = word(frame, l.frame_previous);
    }
    chain
}

/// Appends a frame's (code, instruction offset) unless Python would not show it.
fn keep(l: &Layout, frame: &[u8], out: &mut [u64], chain: &mut Chain) {
    let code = word(frame, l.frame_code);
    if code == l.hidden_code {
        return;
    }
    let instr = word(frame, l.frame_instr);
    let lasti = instr.wrapping_sub(code.wrapping_add(l.code_bytecode as u64)) as i64;
    // A frame pushed but not started yet (Python hides it too).
    if lasti < 0 || chain.len + 2 > out.len() {
        return;
    }
    if chain.len == 0 {
        chain.leaf_globals = word(frame, l.frame_globals);
    }
    out[chain.len] = code;
    out[chain.len + 1] = lasti as u64;
    chain.len += 2;
}

/// The innermost frame a thread state points at (0: no Python frame), for `walk_chain`.
pub fn top_frame<M: Memory>(mem: &M, l: &Layout, tstate: u64) -> Option<u64> {
    let p = mem.word(tstate.wrapping_add(l.tstate_frame as u64))?;
    if l.cframe_frame == DIRECT || p == 0 {
        return Some(p);
    }
    mem.word(p.wrapping_add(l.cframe_frame as u64))
}

/// The older reader: one read per frame from `top`. None if a frame could not be read.
pub fn walk_chain<M: Memory>(mem: &M, l: &Layout, top: u64, out: &mut [u64]) -> Option<Chain> {
    let span = l.frame_span().min(MAX_FRAME_SPAN);
    let mut block = [0u8; MAX_FRAME_SPAN];
    let mut chain = Chain::default();
    let mut f = top;
    let mut depth = 0;
    while f != 0 && depth < MAX_DEPTH {
        depth += 1;
        if !mem.read(f, &mut block[..span]) {
            return None;
        }
        keep(l, &block[..span], out, &mut chain);
        f = word(&block, l.frame_previous);
    }
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::fake::Image;

    // A 3.11-like layout: tstate -> cframe -> current frame; frames of 0x48 bytes.
    const TSTATE: u64 = 0x1000;
    const CFRAME: u64 = 0x2000;
    const CHUNK: u64 = 0x10000;
    const LIMIT: u64 = CHUNK + 0x4000;
    const BYTECODE: u64 = 0xc0;
    const MAIN: u64 = 0x50000;
    const INTERSECT: u64 = 0x51000;
    const DOT: u64 = 0x52000;
    const RAY_INIT: u64 = 0x53000;
    const GLOBALS: u64 = 0x7000;

    fn layout() -> Layout {
        Layout {
            tstate_frame: 0x38,
            cframe_frame: 8,
            frame_code: 32,
            frame_previous: 48,
            frame_instr: 56,
            frame_globals: 8,
            code_bytecode: BYTECODE as usize,
            tstate_chunk: 0xb0,
            tstate_top: 0xb8,
            tstate_limit: 0xc0,
            ..Layout::default()
        }
    }

    fn frame_at(k: u64) -> u64 {
        CHUNK + 0x18 + k * 0x48
    }

    /// Writes a frame `k` slots up the chunk running `code` at offset `lasti`.
    fn put_frame(img: &Image, k: u64, code: u64, lasti: u64) {
        let f = frame_at(k);
        for w in 0..9 {
            img.set(f + 8 * w, 0);
        }
        img.set(f + 8, GLOBALS);
        img.set(f + 32, code);
        img.set(f + 48, if k == 0 { 0 } else { frame_at(k - 1) });
        img.set(f + 56, code + BYTECODE + lasti);
    }

    /// main -> intersect -> dot, dot running.
    fn image() -> Image {
        let img = Image::default();
        for w in 0..0x800 {
            img.set(CHUNK + 8 * w, 0); // the chunk is mapped memory
        }
        img.set(TSTATE + 0x38, CFRAME);
        img.set(TSTATE + 0xb0, CHUNK);
        img.set(TSTATE + 0xb8, frame_at(3));
        img.set(TSTATE + 0xc0, LIMIT);
        img.set(CFRAME + 8, frame_at(2));
        put_frame(&img, 0, MAIN, 10);
        put_frame(&img, 1, INTERSECT, 20);
        put_frame(&img, 2, DOT, 30);
        img
    }

    fn codes(out: &[u64], chain: &Chain) -> Vec<u64> {
        out[..chain.len].chunks(2).map(|p| p[0]).collect()
    }

    #[test]
    fn copies_a_chain_leaf_first_in_two_reads() {
        let img = image();
        let (mut scratch, mut out) = (vec![0u8; COPY_BYTES], vec![0u64; OUT_WORDS]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert_eq!(codes(&out, &chain), [DOT, INTERSECT, MAIN]);
        assert_eq!(out[1], 30);
        assert_eq!((chain.leaf_globals, chain.torn), (GLOBALS, false));
        assert_eq!(img.reads.get(), 2);
    }

    /// After the walk has read dot's frame, dot and intersect return and main calls
    /// Ray.__init__ in intersect's slot: dot under Ray.__init__ never existed.
    fn returns_and_calls(img: &Image, after: usize) {
        let f = frame_at(1);
        img.change_after(after, f + 32, RAY_INIT);
        img.change_after(after, f + 56, RAY_INIT + BYTECODE + 4);
        img.change_after(after, CFRAME + 8, f);
        img.change_after(after, TSTATE + 0xb8, frame_at(2));
    }

    #[test]
    fn the_frame_by_frame_walk_joins_instants_and_the_copy_does_not() {
        let img = image();
        returns_and_calls(&img, 3); // reads: tstate, cframe, dot's frame, then the change
        let l = layout();
        let mut out = vec![0u64; OUT_WORDS];
        let top = top_frame(&img, &l, TSTATE).unwrap();
        let walked = walk_chain(&img, &l, top, &mut out).unwrap();
        assert_eq!(
            codes(&out, &walked),
            [DOT, RAY_INIT, MAIN],
            "the old walk's joined chain"
        );

        for after in 1..4 {
            let img = image();
            returns_and_calls(&img, after);
            let mut scratch = vec![0u8; COPY_BYTES];
            let chain = copy_chain(&img, &l, TSTATE, &mut scratch, &mut out).unwrap();
            let got = codes(&out, &chain);
            assert!(
                got == [DOT, INTERSECT, MAIN] || got == [RAY_INIT, MAIN],
                "after read {after}: a chain that existed, got {got:x?}"
            );
        }
    }

    #[test]
    fn a_frame_pushed_after_top_was_read_is_torn_not_trusted() {
        let img = image();
        // Between the two reads dot calls a fourth function: the leaf is above the old top.
        put_frame(&img, 3, MAIN, 2);
        img.change_after(1, CFRAME + 8, frame_at(3));
        let (mut scratch, mut out) = (vec![0u8; COPY_BYTES], vec![0u64; OUT_WORDS]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert!(chain.torn);
    }

    #[test]
    fn a_chain_going_up_the_stack_is_cut_and_counted() {
        let img = image();
        img.set(frame_at(1) + 48, frame_at(2)); // intersect's caller "above" it: garbage
        let (mut scratch, mut out) = (vec![0u8; COPY_BYTES], vec![0u64; OUT_WORDS]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert!(chain.torn);
        assert_eq!(
            codes(&out, &chain),
            [DOT, INTERSECT],
            "what was read before the cut is kept"
        );
    }

    #[test]
    fn frames_outside_the_chunk_are_read_one_by_one() {
        let img = image();
        // dot is a generator: its frame lives in the heap, its caller in the chunk.
        let gen = 0x90000;
        for w in 0..9 {
            img.set(gen + 8 * w, 0);
        }
        img.set(gen + 32, DOT);
        img.set(gen + 48, frame_at(1));
        img.set(gen + 56, DOT + BYTECODE + 6);
        img.set(CFRAME + 8, gen);
        img.set(TSTATE + 0xb8, frame_at(2));
        let (mut scratch, mut out) = (vec![0u8; COPY_BYTES], vec![0u64; OUT_WORDS]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert_eq!(codes(&out, &chain), [DOT, INTERSECT, MAIN]);
        assert!(!chain.torn);
        assert_eq!(img.reads.get(), 3);
    }

    #[test]
    fn a_small_copy_reads_the_rest_frame_by_frame() {
        let img = image();
        let (mut scratch, mut out) = (vec![0u8; 0x50], vec![0u64; OUT_WORDS]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert_eq!(codes(&out, &chain), [DOT, INTERSECT, MAIN]);
        assert!(!chain.torn);
    }

    #[test]
    fn no_python_frame_is_an_empty_chain_and_no_thread_state_is_none() {
        let img = image();
        img.set(TSTATE + 0x38, 0);
        let (mut scratch, mut out) = (vec![0u8; 64], vec![0u64; 8]);
        let chain = copy_chain(&img, &layout(), TSTATE, &mut scratch, &mut out).unwrap();
        assert_eq!(chain, Chain::default());
        assert!(copy_chain(&img, &layout(), 0x99000, &mut scratch, &mut out).is_none());
    }
}
