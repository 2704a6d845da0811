//! End-to-end tests of `vtwin design` and `vtwin analyze` as a user types
//! them: parameter file → design.csv → outputs from "another simulator"
//! (computed here) → result.csv, plus the errors a user can run into.

use clap::{Parser, Subcommand};
use std::fs;
use std::path::{Path, PathBuf};
use vtwin::cli::analyze::AnalyzeArgs;
use vtwin::cli::design::DesignArgs;
use vtwin::input::params_file::load_param_file;
use vtwin::methods::design::{DesignMethod, DesignOptions, generate};
use vtwin::output::table::Values;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Design(DesignArgs),
    Analyze(AnalyzeArgs),
}

/// Runs one command line (without the program name).
fn vtwin(args: &[&str]) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(std::iter::once("vtwin").chain(args.iter().copied()))?;
    match cli.cmd {
        Cmd::Design(a) => vtwin::cli::design::run(&a),
        Cmd::Analyze(a) => vtwin::cli::analyze::run(&a),
    }
}

/// A CSV file's header and its rows as floats (every column numeric).
struct Csv {
    columns: Vec<String>,
    rows: Vec<Vec<f64>>,
}

fn read_numeric_csv(path: &Path) -> Csv {
    let t = vtwin::output::io::read_csv(path).unwrap();
    let cols: Vec<Vec<f64>> = t
        .columns
        .iter()
        .map(|c| match &c.values {
            Values::F64(v) => v.iter().map(|x| x.unwrap()).collect(),
            Values::I64(v) => v.iter().map(|x| x.unwrap() as f64).collect(),
            other => panic!("column {} is {}", c.name, other.type_name()),
        })
        .collect();
    Csv {
        columns: t.column_names().iter().map(|s| s.to_string()).collect(),
        rows: (0..t.rows())
            .map(|r| cols.iter().map(|c| c[r]).collect())
            .collect(),
    }
}

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("vtwin-cli-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Ishigami's three inputs, with a fixed parameter `a = 7` among them.
const ISHIGAMI_TOML: &str = r#"
[parameters]
x1 = { dist = "uniform", low = -3.141592653589793, high = 3.141592653589793 }
a = 7.0
x2 = { dist = "uniform", low = -3.141592653589793, high = 3.141592653589793 }
x3 = { dist = "uniform", low = -3.141592653589793, high = 3.141592653589793 }
"#;

/// Writes Y.csv with columns `y` (Ishigami, reading the fixed `a` from the
/// design) and `noise`, computed from design.csv like an outside simulator.
fn write_ishigami_outputs(design: &str, out: &str) {
    let d = read_numeric_csv(Path::new(design));
    assert_eq!(d.columns, ["x1", "a", "x2", "x3"]);
    let mut text = String::from("y,noise\n");
    for (i, r) in d.rows.iter().enumerate() {
        let y = r[0].sin() + r[1] * r[2].sin().powi(2) + 0.1 * r[3].powi(4) * r[0].sin();
        text.push_str(&format!("{y:?},{}\n", (i % 7) as f64));
    }
    fs::write(out, text).unwrap();
}

fn result_rows(path: &str) -> Vec<(String, Vec<f64>)> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    lines.next();
    lines
        .map(|l| {
            let mut f = l.split(',');
            let name = f.next().unwrap().to_string();
            (name, f.map(|v| v.parse().unwrap()).collect())
        })
        .collect()
}

/// design.csv has every parameter in file order, the fixed one constant,
/// and its floats read back bit for bit equal to the generated design.
#[test]
fn design_csv_round_trips_exactly() {
    let dir = TempDir::new("rt");
    let params = dir.path("p.toml");
    fs::write(
        &params,
        "[parameters]\nk = 0.1\nD = { dist = \"lognormal\", mu = -3.0, sigma = 0.7 }\n\
         r = { dist = \"truncnormal\", mean = 1, sd = 0.5, low = 0, high = 2 }\n",
    )
    .unwrap();
    let out = dir.path("design.csv");
    vtwin(&[
        "design",
        "--params",
        &params,
        "--method",
        "sobol",
        "-n",
        "64",
        "--scramble",
        "--seed",
        "4",
        "-o",
        &out,
    ])
    .unwrap();
    let back = read_numeric_csv(Path::new(&out));
    assert_eq!(back.columns, ["k", "D", "r"]);
    let block = load_param_file(Path::new(&params)).unwrap();
    let opts = DesignOptions {
        scramble: true,
        seed: 4,
        ..Default::default()
    };
    let want = generate(&block, DesignMethod::Sobol, 64, &opts).unwrap();
    assert_eq!(back.rows.len(), 64);
    for (got, want) in back.rows.iter().zip(&want.values) {
        assert_eq!(got[0], 0.1);
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.to_bits(), w.to_bits());
        }
    }
}

/// Ishigami through the command line at N = 1024 (unscrambled): 5120 rows
/// fit both N(D+2) (N = 1024) and N(2D+2) (N = 640), so the order comes
/// from the design's layout. |S1 − exact| and |ST − exact| ≤ 0.02
/// (Saltelli et al. 2010: typical error ~0.007 at this N). The second-order design
/// also writes result_s2.csv, where S13 = 0.2437 ± 0.03 and S12, S23 ≈ 0.
#[test]
fn sobol_analysis_end_to_end() {
    let dir = TempDir::new("sobol");
    let params = dir.path("p.toml");
    fs::write(&params, ISHIGAMI_TOML).unwrap();
    let (design, y, res) = (
        dir.path("design.csv"),
        dir.path("Y.csv"),
        dir.path("result.csv"),
    );
    let s1 = [0.3139051911, 0.4424111448, 0.0];
    let st = [0.5575888552, 0.4424111448, 0.2436836641];
    for second in [false, true] {
        let mut args = vec![
            "design", "--params", &params, "--method", "saltelli", "-n", "1024", "-o", &design,
            "--force", // the second pass replaces the first pass's files
        ];
        if second {
            args.push("--second-order");
        }
        vtwin(&args).unwrap();
        write_ishigami_outputs(&design, &y);
        let analyze = [
            "analyze",
            "sobol",
            "--params",
            &params,
            "--design",
            &design,
            "--outputs",
            &y,
            "--column",
            "y",
            "--resamples",
            "100",
            "-o",
            &res,
            "--force",
        ];
        vtwin(&analyze).unwrap();
        let header = fs::read_to_string(&res)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(header, "parameter,S1,S1_conf,ST,ST_conf");
        let rows = result_rows(&res);
        assert_eq!(
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ["x1", "x2", "x3"]
        );
        for (i, (_, v)) in rows.iter().enumerate() {
            assert!((v[0] - s1[i]).abs() <= 0.02, "S1 {i}: {}", v[0]);
            assert!((v[2] - st[i]).abs() <= 0.02, "ST {i}: {}", v[2]);
            assert!(v[1] > 0.0 && v[3] > 0.0);
        }
        let s2_path = dir.path("result_s2.csv");
        assert_eq!(Path::new(&s2_path).exists(), second);
        if second {
            let s2 = fs::read_to_string(&s2_path).unwrap();
            let lines: Vec<&str> = s2.lines().collect();
            assert_eq!(lines[0], "parameter_i,parameter_j,S2,S2_conf");
            let val = |l: &str| l.split(',').nth(2).unwrap().parse::<f64>().unwrap();
            assert!(lines[1].starts_with("x1,x2,") && val(lines[1]).abs() <= 0.03);
            assert!(lines[2].starts_with("x1,x3,") && (val(lines[2]) - 0.2436836641).abs() <= 0.03);
            assert!(lines[3].starts_with("x2,x3,") && val(lines[3]).abs() <= 0.03);
            fs::remove_file(&s2_path).unwrap();
        }
    }
}

/// Keeps the first `rows` data lines of a CSV file.
fn truncate_csv(path: &str, rows: usize) {
    let text = fs::read_to_string(path).unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    fs::write(path, kept.join("\n") + "\n").unwrap();
}

/// The errors a user meets: a row count that fits no Saltelli design (the
/// message names the expected counts), design/outputs of different lengths
/// (naming both counts and files), an outputs file with several columns
/// and no --column, rows out of Saltelli order, and flags for another
/// method.
#[test]
fn analysis_refuses_inconsistent_inputs() {
    let dir = TempDir::new("err");
    let params = dir.path("p.toml");
    fs::write(&params, ISHIGAMI_TOML).unwrap();
    let (design, y) = (dir.path("design.csv"), dir.path("Y.csv"));
    vtwin(&[
        "design", "--params", &params, "--method", "saltelli", "-n", "8", "-o", &design,
    ])
    .unwrap();
    write_ishigami_outputs(&design, &y);
    let analyze = |extra: &[&str]| {
        let mut a = vec![
            "analyze",
            "sobol",
            "--params",
            &params,
            "--design",
            &design,
            "--outputs",
            &y,
        ];
        a.extend_from_slice(extra);
        vtwin(&a).unwrap_err().to_string()
    };

    let e = analyze(&[]);
    assert!(
        e.contains("several columns") && e.contains("`y`, `noise`"),
        "{e}"
    );
    let e = analyze(&["--column", "z"]);
    assert!(e.contains("no column `z`"), "{e}");

    truncate_csv(&y, 39);
    let e = analyze(&["--column", "y"]);
    assert!(
        e.contains("design.csv has 40 rows") && e.contains("Y.csv has 39 rows"),
        "{e}"
    );

    truncate_csv(&design, 39);
    let e = analyze(&["--column", "y"]);
    assert!(
        e.contains("39 rows fit no Saltelli design over D = 3 parameters")
            && e.contains("multiple of 5 (first order, N·(D+2); nearest 35 or 40)")
            && e.contains("or of 8 (second order, N·(2D+2); nearest 32 or 40)"),
        "{e}"
    );

    // Swap two rows of a fresh design: the layout check names the line.
    vtwin(&[
        "design", "--params", &params, "--method", "saltelli", "-n", "8", "-o", &design, "--force",
    ])
    .unwrap();
    write_ishigami_outputs(&design, &y);
    let text = fs::read_to_string(&design).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(12, 13); // rows 11 and 12 (0-based): AB_1 and AB_2 of block 2
    fs::write(&design, lines.join("\n") + "\n").unwrap();
    let e = analyze(&["--column", "y"]);
    assert!(
        e.contains("line 13 breaks the first-order Saltelli layout"),
        "{e}"
    );

    let e = vtwin(&[
        "design",
        "--params",
        &params,
        "--method",
        "sobol",
        "-n",
        "8",
        "--maximin",
        "-o",
        &design,
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "--maximin applies only to --method lhs, not --method sobol"
    );
    let e = vtwin(&[
        "design",
        "--params",
        &params,
        "--method",
        "lhs",
        "-n",
        "8",
        "--second-order",
        "-o",
        &design,
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--second-order applies only to --method saltelli"),
        "{e}"
    );
}

/// Morris through the command line on f = 3·x1 − 2·x2 + 0.5·x3 with
/// ranges 2, 10 and 0.4 and a fixed parameter in between: μ* = |c|·range
/// exactly (1e-9 relative), μ = c·range and σ = 0. Analysing with the
/// wrong --levels is refused.
#[test]
fn morris_analysis_end_to_end() {
    let dir = TempDir::new("morris");
    let params = dir.path("p.toml");
    fs::write(
        &params,
        "[parameters]\nx1 = { dist = \"uniform\", low = -1, high = 1 }\nk = 5\n\
         x2 = { dist = \"uniform\", low = 0, high = 10 }\nx3 = { dist = \"uniform\", low = 0.1, high = 0.5 }\n",
    )
    .unwrap();
    let (design, y, res) = (
        dir.path("design.csv"),
        dir.path("Y.csv"),
        dir.path("result.csv"),
    );
    vtwin(&[
        "design", "--params", &params, "--method", "morris", "-n", "20", "--seed", "2", "-o",
        &design,
    ])
    .unwrap();
    let d = read_numeric_csv(Path::new(&design));
    assert_eq!(d.rows.len(), 20 * 4);
    let mut text = String::from("f\n");
    for r in &d.rows {
        text.push_str(&format!("{:?}\n", 3.0 * r[0] - 2.0 * r[2] + 0.5 * r[3]));
    }
    fs::write(&y, text).unwrap();
    vtwin(&[
        "analyze",
        "morris",
        "--params",
        &params,
        "--design",
        &design,
        "--outputs",
        &y,
        "-o",
        &res,
    ])
    .unwrap();
    let header = fs::read_to_string(&res)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(header, "parameter,mu,mu_star,sigma,mu_star_conf");
    let want: [(&str, f64); 3] = [("x1", 6.0), ("x2", -20.0), ("x3", 0.2)];
    let rows = result_rows(&res);
    assert_eq!(rows.len(), 3);
    for ((name, v), (wname, w)) in rows.iter().zip(want) {
        assert_eq!(name, wname);
        let tol = 1e-9 * w.abs();
        assert!(
            (v[0] - w).abs() < tol && (v[1] - w.abs()).abs() < tol && v[2] < tol,
            "{name}: {v:?}"
        );
    }
    let e = vtwin(&[
        "analyze",
        "morris",
        "--params",
        &params,
        "--design",
        &design,
        "--outputs",
        &y,
        "--levels",
        "6",
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("is not on the 6-level Morris grid"), "{e}");
}
