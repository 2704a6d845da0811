//! The long fuzz run (docs/reliability.md):
//!
//! ```sh
//! cargo build --release && cargo run --release --example fuzz -- --cases 100000
//! ```
//!
//! `--cases N` per format through the library entry points (default
//! 100,000), `--binary-cases M` per format through the `vtwin` binary
//! (default N / 100; needs `target/<profile>/vtwin`, or `--bin PATH`),
//! `--format NAME` to run one format, `--seed S` to vary the cases.
//! Prints a tally per format and every defect with its case id; exits 1
//! if there was any.

#[path = "../tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

use fuzz_harness::{
    Format, Rng, Scratch, ShardFixture, Tally, check_binary, check_in_process, mutate, seeds,
};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut cases = 100_000usize;
    let mut binary_cases: Option<usize> = None;
    let mut only: Option<Format> = None;
    let mut seed = 0u64;
    let mut bin: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--cases" => cases = value().parse().expect("--cases N"),
            "--binary-cases" => binary_cases = Some(value().parse().expect("--binary-cases M")),
            "--format" => {
                let v = value();
                only = Some(Format::from_name(&v).unwrap_or_else(|| panic!("unknown format {v}")))
            }
            "--seed" => seed = value().parse().expect("--seed S"),
            "--bin" => bin = Some(PathBuf::from(value())),
            other => panic!("unknown argument {other}"),
        }
    }
    let binary_cases = binary_cases.unwrap_or(cases / 100);
    let bin = bin.unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/examples/fuzz → target/<profile>/vtwin
        exe.parent().unwrap().parent().unwrap().join("vtwin")
    });
    let seeds = seeds();
    let dir = Scratch::new("long");
    let mut failed = false;
    for format in Format::ALL {
        if only.is_some_and(|f| f != format) {
            continue;
        }
        let t0 = Instant::now();
        let mut tally = Tally::default();
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(format as u64));
        if format == Format::Shard {
            if binary_cases > 0 {
                let fixture = ShardFixture::new(&bin);
                for case in 0..binary_cases {
                    let v = fixture.case(&bin, &mut rng, &dir.path().join("w"));
                    tally.add(&format!("merge-input#{case}"), v);
                }
            }
        } else {
            let mine: Vec<_> = seeds.iter().filter(|s| s.format == format).collect();
            for case in 0..cases {
                let s = mine[case % mine.len()];
                let bytes = mutate(&mut rng, s);
                tally.add(
                    &format!("{}#{case} ({}, lib)", format.name(), s.name),
                    check_in_process(format, dir.path(), &s.name, &bytes),
                );
            }
            for case in 0..binary_cases {
                let s = mine[case % mine.len()];
                let bytes = mutate(&mut rng, s);
                tally.add(
                    &format!("{}#{case} ({}, bin)", format.name(), s.name),
                    check_binary(&bin, format, dir.path(), &s.name, &bytes),
                );
            }
        }
        println!(
            "{:<17} {:>7} cases ({} through the binary) in {:>7.1} s: {} accepted, {} refused, {} defects",
            format.name(),
            tally.cases,
            if format == Format::Shard {
                tally.cases
            } else {
                binary_cases
            },
            t0.elapsed().as_secs_f64(),
            tally.accepted,
            tally.refused,
            tally.defects.len()
        );
        for d in &tally.defects {
            println!("  DEFECT {d}");
        }
        failed |= !tally.defects.is_empty();
    }
    drop(dir); // process::exit skips destructors
    std::process::exit(i32::from(failed));
}
