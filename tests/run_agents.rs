//! `vtwin run --save-fields` on an agent-based scene (`tumour_abm`), through
//! the binary, on both backends: `agents.csv` (columns, members, positions
//! inside the domain, type and state names, one row per agent counted by
//! the model's own observables), `fields.npy` holding only the field words
//! (its oxygen extremes equal the `min`/`max` observables exactly: the
//! observe kernel reduces the same words), and `montage.png` (size, every
//! agent's centre pixel in a legend colour). Also: a grid model's
//! `fields.npy` keeps its shape and values, and saturated members are
//! counted in the exit message.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::collections::BTreeMap;
use std::path::Path;
use vtwin::output::io::{montage, read_csv, read_npy_f32};
use vtwin::output::table::{Table, Values};

/// 12 × 12 sites of 25 µm (a 300 µm square), a 60 µm spheroid of ~37 cells
/// and 4 immune cells, doubling fast enough that some cells divide.
const ABM: &str = r#"
[model]
kind = "tumour_abm"
[grid]
nx = 12
ny = 12
dx = 25.0
[time]
dt = 10.0
steps = 5
[ensemble]
members = 3
seed = 5
[agents]
capacity = 256
field_sweeps = 4
init_sweeps = 200
[parameters]
initial_radius = 60.0
immune_count = 4
repulsion = 0.09
doubling_time = { dist = "uniform", low = 300.0, high = 400.0 }
[observe]
every = 5
[[observables]]
name = "min_o2"
kind = "min"
field = "o2"
[[observables]]
name = "max_o2"
kind = "max"
field = "o2"
"#;

const NX: usize = 12;
const NY: usize = 12;
const DX: f64 = 25.0;
const MEMBERS: usize = 3;

/// Where `run` puts the panels of a montage of `n` panels.
fn panel_layout(
    n: usize,
    nx: usize,
    ny: usize,
    cols: usize,
    scale: usize,
) -> montage::MontageLayout {
    let field = vec![0.0f32; nx * ny];
    let panels: Vec<montage::Panel> = (0..n)
        .map(|_| montage::Panel {
            field: &field,
            label: String::new(),
            discs: &[],
        })
        .collect();
    montage::montage_layout(
        &panels,
        &montage::MontageStyle {
            nx,
            ny,
            cols,
            scale,
            shared: true,
            ramp: montage::grey,
            title: "",
            bar_label: "",
            legend: &[],
        },
    )
}

fn run_ok(scene: &str, backend: &str, out: &Path) {
    let o = vtwin(&[
        "run",
        scene,
        "--backend",
        backend,
        "--out",
        out.to_str().unwrap(),
        "--save-fields",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn ints(t: &Table, c: &str) -> Vec<i64> {
    match t.column(c) {
        Some(Values::I64(v)) => v.iter().map(|x| x.expect("no nulls")).collect(),
        other => panic!("column {c}: {other:?}"),
    }
}

fn floats(t: &Table, c: &str) -> Vec<f64> {
    match t.column(c) {
        Some(Values::F64(v)) => v.iter().map(|x| x.expect("no nulls")).collect(),
        other => panic!("column {c}: {other:?}"),
    }
}

fn strings(t: &Table, c: &str) -> Vec<String> {
    match t.column(c) {
        Some(Values::Str(v)) => v.iter().map(|x| x.clone().expect("no nulls")).collect(),
        other => panic!("column {c}: {other:?}"),
    }
}

/// (member, observable) → value at the last observation step (None for a
/// member that had failed by then).
fn final_observables(out: &Path) -> BTreeMap<(i64, String), Option<f64>> {
    let obs = read_csv(&out.join("observables.csv")).unwrap();
    let last = *ints(&obs, "step").iter().max().unwrap();
    let (m, s, n) = (
        ints(&obs, "member"),
        ints(&obs, "step"),
        strings(&obs, "observable"),
    );
    let Some(Values::F64(v)) = obs.column("value") else {
        panic!("value column")
    };
    (0..obs.rows())
        .filter(|&i| s[i] == last)
        .map(|i| ((m[i], n[i].clone()), v[i]))
        .collect()
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Every check of an agent run's snapshot outputs.
fn check_agent_outputs(out: &Path) {
    let agents = read_csv(&out.join("agents.csv")).unwrap();
    assert_eq!(
        agents.column_names(),
        ["member", "agent", "x", "y", "type", "state"]
    );
    let (member, id) = (ints(&agents, "member"), ints(&agents, "agent"));
    let (x, y) = (floats(&agents, "x"), floats(&agents, "y"));
    let (kind, state) = (strings(&agents, "type"), strings(&agents, "state"));
    let (lx, ly) = (NX as f64 * DX, NY as f64 * DX);
    for i in 0..agents.rows() {
        assert!(
            (0.0..=lx).contains(&x[i]) && (0.0..=ly).contains(&y[i]),
            "row {i}: ({}, {})",
            x[i],
            y[i]
        );
        assert!(
            ["tumour", "immune"].contains(&kind[i].as_str()),
            "{}",
            kind[i]
        );
        assert!(
            ["live", "apoptotic", "necrotic"].contains(&state[i].as_str()),
            "{}",
            state[i]
        );
        assert!(id[i] >= 0);
    }
    // The 4 immune cells of the scene are there in every member.
    let obs = final_observables(out);
    for m in 0..MEMBERS as i64 {
        let rows: Vec<usize> = (0..agents.rows()).filter(|&i| member[i] == m).collect();
        assert!(!rows.is_empty(), "member {m} has no agents");
        let count = |name: &str| obs[&(m, name.to_string())].expect("member ok");
        assert_eq!(
            rows.len() as f64,
            count("live") + count("apoptotic") + count("necrotic"),
            "member {m}"
        );
        let immune = rows
            .iter()
            .filter(|&&i| kind[i] == "immune" && state[i] == "live")
            .count();
        assert_eq!(immune as f64, count("live_immune"), "member {m}");
        let mut ids: Vec<i64> = rows.iter().map(|&i| id[i]).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "member {m}: agent ids are unique");
    }
    assert!(member.iter().all(|&m| (0..MEMBERS as i64).contains(&m)));

    // fields.npy: the field words only; its oxygen extremes are the observables'.
    let (shape, fields) = read_npy_f32(&out.join("fields.npy")).unwrap();
    assert_eq!(shape, [MEMBERS, 2, NY, NX]);
    let sites = NX * NY;
    for m in 0..MEMBERS {
        let o2 = &fields[m * 2 * sites..m * 2 * sites + sites];
        let lo = o2.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = o2.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let key = |n: &str| (m as i64, n.to_string());
        assert_eq!(Some(f64::from(lo)), obs[&key("min_o2")], "member {m}");
        assert_eq!(Some(f64::from(hi)), obs[&key("max_o2")], "member {m}");
        // No drug in this scene: the drug field is zero everywhere.
        assert!(
            fields[m * 2 * sites + sites..(m + 1) * 2 * sites]
                .iter()
                .all(|&v| v == 0.0)
        );
    }

    // montage.png: 3 panels in 2 columns of 12 · 21 = 252 px, each under
    // its label, on one grey scale.
    let (w, h, px) = decode_png(&out.join("montage.png"));
    let lay = panel_layout(3, 12, 12, 2, 21);
    assert_eq!((lay.tile_w, lay.tile_h), (252, 252));
    assert!(w as usize >= lay.panel(1).x + 252 && h as usize >= lay.panel(2).y + 252);
    let legend = [
        montage::LIVE_TUMOUR,
        montage::LIVE_IMMUNE,
        montage::APOPTOTIC,
        montage::NECROTIC,
    ];
    let allowed: Vec<[u8; 3]> = legend.iter().flat_map(|&c| [c, montage::rim(c)]).collect();
    let scale = 252.0 / (NX as f64 * DX);
    for i in 0..agents.rows() {
        let m = member[i] as usize;
        let r = lay.panel(m);
        let (ox, oy) = (r.x, r.y);
        let (pxx, pxy) = (ox + (x[i] * scale) as usize, oy + (y[i] * scale) as usize);
        let at = (pxy * w as usize + pxx) * 4;
        let c: [u8; 3] = px[at..at + 3].try_into().unwrap();
        assert!(
            allowed.contains(&c),
            "agent row {i}: pixel ({pxx}, {pxy}) is {c:?}"
        );
    }
    let tumour = px
        .chunks_exact(4)
        .filter(|p| p[..3] == montage::LIVE_TUMOUR)
        .count();
    assert!(tumour > 0);

    let m = common::manifest(out);
    let listed: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    for f in ["agents.csv", "fields.npy", "montage.png"] {
        assert!(listed.contains(&f), "manifest lists {f}: {listed:?}");
    }
}

#[test]
fn agent_run_writes_agents_fields_and_montage_cpu() {
    let t = TempDir::new("agents-cpu");
    let scene = write_scene(t.path(), "abm.toml", ABM);
    let out = t.path().join("out");
    run_ok(&scene, "cpu", &out);
    check_agent_outputs(&out);
    // Same scene and seed → the same agents, byte for byte.
    let again = t.path().join("again");
    run_ok(&scene, "cpu", &again);
    assert_eq!(
        std::fs::read(out.join("agents.csv")).unwrap(),
        std::fs::read(again.join("agents.csv")).unwrap()
    );
}

#[test]
fn agent_run_writes_agents_fields_and_montage_gpu() {
    if common::gpu().is_none() {
        return;
    }
    let t = TempDir::new("agents-gpu");
    let scene = write_scene(t.path(), "abm.toml", ABM);
    let out = t.path().join("out");
    run_ok(&scene, "gpu", &out);
    check_agent_outputs(&out);
}

/// A grid model's fields.npy is its whole state (state_len = grid length):
/// shape members × species × ny × nx, extremes equal to the observables, no
/// agents table, the viridis montage.
#[test]
fn grid_model_fields_keep_their_shape() {
    let scene_text = r#"
[model]
kind = "custom"
species = ["u", "v"]
reactions = { u = "a * v - u", v = "u - v" }
diffusion = { u = "Du", v = "Dv" }
[grid]
nx = 10
ny = 6
[time]
dt = 0.05
steps = 8
[ensemble]
members = 2
seed = 3
[parameters]
a = { dist = "uniform", low = 0.5, high = 1.5 }
Du = 0.1
Dv = 0.05
[initial]
patches = [{ shape = "gaussian", center = [3.0, 2.0], size = 1.5, values = { u = 1.0 } }]
[observe]
every = 4
[[observables]]
name = "min_v"
kind = "min"
field = "v"
[[observables]]
name = "max_v"
kind = "max"
field = "v"
"#;
    let t = TempDir::new("grid-fields");
    let scene = write_scene(t.path(), "rd.toml", scene_text);
    let out = t.path().join("out");
    run_ok(&scene, "cpu", &out);
    let (shape, fields) = read_npy_f32(&out.join("fields.npy")).unwrap();
    assert_eq!(shape, [2, 2, 6, 10]);
    let obs = final_observables(&out);
    for m in 0..2usize {
        let v = &fields[(2 * m + 1) * 60..(2 * m + 2) * 60];
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!(hi > lo, "v has spread from the patch");
        assert_eq!(Some(f64::from(lo)), obs[&(m as i64, "min_v".to_string())]);
        assert_eq!(Some(f64::from(hi)), obs[&(m as i64, "max_v".to_string())]);
    }
    assert!(!out.join("agents.csv").exists());
    // 2 panels of 10 × 6 sites at 256 / 10 = 25 px per site, side by side,
    // the colour bar to their right.
    let (w, h, px) = decode_png(&out.join("montage.png"));
    let lay = panel_layout(2, 10, 6, 2, 25);
    assert_eq!(lay.panel(1).y, lay.panel(0).y);
    assert!(w as usize > lay.bar.x + lay.bar.w && h as usize >= lay.panel(1).y + 150);
    // Panel 0's corner site holds member 0's value of the first field (u)
    // on the shared scale of both members' u.
    let u: Vec<f32> = (0..2)
        .flat_map(|m| fields[2 * m * 60..(2 * m + 1) * 60].to_vec())
        .collect();
    let lo = u.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = u.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let r = lay.panel(0);
    let at = ((r.y + 12) * w as usize + r.x + 12) * 4;
    assert_eq!(
        px[at..at + 3],
        vtwin::output::io::colormap((fields[0] - lo) / (hi - lo))[..]
    );
}

/// Members whose agent pool would overflow are `saturated`: the run exits 0
/// (or 3 with `--on-member-error fail`) and its message counts them as the
/// status table does.
#[test]
fn saturated_members_are_counted() {
    let text = ABM
        .replace("capacity = 256", "capacity = 40")
        .replace("immune_count = 4", "immune_count = 0")
        .replace(
            "doubling_time = { dist = \"uniform\", low = 300.0, high = 400.0 }",
            "doubling_time = { dist = \"choice\", values = [60.0, 100000.0] }",
        )
        .replace("members = 3", "members = 6")
        .replace("steps = 5", "steps = 10");
    let t = TempDir::new("agents-sat");
    let scene = write_scene(t.path(), "sat.toml", &text);
    let out = t.path().join("out");
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "csv",
        "--save-fields",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let status = strings(&read_csv(&out.join("status.csv")).unwrap(), "status");
    let sat = status.iter().filter(|s| *s == "saturated").count();
    assert!(sat > 0 && sat < 6, "{status:?}");
    assert_eq!(status.iter().filter(|s| *s == "ok").count(), 6 - sat);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{sat} of 6 members failed (0 diverged, {sat} saturated)"
        )),
        "{err}"
    );
    // Every member is in the agents table, a saturated one within its capacity.
    let agents = read_csv(&out.join("agents.csv")).unwrap();
    let member = ints(&agents, "member");
    for m in 0..6 {
        let n = member.iter().filter(|&&x| x == m).count();
        assert!((1..=40).contains(&n), "member {m}: {n} agents");
    }
    let m = common::manifest(&out);
    assert_eq!(m["members_failed"].as_u64(), Some(sat as u64));
    let o = vtwin(&[
        "run",
        &scene,
        "--backend",
        "cpu",
        "--out",
        t.path().join("fail").to_str().unwrap(),
        "--on-member-error",
        "fail",
    ]);
    assert_eq!(o.status.code(), Some(3));
}
