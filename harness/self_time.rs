//! Self-time accuracy without truth (METHOD.md, "Self time on real programs"): each run's
//! distribution of self time over functions (leaf frames for samplers, exclusive time for
//! tracers), and per cell its total-variation distance to a reference backend's runs of the
//! same program, with the reference's own run-to-run distance as the noise floor.
//! docs/real-programs.md says why the reference is py-spy in blocking mode at 1 kHz.

use crate::results::{CellRecord, RunKind, Status};
use profbench_profilers::{Frame, Profile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The backend whose runs every other cell of the same program is compared with.
pub const REFERENCE: &str = "py-spy-1000hz";
/// Functions below this share of a run's self time are pooled (kept records stay small).
const MIN_SHARE: f64 = 1e-4;
/// At most this many functions are kept per run.
const MAX_FUNCTIONS: usize = 400;
/// Flagged (invalid or failed) samples above this share of all samples get a warning.
pub const FLAGGED_WARN: f64 = 0.03;

/// One run's self time over functions, as shares of its total.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SelfTime {
    /// `leaf samples` (samplers) or `exclusive time` (tracers).
    pub source: String,
    /// `file:function` → share (0–1), largest first.
    pub shares: Vec<(String, f64)>,
    /// The pooled share of functions below `MIN_SHARE` (or beyond `MAX_FUNCTIONS`).
    pub other: f64,
    /// Seconds the distribution is made of.
    pub total_s: f64,
    /// Samples recorded (samplers), flagged ones included.
    #[serde(default)]
    pub samples: Option<u64>,
    /// Samples the profiler marked invalid (Austin's INVALID frames); left out of `shares`.
    #[serde(default)]
    pub invalid: Option<u64>,
    /// Samples the profiler says it failed to take (py-spy's errors, missed samples).
    #[serde(default)]
    pub missed: Option<u64>,
}

impl SelfTime {
    /// Invalid or failed samples over samples recorded, when the profiler says either.
    pub fn flagged_share(&self) -> Option<f64> {
        let flagged = self.invalid.unwrap_or(0).max(self.missed.unwrap_or(0));
        let samples = self.samples.filter(|&n| n > 0)?;
        (self.invalid.is_some() || self.missed.is_some()).then(|| flagged as f64 / samples as f64)
    }
}

/// `file:function` with the file's base name and the function's last name part: profilers
/// qualify names and paths differently (`Vector.dot` or `dot`, absolute or relative paths),
/// so this is the finest name every backend gives alike. Same-named functions of one file
/// (two classes' `__init__`) fall together, for every backend the same way.
pub fn function_key(frame: &Frame) -> String {
    let file = Path::new(&frame.file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = frame
        .function
        .rsplit(['.', ':'])
        .next()
        .unwrap_or(&frame.function);
    format!("{file}:{name}")
}

/// Code that is not Python source: C functions and built-ins as tracers and native-aware
/// samplers name them. Their self time is charged to the Python function that called them,
/// as a reader of Python frames (the reference) sees it.
fn is_native(frame: &Frame) -> bool {
    matches!(frame.file.as_str(), "~" | "<native>" | "")
        || frame.function.starts_with("<built-in")
        || frame.function.starts_with("<method ")
}

/// A frame the profiler itself marked invalid (Austin).
fn is_invalid(frame: &Frame) -> bool {
    frame.file.is_empty() && frame.function == "INVALID"
}

/// One run's self-time distribution, or None when the profile attributes no time.
pub fn distribution(profile: &Profile, is_sampler: bool) -> Option<SelfTime> {
    let use_samples = !profile.samples.is_empty() && (is_sampler || profile.functions.is_empty());
    let (seconds, kind, samples, invalid_seen) = if use_samples {
        let (seconds, invalid) = from_samples(profile);
        (
            seconds,
            "leaf samples",
            Some(profile.sample_count()),
            invalid,
        )
    } else {
        (from_calls(profile), "exclusive time", None, 0)
    };
    // A CPU clock counts no waiting: on a program that waits it differs from the wall-clock
    // reference by that share, and the row says so.
    let source = match profile.clock {
        profbench_profilers::Clock::Cpu => format!("{kind}, cpu clock"),
        _ => kind.to_string(),
    };
    let total: f64 = seconds.values().sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let mut shares: Vec<(String, f64)> = seconds
        .into_iter()
        .map(|(k, s)| (k, s / total))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let kept = shares
        .iter()
        .take(MAX_FUNCTIONS)
        .take_while(|(_, s)| *s >= MIN_SHARE)
        .count();
    let other: f64 = shares[kept..].iter().map(|(_, s)| s).sum();
    shares.truncate(kept);
    Some(SelfTime {
        source,
        shares,
        other,
        total_s: total,
        samples,
        invalid: profile
            .invalid_samples
            .or((invalid_seen > 0).then_some(invalid_seen))
            .filter(|_| use_samples),
        missed: profile.missed_samples.filter(|_| use_samples),
    })
}

/// Seconds per function of the deepest Python frame of each sample, and the count of samples
/// left out as invalid. Samples the profiler saw waiting count like the others: self time is
/// the profiler's clock, and in wall time (the reference's, py-spy with --idle, and a tracer's
/// tottime) a function waiting in `time.sleep` spends its caller's time.
fn from_samples(profile: &Profile) -> (HashMap<String, f64>, u64) {
    let mut seconds: HashMap<String, f64> = HashMap::new();
    let mut invalid = 0;
    let frame = |i: &u32| profile.frames.get(*i as usize);
    for s in &profile.samples {
        if s.stack.iter().filter_map(frame).any(is_invalid) {
            invalid += s.count;
            continue;
        }
        let leaf = s
            .stack
            .iter()
            .rev()
            .filter_map(frame)
            .find(|f| !is_native(f))
            .or_else(|| s.stack.last().and_then(frame));
        if let Some(f) = leaf {
            *seconds.entry(function_key(f)).or_default() += s.weight;
        }
    }
    (seconds, invalid)
}

/// Exclusive seconds per function; a C function's time goes to its Python callers where the
/// tracer says who called it (cProfile's callers table), else stays its own.
fn from_calls(profile: &Profile) -> HashMap<String, f64> {
    let mut seconds: HashMap<String, f64> = HashMap::new();
    let native = |i: u32| profile.frames.get(i as usize).is_some_and(is_native);
    let mut moved: HashMap<u32, f64> = HashMap::new();
    for e in &profile.callee_time {
        if native(e.callee) && !native(e.caller) && e.exclusive > 0.0 {
            let f = &profile.frames[e.caller as usize];
            *seconds.entry(function_key(f)).or_default() += e.exclusive;
            *moved.entry(e.callee).or_default() += e.exclusive;
        }
    }
    for stat in &profile.functions {
        let Some(f) = profile.frames.get(stat.frame as usize) else {
            continue;
        };
        let left = stat.exclusive - moved.get(&stat.frame).copied().unwrap_or(0.0);
        if left > 1e-12 {
            *seconds.entry(function_key(f)).or_default() += left;
        }
    }
    seconds
}

/// Total-variation distance between two runs' distributions, in percentage points: half the
/// sum of the share differences. The pooled small functions count as one bucket each side.
pub fn distance_pp(a: &SelfTime, b: &SelfTime) -> f64 {
    let bm: HashMap<&str, f64> = b.shares.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    let mut sum = 0.0;
    for (k, s) in &a.shares {
        sum += (s - bm.get(k.as_str()).copied().unwrap_or(0.0)).abs();
    }
    let am: HashMap<&str, f64> = a.shares.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    for (k, s) in &b.shares {
        if !am.contains_key(k.as_str()) {
            sum += s;
        }
    }
    sum += (a.other - b.other).abs();
    50.0 * sum
}

/// The mean of several runs' distributions (named shares only), largest first.
fn mean_shares(runs: &[&SelfTime]) -> Vec<(String, f64)> {
    let mut sum: BTreeMap<&str, f64> = BTreeMap::new();
    for r in runs {
        for (k, s) in &r.shares {
            *sum.entry(k.as_str()).or_default() += s / runs.len() as f64;
        }
    }
    let mut v: Vec<(String, f64)> = sum.into_iter().map(|(k, s)| (k.to_string(), s)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Several runs as one distribution: the mean of their shares and of their pooled buckets.
/// Sampling noise averages out over runs and a profiler's bias does not, so the distance
/// between two pooled distributions shows the bias that per-run distances bury in noise.
fn pooled(runs: &[&SelfTime]) -> Option<SelfTime> {
    let first = runs.first()?;
    Some(SelfTime {
        source: first.source.clone(),
        shares: mean_shares(runs),
        other: runs.iter().map(|r| r.other).sum::<f64>() / runs.len() as f64,
        total_s: runs.iter().map(|r| r.total_s).sum(),
        samples: None,
        invalid: None,
        missed: None,
    })
}

/// The distance between two pooled sets of runs.
fn pooled_distance_pp(a: &[&SelfTime], b: &[&SelfTime]) -> Option<f64> {
    Some(distance_pp(&pooled(a)?, &pooled(b)?))
}

/// The first half of a set's runs pooled against the second half, with the halves' sizes.
fn halves(runs: &[&SelfTime]) -> Option<(f64, usize, usize)> {
    let half = runs.len() / 2;
    (half > 0).then_some(())?;
    let d = pooled_distance_pp(&runs[..half], &runs[half..])?;
    Some((d, half, runs.len() - half))
}

/// The pooled distance two sets of runs would show from run-to-run noise alone, estimated
/// from each set's own halves: a halves distance of `n` runs split `a`/`b` stands for a
/// variance `1/a + 1/b` times a run's, the pooled set for `1/n`, so it is scaled by
/// `(1/n) / (1/a + 1/b)` and the two sets add in quadrature. Slightly above the exact value
/// (a sum of folded normals grows no faster than their root sum of squares): a distance
/// above it is not noise.
pub fn noise_between_pp(a: &[&SelfTime], b: &[&SelfTime]) -> Option<f64> {
    let part = |runs: &[&SelfTime]| {
        let (h, x, y) = halves(runs)?;
        let n = runs.len() as f64;
        Some(h * h * (1.0 / n) / (1.0 / x as f64 + 1.0 / y as f64))
    };
    Some((part(a)? + part(b)?).sqrt())
}

/// The row whose pooled runs lie closest to a cell's, among the other rows of the same
/// program with two runs or more.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Nearest {
    pub backend: String,
    pub pooled_pp: f64,
    /// `noise_between_pp` of the two rows.
    pub noise_pp: f64,
}

fn nearest(runs: &[&SelfTime], others: &[(&str, Vec<&SelfTime>)]) -> Option<Nearest> {
    others
        .iter()
        .filter_map(|(backend, theirs)| {
            Some(Nearest {
                backend: backend.to_string(),
                pooled_pp: pooled_distance_pp(runs, theirs)?,
                noise_pp: noise_between_pp(runs, theirs)?,
            })
        })
        .min_by(|a, b| a.pooled_pp.total_cmp(&b.pooled_pp))
}

/// One cell's self-time verdict, for the reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SelfTimeRow {
    pub workload: String,
    pub launcher: String,
    pub backend: String,
    pub platform_id: String,
    pub reference: String,
    /// Profiled runs with a self-time distribution.
    pub runs: usize,
    /// Median over (this cell's run, reference run) pairs of their distance; for the
    /// reference itself, over pairs of its distinct runs. None with `no_reference`.
    pub distance_pp: Option<f64>,
    pub distance_min_pp: Option<f64>,
    pub distance_max_pp: Option<f64>,
    /// The reference's own run-to-run distance (median over pairs of its runs).
    pub noise_floor_pp: Option<f64>,
    /// The floor for this cell's sample count: the distance a sampler that is right, taking
    /// its samples at random instants, would show with as few samples as this cell took
    /// (`floor_at_samples`). Above the floor when
    /// the cell has fewer samples per run than the reference (a pausing reference slows the
    /// program, so at the same rate it takes more). None for tracers and the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_floor_pp: Option<f64>,
    /// The distance between this cell's runs pooled and the reference's runs pooled: what is
    /// left when sampling noise has averaged out (`pooled`). None for the reference itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_pp: Option<f64>,
    /// The reference's first half of runs pooled against its second half: how far two pooled
    /// sets of the same reader lie apart here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_floor_pp: Option<f64>,
    /// The pooled distance to the reference that run-to-run noise alone would give, from both
    /// rows' own halves (`noise_between_pp`). None for the reference itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_noise_pp: Option<f64>,
    /// The closest other row of the program, pooled: where readers agree with each other and
    /// not with the reference, the reference's own row shows it (its nearest row lies far
    /// beyond the noise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<Nearest>,
    /// Why there is no distance: the reference could not run, or ran fewer than two runs.
    pub no_reference: Option<String>,
    /// The cell's five largest functions (mean share over its runs) beside the reference's
    /// share of the same function.
    pub top: Vec<TopFunction>,
    /// Flagged (invalid or failed) samples over samples recorded, all runs together.
    pub flagged_share: Option<f64>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopFunction {
    pub function: String,
    pub share: f64,
    pub reference_share: Option<f64>,
}

/// The median of finite values (both callers pass medians and distances, always finite).
fn median(v: Vec<f64>) -> Option<f64> {
    crate::stats::Sample::new(v).map(|s| s.median())
}

fn main_self_times(c: &CellRecord) -> Vec<&SelfTime> {
    c.runs
        .iter()
        .filter(|r| r.kind == RunKind::Profiled && r.is_main())
        .filter_map(|r| r.self_time.as_ref())
        .collect()
}

/// Pairwise distances between distinct runs of one set.
fn within(runs: &[&SelfTime]) -> Vec<f64> {
    let mut d = Vec::new();
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            d.push(distance_pp(runs[i], runs[j]));
        }
    }
    d
}

/// erf, Abramowitz and Stegun 7.1.26 (error below 1.5e-7): enough for an expected distance.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

/// E|X| for X ~ N(mu, sigma²) (the folded normal's mean).
fn mean_abs(mu: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        return mu.abs();
    }
    sigma * (2.0 / std::f64::consts::PI).sqrt() * (-mu * mu / (2.0 * sigma * sigma)).exp()
        + mu * erf(mu / (sigma * std::f64::consts::SQRT_2))
}

/// The expected distance between reference run `b` and a run that samples the program as
/// reference run `a` saw it, but with `n` samples instead of `a`'s: each share's difference
/// keeps what `a` and `b` differ by, plus the sampling noise of taking fewer samples than
/// `a` did (binomial, p(1 − p)(1/n − 1/m)). Equal to their distance when `n` ≥ `a`'s.
pub fn distance_at_samples_pp(a: &SelfTime, b: &SelfTime, n: u64) -> Option<f64> {
    let m = a.samples.filter(|&m| m > 0)? as f64;
    let extra = (1.0 / n.max(1) as f64 - 1.0 / m).max(0.0);
    let bm: HashMap<&str, f64> = b.shares.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    let am: HashMap<&str, f64> = a.shares.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    let term = |p: f64, q: f64| mean_abs(p - q, (p * (1.0 - p) * extra).sqrt());
    let mut sum: f64 = a
        .shares
        .iter()
        .map(|(k, p)| term(*p, bm.get(k.as_str()).copied().unwrap_or(0.0)))
        .sum();
    sum += b
        .shares
        .iter()
        .filter(|(k, _)| !am.contains_key(k.as_str()))
        .map(|(_, q)| q)
        .sum::<f64>();
    sum += term(a.other, b.other);
    Some(50.0 * sum)
}

/// The noise floor at `n` samples per run: median over ordered pairs of distinct reference
/// runs of `distance_at_samples_pp`.
fn floor_at_samples(ref_runs: &[&SelfTime], n: u64) -> Option<f64> {
    let mut d = Vec::new();
    for (i, a) in ref_runs.iter().enumerate() {
        for (j, b) in ref_runs.iter().enumerate() {
            if i != j {
                d.extend(distance_at_samples_pp(a, b, n));
            }
        }
    }
    median(d)
}

/// Whether two cells profiled the same program: same platform, launcher and workload.
fn same_program(a: &CellRecord, b: &CellRecord) -> bool {
    a.key.workload == b.key.workload
        && a.key.launcher == b.key.launcher
        && a.platform_id == b.platform_id
}

/// Every profiled cell with self-time data, compared with the reference cell of the same
/// (platform, launcher, workload).
pub fn rows(cells: &[CellRecord]) -> Vec<SelfTimeRow> {
    let mut out = Vec::new();
    for c in crate::report::table_order(cells) {
        if c.key.backend == "none" {
            continue;
        }
        let runs = main_self_times(c);
        if runs.is_empty() {
            continue;
        }
        let others: Vec<(&str, Vec<&SelfTime>)> = cells
            .iter()
            .filter(|o| {
                o.key.backend != "none" && o.key.backend != c.key.backend && same_program(o, c)
            })
            .map(|o| (o.key.backend.as_str(), main_self_times(o)))
            .filter(|(_, r)| r.len() >= 2)
            .collect();
        let reference = cells
            .iter()
            .find(|r| r.key.backend == REFERENCE && same_program(r, c));
        let ref_runs = reference.map(main_self_times).unwrap_or_default();
        let no_reference = match reference {
            None => Some(format!("no reference: {REFERENCE} was not run on this program")),
            Some(r) if r.status != Status::Ok => Some(format!(
                "no reference: {REFERENCE} could not run ({})",
                r.status.label()
            )),
            Some(_) if ref_runs.len() < 2 => Some(format!(
                "no reference: {REFERENCE} has {} run(s) with self time, 2 are needed for its noise floor",
                ref_runs.len()
            )),
            Some(_) => None,
        };
        let noise = within(&ref_runs);
        let distances = if no_reference.is_some() {
            vec![]
        } else if c.key.backend == REFERENCE {
            noise.clone()
        } else {
            runs.iter()
                .flat_map(|a| ref_runs.iter().map(move |b| distance_pp(a, b)))
                .collect()
        };
        let ref_mean: HashMap<String, f64> = mean_shares(&ref_runs).into_iter().collect();
        let top = mean_shares(&runs)
            .into_iter()
            .take(5)
            .map(|(function, share)| TopFunction {
                reference_share: (no_reference.is_none())
                    .then(|| ref_mean.get(&function).copied().unwrap_or(0.0)),
                function,
                share,
            })
            .collect();
        let (flagged, samples) = runs.iter().fold((0u64, 0u64), |(f, n), r| {
            let flagged = r.invalid.unwrap_or(0).max(r.missed.unwrap_or(0));
            (f + flagged, n + r.samples.unwrap_or(0))
        });
        let says_flagged = runs
            .iter()
            .any(|r| r.invalid.is_some() || r.missed.is_some());
        let samples_per_run = median(
            runs.iter()
                .filter_map(|r| Some(r.samples? as f64))
                .collect(),
        );
        let sampled_floor_pp = samples_per_run
            .filter(|_| no_reference.is_none() && c.key.backend != REFERENCE)
            .and_then(|n| floor_at_samples(&ref_runs, n.round() as u64));
        let compared = no_reference.is_none();
        let pooled_pp = (compared && c.key.backend != REFERENCE)
            .then(|| pooled_distance_pp(&runs, &ref_runs))
            .flatten();
        let pooled_floor_pp = compared.then(|| halves(&ref_runs).map(|h| h.0)).flatten();
        let pooled_noise_pp = (compared && c.key.backend != REFERENCE)
            .then(|| noise_between_pp(&runs, &ref_runs))
            .flatten();
        out.push(SelfTimeRow {
            workload: c.key.workload.clone(),
            launcher: c.key.launcher.clone(),
            backend: c.key.backend.clone(),
            platform_id: c.platform_id.clone(),
            reference: REFERENCE.into(),
            runs: runs.len(),
            distance_min_pp: distances.iter().copied().min_by(f64::total_cmp),
            distance_max_pp: distances.iter().copied().max_by(f64::total_cmp),
            distance_pp: median(distances),
            noise_floor_pp: if no_reference.is_none() {
                median(noise)
            } else {
                None
            },
            sampled_floor_pp,
            pooled_pp,
            pooled_floor_pp,
            pooled_noise_pp,
            nearest: nearest(&runs, &others),
            no_reference,
            top,
            flagged_share: (says_flagged && samples > 0).then(|| flagged as f64 / samples as f64),
            source: runs[0].source.clone(),
        });
    }
    out
}

/// The distance in words: `12.3 pp [10.1–14.0] (floor 5.4 pp)` or the reason there is none.
pub fn distance_text(r: &SelfTimeRow) -> String {
    match (&r.no_reference, r.distance_pp) {
        (Some(why), _) => why.clone(),
        (None, Some(d)) => format!(
            "{d:.1} pp [{:.1}–{:.1}]{}",
            r.distance_min_pp.unwrap_or(d),
            r.distance_max_pp.unwrap_or(d),
            if r.source.ends_with("cpu clock") {
                " (cpu clock: waiting not counted)"
            } else {
                ""
            }
        ),
        (None, None) => "–".into(),
    }
}

/// Flagged samples in words, with the warning over `FLAGGED_WARN`.
pub fn flagged_text(r: &SelfTimeRow) -> String {
    match r.flagged_share {
        None => "–".into(),
        Some(s) if s > FLAGGED_WARN => {
            format!("{:.1}% ⚠ over {:.0}%", s * 100.0, FLAGGED_WARN * 100.0)
        }
        Some(s) => format!("{:.1}%", s * 100.0),
    }
}

/// The top functions in words: `raytrace.py:dot 12% (ref 14%)`.
pub fn top_text(r: &SelfTimeRow) -> String {
    r.top
        .iter()
        .map(|t| match t.reference_share {
            Some(rs) => format!(
                "{} {:.1}% (ref {:.1}%)",
                t.function,
                t.share * 100.0,
                rs * 100.0
            ),
            None => format!("{} {:.1}%", t.function, t.share * 100.0),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub const LEGEND: &str = "Self time (what a user ranks functions by) of every function, as a share of the run's total: leaf frames of every sample for samplers, waiting ones too (a C function's time charged to its Python caller), exclusive time for tracers (cProfile's C functions charged to their callers through its callers table). Distance = total variation (half the sum of share differences, pp) between one run of the cell and one run of the reference, median over all pairs [min–max], in the profiler's clock (the reference's is wall: a CPU-clock profiler, marked `cpu clock`, counts no waiting and differs by the program's waiting share); the reference's own run-to-run distance beside it is the noise floor, the smallest distance a perfect profiler could show here with as many samples as the reference took; for a sampler that took fewer per run (a pausing reference slows the program, so at the same rate it takes more) the floor at the cell's own sample count is given too (the binomial noise of samples taken at random instants added to the reference's own differences; a sampler at fixed intervals can come closer on a repetitive program). Pooled = the distance between the cell's runs averaged into one distribution and the reference's runs averaged likewise: sampling noise averages out and a bias stays, so it shows a bias the per-run distance buries in noise; beside it, the distance noise alone would leave between the two pooled sets (≈, from each set's first half of runs pooled against its second half; a pooled distance well above it is a real difference) and the reference's own halves. Nearest other row = the row of the same program whose pooled runs lie closest to this one's, with the same noise estimate: a reference that pauses its target perturbs the program too, and where other readers agree with each other and not with it, the reference's own row says so (its nearest row lies far beyond the noise). Flagged = samples the profiler marked invalid or says it failed to take, over samples recorded.";

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::CalleeTime;
    use profbench_profilers::{Clock, FunctionStat, Sample};

    fn frame(file: &str, function: &str) -> Frame {
        Frame {
            file: file.into(),
            function: function.into(),
            line: 1,
        }
    }

    fn sample(stack: Vec<u32>, weight: f64, idle: Option<bool>) -> Sample {
        Sample {
            pid: 1,
            tid: 1,
            stack,
            weight,
            count: 1,
            cpu: None,
            idle,
            time: None,
        }
    }

    #[test]
    fn keys_ignore_folders_and_qualification() {
        assert_eq!(
            function_key(&frame("/a/b/bm_raytrace/run_benchmark.py", "Vector.dot")),
            "run_benchmark.py:dot"
        );
        assert_eq!(
            function_key(&frame("run_benchmark.py", "dot")),
            "run_benchmark.py:dot"
        );
    }

    #[test]
    fn samples_charge_native_leaves_to_the_python_caller_count_waiting_and_skip_invalid() {
        let mut p = Profile::new(Clock::Wall);
        p.frames = vec![
            frame("/w/p.py", "main"),
            frame("/w/p.py", "work"),
            frame("<native>", "builtins.sum"),
            frame("", "INVALID"),
            frame("/w/p.py", "wait"),
        ];
        p.samples = vec![
            sample(vec![0, 1, 2], 0.03, None),
            sample(vec![0, 1], 0.01, None),
            sample(vec![0], 0.04, Some(false)),
            sample(vec![0, 4], 0.5, Some(true)),
            sample(vec![0, 3], 0.01, None),
        ];
        p.invalid_samples = Some(1);
        let d = distribution(&p, true).unwrap();
        assert_eq!(d.source, "leaf samples");
        let share = |k: &str| d.shares.iter().find(|(n, _)| n == k).map(|(_, s)| *s);
        // 0.04 running in work, 0.04 in main, 0.5 waiting in wait: wall time, as py-spy --idle
        // and tottime count it.
        assert!(
            (share("p.py:work").unwrap() - 0.04 / 0.58).abs() < 1e-9,
            "{d:?}"
        );
        assert!((share("p.py:main").unwrap() - 0.04 / 0.58).abs() < 1e-9);
        assert!((share("p.py:wait").unwrap() - 0.5 / 0.58).abs() < 1e-9);
        assert_eq!(d.samples, Some(5));
        assert!((d.flagged_share().unwrap() - 0.2).abs() < 1e-9);
        p.clock = Clock::Cpu;
        assert_eq!(
            distribution(&p, true).unwrap().source,
            "leaf samples, cpu clock"
        );
    }

    #[test]
    fn tracers_charge_c_functions_to_their_callers() {
        let mut p = Profile::new(Clock::Wall);
        p.frames = vec![
            frame("/w/p.py", "a"),
            frame("/w/p.py", "b"),
            frame("~", "<built-in method math.sqrt>"),
            frame("~", "<method 'append' of 'list' objects>"),
        ];
        let stat = |frame, exclusive| FunctionStat {
            frame,
            calls: 1,
            primitive_calls: 1,
            inclusive: exclusive,
            exclusive,
        };
        p.functions = vec![stat(0, 1.0), stat(1, 1.0), stat(2, 2.0), stat(3, 1.0)];
        p.callee_time = vec![
            CalleeTime {
                caller: 0,
                callee: 2,
                exclusive: 1.5,
            },
            CalleeTime {
                caller: 1,
                callee: 2,
                exclusive: 0.5,
            },
        ];
        let d = distribution(&p, false).unwrap();
        let share = |k: &str| {
            d.shares
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, s)| *s)
                .unwrap()
        };
        assert!((share("p.py:a") - 0.5).abs() < 1e-9, "{d:?}");
        assert!((share("p.py:b") - 0.3).abs() < 1e-9);
        // No callers known for `append`: it keeps its own time.
        assert!((share("~:<method 'append' of 'list' objects>") - 0.2).abs() < 1e-9);
        assert_eq!(d.flagged_share(), None);
    }

    fn dist(shares: &[(&str, f64)], other: f64) -> SelfTime {
        SelfTime {
            source: "leaf samples".into(),
            shares: shares.iter().map(|(k, s)| (k.to_string(), *s)).collect(),
            other,
            total_s: 1.0,
            samples: None,
            invalid: None,
            missed: None,
        }
    }

    #[test]
    fn total_variation_is_half_the_share_differences() {
        let a = dist(&[("x", 0.5), ("y", 0.5)], 0.0);
        let b = dist(&[("x", 0.7), ("z", 0.3)], 0.0);
        assert!((distance_pp(&a, &b) - 50.0).abs() < 1e-9);
        assert!(distance_pp(&a, &a).abs() < 1e-12);
        assert!((distance_pp(&a, &b) - distance_pp(&b, &a)).abs() < 1e-12);
        let c = dist(&[("x", 0.5), ("y", 0.4)], 0.1);
        assert!((distance_pp(&a, &c) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_distribution_pools_tiny_functions() {
        let mut p = Profile::new(Clock::Wall);
        p.frames = (0..3).map(|i| frame("/p.py", &format!("f{i}"))).collect();
        p.samples = vec![
            sample(vec![0], 1.0, None),
            sample(vec![1], 0.99999, None),
            sample(vec![2], 0.00001, None),
        ];
        let d = distribution(&p, true).unwrap();
        assert_eq!(d.shares.len(), 2);
        assert!(d.other > 0.0 && d.other < 1e-4);
    }

    /// A cell with one profiled main run per distribution.
    fn cell_with(backend: &str, runs: &[SelfTime]) -> CellRecord {
        let mut c = crate::plot::testdata::cell("raytrace", backend, "direct", Some(1.0), None);
        c.runs = runs
            .iter()
            .map(|st| {
                let mut r: crate::results::RunRecord = serde_json::from_value(serde_json::json!({
                    "kind": "profiled", "warmup": false,
                    "measured": {"ending": {"Exited": 0}, "wall_s": 1.0, "cpu_s": 1.0,
                                 "peak_rss_bytes": 1, "stdout_tail": "", "stderr_tail": "",
                                 "ended_leftovers": []},
                    "phase_wall_s": {}, "output_bytes": null, "postprocess_s": null,
                    "accuracy": null, "note": null
                }))
                .unwrap();
                r.self_time = Some(st.clone());
                r
            })
            .collect();
        c
    }

    #[test]
    fn fewer_samples_than_the_reference_raise_the_floor_by_their_sampling_noise() {
        assert!(erf(0.0).abs() < 1e-9 && (erf(1.0) - 0.842_700_8).abs() < 1e-6);
        assert!((erf(-1.0) + erf(1.0)).abs() < 1e-12);
        let mut a = dist(&[("x", 0.5), ("y", 0.5)], 0.0);
        let b = dist(&[("x", 0.6), ("y", 0.4)], 0.0);
        a.samples = Some(10_000);
        // As many samples as the reference run, or more: just the runs' own distance.
        let same = distance_at_samples_pp(&a, &b, 10_000).unwrap();
        assert!((same - distance_pp(&a, &b)).abs() < 1e-9, "{same}");
        assert!((distance_at_samples_pp(&a, &b, 50_000).unwrap() - same).abs() < 1e-9);
        // Identical shares, 100 samples against a reference of many: each share is off by
        // |N(0, 0.5·0.5·(1/100 − 1/10⁶))|, 0.0399 on average; two shares, half the sum.
        a.samples = Some(1_000_000);
        let twin = dist(&[("x", 0.5), ("y", 0.5)], 0.0);
        let at_100 = distance_at_samples_pp(&a, &twin, 100).unwrap();
        assert!((at_100 - 3.99).abs() < 0.01, "{at_100}");
        // Fewer samples never bring two runs closer.
        assert!(distance_at_samples_pp(&a, &b, 100).unwrap() >= distance_pp(&a, &b));
        // A run without a sample count has no floor at another count.
        assert!(distance_at_samples_pp(&b, &a, 100).is_none());
    }

    #[test]
    fn cells_are_compared_with_the_reference_and_its_noise_floor() {
        let r1 = dist(&[("x", 0.6), ("y", 0.4)], 0.0);
        let r2 = dist(&[("x", 0.5), ("y", 0.5)], 0.0);
        let other = dist(&[("x", 0.2), ("y", 0.8)], 0.0);
        let cells = vec![
            cell_with(REFERENCE, &[r1.clone(), r2.clone()]),
            cell_with("cprofile", std::slice::from_ref(&other)),
        ];
        let rows = rows(&cells);
        let reference = rows.iter().find(|r| r.backend == REFERENCE).unwrap();
        assert!((reference.noise_floor_pp.unwrap() - 10.0).abs() < 1e-9);
        assert!((reference.distance_pp.unwrap() - 10.0).abs() < 1e-9);
        let cp = rows.iter().find(|r| r.backend == "cprofile").unwrap();
        // 40 pp from r1, 30 pp from r2: the median of the two pairs.
        assert!((cp.distance_pp.unwrap() - 35.0).abs() < 1e-9, "{cp:?}");
        assert!((cp.distance_min_pp.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(cp.top[0].function, "y");
        assert!((cp.top[0].reference_share.unwrap() - 0.45).abs() < 1e-9);
    }

    #[test]
    fn pooled_runs_leave_bias_and_average_noise_out() {
        let reference = [
            dist(&[("x", 0.6), ("y", 0.4)], 0.0),
            dist(&[("x", 0.4), ("y", 0.6)], 0.0),
        ];
        let noisy = [
            dist(&[("x", 0.55), ("y", 0.45)], 0.0),
            dist(&[("x", 0.45), ("y", 0.55)], 0.0),
        ];
        let biased = [dist(&[("x", 0.7), ("y", 0.3)], 0.0)];
        let cells = vec![
            cell_with(REFERENCE, &reference),
            cell_with("py-spy", &noisy),
            cell_with("cprofile", &biased),
        ];
        let rows = rows(&cells);
        let row = |b: &str| rows.iter().find(|r| r.backend == b).unwrap();
        // Every run of the noisy cell is 5 or 15 pp from a reference run, its mean is theirs.
        assert!(row("py-spy").distance_pp.unwrap() > 5.0);
        assert!(row("py-spy").pooled_pp.unwrap().abs() < 1e-9);
        assert!((row("cprofile").pooled_pp.unwrap() - 20.0).abs() < 1e-9);
        assert!((row(REFERENCE).pooled_floor_pp.unwrap() - 20.0).abs() < 1e-9);
        assert!(row(REFERENCE).pooled_pp.is_none());
    }

    #[test]
    fn noise_between_pooled_sets_comes_from_their_halves_and_the_nearest_row_is_named() {
        let reference = [
            dist(&[("x", 0.6), ("y", 0.4)], 0.0),
            dist(&[("x", 0.4), ("y", 0.6)], 0.0),
        ];
        let noisy = [
            dist(&[("x", 0.55), ("y", 0.45)], 0.0),
            dist(&[("x", 0.45), ("y", 0.55)], 0.0),
        ];
        let off = [
            dist(&[("x", 0.8), ("y", 0.2)], 0.0),
            dist(&[("x", 0.8), ("y", 0.2)], 0.0),
        ];
        let cells = vec![
            cell_with(REFERENCE, &reference),
            cell_with("py-spy", &noisy),
            cell_with("cprofile", &off),
            cell_with("single-run", &off[..1]),
        ];
        let rows = rows(&cells);
        let row = |b: &str| rows.iter().find(|r| r.backend == b).unwrap();
        // Halves of two runs are one run each: 20 pp for the reference (a run's variance
        // twice over, against half of it pooled: ÷ 4 in variance), 10 pp for py-spy.
        let expected = (20.0f64.powi(2) / 4.0 + 10.0f64.powi(2) / 4.0).sqrt();
        assert!((row("py-spy").pooled_noise_pp.unwrap() - expected).abs() < 1e-9);
        // cprofile's runs agree with each other (no noise) and sit 30 pp from the reference.
        assert!((row("cprofile").pooled_noise_pp.unwrap() - 10.0).abs() < 1e-9);
        let nearest = row(REFERENCE).nearest.clone().unwrap();
        assert_eq!(nearest.backend, "py-spy");
        assert!(nearest.pooled_pp.abs() < 1e-9);
        assert!((row("cprofile").nearest.as_ref().unwrap().pooled_pp - 30.0).abs() < 1e-9);
        // One run has no halves: it is no one's nearest, and has no noise estimate itself.
        assert!(row("single-run").nearest.is_none());
        assert!(row("single-run").pooled_noise_pp.is_none());
    }

    #[test]
    fn without_a_working_reference_there_is_no_number() {
        let r = dist(&[("x", 1.0)], 0.0);
        let alone = rows(&[cell_with("cprofile", std::slice::from_ref(&r))]);
        assert!(alone[0].distance_pp.is_none() && alone[0].noise_floor_pp.is_none());
        assert!(distance_text(&alone[0]).starts_with("no reference"));
        let mut failed = cell_with(REFERENCE, &[]);
        failed.status = Status::Failed {
            category: profbench_profilers::Failure::PermissionDenied,
            error: "ptrace".into(),
        };
        let rows = rows(&[failed, cell_with("cprofile", std::slice::from_ref(&r))]);
        let cp = rows.iter().find(|r| r.backend == "cprofile").unwrap();
        assert!(cp.distance_pp.is_none());
        assert!(
            distance_text(cp).contains("could not run (permission denied)"),
            "{cp:?}"
        );
        assert!(cp.top[0].reference_share.is_none());
    }
}
