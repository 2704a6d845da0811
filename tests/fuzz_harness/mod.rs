//! The fuzz harness shared by `tests/fuzz.rs` (a few thousand cases in
//! `cargo test`) and `examples/fuzz.rs` (the long run, 10⁵ cases per
//! format). docs/reliability.md records what it checks and its numbers.
//!
//! Inputs: every format a user hands vtwin — scene TOML (the shipped
//! `scenes/*.toml`), parameter files, design and outputs CSV, observation
//! files, calibration data, cohort targets and merge inputs (a cohort
//! shard's files) — each from valid seeds, mutated structurally (lines
//! deleted, duplicated, swapped or truncated; numbers replaced by extreme
//! values, strings by odd ones, keys renamed, quotes and brackets broken,
//! CSV fields dropped or added) or replaced by random bytes.
//!
//! Checks, per case:
//! - in-process ([`check_in_process`]): the format's library entry point
//!   returns `Ok` or an error whose message names the file; it never
//!   panics and returns within [`CASE_TIMEOUT`];
//! - through the binary ([`check_binary`]): exit code 0 or 2 (never 101,
//!   a panic, or 134, an abort, or death by a signal, or a hang past the
//!   timeout); with exit 2 the message names the file; after an error no
//!   output folder or file exists and no temporary folder is left.
//!
//! Deterministic: a case is a function of (format, seed index, case
//! number), so any failure can be replayed from its printed case id.

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest a single in-process case may take.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(10);

/// SplitMix64 (Steele, Lea & Flood 2014): small, fast, reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Every input format the harness covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Scene,
    Params,
    Design,
    Outputs,
    Obs,
    CalData,
    Target,
    Shard,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Scene,
        Format::Params,
        Format::Design,
        Format::Outputs,
        Format::Obs,
        Format::CalData,
        Format::Target,
        Format::Shard,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Format::Scene => "scene",
            Format::Params => "params",
            Format::Design => "design",
            Format::Outputs => "outputs",
            Format::Obs => "observations",
            Format::CalData => "calibration-data",
            Format::Target => "cohort-target",
            Format::Shard => "merge-input",
        }
    }
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }
    fn is_csv(self) -> bool {
        !matches!(self, Format::Scene | Format::Params)
    }
}

/// The crate root (where `scenes/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const PARAMS: &str = r#"# every distribution kind
[parameters]
k = 0.05
D = { dist = "uniform", low = 0.1, high = 0.5 }
r = { dist = "loguniform", low = 1e-3, high = 1e-1 }
a = { dist = "normal", mean = 1.0, sd = 0.2 }
b = { dist = "lognormal", mu = 0.0, sigma = 0.3 }
c = { dist = "truncnormal", mean = 1.0, sd = 0.5, low = 0.0, high = 2.0 }
s = { dist = "choice", values = [1, 2, 3] }
"#;

pub const PARAMS_CORRELATED: &str = r#"[parameters]
x = { dist = "uniform", low = 0.0, high = 1.0 }
y = { dist = "normal", mean = 0.0, sd = 1.0 }
[[correlations]]
a = "x"
b = "y"
rho = 0.5
"#;

/// Two-parameter file the design/outputs seeds are made over.
pub const PARAMS_AB: &str = "[parameters]\na = { dist = \"uniform\", low = 0.0, high = 1.0 }\n\
                             b = { dist = \"uniform\", low = 0.0, high = 2.0 }\n";

pub const OBS: &str = "# observations\ntime,observable,location,value,sd\n\
                       7,burden,,12.5,0.5\n14,N,3;4.5,0.2,0.01\n14,N,0;0;8;8,0.1,0.02\n\
                       21,burden,,14.0,0.5\n";

pub const CALDATA: &str = "observable,time,location,value,sd\nburden,7,,12.5,0.5\n\
                           N,14,3;4.5,0.2,0.01\nN,14,0;0;8;8,0.1,0.02\n";

pub const TARGET: &str = "patient,burden\n0,1.5\n1,2.25\n2,\n3,0.75\n4,3.0\n";

/// A Saltelli design over [`PARAMS_AB`] (N = 4, first order: 16 rows) and
/// outputs y = a + 2b on it.
pub fn design_and_outputs() -> (String, String) {
    let block =
        vtwin::input::params_file::parse_param_file(PARAMS_AB, Path::new("p.toml")).unwrap();
    let d = vtwin::methods::design::generate(
        &block,
        vtwin::methods::design::DesignMethod::Saltelli,
        4,
        &vtwin::methods::design::DesignOptions::default(),
    )
    .unwrap();
    let mut design = String::from("a,b\n");
    let mut outputs = String::from("y\n");
    for row in &d.values {
        design.push_str(&format!("{},{}\n", row[0], row[1]));
        outputs.push_str(&format!("{}\n", row[0] + 2.0 * row[1]));
    }
    (design, outputs)
}

/// A valid input to mutate: `name` is the file name it is written under.
#[derive(Clone, Debug)]
pub struct Seed {
    pub format: Format,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The valid seeds of every format except merge inputs (which need a
/// cohort run; see [`ShardFixture`]).
pub fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut scenes: Vec<PathBuf> = std::fs::read_dir(root().join("scenes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    scenes.push(root().join("tests/data/tiny_cohort.toml"));
    scenes.sort();
    for p in scenes {
        out.push(Seed {
            format: Format::Scene,
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&p).unwrap(),
        });
    }
    let text = |format, name: &str, t: &str| Seed {
        format,
        name: name.into(),
        bytes: t.as_bytes().to_vec(),
    };
    let (design, outputs) = design_and_outputs();
    out.push(text(Format::Params, "params.toml", PARAMS));
    out.push(text(Format::Params, "correlated.toml", PARAMS_CORRELATED));
    out.push(text(Format::Params, "ab.toml", PARAMS_AB));
    out.push(text(Format::Design, "design.csv", &design));
    out.push(text(Format::Outputs, "outputs.csv", &outputs));
    out.push(text(Format::Obs, "obs.csv", OBS));
    out.push(text(Format::CalData, "data.csv", CALDATA));
    out.push(text(Format::Target, "target.csv", TARGET));
    out
}

/// Values that break assumptions when they replace a number.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "0.0",
    "-0.0",
    "1e-300",
    "1e300",
    "-1e300",
    "1e308",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "+inf",
    "4294967295",
    "4294967296",
    "-2147483649",
    "9223372036854775808",
    "1e9",
    "0.5",
    "3",
    "7",
    "1.5",
    "-7.25",
    "0x10",
    "1_000",
    "\"1\"",
    "[]",
    "{}",
    "true",
];

/// Replacements for strings (inside quotes).
const STRINGS: &[&str] = &[
    "",
    " ",
    "u",
    "v",
    "N",
    "x",
    "uniform",
    "choice",
    "nope",
    "ü",
    "a-b",
    "a b",
    "\\u0000",
    "loop {} return 1.0",
    "u)",
    "(((((((((((",
    "1e999",
    "\\\"",
];

/// Small structural edits of text lines.
fn mutate_lines(rng: &mut Rng, text: &str, csv: bool) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let edits = 1 + rng.below(3);
    for _ in 0..edits {
        let n = lines.len().max(1);
        let i = rng.below(n);
        match rng.below(14) {
            0 => {
                if lines.len() > 1 {
                    lines.remove(i);
                }
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let j = rng.below(n);
                lines.swap(i, j);
            }
            3 => lines.truncate(i + 1),
            4..=6 => lines[i] = replace_number(rng, &lines[i]),
            7 => lines[i] = replace_string(rng, &lines[i]),
            8 => {
                // Cut the line short.
                let l = &lines[i];
                let cut = floor_char(l, rng.below(l.len() + 1));
                lines[i] = l[..cut].to_string();
            }
            9 => {
                // Insert a character that matters to the syntax.
                let syn: &[&str] = if csv {
                    &[",", "\"", ";", "\t", ",,", "#"]
                } else {
                    &[
                        "=", "[", "]", "{", "}", "\"", "'", ",", "#", ".", "[[", "]]",
                    ]
                };
                let l = &lines[i];
                let at = floor_char(l, rng.below(l.len() + 1));
                lines[i] = format!("{}{}{}", &l[..at], rng.pick(syn), &l[at..]);
            }
            10 => {
                if csv {
                    // Drop or add a field.
                    let mut f: Vec<String> = lines[i].split(',').map(str::to_string).collect();
                    if rng.below(2) == 0 && f.len() > 1 {
                        f.remove(rng.below(f.len()));
                    } else {
                        f.push(rng.pick(NUMBERS).to_string());
                    }
                    lines[i] = f.join(",");
                } else {
                    // Rename a key.
                    if let Some((k, v)) = lines[i].split_once('=') {
                        let key = format!("{}x", k.trim_end());
                        lines[i] = format!("{key} ={v}");
                    }
                }
            }
            11 => {
                let l = lines[i].clone();
                lines.push(l);
            }
            12 => lines.insert(i, String::new()),
            _ => lines[i] = lines[i].repeat(2 + rng.below(3)),
        }
    }
    let mut out = lines.join("\n");
    if rng.below(4) != 0 {
        out.push('\n');
    }
    out
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

/// Replaces one number in `line` (if any) by an extreme value.
fn replace_number(rng: &mut Rng, line: &str) -> String {
    let b = line.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric()
                    || b[j] == b'.'
                    || b[j] == b'-' && j > i && (b[j - 1] == b'e' || b[j - 1] == b'E'))
            {
                j += 1;
            }
            // Only whole tokens (not parts of names like `mu1`).
            let before_ok =
                start == 0 || !(b[start - 1].is_ascii_alphabetic() || b[start - 1] == b'_');
            if before_ok {
                spans.push((start, j));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return line.to_string();
    }
    let (s, e) = *rng.pick(&spans);
    format!("{}{}{}", &line[..s], rng.pick(NUMBERS), &line[e..])
}

/// Replaces the contents of one quoted string in `line`.
fn replace_string(rng: &mut Rng, line: &str) -> String {
    let quotes: Vec<usize> = line.match_indices('"').map(|(i, _)| i).collect();
    if quotes.len() < 2 {
        return replace_number(rng, line);
    }
    let k = rng.below(quotes.len() / 2);
    let (s, e) = (quotes[2 * k], quotes[2 * k + 1]);
    format!("{}\"{}\"{}", &line[..s], rng.pick(STRINGS), &line[e + 1..])
}

/// Random bytes: a fresh random file, or the seed with bytes overwritten,
/// inserted or cut.
fn mutate_bytes(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    match rng.below(3) {
        0 => (0..rng.below(256)).map(|_| rng.next_u64() as u8).collect(),
        1 => {
            let mut b = seed.to_vec();
            for _ in 0..1 + rng.below(8) {
                if b.is_empty() {
                    break;
                }
                let i = rng.below(b.len());
                b[i] = rng.next_u64() as u8;
            }
            b
        }
        _ => {
            let mut b = seed.to_vec();
            let i = rng.below(b.len() + 1);
            if rng.below(2) == 0 {
                b.truncate(i);
            } else {
                let extra: Vec<u8> = (0..1 + rng.below(16))
                    .map(|_| rng.next_u64() as u8)
                    .collect();
                b.splice(i..i, extra);
            }
            b
        }
    }
}

/// One mutated input: structured edits (7 in 8 cases) or random bytes.
pub fn mutate(rng: &mut Rng, seed: &Seed) -> Vec<u8> {
    if rng.below(8) == 0 {
        return mutate_bytes(rng, &seed.bytes);
    }
    let text = String::from_utf8_lossy(&seed.bytes);
    mutate_lines(rng, &text, seed.format.is_csv()).into_bytes()
}

/// What one case did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted.
    Accepted,
    /// Refused with a located message.
    Refused,
    /// A defect: panic, abort, hang, unlocated message, leftover output.
    Defect(String),
}

/// A temporary folder for one run of the harness, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "vtwin-fuzz-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `f` on a thread with a time limit; a panic or a time-out is a
/// defect. (A hung thread is left behind; the harness reports it.)
fn guarded(f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(r)) => r.map_err(|e| format!("ERR:{e}")),
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("PANIC:{msg}"))
        }
        Err(_) => Err(format!("HANG: no result within {CASE_TIMEOUT:?}")),
    }
}

fn errs<E: std::fmt::Display>(r: Result<impl Sized, E>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| {
        // The whole chain, as the binary prints it.
        e.to_string()
    })
}

fn anyhow_errs<T>(r: anyhow::Result<T>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| format!("{e:#}"))
}

/// The library entry point of `format` on the file at `path` (for a
/// design or outputs file, `other` is the matching valid partner file).
fn entry_point(format: Format, path: PathBuf, other: Option<PathBuf>) -> Result<(), String> {
    match format {
        // Parsing and validation only: freezing a plan allocates, and the
        // binary cases (`vtwin check`) cover it with a process boundary,
        // so an abort is reported instead of ending the harness.
        Format::Scene => errs(vtwin::input::scene::Scene::load(&path)),
        Format::Params => errs(vtwin::input::params_file::load_param_file(&path)),
        Format::Design => {
            let names = ["a", "b"];
            anyhow_errs(
                vtwin::drivers::csv_files::read_float_rows(&path, &names)
                    .map_err(anyhow::Error::from),
            )
        }
        Format::Outputs => {
            let _ = other;
            anyhow_errs(
                vtwin::drivers::csv_files::read_output_column(&path, None)
                    .map_err(anyhow::Error::from),
            )
        }
        Format::Obs => errs(vtwin::methods::assim::obs_file::read_obs_file(&path)),
        Format::CalData => errs(vtwin::methods::calibrate::data::read_data(&path)),
        Format::Target => errs(vtwin::methods::cohort::select::read_target_csv(
            &path, "burden",
        )),
        Format::Shard => unreachable!("merge inputs run through the binary"),
    }
}

/// Writes `bytes` as `dir/name` and runs the format's library entry point
/// on it. An error must name the file.
pub fn check_in_process(format: Format, dir: &Path, name: &str, bytes: &[u8]) -> Verdict {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let shown = path.display().to_string();
    match guarded(move || entry_point(format, path, None)) {
        Ok(()) => Verdict::Accepted,
        Err(e) => {
            if let Some(msg) = e.strip_prefix("ERR:") {
                if msg.contains(&shown) {
                    Verdict::Refused
                } else {
                    Verdict::Defect(format!("message does not name {shown}: {msg}"))
                }
            } else {
                Verdict::Defect(e)
            }
        }
    }
}

/// Output of one binary run.
pub struct RunOutcome {
    pub code: Option<i32>,
    pub stderr: String,
    pub timed_out: bool,
}

/// Runs the `vtwin` binary with a time limit.
pub fn run_binary(bin: &Path, args: &[String], timeout: Duration) -> RunOutcome {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(root())
        .env("VTWIN_PIPELINE_CACHE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vtwin starts");
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let start = Instant::now();
    let (code, timed_out) = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break (st.code(), false);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    RunOutcome {
        code,
        stderr: reader.join().unwrap_or_default(),
        timed_out,
    }
}

/// Judges a binary run: exit 0 or 2; with 2, `needle` (the mutated file)
/// named; after an error, `out` absent and no temporary entries in its
/// parent.
pub fn judge(o: &RunOutcome, needle: &str, out: Option<&Path>) -> Verdict {
    if o.timed_out {
        return Verdict::Defect("hang: killed after the time limit".into());
    }
    let v = match o.code {
        Some(0) => Verdict::Accepted,
        Some(2) => {
            if o.stderr.contains(needle) {
                Verdict::Refused
            } else {
                Verdict::Defect(format!(
                    "exit 2 without naming {needle}: {}",
                    o.stderr.trim()
                ))
            }
        }
        Some(c) => Verdict::Defect(format!("exit {c}: {}", o.stderr.trim())),
        None => Verdict::Defect(format!("killed by a signal: {}", o.stderr.trim())),
    };
    if v == Verdict::Refused
        && let Some(out) = out
    {
        if out.exists() {
            return Verdict::Defect(format!("{} exists after an error", out.display()));
        }
        if let Some(parent) = out.parent()
            && let Ok(entries) = std::fs::read_dir(parent)
        {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.contains(".tmp-") || n.contains(".old-") {
                    return Verdict::Defect(format!("{n} left after an error"));
                }
            }
        }
    }
    v
}

/// A binary case of a text format: writes the mutated file into `dir` and
/// runs the command that reads it (and writes an output, where the
/// command has one).
pub fn check_binary(bin: &Path, format: Format, dir: &Path, name: &str, bytes: &[u8]) -> Verdict {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let p = path.display().to_string();
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&out);
    let partner = |n: &str, t: &str| {
        let q = dir.join(n);
        std::fs::write(&q, t).unwrap();
        q.display().to_string()
    };
    let o = out.display().to_string();
    let args: Vec<String> = match format {
        Format::Scene => vec!["check".into(), p.clone(), "--backend".into(), "cpu".into()],
        Format::Params => [
            "design", "--params", &p, "--method", "lhs", "-n", "4", "-o", &o,
        ]
        .map(String::from)
        .to_vec(),
        Format::Design | Format::Outputs => {
            let (design, outputs) = design_and_outputs();
            let params = partner("ab.toml", PARAMS_AB);
            let (d, y) = if format == Format::Design {
                (p.clone(), partner("outputs.csv", &outputs))
            } else {
                (partner("design.csv", &design), p.clone())
            };
            [
                "analyze",
                "sobol",
                "--params",
                &params,
                "--design",
                &d,
                "--outputs",
                &y,
                "--resamples",
                "20",
                "-o",
                &o,
            ]
            .map(String::from)
            .to_vec()
        }
        Format::Obs | Format::CalData | Format::Target => {
            // Reference tables for `compare`: the mutated file against a
            // valid one (the table reader every CSV input shares).
            let other = partner("reference.csv", TARGET);
            ["compare", &p, &other, "--json", &o]
                .map(String::from)
                .to_vec()
        }
        Format::Shard => unreachable!("merge inputs use ShardFixture"),
    };
    let r = run_binary(bin, &args, Duration::from_secs(30));
    judge(&r, name, Some(&out))
}

/// Two cohort shards (CSV) written once by the binary; cases copy them,
/// mutate one file of one shard and merge.
pub struct ShardFixture {
    pub dir: Scratch,
    pub shards: [PathBuf; 2],
    /// Files of a shard that a mutation may hit.
    pub files: Vec<String>,
}

impl ShardFixture {
    pub fn new(bin: &Path) -> ShardFixture {
        let dir = Scratch::new("shards");
        let scene = root().join("tests/data/tiny_cohort.toml");
        let shards = [0, 1].map(|i| dir.path().join(format!("s{i}")));
        for (i, s) in shards.iter().enumerate() {
            let args: Vec<String> = [
                "cohort",
                &scene.display().to_string(),
                "--patients",
                "6",
                "--shard",
                &format!("{i}/2"),
                "--format",
                "csv",
                "--backend",
                "cpu",
                "--out",
                &s.display().to_string(),
            ]
            .map(String::from)
            .to_vec();
            let r = run_binary(bin, &args, Duration::from_secs(120));
            assert_eq!(r.code, Some(0), "shard {i}: {}", r.stderr);
        }
        let mut files: Vec<String> = std::fs::read_dir(&shards[1])
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        ShardFixture { dir, shards, files }
    }

    /// Copies the shards into `work`, mutates one file of shard 1, merges.
    /// A mutation of a data file changes a hashed file, so a merge that
    /// succeeds is a defect too; a mutated `manifest.json` may be accepted
    /// only if its `outputs` list (what the check relies on) is unchanged.
    pub fn case(&self, bin: &Path, rng: &mut Rng, work: &Path) -> Verdict {
        let _ = std::fs::remove_dir_all(work);
        std::fs::create_dir_all(work).unwrap();
        let mut copies = Vec::new();
        for (i, s) in self.shards.iter().enumerate() {
            let d = work.join(format!("s{i}"));
            std::fs::create_dir_all(&d).unwrap();
            for f in &self.files {
                std::fs::copy(s.join(f), d.join(f)).unwrap();
            }
            copies.push(d);
        }
        let name = rng.pick(&self.files).clone();
        let target = copies[1].join(&name);
        let seed = Seed {
            format: if name.ends_with(".csv") {
                Format::Shard
            } else {
                Format::Params
            },
            name: name.clone(),
            bytes: std::fs::read(&target).unwrap(),
        };
        let mut bytes = mutate(rng, &seed);
        if bytes == seed.bytes {
            bytes.push(b'\n');
        }
        std::fs::write(&target, &bytes).unwrap();
        let out = work.join("merged");
        let args: Vec<String> = vec![
            "merge".into(),
            copies[0].display().to_string(),
            copies[1].display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        let r = run_binary(bin, &args, Duration::from_secs(60));
        let outputs = |b: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(b)
                .ok()
                .map(|v| v["outputs"].clone())
        };
        match judge(&r, &copies[1].display().to_string(), Some(&out)) {
            Verdict::Accepted
                if name == "manifest.json" && outputs(&bytes) == outputs(&seed.bytes) =>
            {
                Verdict::Accepted
            }
            Verdict::Accepted => Verdict::Defect(format!("merge accepted a changed {name}")),
            v => v,
        }
    }
}

/// Tallies of a run.
#[derive(Default, Debug)]
pub struct Tally {
    pub cases: usize,
    pub accepted: usize,
    pub refused: usize,
    pub defects: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, id: &str, v: Verdict) {
        self.cases += 1;
        match v {
            Verdict::Accepted => self.accepted += 1,
            Verdict::Refused => self.refused += 1,
            Verdict::Defect(d) => self.defects.push(format!("{id}: {d}")),
        }
    }
}
