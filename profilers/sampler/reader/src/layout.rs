//! Where things are in this CPython's structures: byte offsets the agent found by probing
//! live objects (never a table of versions), handed over as words in this order.

/// Words in the layout the agent passes (`Layout::from_words`).
pub const LAYOUT_WORDS: usize = 21;
/// `cframe_frame` when the thread state points at the current frame directly (3.13).
pub const DIRECT: usize = usize::MAX;
/// The most bytes of one frame the reader reads (its fields sit in the first 64 bytes).
pub const MAX_FRAME_SPAN: usize = 256;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// In a thread state: the pointer to the current frame, or to the `_PyCFrame` holding it.
    pub tstate_frame: usize,
    /// In the `_PyCFrame`: the current frame; `DIRECT` when tstate points at it directly.
    pub cframe_frame: usize,
    pub frame_code: usize,
    pub frame_previous: usize,
    pub frame_instr: usize,
    pub frame_globals: usize,
    /// Where the bytecode starts inside a code object (`_PyCode_CODE`).
    pub code_bytecode: usize,
    pub code_name: usize,
    pub code_file: usize,
    pub code_type: u64,
    /// A code object whose frames Python itself hides (3.12's interpreter trampoline), or 0.
    pub hidden_code: u64,
    /// Address of the interpreter's first thread state pointer (`interp->threads.head`).
    pub threads_head: u64,
    /// In a thread state: the next one, and the kernel tid (`native_thread_id`).
    pub tstate_next: usize,
    pub tstate_tid: usize,
    /// In a code object: co_qualname, and co_firstlineno (a C int).
    pub code_qualname: usize,
    pub code_firstlineno: usize,
    /// Where a compact str keeps its characters: ASCII ones, and the others.
    pub str_ascii_data: usize,
    pub str_compact_data: usize,
    /// In a thread state: the data-stack chunk holding the thread's frames, and the first
    /// free word in it, and its end (`datastack_chunk`, `datastack_top`, `datastack_limit`).
    pub tstate_chunk: usize,
    pub tstate_top: usize,
    pub tstate_limit: usize,
}

impl Layout {
    pub fn from_words(w: &[u64]) -> Option<Layout> {
        if w.len() != LAYOUT_WORDS {
            return None;
        }
        let l = Layout {
            tstate_frame: w[0] as usize,
            cframe_frame: w[1] as usize,
            frame_code: w[2] as usize,
            frame_previous: w[3] as usize,
            frame_instr: w[4] as usize,
            frame_globals: w[5] as usize,
            code_bytecode: w[6] as usize,
            code_name: w[7] as usize,
            code_file: w[8] as usize,
            code_type: w[9],
            hidden_code: w[10],
            threads_head: w[11],
            tstate_next: w[12] as usize,
            tstate_tid: w[13] as usize,
            code_qualname: w[14] as usize,
            code_firstlineno: w[15] as usize,
            str_ascii_data: w[16] as usize,
            str_compact_data: w[17] as usize,
            tstate_chunk: w[18] as usize,
            tstate_top: w[19] as usize,
            tstate_limit: w[20] as usize,
        };
        // Offsets into small structures: anything larger is a probe gone wrong.
        let offsets = [
            l.tstate_frame,
            l.frame_code,
            l.frame_previous,
            l.frame_instr,
            l.frame_globals,
            l.code_bytecode,
            l.tstate_next,
            l.tstate_tid,
            l.tstate_chunk,
            l.tstate_top,
            l.tstate_limit,
        ];
        let fits = offsets.iter().all(|&o| o < 1 << 16)
            && l.frame_span() <= MAX_FRAME_SPAN
            && (l.cframe_frame == DIRECT || l.cframe_frame < 1 << 16);
        fits.then_some(l)
    }

    /// Bytes of a frame the reader needs (up to its last field read).
    pub fn frame_span(&self) -> usize {
        [
            self.frame_code,
            self.frame_previous,
            self.frame_instr,
            self.frame_globals,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_words_are_checked() {
        assert!(Layout::from_words(&[0; 3]).is_none());
        let mut w = [8u64; LAYOUT_WORDS];
        assert!(Layout::from_words(&w).is_some());
        w[18] = 1 << 40;
        assert!(Layout::from_words(&w).is_none());
    }
}
